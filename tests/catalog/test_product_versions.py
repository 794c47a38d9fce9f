"""Reprocessed products: the highest version is in force whatever the order it is stored in, the older one
is kept and marked superseded, and nothing of it reaches tracking, light curves or exports by default."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from catalog_helpers import BANDS, make_detection, summary

from ioscan.catalog import schema
from ioscan.catalog.export import table
from ioscan.catalog.store import MIGRATIONS_DIR, open_store

V01 = dict(product_id="JIR_IMG_RDR_2017033T114006_V01", checksum_sha256="a" * 64)
V02 = dict(product_id="JIR_IMG_RDR_2017033T114006_V02", checksum_sha256="b" * 64)
V10 = dict(product_id="JIR_IMG_RDR_2017033T114006_V10", checksum_sha256="c" * 64)


def _store_all(store, versions):
    outcomes = {}
    for i, v in enumerate(versions):
        dets = [make_detection(10 * i + k) for k in range(2)]
        outcomes[v["product_id"]] = store.add_product(summary(1, **v), BANDS, dets)
    return outcomes


def _in_force(store) -> list[str]:
    return store.observations_frame()["product_id"].tolist()


@pytest.mark.parametrize("order", list(itertools.permutations([V01, V02, V10])))
def test_highest_version_wins_whatever_the_order(store, order):
    outcomes = _store_all(store, order)
    assert _in_force(store) == [V10["product_id"]]
    everything = store.observations_frame(include_superseded=True)
    assert len(everything) == 3  # nothing lost
    by = everything.set_index("product_id")["superseded_by_id"]
    winner_id = int(everything.set_index("product_id").at[V10["product_id"], "id"])
    assert by[V01["product_id"]] == by[V02["product_id"]] == winner_id
    assert all(o.outcome == "stored" for o in outcomes.values())
    last = order[-1]["product_id"]
    if last != V10["product_id"]:  # an older version stored last says so at once
        assert outcomes[last].superseded_by == V10["product_id"]
    else:
        assert outcomes[last].superseded and outcomes[last].superseded_by is None
    # only the version in force counts: 2 detections, not 6; all 6 kept
    assert len(store.detections_frame()) == 2
    assert len(store.detections_frame(include_superseded=True)) == 6
    assert set(store.detections_frame()["product_id"]) == {V10["product_id"]}
    assert len(store.frames_frame()) == 1 and len(store.frames_frame(include_superseded=True)) == 3


def test_same_id_with_changed_data_is_stored_and_supersedes(store):
    first = store.add_product(summary(2), BANDS, [make_detection(0)])
    changed = store.add_product(
        summary(2, checksum_sha256="e" * 64), BANDS, [make_detection(1), make_detection(2)]
    )
    assert changed.outcome == "stored" and changed.observation_id != first.observation_id
    assert len(changed.superseded) == 1 and summary(2).product_id in changed.superseded[0]
    assert "data 000000000000" in changed.superseded[0]  # the same ID is told apart by its data
    assert len(store.detections_frame()) == 2
    assert len(store.observations_frame(include_superseded=True)) == 2
    # re-adding the superseded copy writes nothing and says it is superseded
    again = store.add_product(summary(2), BANDS, [make_detection(0)])
    assert again.outcome == "already_stored" and again.superseded_by == summary(2).product_id


def test_the_archive_creation_time_beats_the_order_of_storing(store):
    newer = dict(checksum_sha256="1" * 64, product_created_utc="2018-01-01T00:00:00")
    older = dict(checksum_sha256="2" * 64, product_created_utc="2017-01-01T00:00:00")
    store.add_product(summary(3, **newer), BANDS, [])
    late_but_older = store.add_product(summary(3, **older), BANDS, [])
    assert late_but_older.superseded_by is not None
    kept = store.observations_frame()
    assert kept["checksum_sha256"].tolist() == ["1" * 64]


def test_superseded_detections_leave_exports_and_light_curves(store):
    _store_all(store, [V01, V02])
    det = store.detections_frame(include_superseded=True)
    hs = (
        det.assign(hotspot_id="IOS00001")
        .groupby("hotspot_id", as_index=False)[["lat_deg", "lon_w_deg"]]
        .mean()
    )
    store.assign_hotspots(dict.fromkeys(det["id"], "IOS00001"), hs)
    assert set(table(store, "detections")["product_id"]) == {V02["product_id"]}
    assert set(table(store, "lightcurves")["product_id"]) == {V02["product_id"]}
    assert set(store.lightcurve("IOS00001", "M")["product_id"]) == {V02["product_id"]}


def test_upgrade_from_0003_keys_old_rows_and_supersedes_stored_versions(tmp_path):
    """A catalogue made before versions were understood (both V01 and V02 stored as separate products) is
    upgraded in place: every row, frame and detection kept; V01 marked superseded by V02."""
    from alembic import command
    from alembic.config import Config

    from ioscan.catalog.store import _make_engine, engine_url, upgrade_schema

    engine = _make_engine(engine_url(tmp_path / "old.db"))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        for i, pid in enumerate(
            ["JIR_IMG_RDR_2017033T114006_V02", "JIR_IMG_RDR_2017033T114006_V01", "NIRC2_X"]
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO observations (product_id, instrument, time_utc, checksum_sha256, "
                    "geometry_source, status, n_detections) "
                    "VALUES (:p, 'JIRAM', '2017-02-02T11:40:03.876000Z', :c, 'none', 'ok', 1)"
                ),
                {"p": pid, "c": f"{i:064x}"},
            )
            conn.execute(sa.text("INSERT INTO frames (observation_id, band) VALUES (:o, 'M')"), {"o": i + 1})
            conn.execute(
                sa.text(
                    "INSERT INTO detections (observation_id, source, time_utc, band, flags) "
                    "VALUES (:o, 'ioscan', '2017-02-02T11:40:03.876000Z', 'M', 0)"
                ),
                {"o": i + 1},
            )
    engine.dispose()
    upgrade_schema(_make_engine(engine_url(tmp_path / "old.db")))
    with open_store(tmp_path / "old.db") as store:
        every = store.observations_frame(include_superseded=True).set_index("product_id")
        assert len(every) == 3
        assert len(store.detections_frame(include_superseded=True)) == 3
        assert len(store.frames_frame(include_superseded=True)) == 3
        assert (
            every.at["JIR_IMG_RDR_2017033T114006_V01", "superseded_by_id"]
            == every.at["JIR_IMG_RDR_2017033T114006_V02", "id"]
        )
        assert every.at["JIR_IMG_RDR_2017033T114006_V02", "base_product_id"] == "JIR_IMG_RDR_2017033T114006"
        assert every.at["NIRC2_X", "product_key"] == f"NIRC2_X||{2:064x}"
        assert sorted(store.observations_frame()["product_id"]) == [
            "JIR_IMG_RDR_2017033T114006_V02",
            "NIRC2_X",
        ]
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.scan_claims)).scalar_one() == 0
