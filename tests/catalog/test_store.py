"""Store: frames written whole or not at all, idempotent re-adds, associations, light curves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from catalog_helpers import BANDS, make_detection, summary

from ioscan.catalog import schema
from ioscan.catalog.store import engine_url, open_store
from ioscan.errors import CatalogError
from ioscan.records import Detection


def count(store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_engine_url_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert engine_url(None).database == str(tmp_path / "ioscan.db")
    assert engine_url("cat.db").database == str(tmp_path / "cat.db")
    assert engine_url(tmp_path / "x.db").get_backend_name() == "sqlite"
    pg = engine_url("postgresql://u:pw@h:5433/db")
    assert pg.drivername == "postgresql+psycopg" and pg.port == 5433 and pg.database == "db"
    assert engine_url("postgres:///db?host=/run").drivername == "postgresql+psycopg"
    assert engine_url(":memory:").database is None
    with open_store(":memory:") as mem:
        assert mem.start_run("x") == 1 and not list(tmp_path.iterdir())


def test_open_store_default_creates_ioscan_db_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store() as store:
        assert store.dialect == "sqlite"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert (tmp_path / "ioscan.db").is_file()


def test_open_store_bad_location_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="missing"):
        open_store(tmp_path / "no" / "such" / "dir" / "x.db")
    with pytest.raises(CatalogError, match="cannot open catalogue"):
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_observation_round_trip_keeps_every_detection_field(store):
    run = store.start_run("ioscan run", {"threshold": 5.0, "paths": ["a", "b"]})
    dets = [make_detection(i) for i in range(3)]
    obs_id = store.add_observation(summary(1), BANDS, dets, run)
    store.finish_run(run, "ok")

    obs = store.observations_frame()
    assert len(obs) == 1 and obs.loc[0, "id"] == obs_id
    assert obs.loc[0, "time_utc"] == "2022-03-04T08:34:01.500000Z"  # day 063 of 2022 is 4 March
    assert obs.loc[0, "n_detections"] == 3 and obs.loc[0, "run_id"] == run
    frames = store.frames_frame(obs_id)
    assert frames.loc[0, "bandwidth_um"] == pytest.approx(0.4975)

    got = store.detections_frame()
    assert len(got) == 3
    for det, (_, row) in zip(dets, got.sort_values("sample").iterrows(), strict=True):
        for f in dataclasses.fields(Detection):
            want = getattr(det, f.name)
            if want is None:
                assert pd.isna(row[f.name]), f.name
            elif isinstance(want, float):
                assert row[f.name] == pytest.approx(want, rel=1e-12), f.name
            else:
                assert row[f.name] == want, f.name
        assert row["source"] == "ioscan" and row["observer"] == "Juno"
        assert row["time_utc"] == "2022-03-04T08:34:01.500000Z"
        assert row["product_id"] == summary(1).product_id
        assert pd.isna(row["hotspot_id"]) and pd.isna(row["detection_id"])
    runs = store.runs_frame()
    assert runs.loc[0, "status"] == "ok" and runs.loc[0, "parameters"] == {
        "threshold": 5.0,
        "paths": ["a", "b"],
    }
    assert runs.loc[0, "finished_utc"] >= runs.loc[0, "started_utc"]


def test_numpy_values_and_nan_are_stored_as_numbers_and_null(store):
    det = make_detection(
        0,
        snr=np.float32(12.5),
        n_pixels=np.int64(7),
        flags=np.int64(3),
        emission_deg=float("nan"),
        extra={"arr": np.arange(3), "x": np.float64(2.5)},
    )
    store.add_observation(summary(2), BANDS, [det])
    row = store.detections_frame().iloc[0]
    assert row["snr"] == 12.5 and row["n_pixels"] == 7 and row["flags"] == 3
    assert pd.isna(row["emission_deg"])
    assert row["extra"] == {"arr": [0, 1, 2], "x": 2.5}


def test_readd_same_product_or_same_data_is_a_no_op(store):
    first = store.add_observation(summary(3), BANDS, [make_detection(0), make_detection(1)])
    assert store.has_checksum(summary(3).checksum_sha256)
    assert not store.has_checksum("f" * 64)
    again = store.add_product(summary(3), BANDS, [make_detection(5)])
    renamed_same_file = store.add_product(summary(3, product_id="OTHER_NAME"), BANDS, [make_detection(6)])
    assert first == again.observation_id == renamed_same_file.observation_id
    assert again.outcome == "already_stored" and renamed_same_file.outcome == "duplicate"
    assert renamed_same_file.product == summary(3).product_id
    assert count(store, schema.observations) == 1
    assert count(store, schema.frames) == 1
    assert count(store, schema.detections) == 2


def test_failure_mid_frame_leaves_nothing_of_that_frame(store):
    store.add_observation(summary(4), BANDS, [make_detection(0)])
    # the duplicate band violates UNIQUE(observation_id, band) after the observation row was inserted
    with pytest.raises(CatalogError, match=summary(5).product_id):
        store.add_observation(summary(5), BANDS + BANDS, [make_detection(1)])
    # a detection without a band violates NOT NULL after the observation and its bands were inserted
    with pytest.raises(CatalogError, match=summary(6).product_id):
        store.add_observation(summary(6), BANDS, [make_detection(1), make_detection(2, band=None)])
    assert store.observations_frame()["product_id"].tolist() == [summary(4).product_id]
    assert count(store, schema.frames) == 1
    assert count(store, schema.detections) == 1
    assert not store.has_checksum(summary(5).checksum_sha256)
    # the failed frame can be stored once fixed
    store.add_observation(summary(6), BANDS, [make_detection(1), make_detection(2)])
    assert count(store, schema.detections) == 3


def test_a_batch_stores_each_product_whole_or_not_at_all(store):
    """Several products in one transaction (what a Dask scan's writer does): a product that fails to write
    (mid-way, after its observation row) leaves nothing, the others are stored, each outcome says which."""
    store.add_observation(summary(4), BANDS, [make_detection(0)])
    outcomes = store.add_products(
        [
            (summary(20), BANDS, [make_detection(1), make_detection(2)]),
            (summary(21), BANDS + BANDS, [make_detection(3)]),  # UNIQUE(observation_id, band): mid-way
            (summary(22), [{"band": "M"}], []),  # refused before any writing
            (summary(4), BANDS, [make_detection(0)]),  # stored before: nothing written
            (summary(23), BANDS, [make_detection(4), make_detection(5, band=None)]),  # NOT NULL: mid-way
            (summary(24), BANDS, []),
        ]
    )
    kinds = [o.outcome if not isinstance(o, Exception) else "error" for o in outcomes]
    assert kinds == ["stored", "error", "error", "already_stored", "error", "stored"]
    assert summary(21).product_id in str(outcomes[1]) and isinstance(outcomes[1], CatalogError)
    stored = store.observations_frame()["product_id"].tolist()
    assert sorted(stored) == sorted(summary(k).product_id for k in (4, 20, 24))
    assert count(store, schema.frames) == 3 and count(store, schema.detections) == 3
    assert store.add_products([]) == []


def test_rows_made_elsewhere_store_what_the_records_store(store, tmp_path):
    """A scan's workers make each product's rows (``product_rows``, no database) and the writer only inserts
    them: the same stored values as storing the records, and the same refusals (here, text that is not
    UTF-8, refused when the rows are made)."""
    import pickle

    from ioscan.catalog.store import product_rows

    products = [(summary(k), BANDS, [make_detection(3 * k + j) for j in range(3)]) for k in (30, 31)]
    products.append((summary(32), BANDS, []))
    with open_store(tmp_path / "other.db") as other:
        assert [o.outcome for o in other.add_products(products, run_id=None)] == ["stored"] * 3
        made = [pickle.loads(pickle.dumps(product_rows(*p))) for p in products]  # sent by a worker
        assert [o.outcome for o in store.add_products(made)] == ["stored"] * 3
        for read in ("observations_frame", "frames_frame", "detections_frame"):
            a = getattr(store, read)().drop(columns=["id", "observation_id"], errors="ignore")
            b = getattr(other, read)().drop(columns=["id", "observation_id"], errors="ignore")
            pd.testing.assert_frame_equal(a, b)
    with pytest.raises(CatalogError, match="not valid UTF-8"):
        product_rows(dataclasses.replace(summary(33), file_path="bad\udce9.LBL"), BANDS, [])


def test_bad_summaries_are_rejected_before_writing(store):
    with pytest.raises(CatalogError, match="no product_id"):
        store.add_observation(summary(7, product_id=""), [], [])
    with pytest.raises(CatalogError, match="not a BandSummary"):
        store.add_observation(summary(7), [{"band": "M"}], [])
    with pytest.raises(CatalogError, match="expected an Observation"):
        store.add_observation({"product_id": "X", "instrument": "JIRAM"}, [], [])
    with pytest.raises(TypeError, match="orbitt"):  # a record refuses unknown fields itself
        summary(7, orbitt=3)
    with pytest.raises(CatalogError, match="geometry_source"):
        store.add_observation(summary(7, geometry_source="guess"), [], [])
    with pytest.raises(CatalogError, match="cannot read time"):
        store.add_observation(summary(7, time_utc="yesterday"), [], [])
    with pytest.raises(CatalogError, match="no run 999"):
        store.finish_run(999)
    assert count(store, schema.observations) == 0


def _populate(store, n_frames=6):
    """Frames alternating M and L band detections of two sites; returns the detections frame."""
    for n in range(n_frames):
        band = "M" if n % 2 == 0 else "L"
        dets = [
            make_detection(0, band=band, lat_deg=12.8, lon_w_deg=308.4, spectral_intensity_gw_um_sr=10.0 + n),
            make_detection(1, band=band, lat_deg=-10.5, lon_w_deg=241.5),
        ]
        store.add_observation(summary(10 + n, time_utc=f"2022-03-0{n + 1}T00:00:00Z"), [], dets)
    return store.detections_frame()


def test_assign_hotspots_lightcurve_and_replacement(store):
    dets = _populate(store)
    loki = dets[dets["lon_w_deg"].round(1) == 308.4]["id"].tolist()
    pillan = dets[dets["lon_w_deg"].round(1) == 241.5]["id"].tolist()
    hs = pd.DataFrame(
        {
            "hotspot_id": ["IOS0001", "IOS0002"],
            "lat_deg": [12.8, -10.5],
            "lon_w_deg": [308.4, 241.5],
            "lat_err_deg": [0.1, 0.2],
            "name": ["Loki Patera", None],
        }
    )
    mapping = {i: "IOS0001" for i in loki} | {i: "IOS0002" for i in pillan[:-1]} | {pillan[-1]: None}
    ar = store.assign_hotspots(mapping, hs, method="dbscan", parameters={"eps_km": 50})

    got = store.hotspots_frame().set_index("hotspot_id")
    assert got.loc["IOS0001", "n_detections"] == 6 and got.loc["IOS0002", "n_detections"] == 5
    assert got.loc["IOS0001", "first_time_utc"] == "2022-03-01T00:00:00.000000Z"
    assert got.loc["IOS0001", "last_time_utc"] == "2022-03-06T00:00:00.000000Z"
    assert got.loc["IOS0001", "name"] == "Loki Patera" and got.loc["IOS0001", "association_run_id"] == ar

    lc = store.lightcurve("IOS0001", "M")
    assert lc["time_utc"].tolist() == [f"2022-03-0{d}T00:00:00.000000Z" for d in (1, 3, 5)]
    assert lc["spectral_intensity_gw_um_sr"].tolist() == [10.0, 12.0, 14.0]
    assert set(lc["product_id"]) <= set(store.observations_frame()["product_id"])
    assert (
        len(store.lightcurve("IOS0002", "L")) == 2
    )  # the last L detection of that site was left unassociated
    assert store.lightcurve("IOS9999", "M").empty
    assert (
        len(
            store.detections_frame(
                hotspot_id="IOS0001", band="L", start_utc="2022-03-02", end_utc="2022-03-04T00:00:00"
            )
        )
        == 2
    )

    store.write_cross_ids(
        pd.DataFrame(
            {
                "hotspot_id": ["IOS0001"],
                "catalog": ["davies2024_psj"],
                "ref_id": [343],
                "separation_km": [12.0],
                "separation_sigma": [0.8],
            }
        )
    )
    store.write_events(
        pd.DataFrame(
            {
                "hotspot_id": ["IOS0001"],
                "band": ["M"],
                "kind": ["outburst"],
                "time_utc": ["2022-03-05"],
                "value": [14.0],
                "criterion": ["> 3 sigma"],
            }
        )
    )
    assert store.cross_ids_frame().loc[0, "ref_id"] == "343"
    assert store.events_frame().loc[0, "time_utc"] == "2022-03-05T00:00:00.000000Z"

    # a new association replaces everything at once, and clears cross-IDs and events
    store.assign_hotspots(
        {loki[0]: "IOS0003"}, pd.DataFrame({"id": ["IOS0003"], "lat_deg": [12.0], "lon_w_deg": [308.0]})
    )
    assert store.hotspots_frame()["hotspot_id"].tolist() == ["IOS0003"]
    assert store.detections_frame()["hotspot_id"].notna().sum() == 1
    assert store.cross_ids_frame().empty and store.events_frame().empty
    assert len(store.association_runs_frame()) == 2


def test_failed_association_keeps_the_previous_one(store):
    dets = _populate(store, 2)
    hs = pd.DataFrame({"hotspot_id": ["IOS0001"], "lat_deg": [12.8], "lon_w_deg": [308.4]})
    store.assign_hotspots({int(dets["id"].iloc[0]): "IOS0001"}, hs)
    with pytest.raises(CatalogError, match="not in the catalogue"):
        store.assign_hotspots({int(dets["id"].iloc[1]): "IOS0001", 10**9: "IOS0001"}, hs)
    with pytest.raises(CatalogError, match="unknown hot spot 'IOS0002'"):
        store.assign_hotspots({int(dets["id"].iloc[1]): "IOS0002"}, hs)
    with pytest.raises(CatalogError, match="appears twice"):
        store.assign_hotspots({}, pd.concat([hs, hs]))
    assert store.detections_frame()["hotspot_id"].tolist()[0] == "IOS0001"
    assert store.detections_frame()["hotspot_id"].notna().sum() == 1
    assert len(store.association_runs_frame()) == 1


def test_cross_ids_and_events_validation(store):
    _populate(store, 1)
    with pytest.raises(CatalogError, match="unknown hot-spot ID"):
        store.write_cross_ids(pd.DataFrame({"hotspot_id": ["IOS0404"], "catalog": ["x"], "ref_id": ["1"]}))
    with pytest.raises(CatalogError, match="kind 'eruption'"):
        store.write_events(
            pd.DataFrame({"hotspot_id": ["IOS0001"], "kind": ["eruption"], "time_utc": ["2022-01-01"]})
        )
    with pytest.raises(CatalogError, match="missing columns"):
        store.write_events(pd.DataFrame({"hotspot_id": ["IOS0001"]}))


def test_lightcurve_query_uses_the_hotspot_band_time_index(store):
    """The light-curve query is answered from the (hotspot_id, band, time_utc) index, not a table scan."""
    dets = _populate(store, 4)
    rng = np.random.default_rng(1)
    # enough rows that PostgreSQL's planner prefers the index too
    extra = [make_detection(0, band="M") for _ in range(500)]
    for k in range(8):
        store.add_observation(summary(40 + k, time_utc=f"2023-01-0{k + 1}T00:00:00Z"), [], extra)
    ids = store.detections_frame()["id"].tolist()
    hs = pd.DataFrame({"hotspot_id": [f"IOS{i:04d}" for i in range(50)], "lat_deg": 0.0, "lon_w_deg": 0.0})
    store.assign_hotspots({i: f"IOS{rng.integers(50):04d}" for i in ids}, hs)
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("ANALYZE detections")
    d = schema.detections
    stmt = (
        sa.select(d.c.time_utc, d.c.spectral_intensity_gw_um_sr)
        .where(d.c.hotspot_id == "IOS0007", d.c.band == "M")
        .order_by(d.c.time_utc)
    )
    sql = str(stmt.compile(store.engine, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        plan = " ".join(
            str(r)
            for r in conn.exec_driver_sql(
                "EXPLAIN " + ("QUERY PLAN " if store.dialect == "sqlite" else "") + sql
            ).fetchall()
        )
    assert "ix_detections_hotspot_band_time" in plan, plan
    assert len(store.lightcurve("IOS0007", "M")) > 0
    assert len(dets) == 8


def test_reassociation_moves_only_what_changed_and_matches_a_fresh_one(store):
    dets = _populate(store, 4)
    ids = dets["id"].tolist()
    hs = pd.DataFrame(
        {"hotspot_id": ["IOS0001", "IOS0002"], "lat_deg": [12.8, -10.5], "lon_w_deg": [308.4, 241.5]}
    )
    store.assign_hotspots({i: ("IOS0001" if k % 2 == 0 else "IOS0002") for k, i in enumerate(ids)}, hs)
    # second result: IOS0001 kept with a new name, IOS0002 dropped, IOS0003 new, one detection unassociated
    hs2 = pd.DataFrame(
        {
            "hotspot_id": ["IOS0001", "IOS0003"],
            "lat_deg": [12.7, -10.4],
            "lon_w_deg": [308.5, 241.4],
            "name": ["Loki Patera", None],
        }
    )
    mapping2 = {i: ("IOS0001" if k % 2 == 0 else "IOS0003") for k, i in enumerate(ids)}
    mapping2[ids[0]] = None
    store.assign_hotspots(mapping2, hs2)
    got = store.detections_frame().set_index("id")["hotspot_id"]
    for i, want in mapping2.items():
        assert (pd.isna(got[i]) and want is None) or got[i] == want
    table = store.hotspots_frame().set_index("hotspot_id")
    assert table.index.tolist() == ["IOS0001", "IOS0003"]
    assert table.loc["IOS0001", "name"] == "Loki Patera" and table.loc["IOS0001", "lat_deg"] == 12.7
    assert table.loc["IOS0001", "n_detections"] == 3 and table.loc["IOS0003", "n_detections"] == 4
    runs = store.association_runs_frame()
    assert runs["n_assigned"].tolist() == [8, 7] and runs["n_hotspots"].tolist() == [2, 2]
    assert (table["association_run_id"] == runs["id"].iloc[-1]).all()
