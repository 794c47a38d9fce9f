"""A batch written with a few statements for all (``ioscan.catalog.batch_write``) stores what storing its
products one after the other stores: the same rows, ids, version changes and outcomes."""

from __future__ import annotations

import json

import pandas as pd
from catalog_helpers import BANDS, make_detection, summary

from ioscan.catalog.batch_write import batchable
from ioscan.catalog.rows import product_rows
from ioscan.catalog.store import Store, open_store

BEFORE = [
    (summary(1), BANDS, [make_detection(0)]),
    (summary(2, product_id="Q_V01"), BANDS, [make_detection(1), make_detection(2)]),
    (summary(7, product_id="R_V02"), BANDS, []),
]
BATCH = [
    (summary(3), BANDS, [make_detection(3), make_detection(4)]),  # new
    (summary(1), BANDS, [make_detection(0)]),  # stored already
    (summary(4, product_id="OTHER_V01", checksum_sha256=summary(2).checksum_sha256), BANDS, []),  # same data
    (summary(5, product_id="Q_V02"), BANDS, [make_detection(5)]),  # a new version: Q_V01 out of force
    (summary(6, product_id="R_V01"), BANDS, [make_detection(6)]),  # an older version: stored, not in force
    (summary(8), BANDS + [BANDS[0].__class__(**{**vars(BANDS[0]), "band": "L"})], [make_detection(7)]),
]


def _tables(store: Store) -> dict[str, pd.DataFrame]:
    return {
        name: getattr(store, name)(include_superseded=True)
        for name in ("observations_frame", "frames_frame", "detections_frame")
    }


def test_a_batch_stores_what_one_product_after_the_other_stores(store, tmp_path, monkeypatch):
    with open_store(tmp_path / "one_by_one.db") as reference:
        for product in BEFORE:
            reference.add_product(*product)
            store.add_product(*product)
        expected = [reference.add_product(*product) for product in BATCH]

        def one_by_one(*_):
            raise AssertionError("the batch was stored product by product")

        monkeypatch.setattr(Store, "_insert_each", one_by_one)
        got = store.add_products([product_rows(*p) for p in BATCH])
        assert got == expected
        kinds = [o.outcome for o in got]
        assert kinds == ["stored", "already_stored", "duplicate", "stored", "stored", "stored"]
        assert got[3].superseded == ["Q_V01"] and got[4].superseded_by == "R_V02"
        for name, frame in _tables(store).items():
            pd.testing.assert_frame_equal(frame, _tables(reference)[name], obj=name)


def test_products_that_meet_each_other_are_stored_one_after_the_other(store, tmp_path):
    """Two versions of one product (or the same data twice) in a batch: what one stores changes what the
    other does, so the batch goes product by product, with the outcomes of storing them in turn."""
    batch = [
        (summary(10, product_id="S_V01"), BANDS, [make_detection(0)]),
        (summary(11, product_id="S_V02"), BANDS, [make_detection(1)]),
        (summary(12, product_id="T_V01", checksum_sha256=summary(10).checksum_sha256), BANDS, []),
    ]
    assert not batchable([product_rows(*p) for p in batch[:2]])
    assert not batchable([product_rows(*p) for p in (batch[0], batch[2])])
    assert batchable([product_rows(*p) for p in (batch[1], batch[2])])
    with open_store(tmp_path / "one_by_one.db") as reference:
        expected = [reference.add_product(*p) for p in batch]
        assert store.add_products(batch) == expected
        assert [o.outcome for o in expected] == ["stored", "stored", "duplicate"]
        assert expected[1].superseded == ["S_V01"]
        for name, frame in _tables(store).items():
            pd.testing.assert_frame_equal(frame, _tables(reference)[name], obj=name)


def test_a_batch_releases_the_claims_of_its_products(store):
    from ioscan.catalog.claims import Claims

    claims = Claims(store, store.start_run("scan", {}))
    rows = [product_rows(*p) for p in BEFORE]
    keys = [(r.observation["product_key"], None, None) for r in rows]
    assert [c.outcome for c in claims.claim_many(keys)] == ["claimed"] * 3
    store.add_products(rows[:2], claims.run_id)
    assert claims.held() == 1  # the product not stored keeps its claim
    store.add_products(rows, claims.run_id)  # two stored already, one new: every claim released
    assert claims.held() == 0


def test_detections_are_stored_as_sqlalchemys_typed_insert_stores_them(store):
    """Detections go in as value tuples (SQLite: one executemany, each value through SQLAlchemy's bind
    processor) with ``extra`` as JSON text made where the rows are made (a scan's workers): every stored
    value, and on SQLite every storage class, is what SQLAlchemy's typed INSERT of the same rows stores
    (``extra`` from its value through the JSON type)."""
    import sqlalchemy as sa

    from ioscan.catalog import schema as sch

    extras = [{"a": 1.5, "b": None, "c": [1, 2], "d": {"e": True}, "note": "été"}, {}, {"n": 3}]
    dets = [make_detection(k, extra=e) for k, e in enumerate(extras)]
    dets.append(make_detection(9, snr=float("nan"), n_pixels=None, lat_deg=None))
    obs_id = store.add_products([product_rows(summary(1), BANDS, dets)])[0].observation_id
    d = sch.detections
    made = product_rows(summary(1), BANDS, dets)
    rows = [dict(zip(made.detection_columns, v, strict=True)) for v in made.detection_values]
    common = {"observation_id": obs_id, "time_utc": made.observation["time_utc"], "observer": "Juno"}
    with store._write() as conn:
        conn.execute(
            sa.insert(d), [dict(r, extra=json.loads(r["extra"]), source="typed", **common) for r in rows]
        )
    cols = [c for c in d.c if c.name not in ("id", "source")]
    raw = [sa.cast(c, sa.Text) for c in cols]
    kinds = [sa.func.typeof(c) for c in cols] if store.dialect == "sqlite" else []
    with store.engine.connect() as conn:
        got = conn.execute(sa.select(d.c.source, *raw, *kinds).order_by(d.c.id)).all()
    ours = [tuple(r[1:]) for r in got if r[0] == "ioscan"]
    typed = [tuple(r[1:]) for r in got if r[0] == "typed"]
    assert ours == typed and len(ours) == 4
    assert ours[1][[c.name for c in cols].index("extra")] == "null"  # an empty extra: JSON null, as the type


def test_detections_from_the_rows_tuples_are_stored_as_from_their_dicts(store):
    """:func:`insert_product_detections` (the rows' own value tuples, put in the statement's order) stores
    what :func:`insert_detections` of their dicts (:func:`detection_params`) stores: every value and, on
    SQLite, its storage class; also for rows made elsewhere whose float columns hold ints, numpy floats or
    text (then through the bind processor, as before)."""
    import dataclasses

    import numpy as np
    import sqlalchemy as sa

    from ioscan.catalog import schema as sch
    from ioscan.catalog.batch_write import detection_params, insert_detections, insert_product_detections

    made = product_rows(summary(1), BANDS, [make_detection(k) for k in range(3)])
    odd = dataclasses.replace(made, detection_values=[v for v in made.detection_values])
    snr = made.detection_columns.index("snr")
    odd.detection_values[1] = (
        odd.detection_values[1][:snr] + (np.float32(2.5),) + odd.detection_values[1][snr + 1 :]
    )
    odd.detection_values[2] = odd.detection_values[2][:snr] + (7,) + odd.detection_values[2][snr + 1 :]
    empty = dataclasses.replace(made, detection_values=[])
    d = sch.detections
    cols = [c for c in d.c if c.name not in ("id", "observation_id")]
    raw = [sa.cast(c, sa.Text) for c in cols]
    kinds = [sa.func.typeof(c) for c in cols] if store.dialect == "sqlite" else []
    stored = []
    for k, insert in enumerate(
        (
            lambda conn, ps: insert_detections(
                conn, [r for rows, i in ps for r in detection_params(rows, i)]
            ),
            insert_product_detections,
        )
    ):
        with store._write() as conn:
            ids = [
                int(conn.execute(sa.insert(sch.observations), dict(r.observation, product_key=f"{k}{n}"))
                    .inserted_primary_key[0])
                for n, r in enumerate((made, odd, empty))
            ]  # fmt: skip
            insert(conn, list(zip((made, odd, empty), ids, strict=True)))
            got = conn.execute(
                sa.select(*raw, *kinds).where(d.c.observation_id.in_(ids)).order_by(d.c.id)
            ).all()
        stored.append([tuple(r) for r in got])
    assert stored[0] == stored[1] and len(stored[0]) == 6
    assert stored[1][4][[c.name for c in cols].index("snr")] == "2.5"  # np.float32(2.5) through float()
