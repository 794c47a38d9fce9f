"""Association against synthetic truth (independent generator, known hot-spot membership)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from ioscan.body import great_circle_distance_km
from ioscan.errors import CatalogError
from ioscan.track import synthetic as sy
from ioscan.track._common import unit_vectors
from ioscan.track.associate import HOTSPOT_COLUMNS, associate, chi2_gate


def _majority(det: pd.DataFrame, pred: pd.Series) -> pd.DataFrame:
    d = det.assign(pred=pred.to_numpy())
    return d


def _recovered(d: pd.DataFrame, min_det: int = 3) -> tuple[int, int]:
    """(true hot spots with >= min_det detections, how many are recovered as one pure hot spot)."""
    counts = d.groupby("true_id").size()
    targets = counts[counts >= min_det].index
    pred_major = d.groupby("pred")["true_id"].agg(lambda s: s.value_counts().index[0])
    ok = 0
    for t in targets:
        mine = d[d.true_id == t]
        top = mine["pred"].value_counts()
        if top.iloc[0] >= 0.6 * len(mine) and pred_major[top.index[0]] == t:
            ok += 1
    return len(targets), ok


def _oracle_ari(truth: pd.DataFrame, det: pd.DataFrame) -> float:
    """ARI of assigning every detection to its nearest true hot spot (the best any method can do)."""
    u = truth[["ux", "uy", "uz"]].to_numpy()
    _, nb = cKDTree(u).query(unit_vectors(det.lat_deg.to_numpy(), det.lon_w_deg.to_numpy()), k=1)
    return sy.adjusted_rand_index(det.true_id, truth.true_id.to_numpy()[nb])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jiram_like_ari_and_recovery(seed):
    rng = np.random.default_rng(seed)
    truth = sy.population(120, rng, n_pairs=12)  # 12 close pairs at 30–100 km
    det = sy.detections(truth, rng, n_obs=40, sigma_km=(0.5, 15.0))
    res = associate(det.drop(columns="true_id"))
    assert res.hotspot_id.index.equals(det.index)
    ari = sy.adjusted_rand_index(det.true_id, res.hotspot_id)
    assert ari >= 0.98
    n_target, n_ok = _recovered(_majority(det, res.hotspot_id))
    assert n_ok == n_target
    assert list(res.hotspots.columns) == HOTSPOT_COLUMNS
    assert res.hotspots["n_detections"].sum() == len(det)


def test_close_pairs_are_separated():
    rng = np.random.default_rng(7)
    truth = sy.population(40, rng, n_pairs=40, pair_sep_km=(30.0, 40.0))  # every hot spot has a twin
    det = sy.detections(truth, rng, n_obs=30, sigma_km=(0.5, 5.0))
    res = associate(det.drop(columns="true_id"))
    assert sy.adjusted_rand_index(det.true_id, res.hotspot_id) >= 0.995
    assert abs(len(res.hotspots) - len(truth)) <= 2


def test_hard_errors_match_nearest_truth_oracle():
    """σ up to 50 km with 30-km pairs is ambiguous for anyone: stay within 0.01 of the truth oracle."""
    rng = np.random.default_rng(3)
    truth = sy.population(120, rng, n_pairs=12)
    det = sy.detections(truth, rng, n_obs=40, sigma_km=(0.5, 50.0))
    res = associate(det.drop(columns="true_id"))
    assert sy.adjusted_rand_index(det.true_id, res.hotspot_id) >= _oracle_ari(truth, det) - 0.01


def test_position_errors_are_calibrated():
    rng = np.random.default_rng(11)
    truth = sy.population(150, rng)
    det = sy.detections(truth, rng, n_obs=20, sigma_km=(2.0, 20.0))
    res = associate(det.drop(columns="true_id"), min_sep_km=0.1)
    d = det.assign(pred=res.hotspot_id.to_numpy())
    major = d.groupby("pred")["true_id"].agg(lambda s: s.value_counts().index[0])
    hs = res.hotspots.set_index("hotspot_id").loc[major.index]
    tr = truth.set_index("true_id").loc[major.to_numpy()]
    sep = great_circle_distance_km(
        hs.lat_deg.to_numpy(), hs.lon_w_deg.to_numpy(), tr.lat_deg.to_numpy(), tr.lon_w_deg.to_numpy()
    )
    sig = hs.lat_err_deg.to_numpy() * np.pi / 180 * 1821.49
    inside = np.mean((sep / sig) ** 2 <= chi2_gate(2.0))  # 2-D 95.4 % region
    assert 0.88 <= inside <= 0.99


def _spot(lat, lon, sig_km, n, rng, obs_prefix, band="M", t0="2022-01-01"):
    u = unit_vectors(np.array([lat]), np.array([lon]))
    g = rng.normal(size=(n, 2)) * sig_km
    p = sy.offset(np.repeat(u, n, axis=0), g[:, 0], g[:, 1])
    la, lo = sy.vectors_to_lat_lon(p)
    return pd.DataFrame(
        {
            "time_utc": pd.date_range(t0, periods=n, freq="30D"),
            "band": band,
            "lat_deg": la,
            "lon_w_deg": lo,
            "lat_err_deg": sig_km / 1821.49 * 180 / np.pi,
            "lon_err_deg": sig_km / 1821.49 * 180 / np.pi / np.cos(np.radians(la)),
            "observation_id": [f"{obs_prefix}{i:03d}" for i in range(n)],
        }
    )


def _with_ids(parts):
    det = pd.concat(parts, ignore_index=True)
    det.insert(0, "detection_id", np.arange(1, len(det) + 1))
    return det


def test_coarse_detection_does_not_glue_precise_hot_spots():
    rng = np.random.default_rng(5)
    centres = [(10.0, 100.0), (10.8, 100.5), (9.3, 99.4), (10.2, 98.9), (9.6, 101.0)]  # within ~1.5°
    parts = [_spot(la, lo, 1.0, 8, rng, "JIR").assign(true_id=i) for i, (la, lo) in enumerate(centres)]
    coarse = _spot(10.05, 100.1, 5.0 * np.pi / 180 * 1821.49, 1, rng, "KECK")  # one 5° detection
    coarse.loc[:, ["lat_deg", "lon_w_deg"]] = [10.05, 100.1]
    far = _spot(-40.0, 250.0, 3.0 * np.pi / 180 * 1821.49, 1, rng, "KECK2")
    det = _with_ids([*parts, coarse.assign(true_id=100), far.assign(true_id=200)])
    res = associate(det.drop(columns="true_id"))
    precise = det.true_id < 100
    assert sy.adjusted_rand_index(det.true_id[precise], res.hotspot_id[precise]) == 1.0
    # the coarse one joined exactly one precise hot spot (the nearest, id 0 at 10.0, 100.0)
    coarse_id = res.hotspot_id[det.true_id == 100].iloc[0]
    members = det.true_id[res.hotspot_id == coarse_id]
    assert set(members) == {0, 100}
    # the coarse one far from everything stays on its own
    far_id = res.hotspot_id[det.true_id == 200].iloc[0]
    assert (res.hotspot_id == far_id).sum() == 1
    assert len(res.hotspots) == 6


def test_same_frame_sources_stay_apart_but_bands_pair_up():
    rng = np.random.default_rng(9)
    a = _spot(20.0, 30.0, 20.0, 12, rng, "F")  # two sources 10 km apart with 20 km errors,
    b = _spot(20.0, 30.3, 20.0, 12, rng, "F")  # both seen in every frame F000..F011
    a_l = _spot(20.0, 30.0, 20.0, 12, rng, "F", band="L")  # and source a also in L in the same frames
    det = _with_ids([a, b, a_l])
    res = associate(det.drop(columns=[]))
    assert len(res.hotspots) == 2
    key = det.observation_id + "/" + det.band
    assert not pd.DataFrame({"h": res.hotspot_id, "k": key}).duplicated().any()
    assert set(res.hotspots.bands) <= {"L,M", "M", "L"}
    assert res.hotspots.n_detections.sum() == 36


@pytest.mark.parametrize(("lat", "lon"), [(0.0, 359.95), (45.0, 0.02), (89.8, 120.0), (-89.9, 300.0)])
def test_wrap_and_poles(lat, lon):
    rng = np.random.default_rng(int(abs(lat * 10) + lon))
    det = _with_ids(
        [
            _spot(lat, lon, 8.0, 25, rng, "W").assign(true_id=0),
            _spot(-20.0, 180.0, 8.0, 10, rng, "W").assign(true_id=1),
        ]
    )
    res = associate(det.drop(columns="true_id"))
    assert sy.adjusted_rand_index(det.true_id, res.hotspot_id) == 1.0
    hs = res.hotspots.set_index("hotspot_id").loc[res.hotspot_id[det.true_id == 0].iloc[0]]
    assert 0.0 <= hs.lon_w_deg < 360.0
    sep = great_circle_distance_km(hs.lat_deg, hs.lon_w_deg, lat, lon)
    assert sep < 4 * 8.0 / np.sqrt(25) + 0.5
    assert hs.lat_err_deg == pytest.approx(8.0 / np.sqrt(25) / 1821.49 * 180 / np.pi, rel=0.15)


def test_ids_are_stable_when_data_are_added():
    rng = np.random.default_rng(21)
    truth = sy.population(60, rng, n_pairs=5)
    det = sy.detections(truth, rng, n_obs=40, sigma_km=(0.5, 10.0))
    late_only = truth.true_id.to_numpy()[-8:]  # hot spots that only appear in the second half
    first = det[(det.time_utc < det.time_utc.median()) & ~det.true_id.isin(late_only)]
    second = det[det.time_utc >= det.time_utc.median()]
    r1 = associate(first.drop(columns="true_id"))
    old_ids = set(r1.hotspots.hotspot_id)
    truth_to_old = (
        first.assign(h=r1.hotspot_id).groupby("true_id")["h"].agg(lambda s: s.value_counts().index[0])
    )

    both = pd.concat([first.assign(hotspot_id=r1.hotspot_id), second])
    r2 = associate(both.drop(columns="true_id"), r1.hotspots)
    # old members keep their IDs
    assert (r2.hotspot_id.loc[first.index] == r1.hotspot_id).all()
    # new detections of old hot spots take the old ID
    sec = second[second.true_id.isin(truth_to_old.index)]
    got = r2.hotspot_id.loc[sec.index].to_numpy()
    assert np.mean(got == truth_to_old.loc[sec.true_id].to_numpy()) >= 0.98
    # new hot spots are numbered after the old ones; nothing renumbered or lost
    new_ids = set(r2.hotspots.hotspot_id) - old_ids
    assert old_ids <= set(r2.hotspots.hotspot_id)
    assert min(int(h[3:]) for h in new_ids) > max(int(h[3:]) for h in old_ids)
    late = r2.hotspot_id.loc[second.index[second.true_id.isin(late_only)]]
    assert set(late) <= new_ids
    old_rows = r2.hotspots.set_index("hotspot_id").loc[sorted(old_ids)]
    assert (
        old_rows.n_detections.to_numpy()
        >= r1.hotspots.set_index("hotspot_id").loc[sorted(old_ids)].n_detections.to_numpy()
    ).all()

    # same result with only the new detections and the stored hot-spot table
    r3 = associate(second.drop(columns="true_id"), r1.hotspots)
    assert (r3.hotspot_id == r2.hotspot_id.loc[second.index]).mean() >= 0.98


def test_deterministic_under_row_shuffle():
    rng = np.random.default_rng(4)
    truth = sy.population(50, rng, n_pairs=5)
    det = sy.detections(truth, rng, n_obs=15).drop(columns="true_id")
    r1 = associate(det)
    shuffled = det.sample(frac=1.0, random_state=1)
    r2 = associate(shuffled)
    a = pd.Series(r1.hotspot_id.to_numpy(), index=det.detection_id)
    b = pd.Series(r2.hotspot_id.to_numpy(), index=shuffled.detection_id).loc[a.index]
    assert (a == b).all()
    pd.testing.assert_frame_equal(r1.hotspots, r2.hotspots)


def test_bad_input_raises_catalog_error():
    det = _with_ids([_spot(0.0, 10.0, 5.0, 3, np.random.default_rng(0), "B")])
    with pytest.raises(CatalogError, match="lat_deg"):
        associate(det.drop(columns="lat_deg"))
    bad = det.copy()
    bad.loc[1, "lat_err_deg"] = np.nan
    with pytest.raises(CatalogError, match="position error"):
        associate(bad)
    bad = det.copy()
    bad["time_utc"] = "not a time"
    with pytest.raises(CatalogError, match="time_utc"):
        associate(bad)


def test_position_err_km_fallback_and_empty():
    det = _with_ids([_spot(0.0, 10.0, 5.0, 4, np.random.default_rng(0), "P")])
    det["position_err_km"] = 5.0
    det["lat_err_deg"] = np.nan
    det["lon_err_deg"] = np.nan
    res = associate(det)
    assert res.hotspot_id.nunique() == 1
    empty = associate(det.iloc[:0])
    assert len(empty.hotspots) == 0 and len(empty.hotspot_id) == 0
