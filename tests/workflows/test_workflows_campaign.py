"""Scan → track → export on a simulated campaign, scored against the simulator's truth (issue checks)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ioscan.catalog.export import export
from ioscan.catalog.store import open_store
from ioscan.workflows.evaluate import evaluate
from ioscan.workflows.scan import scan
from ioscan.workflows.track import track_catalog


@pytest.fixture(scope="module")
def tracked_catalog(small_campaign, tmp_path_factory):
    db = tmp_path_factory.mktemp("tracked") / "c.db"
    with open_store(db) as store:
        scan(
            [small_campaign.metakernel.parent.parent],
            store=store,
            kernels=small_campaign.metakernel,
            workers=0,
        )
        summary = track_catalog(store)
    return db, summary, pd.read_csv(small_campaign.truth_csv)


def test_tracking_agrees_with_truth(tracked_catalog):
    db, summary, truth = tracked_catalog
    assert summary.n_hotspots > 0
    with open_store(db) as store:
        ev = evaluate(store, truth)
    # the simulated hot spots lie off their published positions as published positions err (0.6° per axis,
    # 5 % of sources 2.5°: catalog.reference.PUBLISHED_POSITION_ERROR), so a few ground-based (32 km/px)
    # detections join a neighbour and a few cross-IDs name a neighbouring published source (seed 11:
    # ARI 0.97, JIRAM detections alone 1.0; 36 of 40 cross-IDs right)
    assert ev.adjusted_rand_index >= 0.95
    assert ev.n_true_with_3 > 0 and ev.n_true_with_3_recovered == ev.n_true_with_3
    assert ev.n_crossid_checked > 0 and ev.n_crossid_right >= 0.85 * ev.n_crossid_checked


def test_ids_are_stable_when_tracking_again(tracked_catalog):
    db, _, _ = tracked_catalog
    with open_store(db) as store:
        before = store.detections_frame()[["id", "hotspot_id"]].set_index("id")["hotspot_id"]
        track_catalog(store)
        after = store.detections_frame()[["id", "hotspot_id"]].set_index("id")["hotspot_id"]
    assert before.dropna().equals(after[before.dropna().index])


def test_exports_carry_hotspot_ids(tracked_catalog, tmp_path):
    db, _, _ = tracked_catalog
    with open_store(db) as store:
        export(store, "detections", "parquet", tmp_path / "d.parquet")
        export(store, "hotspots", "geojson", tmp_path / "h.geojson")
    det = pd.read_parquet(tmp_path / "d.parquet")
    assert {"hotspot_id", "detection_id", "lat_deg", "lon_w_deg"} <= set(det.columns)
    assert det["hotspot_id"].notna().any()
    gj = json.loads((tmp_path / "h.geojson").read_text())
    assert gj["features"] and all(f["geometry"]["type"] == "Point" for f in gj["features"])


def test_intensity_errors_hold_against_the_truth(tracked_catalog):
    """Pulls (measured − true)/σ_random of unsaturated hot spots: photon noise alone gave 45 % within 3σ
    (issue 14); the random error now describes the scatter to within a factor 2. Measured: robust pull std
    0.56 on this campaign with the detector that measures the PSF and limb from the frame (0.6-0.7 before):
    on the simulator's campaigns bright hot spots' errors are overstated (``bench_pulls``: 0.5-0.75 at S/N
    ≥ 1,000), on dense grids understated (``tests/measure/test_errors.py``): a known open point."""
    import numpy as np

    from ioscan.records import DetectionFlag
    from ioscan.robust import mad_sigma
    from ioscan.workflows.evaluate import match_detections

    db, _, truth = tracked_catalog
    with open_store(db) as store:
        det = store.detections_frame(source="ioscan")
    det = det[(det["flags"].astype(int) & int(DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT)) == 0]
    m = match_detections(det, truth)
    m = m[m["detection_row_id"].notna() & m["product_id"].str.startswith("JIR_")]
    d = det.set_index("id").loc[m["detection_row_id"].astype(int)]
    lower = (d["flags"].to_numpy().astype(int) & int(DetectionFlag.LOWER_LIMIT)) > 0
    err = d["spectral_intensity_err_gw_um_sr"].to_numpy(float)
    pull = (m["det_intensity_gw_um_sr"].astype(float) - m["spectral_intensity_corrected_gw_um_sr"]) / err
    use = (~lower & ~m["saturated"].astype(bool) & (m["snr"] >= 10) & (m["emission_deg"] < 80)).to_numpy()
    use = use & np.isfinite(pull.to_numpy())
    p = pull.to_numpy()[use]
    assert p.size >= 100
    assert 0.5 <= mad_sigma(p) <= 1.4
    assert np.mean(np.abs(p) < 3) >= 0.9

    # saturated sources are lower limits, below the truth (unless other sources share their aperture)
    def crowded(row) -> bool:
        same = truth[(truth["product_id"] == row.product_id) & (truth["band"] == row.band)]
        dist = np.hypot(same["sample"] - row.sample, same["line"] - row.line)
        return bool(((dist > 0.01) & (dist < 6.0) & (same["snr"] >= 10)).any())

    alone = lower & ~np.array([crowded(r) for r in m.itertuples()])
    lim = m["det_intensity_gw_um_sr"].astype(float).to_numpy()[alone]
    tru = m["spectral_intensity_corrected_gw_um_sr"].to_numpy()[alone]
    ok = np.isfinite(lim)
    assert np.all(lim[ok] <= tru[ok])


def test_colour_temperatures_come_from_two_clean_frames(tracked_catalog):
    db, summary, _ = tracked_catalog
    with open_store(db) as store:
        temps = store.hotspot_temperatures_frame()
        det = store.detections_frame().set_index("id")
    assert summary.n_temperatures == len(temps)
    if temps.empty:
        return
    short, long_ = det.loc[temps["detection_short"]], det.loc[temps["detection_long"]]
    assert (short["observation_id"].to_numpy() != long_["observation_id"].to_numpy()).all()
    assert (short["flags"].astype(int).to_numpy() == 0).all() and (
        long_["flags"].astype(int).to_numpy() == 0
    ).all()
    assert (short["snr"] >= 5).all() and (long_["snr"] >= 5).all()
    assert (temps["dt_s"].abs() <= 3600).all()
    good = temps[temps["usable"].astype(bool)]
    assert good["temperature_k"].between(150, 2000).all() and (good["total_power_gw"] <= 1e5).all()
