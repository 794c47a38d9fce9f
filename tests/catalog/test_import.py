"""Importing published detections: round trip of a published table, all-or-nothing validation."""

from __future__ import annotations

import csv
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ioscan.catalog import schema
from ioscan.catalog.io_import import import_detections_csv
from ioscan.catalog.reference import mura2024, mura2024_orbit_values
from ioscan.errors import CatalogError

M_BANDWIDTH_UM = 0.4975  # JIRAM SIS M band, 4537.5-5035 nm
HEADER = [
    "time_utc",
    "lat_deg",
    "lon_w_deg",
    "lat_err_deg",
    "lon_err_deg",
    "wavelength_um",
    "intensity_gw_um_sr",
    "intensity_err_gw_um_sr",
    "detection_id",
    "site_name",
    "observer",
]


def mura_as_import_file(path: Path) -> list[dict]:
    """Mura et al. 2024 Table 3 in the import format.

    The band-integrated M output P (GW) becomes a spectral intensity I = P / (π sr × 0.4975 µm), the
    inverse of the spectral power = π × I convention. Times are synthetic labels (orbit n → day-of-year n of
    2022 at noon), the position errors an arbitrary 1.5°/2.5°, the intensity error 10 %: only the round trip
    matters here.
    """
    rows = []
    for k, r in mura2024_orbit_values().iterrows():
        day = int(r["orbit"])
        rows.append(
            {
                "time_utc": f"2022-{day:03d}T12:00:00Z",
                "lat_deg": r["lat_deg"],
                "lon_w_deg": r["lon_w_deg"],
                "lat_err_deg": 1.5,
                "lon_err_deg": 2.5,
                "wavelength_um": 4.78,
                "intensity_gw_um_sr": r["m_band_output_gw"] / (math.pi * M_BANDWIDTH_UM),
                "intensity_err_gw_um_sr": 0.1 * r["m_band_output_gw"] / (math.pi * M_BANDWIDTH_UM),
                "detection_id": f"T3-{k + 1:03d}",
                "site_name": r["name"],
                "observer": "Juno/JIRAM",
            }
        )
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def n_detections(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.detections)).scalar_one()


def test_mura_round_trip(store, tmp_path):
    path = tmp_path / "mura2024_t3.csv"
    rows = mura_as_import_file(path)
    assert import_detections_csv(store, path, "mura2024") == 246
    got = store.detections_frame(source="mura2024")
    assert len(got) == 246 and got["observation_id"].isna().all() and got["import_id"].notna().all()
    by_id = got.set_index("detection_id")
    for r in rows:
        d = by_id.loc[r["detection_id"]]
        assert d["lat_deg"] == r["lat_deg"] and d["lon_w_deg"] == r["lon_w_deg"]
        assert d["lat_err_deg"] == 1.5 and d["lon_err_deg"] == 2.5
        assert d["spectral_intensity_gw_um_sr"] == pytest.approx(r["intensity_gw_um_sr"], rel=1e-12)
        assert d["site_name"] == r["site_name"] and d["observer"] == "Juno/JIRAM" and d["band"] == "4.78um"
        day = datetime(2022, 1, 1, 12) + timedelta(days=int(r["time_utc"][5:8]) - 1)
        assert d["time_utc"] == day.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert set(got["time_utc"]) == {
        "2022-02-10T12:00:00.000000Z",
        "2022-02-12T12:00:00.000000Z",
        "2022-02-16T12:00:00.000000Z",
        "2022-02-18T12:00:00.000000Z",
    }  # days 41-49
    # back to the published M output: P = π × 0.4975 × I = 0.4975 × spectral power
    got["m_band_output_gw"] = got["spectral_power_gw_um"] * M_BANDWIDTH_UM
    per_source = got.groupby(["site_name", "lat_deg", "lon_w_deg"])["m_band_output_gw"].max()
    sources = mura2024().set_index(["name", "lat_deg", "lon_w_deg"])["m_band_output_max_gw"]
    assert len(per_source) == 89
    for key, value in sources.items():
        assert per_source.loc[key] == pytest.approx(value, rel=1e-12)
    imports = store.imports_frame()
    assert imports.loc[0, "n_rows"] == 246 and imports.loc[0, "source"] == "mura2024"


def test_reimport_is_idempotent_and_id_clash_is_refused(store, tmp_path):
    path = tmp_path / "mura.csv"
    mura_as_import_file(path)
    assert import_detections_csv(store, path, "mura2024") == 246
    assert import_detections_csv(store, path, "mura2024") == 0
    assert n_detections(store) == 246
    # the same IDs in an edited file: refused, naming the first clashing line, nothing stored
    edited = tmp_path / "mura_edited.csv"
    edited.write_text(path.read_text(encoding="utf-8").replace("Juno/JIRAM", "JIRAM"), encoding="utf-8")
    with pytest.raises(
        CatalogError, match=r"mura_edited\.csv: line 2: detection_id 'T3-001'.*already stored"
    ):
        import_detections_csv(store, edited, "mura2024")
    assert n_detections(store) == 246 and len(store.imports_frame()) == 1
    # under another source name it is a different import
    assert import_detections_csv(store, edited, "mura2024_v2") == 246


GOOD = "2014-08-29T10:12:00Z,12.8,308.4,0.5,0.5,3.78,25.0,2.5,K{n},Loki Patera,Keck II"


@pytest.mark.parametrize(
    ("bad_line", "pattern"),
    [
        ("2014-02-30T10:12:00Z,12.8,308.4,0.5,0.5,3.78,25.0,2.5,X,,", r"line 4: time_utc: .*2014-02-30"),
        ("2014-08-29T10:12:00Z,95,308.4,0.5,0.5,3.78,25.0,2.5,X,,", r"line 4: lat_deg 95.0 outside"),
        ("2014-08-29T10:12:00Z,12.8,-5,0.5,0.5,3.78,25.0,2.5,X,,", r"line 4: lon_w_deg -5.0 outside"),
        (
            "2014-08-29T10:12:00Z,12.8,abc,0.5,0.5,3.78,25.0,2.5,X,,",
            r"line 4: lon_w_deg 'abc' is not a number",
        ),
        (
            "2014-08-29T10:12:00Z,12.8,308.4,0.5,0.5,0,25.0,2.5,X,,",
            r"line 4: wavelength_um 0.0 is not positive",
        ),
        ("2014-08-29T10:12:00Z,12.8,308.4,0.5,0.5,3.78,,2.5,X,,", r"line 4: intensity_gw_um_sr is empty"),
        (
            "2014-08-29T10:12:00Z,12.8,308.4,0.5,0.5,3.78,nan,2.5,X,,",
            r"line 4: intensity_gw_um_sr 'nan' is not fin",
        ),
        ("2014-08-29T10:12:00Z,12.8,308.4,-1,0.5,3.78,25,2.5,X,,", r"line 4: lat_err_deg -1.0 is negative"),
        (
            "2014-08-29T10:12:00Z,12.8,308.4,0.5,0.5,3.78,25,2.5,K1,,",
            r"line 4: detection_id 'K1' already used on line 2",
        ),
        (
            "2014-08-29T10:12:00Z,12.8,308.4,0.5,0.5,3.78,25,2.5,X",
            r"line 4: 9 fields where the header has 11",
        ),
        (
            "2014-08-29T10:12:00Z,12.8,308.4,0.5,0.5,3.78,25,2.5,X,,,9",
            r"line 4: 12 fields where the header has 11",
        ),
    ],
)
def test_bad_row_names_file_and_line_and_nothing_is_stored(store, tmp_path, bad_line, pattern):
    path = tmp_path / "published.csv"
    lines = [",".join(HEADER), GOOD.format(n=1), GOOD.format(n=2), bad_line, GOOD.format(n=3)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"published\.csv: " + pattern):
        import_detections_csv(store, path, "dekleer")
    assert n_detections(store) == 0 and store.imports_frame().empty


def test_line_numbers_count_blank_lines_and_multiline_fields(store, tmp_path):
    path = tmp_path / "tricky.csv"
    text = (
        ",".join(HEADER)
        + "\n"
        + GOOD.format(n=1)
        + "\n\n"
        + GOOD.format(n=2).replace("Loki Patera", '"Loki\nPatera"')
        + "\n"
        + GOOD.format(n=3).replace("12.8", "-91")
        + "\n"
    )
    path.write_text(text, encoding="utf-8")
    # header 1, row 2, blank 3, quoted two-line row 4-5, bad row 6
    with pytest.raises(CatalogError, match=r"tricky\.csv: line 6: lat_deg -91.0 outside"):
        import_detections_csv(store, path, "dekleer")
    path.write_text(text.replace("-91", "12.8"), encoding="utf-8")
    assert import_detections_csv(store, path, "dekleer") == 3
    assert store.detections_frame(source="dekleer")["site_name"].tolist().count("Loki\nPatera") == 1


def test_header_problems_and_optional_columns(store, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("time_utc,lat_deg,lon_w_deg,wavelength_um\n2014-08-29,1,2,3.78\n", encoding="utf-8")
    with pytest.raises(
        CatalogError, match=r"h\.csv: line 1: header lacks required column\(s\) \['intensity_gw"
    ):
        import_detections_csv(store, path, "x")
    path.write_text("", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"h\.csv: line 1: empty file"):
        import_detections_csv(store, path, "x")
    with pytest.raises(CatalogError, match="cannot read"):
        import_detections_csv(store, tmp_path / "missing.csv", "x")
    # only the required columns, plus a band name, 360°W and an unknown column kept in ``extra``
    path.write_text(
        "time_utc,lat_deg,lon_w_deg,wavelength_um,intensity_gw_um_sr,band,quality\n"
        "2014-08-29T10:12:00,0,360,4.67,1.5,Ms,good\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError, match=r"h\.csv: line 1: header lacks lat_err_deg and lon_err_deg"):
        import_detections_csv(store, path, "x")
    assert import_detections_csv(store, path, "x", position_err_deg=1.0) == 1
    row = store.detections_frame(source="x").iloc[0]
    assert row["band"] == "Ms" and row["lon_w_deg"] == 0.0
    assert row["extra"] == {
        "quality": "good",
        "assumed_position_err_deg": 1.0,
        "assumed": ["lat_err_deg", "lon_err_deg"],
    }
    assert row["spectral_power_gw_um"] == pytest.approx(math.pi * 1.5)
    assert row["detection_id"] is None and row["time_utc"] == "2014-08-29T10:12:00.000000Z"
    with pytest.raises(CatalogError, match="reserved"):
        import_detections_csv(store, path, "ioscan", position_err_deg=1.0)


def test_rows_without_position_errors_are_refused_or_get_the_stated_error(store, tmp_path):
    """Nothing is silently left out of tracking: a row without a position error is refused with its line,
    or, when the import states an error to assume, stored with it (and the assumption recorded)."""
    path = tmp_path / "noerr.csv"
    path.write_text(
        ",".join(HEADER)
        + "\n"
        + GOOD.format(n=1)
        + "\n"
        + GOOD.format(n=2).replace(",0.5,0.5,", ",,0.5,", 1).replace("12.8", "60.0")
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError, match=r"noerr\.csv: line 3: lat_err_deg is empty: tracking weighs"):
        import_detections_csv(store, path, "pub")
    assert n_detections(store) == 0
    assert import_detections_csv(store, path, "pub", position_err_deg=2.0) == 2
    det = store.detections_frame(source="pub").set_index("detection_id")
    assert det.loc["K2", "lat_err_deg"] == 2.0 and det.loc["K2", "lon_err_deg"] == 0.5  # given: kept
    assert det.loc["K1", "extra"] is None  # nothing assumed for the complete row
    # every stored row can be tracked: the tracking policy takes all of them
    from ioscan.track.config import TrackConfig, usable_detections

    assert len(usable_detections(store.detections_frame(source="pub"), TrackConfig())) == 2
    with pytest.raises(CatalogError, match="positive angle"):
        import_detections_csv(store, path, "pub2", position_err_deg=0.0)


def test_lon_error_assumed_from_an_arc_grows_with_latitude(store, tmp_path):
    path = tmp_path / "lat.csv"
    path.write_text(
        "time_utc,lat_deg,lon_w_deg,wavelength_um,intensity_gw_um_sr\n"
        "2014-08-29T10:12:00,60,10,3.78,1\n2014-08-30T10:12:00,90,10,3.78,1\n",
        encoding="utf-8",
    )
    import_detections_csv(store, path, "arc", position_err_deg=1.0)
    det = store.detections_frame(source="arc").sort_values("lat_deg")
    assert det["lat_err_deg"].tolist() == [1.0, 1.0]
    assert det["lon_err_deg"].tolist() == pytest.approx([2.0, 180.0])  # 1° of arc at 60°N; the pole


def test_a_latin1_file_is_refused_naming_the_line_and_column(store, tmp_path):
    path = tmp_path / "latin1.csv"
    row = GOOD.format(n=2).replace("Loki Patera", "P\u00e9l\u00e9")
    path.write_bytes((",".join(HEADER) + "\n" + GOOD.format(n=1) + "\n" + row + "\n").encode("latin-1"))
    column = row.index("\u00e9") + 1
    where = rf"latin1\.csv: line 3, column {column}: not UTF-8 text \(byte 0xe9"
    with pytest.raises(CatalogError, match=where):
        import_detections_csv(store, path, "pub")
    assert n_detections(store) == 0
