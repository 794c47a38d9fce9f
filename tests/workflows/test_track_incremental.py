"""Incremental tracking: new detections (and a product version that replaces an old one) added to a tracked
catalogue give the same result as a full re-track of the same catalogue, and the same hot spots as tracking
everything at once in a new catalogue; hot spots that did not change keep their events untouched."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from ioscan.catalog.store import open_store
from ioscan.catalog.tracking import light_curve_states
from ioscan.records import BandSummary, Detection, Observation
from ioscan.track import synthetic as sy
from ioscan.workflows.track import track_catalog

EVENT_KEY = ["hotspot_id", "band", "kind", "time_utc"]
HOTSPOT_COLS = [
    "hotspot_id",
    "lat_deg",
    "lon_w_deg",
    "lat_err_deg",
    "lon_err_deg",
    "lat_lon_err_corr",
    "n_detections",
    "first_time_utc",
    "last_time_utc",
    "name",
]


def _products(obs: pd.DataFrame, det: pd.DataFrame, version: str = "01", scale: float = 1.0) -> list:
    """(Observation, bands, detections) records of a synthetic campaign, as a scan would store them."""
    out = []
    for o in obs.itertuples():
        rows = det[det["observation_id"] == o.id]
        dets = [
            Detection(
                band=r.band,
                sample=100.0,
                line=100.0,
                sample_err_px=0.1,
                line_err_px=0.1,
                snr=float(r.snr),
                net_radiance_sum=1.0,
                net_radiance_sum_err=0.1,
                unit="W m-2 sr-1",
                background=0.0,
                peak=1.0,
                n_pixels=9,
                flags=0,
                wavelength_um=float(r.wavelength_um),
                lat_deg=float(r.lat_deg),
                lon_w_deg=float(r.lon_w_deg),
                lat_err_deg=float(r.lat_err_deg),
                lon_err_deg=float(r.lon_err_deg),
                position_err_km=float(r.position_err_km),
                emission_deg=float(r.emission_deg),
                spectral_intensity_gw_um_sr=scale * float(r.spectral_intensity_gw_um_sr),
                spectral_intensity_err_gw_um_sr=scale * float(r.spectral_intensity_err_gw_um_sr),
                spectral_intensity_sys_err_gw_um_sr=scale * float(r.spectral_intensity_sys_err_gw_um_sr),
                extra={"intensity_err_fraction": {"calibration": 0.1, "psf_model": 0.2}},
            )
            for r in rows.itertuples()
        ]
        observation = Observation(
            product_id=f"{o.product_id}_V{version}",
            instrument="JIRAM",
            time_utc=o.time_utc,
            observer="JUNO",
            checksum_sha256=f"{o.id:060d}{version:>04}",
            product_version=version,
            geometry_source="spice",
            coverage_grid=o.coverage_grid,
        )
        bands = [
            BandSummary(band="L", wavelength_um=3.455, detection_limit_gw_um_sr=0.3),
            BandSummary(band="M", wavelength_um=4.78, detection_limit_gw_um_sr=0.3),
        ]
        out.append((observation, bands, dets))
    return out


def _store(path, *batches) -> None:
    with open_store(path) as store:
        for batch in batches:
            for out in store.add_products(batch):
                assert not isinstance(out, Exception), out


def _state(path) -> dict:
    with open_store(path) as store:
        det = store.detections_frame(include_superseded=True)[["id", "hotspot_id"]].set_index("id")[
            "hotspot_id"
        ]
        temps = store.hotspot_temperatures_frame().drop(columns="id")
        return {
            "det": det,
            "hotspots": store.hotspots_frame()[HOTSPOT_COLS].reset_index(drop=True),
            "events": store.events_frame(),
            "temps": temps.sort_values(["hotspot_id", "detection_short", "detection_long"]).reset_index(
                drop=True
            ),
            "cross": store.cross_ids_frame().drop(columns="id").reset_index(drop=True),
            "states": light_curve_states(store),
        }


@pytest.fixture(scope="module")
def campaign():
    rng = np.random.default_rng(7)
    truth = sy.population(120, rng)
    old_obs, old_det = sy.observed_campaign(truth, rng, n_obs=36, l_fraction=0.25, cadence_h=0.5)
    start = str(np.datetime64(old_obs["time_utc"].iloc[-1][:-1]) + np.timedelta64(2, "D"))
    # new frames see a part of Io only: some hot spots change, others do not
    new_obs, new_det = sy.observed_campaign(
        truth,
        rng,
        n_obs=5,
        start=start,
        view_deg=45.0,
        l_fraction=0.25,
        obs_start=int(old_obs["id"].max()) + 1,
    )
    old = _products(old_obs, old_det)
    new = _products(new_obs, new_det)
    reprocessed = _products(
        old_obs.iloc[[20]], old_det, version="02", scale=1.1
    )  # supersedes one old product
    return old, new + reprocessed


def test_incremental_equals_full_retrack_and_tracking_everything_at_once(campaign, tmp_path):
    old, added = campaign
    base = tmp_path / "base.db"
    _store(base, old)
    with open_store(base) as store:
        first = track_catalog(store)
        events_before = store.events_frame()
    assert first.mode == "full" and first.n_hotspots > 50 and first.n_temperatures > 0
    _store(base, added)
    full_db = tmp_path / "full.db"
    shutil.copy(base, full_db)
    with open_store(base) as store:
        inc = track_catalog(store)
    with open_store(full_db) as store:
        full = track_catalog(store, full=True)
    assert inc.mode == "incremental" and full.mode == "full"
    assert 0 < inc.n_changed_hotspots < inc.n_hotspots  # only some hot spots were recomputed
    a, b = _state(base), _state(full_db)

    # the same hot spot for every detection (the superseded product's detections in none)
    assert a["det"].equals(b["det"])
    assert a["det"].notna().sum() == b["det"].notna().sum() > 0
    with open_store(base) as store:
        products = store.detections_frame(include_superseded=True).set_index("id")["product_id"]
    replaced = [o.product_id.replace("_V02", "_V01") for o, _, _ in added if o.product_version == "02"]
    assert a["det"][products.isin(replaced)].isna().all() and products.isin(replaced).any()
    # the same hot spots, positions, errors, counts, time spans and names
    pd.testing.assert_frame_equal(a["hotspots"], b["hotspots"])
    # the same events, temperatures and cross-IDs
    ea = a["events"].sort_values(EVENT_KEY).reset_index(drop=True)
    eb = b["events"].sort_values(EVENT_KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(ea.drop(columns="id"), eb.drop(columns="id"))
    assert set(ea["kind"]) >= {"new", "fading", "quiescent"}
    pd.testing.assert_frame_equal(a["temps"], b["temps"])
    pd.testing.assert_frame_equal(a["cross"], b["cross"])
    # most light curves were continued from their stored states, which now equal a full re-track's
    assert inc.n_continued_hotspots > inc.n_recomputed_hotspots > 0  # the replaced product: recomputed
    _same_states(a["states"], b["states"])

    # events of the hot spots that did not change were left as they were (same rows, same ids)
    with open_store(base) as store:
        runs = store.association_runs_frame()
    assert (
        runs["mode"].tolist() == ["full", "incremental"]
        and runs["n_changed"].iloc[-1] == inc.n_changed_hotspots
    )
    kept = _same_rows(events_before, a["events"])
    with_events = set(events_before["hotspot_id"])
    assert len(with_events - kept) <= inc.n_changed_hotspots and len(kept) >= 10
    # ... and so were the events of changed hot spots recomputed as they were stored (e.g. "new")
    preserved = len(events_before.merge(a["events"], how="inner"))  # rows the same, ids included
    assert preserved > events_before["hotspot_id"].isin(kept).sum()

    # tracking everything at once in a new catalogue: the same hot spots, with the same IDs
    scratch = tmp_path / "scratch.db"
    _store(scratch, old, added)
    with open_store(scratch) as store:
        track_catalog(store)
    c = _state(scratch)
    assert a["det"].equals(c["det"])
    pd.testing.assert_frame_equal(
        a["hotspots"][["hotspot_id", "n_detections"]], c["hotspots"][["hotspot_id", "n_detections"]]
    )


def _same_states(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Light-curve states equal: counts, times and stored values exactly, sums to rounding (the weighted
    ones only where every error is usable: elsewhere they mean nothing)."""
    assert len(a) == len(b) > 0
    sums = ["mean", "m2", "sum_w", "w_mean", "w_m2", "sum_err2"]
    pd.testing.assert_frame_equal(a.drop(columns=sums), b.drop(columns=sums))
    good = (b["n_bad_err"] == 0).to_numpy()
    assert good.sum() > 10
    for col in sums:
        np.testing.assert_allclose(a[col][good], b[col][good], rtol=1e-9, err_msg=col)


def _same_rows(before: pd.DataFrame, after: pd.DataFrame) -> set:
    """Hot spots whose event rows (ids included) are the same before and after."""
    out = set()
    for hs, rows in before.groupby("hotspot_id"):
        if after[after["hotspot_id"] == hs].reset_index(drop=True).equals(rows.reset_index(drop=True)):
            out.add(hs)
    return out


def test_nothing_new_writes_nothing(campaign, tmp_path):
    old, _ = campaign
    db = tmp_path / "c.db"
    _store(db, old[:12])
    with open_store(db) as store:
        track_catalog(store)
        again = track_catalog(store)
        assert again.mode == "unchanged" and len(store.association_runs_frame()) == 1


def test_changed_settings_retrack_everything(campaign, tmp_path):
    from ioscan.track.config import TrackConfig

    old, _ = campaign
    db = tmp_path / "c.db"
    _store(db, old[:12])
    with open_store(db) as store:
        track_catalog(store)
        other = track_catalog(store, TrackConfig(n_sigma=4.0))
    assert other.mode == "full"


def test_incremental_then_full_agree_on_both_databases(campaign, db_url, monkeypatch):
    """The same on SQLite and PostgreSQL, with the bulk assignment path (temporary table, UPDATE ... FROM)."""
    import ioscan.catalog.tracking as tr

    monkeypatch.setattr(tr, "_BULK", 10)
    old, added = campaign
    _store(db_url, old[:24])  # holds the product that a new version replaces
    with open_store(db_url) as store:
        track_catalog(store)
    _store(db_url, added)
    with open_store(db_url) as store:
        assert track_catalog(store).mode == "incremental"
        det = store.detections_frame(include_superseded=True)[["id", "hotspot_id", "product_id"]]
        events = store.events_frame().drop(columns="id").sort_values(EVENT_KEY).reset_index(drop=True)
        replaced = [o.product_id.replace("_V02", "_V01") for o, _, _ in added if o.product_version == "02"]
        gone = det[det["product_id"].isin(replaced)]
        assert len(gone) > 0 and gone["hotspot_id"].isna().all()  # the superseded version's detections left
        states = light_curve_states(store)
        assert track_catalog(store, full=True).mode == "full"
        again = store.detections_frame(include_superseded=True)[["id", "hotspot_id", "product_id"]]
        events_again = store.events_frame().drop(columns="id").sort_values(EVENT_KEY).reset_index(drop=True)
        states_again = light_curve_states(store)
    assert det.equals(again)
    pd.testing.assert_frame_equal(events, events_again)
    _same_states(states, states_again)


def test_a_catalogue_tracked_without_states_is_tracked_whole_once(campaign, tmp_path):
    """A catalogue tracked before light-curve states were kept (none stored) cannot continue its light
    curves: the next run is a full one, and the one after continues them."""
    import sqlalchemy as sa

    from ioscan.catalog import schema as sch

    old, added = campaign
    db = tmp_path / "c.db"
    _store(db, old[:12])
    with open_store(db) as store:
        track_catalog(store)
        with store.engine.begin() as conn:
            conn.execute(sa.delete(sch.light_curve_states))
    _store(db, added[:2])
    with open_store(db) as store:
        assert track_catalog(store).mode == "full"
        assert len(light_curve_states(store)) > 0
    _store(db, added[2:4])
    with open_store(db) as store:
        assert track_catalog(store).mode == "incremental"


def test_earlier_observations_stored_later_are_recomputed_equal_to_full(campaign, tmp_path):
    """Observations older than the light curves' last points (an archive scanned out of order) cannot continue
    them: those light curves are recomputed from all their points, and the result is a full re-track's."""
    old, _ = campaign
    base = tmp_path / "base.db"
    _store(base, old[:8] + old[14:])  # frames 8-13 come later
    with open_store(base) as store:
        track_catalog(store)
    _store(base, old[8:14])
    full_db = tmp_path / "full.db"
    shutil.copy(base, full_db)
    with open_store(base) as store:
        inc = track_catalog(store)
    with open_store(full_db) as store:
        track_catalog(store, full=True)
    assert inc.mode == "incremental" and inc.n_recomputed_hotspots > 0
    a, b = _state(base), _state(full_db)
    assert a["det"].equals(b["det"])
    pd.testing.assert_frame_equal(a["hotspots"], b["hotspots"])
    ea = a["events"].sort_values(EVENT_KEY).reset_index(drop=True)
    eb = b["events"].sort_values(EVENT_KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(ea.drop(columns="id"), eb.drop(columns="id"))
    _same_states(a["states"], b["states"])
