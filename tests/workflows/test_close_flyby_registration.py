"""Close flybys end to end: simulated sequences (no limb in view, pointing errors up to 2° along track, true
hot spots off their published positions by the published-position error) scanned as a user would, then checked
against the simulator's truth: registrations within their stated covariance, hot-spot positions inside their
stated 95 % ellipse, and a refined hot-spot table registering more frames than the shipped tables alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.instruments import jiram

#: χ² (2 dof) of the 99.9 % and 95 % regions
CHI2_999, CHI2_95 = 13.82, 5.99


def _m2(dx, dy, sx, sy, corr):
    """Mahalanobis distance² of (dx, dy) for 1σ (sx, sy) and correlation ``corr``."""
    c = corr * sx * sy
    return (sy**2 * dx**2 - 2 * c * dx * dy + sx**2 * dy**2) / (sx**2 * sy**2 - c**2)


@pytest.fixture(scope="module")
def flybys(tmp_path_factory):
    from ioscan.simulate.close_flybys import simulate_close_flybys

    out = tmp_path_factory.mktemp("close_flybys")
    return out, simulate_close_flybys(out, n_sequences=3, frames_per_sequence=3, seed=4)


def _scan(out, res, anchors: str, db):
    from ioscan.catalog.store import open_store
    from ioscan.settings import Settings
    from ioscan.workflows.scan import scan

    settings = Settings.load(overrides=[f'navigate.anchors="{anchors}"'])
    with open_store(db) as store:
        scan([out / "jiram"], store=store, kernels=res.metakernel, workers=0, settings=settings)
        return store.observations_frame().set_index("product_id"), store.detections_frame()


@pytest.fixture(scope="module")
def scanned(flybys, tmp_path_factory):
    out, res = flybys
    db = tmp_path_factory.mktemp("db")
    shipped = _scan(out, res, "shipped", f"sqlite:///{db / 'shipped.db'}")
    refined = _scan(out, res, f"shipped+{res.refined_csv}", f"sqlite:///{db / 'refined.db'}")
    return shipped, refined


def _truth_offsets(res, obs: pd.DataFrame) -> pd.DataFrame:
    """Each observation with the true pointing error (observed − predicted, px) in its first band."""
    frames = pd.read_csv(res.frames_csv).set_index("product_id")
    fr = obs.join(frames[["mode"]].rename(columns={"mode": "mode_plan"}), how="inner")
    first = {p: jiram.MODES[m][0] for p, m in fr["mode_plan"].items()}
    fr["truth_s"] = [frames.loc[p, f"{first[p]}_pointing_error_sample_px"] for p in fr.index]
    fr["truth_l"] = [frames.loc[p, f"{first[p]}_pointing_error_line_px"] for p in fr.index]
    return fr


def test_every_frame_navigated_and_says_how(flybys, scanned):
    _, res = flybys
    for obs, _det in scanned:
        assert len(obs) == res.n_frames
        assert set(obs.registration_method) <= {"limb", "hotspots", "chain", "none"}
        assert (
            obs.pointing_offset_sample_err_px.notna().all() and obs.pointing_offset_line_err_px.notna().all()
        )
        hs = obs[obs.registration_method.isin(["hotspots", "chain"])]
        assert (hs.n_anchor_matches >= 2).all() and (hs.false_match_prob <= 0.01).all()
        # nothing matched: the pointing uncertainty is the prior's, large along track (lines), small across
        none = obs[(obs.registration_method == "none") & (obs.n_anchor_matches.fillna(0) == 0)]
        assert (none.pointing_offset_line_err_px > 5 * none.pointing_offset_sample_err_px).all()


def test_registrations_within_their_stated_covariance(flybys, scanned):
    _, res = flybys
    n_registered = 0
    for obs, _det in scanned:
        fr = _truth_offsets(res, obs)
        reg = fr[fr.registered.astype(bool)]
        n_registered += len(reg)
        m2 = _m2(
            reg.pointing_offset_sample_px - reg.truth_s,
            reg.pointing_offset_line_px - reg.truth_l,
            reg.pointing_offset_sample_err_px,
            reg.pointing_offset_line_err_px,
            reg.pointing_offset_corr.fillna(0.0),
        )
        close = np.hypot(
            reg.pointing_offset_sample_px - reg.truth_s, reg.pointing_offset_line_px - reg.truth_l
        )
        assert ((m2 <= CHI2_999) | (close <= 1.0)).all(), reg.assign(m2=m2)[["registration_method", "m2"]]
    assert n_registered >= 3  # the check above must have something to check


def test_hot_spot_positions_inside_their_stated_ellipse(flybys, scanned):
    from ioscan.workflows.evaluate import match_detections

    _, res = flybys
    truth = pd.read_csv(res.truth_csv)
    obs, det = scanned[0]
    hot = det[(det["flags"].astype(int) & (8 | 128)) == 0]
    m = match_detections(hot, truth)
    m = m[m.detection_row_id.notna()].merge(
        det.add_prefix("det_").rename(columns={"det_id": "detection_row_id"}), on="detection_row_id"
    )
    m = m[m.det_lat_deg.notna()]
    assert len(m) >= 20
    dlat = m.lat_deg - m.det_lat_deg
    dlon = (m.lon_w_deg - m.det_lon_w_deg + 180.0) % 360.0 - 180.0
    inside = (
        _m2(dlat, dlon, m.det_lat_err_deg, m.det_lon_err_deg, m.det_lat_lon_err_corr.fillna(0.0)) <= CHI2_95
    )
    # 95 % stated; with ~20-60 sources, 85 % or fewer would happen by chance well under 1 % of the time
    assert inside.mean() >= 0.85, (inside.mean(), len(m))


def test_refined_table_registers_more_frames(scanned):
    (shipped, _), (refined, _) = scanned
    assert refined.registered.astype(bool).sum() > shipped.registered.astype(bool).sum()
