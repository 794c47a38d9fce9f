"""Exports read back with independent readers (csv module, pyarrow, json) and keep IDs and positions."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from catalog_helpers import BANDS, make_detection, summary

from ioscan.catalog.export import export, geojson_x
from ioscan.catalog.io_import import import_detections_csv
from ioscan.errors import CatalogError, OutputError

IMPORT = (
    "time_utc,lat_deg,lon_w_deg,lat_err_deg,lon_err_deg,wavelength_um,intensity_gw_um_sr,intensity_err_gw_um_sr,"
    "detection_id,site_name,observer\n"
    "2014-08-29T10:12:00Z,12.8,308.4,0.5,0.5,3.78,25.0,2.5,dK-001,Loki Patera,Keck II\n"
    "2014-08-30T10:12:00Z,-10.5,241.5,0.5,0.5,3.78,5.0,0.5,dK-002,Pillan,Keck II\n"
    "2014-08-31T10:12:00Z,40.0,180.0,0.5,0.5,3.78,1.0,0.5,dK-003,,Keck II\n"
)


@pytest.fixture
def filled(store, tmp_path):
    store.add_observation(
        summary(1), BANDS, [make_detection(0, lon_w_deg=0.0), make_detection(1, lon_w_deg=90.0)]
    )
    path = tmp_path / "dekleer.csv"
    path.write_text(IMPORT, encoding="utf-8")
    import_detections_csv(store, path, "dekleer2016")
    dets = store.detections_frame()
    by_lon = dict(zip(dets["lon_w_deg"].round(1), dets["id"], strict=True))
    hs = pd.DataFrame(
        {
            "hotspot_id": ["IOS0001", "IOS0002"],
            "lat_deg": [12.8, -10.5],
            "lon_w_deg": [308.4, 241.5],
            "name": ["Loki Patera", "Pillan"],
        }
    )
    store.assign_hotspots({by_lon[308.4]: "IOS0001", by_lon[241.5]: "IOS0002", by_lon[0.0]: "IOS0001"}, hs)
    return store


def test_geojson_x_convention():
    # east longitude = -west longitude, wrapped into [-180, 180)
    for lon_w, x in [(0, 0), (90, -90), (180, -180), (270, 90), (308.4, 51.6), (359.9, 0.1), (360, 0)]:
        assert geojson_x(lon_w) == pytest.approx(x, abs=1e-9)
        lon_e = (360 - lon_w) % 360  # SPICE-style east longitude, then into GeoJSON's range
        assert geojson_x(lon_w) == pytest.approx(lon_e - 360 if lon_e >= 180 else lon_e, abs=1e-9)


def test_detections_csv_and_parquet_carry_ids(filled, tmp_path):
    n = export(filled, "detections", "csv", tmp_path / "d.csv")
    assert n == 5
    with (tmp_path / "d.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    loki = next(r for r in rows if r["detection_id"] == "dK-001")
    assert loki["hotspot_id"] == "IOS0001" and loki["source"] == "dekleer2016"
    assert float(loki["spectral_intensity_gw_um_sr"]) == 25.0
    assert sum(r["hotspot_id"] == "IOS0001" for r in rows) == 2
    ours = [r for r in rows if r["source"] == "ioscan"]
    assert {r["product_id"] for r in ours} == {summary(1).product_id}
    assert json.loads(ours[0]["extra"]) == {"aperture_px": 3, "note": "test"}

    assert export(filled, "detections", "parquet", tmp_path / "d.parquet") == 5
    table = pq.read_table(tmp_path / "d.parquet").to_pandas()
    assert set(table["detection_id"].dropna()) == {"dK-001", "dK-002", "dK-003"}
    assert table.set_index("detection_id").loc["dK-002", "hotspot_id"] == "IOS0002"
    assert table["lat_deg"].dtype == "float64"


def test_hotspots_and_lightcurves(filled, tmp_path):
    assert export(filled, "hotspots", "csv", tmp_path / "h.csv") == 2
    h = pd.read_csv(tmp_path / "h.csv").set_index("hotspot_id")
    assert h.loc["IOS0001", "n_detections"] == 2 and h.loc["IOS0002", "name"] == "Pillan"
    assert export(filled, "lightcurves", "parquet", tmp_path / "lc.parquet") == 3
    lc = pq.read_table(tmp_path / "lc.parquet").to_pandas()
    assert lc["hotspot_id"].tolist() == ["IOS0001", "IOS0001", "IOS0002"]
    assert lc["band"].tolist() == ["3.78um", "M", "3.78um"]
    assert lc.loc[0, "detection_id"] == "dK-001"


def test_geojson_points(filled, tmp_path):
    assert export(filled, "detections", "geojson", tmp_path / "d.geojson") == 5
    doc = json.loads((tmp_path / "d.geojson").read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "east longitude" in doc["ioscan_coordinates"]
    for f in doc["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        x, y = f["geometry"]["coordinates"]
        p = f["properties"]
        assert -180 <= x < 180 and y == p["lat_deg"]
        assert x == pytest.approx(geojson_x(p["lon_w_deg"]))
    loki = next(f for f in doc["features"] if f["properties"]["detection_id"] == "dK-001")
    assert loki["geometry"]["coordinates"] == pytest.approx([51.6, 12.8])
    assert loki["properties"]["lon_w_deg"] == 308.4 and loki["properties"]["hotspot_id"] == "IOS0001"
    assert export(filled, "hotspots", "geojson", tmp_path / "h.geojson") == 2
    hs = json.loads((tmp_path / "h.geojson").read_text(encoding="utf-8"))
    assert [f["id"] for f in hs["features"]] == ["IOS0001", "IOS0002"]
    assert hs["features"][1]["geometry"]["coordinates"] == pytest.approx([118.5, -10.5])


def test_bad_requests(filled, tmp_path):
    with pytest.raises(CatalogError, match="format 'xlsx'"):
        export(filled, "detections", "xlsx", tmp_path / "x")
    with pytest.raises(CatalogError, match="cannot export 'frames'"):
        export(filled, "frames", "csv", tmp_path / "x")
    with pytest.raises(OutputError, match="does not exist"):
        export(filled, "hotspots", "csv", tmp_path / "no" / "x.csv")


def test_detection_exports_name_the_flags_beside_the_bitmask(filled, tmp_path):
    export(filled, "detections", "csv", tmp_path / "d.csv")
    with (tmp_path / "d.csv").open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
        fh.seek(0)
        rows = list(csv.DictReader(fh))
    assert header[header.index("flags") + 1] == "flag_names"
    flagged = [r for r in rows if int(r["flags"])]
    assert flagged and all(r["flag_names"] == "SATURATED|NEAR_LIMB" for r in flagged)  # bitmask 3
    assert all(r["flag_names"] == "" for r in rows if not int(r["flags"]))
    export(filled, "lightcurves", "parquet", tmp_path / "lc.parquet")
    lc = pq.read_table(tmp_path / "lc.parquet").to_pandas()
    assert list(lc.columns).index("flag_names") == list(lc.columns).index("flags") + 1


def test_exports_never_overwrite_a_catalogue_and_replace_files_only_when_asked(filled, tmp_path):
    """Nothing is lost: the catalogue in use, any other catalogue and an existing export stay as they were."""
    catalogue = filled.sqlite_path
    out = tmp_path / "d.csv"
    out.write_text("keep me\n", encoding="utf-8")
    with pytest.raises(OutputError, match="exists; give --force"):
        export(filled, "detections", "csv", out)
    assert out.read_text(encoding="utf-8") == "keep me\n"
    assert export(filled, "detections", "csv", out, force=True) == 5
    assert out.read_text(encoding="utf-8").startswith("id,")
    if catalogue is not None:  # SQLite: the catalogue itself, its journal, and another catalogue
        before = catalogue.read_bytes()[:16]
        for target in (catalogue, catalogue.with_name(catalogue.name + "-wal")):
            with pytest.raises(OutputError, match="catalogue in use"):
                export(filled, "detections", "csv", target, force=True)
        assert catalogue.read_bytes()[:16] == before == b"SQLite format 3\x00"
        assert len(filled.detections_frame()) == 5
    other = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(OutputError, match="SQLite database"):
        export(filled, "hotspots", "csv", other, force=True)
    assert other.read_bytes().startswith(b"SQLite format 3")


def test_a_failed_export_leaves_the_old_file(filled, tmp_path, monkeypatch):
    out = tmp_path / "d.geojson"
    out.write_text("old", encoding="utf-8")

    def broken(df):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ioscan.catalog.export.to_geojson", broken)
    with pytest.raises(CatalogError, match="No space left"):
        export(filled, "detections", "geojson", out, force=True)
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []
