"""Association with each detection's full 2×2 position covariance (``lat_lon_err_corr``).

Truth comes from numpy: detections are drawn with ``multivariate_normal`` from known elongated, correlated
ellipses around known sites, in km on Io's mean sphere, and converted to planetographic-free lat/lon offsets
(small offsets: the tracker's spheroid mapping moves them by far less than the tolerances).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ioscan.track.associate import associate
from ioscan.track.config import TrackConfig, usable_detections
from ioscan.track.synthetic import adjusted_rand_index

R_KM = 1821.49
DEG = np.pi / 180.0


def _cov(sig_major_km: float, sig_minor_km: float, angle_deg: float) -> np.ndarray:
    """2×2 covariance (north, east; km²) of an ellipse whose major axis is ``angle_deg`` east of north."""
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return rot @ np.diag([sig_major_km**2, sig_minor_km**2]) @ rot.T


def _rows(site_lat, site_lon_w, offsets_km, cov, t0, obs0, **extra) -> pd.DataFrame:
    """Detections at ``offsets_km`` (n, 2: north, east) from a site, quoting ``cov`` as their errors."""
    n = len(offsets_km)
    coslat = np.cos(np.radians(site_lat))
    s_n, s_e = np.sqrt(cov[0, 0]), np.sqrt(cov[1, 1])
    corr_ne = cov[0, 1] / (s_n * s_e)
    return pd.DataFrame(
        {
            "lat_deg": site_lat + offsets_km[:, 0] / (R_KM * DEG),
            "lon_w_deg": site_lon_w - offsets_km[:, 1] / (R_KM * DEG * coslat),
            "lat_err_deg": np.full(n, s_n / (R_KM * DEG)),
            "lon_err_deg": np.full(n, s_e / (R_KM * DEG * coslat)),
            "lat_lon_err_corr": np.full(n, -corr_ne),  # of lat and WEST longitude
            "time_utc": pd.date_range(t0, periods=n, freq="3D").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "observation_id": obs0 + np.arange(n),
            **extra,
        }
    )


def _two_sites(seed: int = 1):
    """Two sites 12 km apart along the minor axis of everybody's ellipse (30 × 1.5 km, 40° east of north):
    inside each other's marginal 1σ (21 km), 5σ apart along the minor axis."""
    rng = np.random.default_rng(seed)
    cov = _cov(30.0, 1.5, 40.0)
    minor = np.array([np.cos(np.radians(130.0)), np.sin(np.radians(130.0))])  # (north, east) unit
    lat0, lon0 = 10.0, 200.0
    parts, truth = [], []
    for k, shift in enumerate((-6.0, 6.0)):
        centre = shift * minor
        off = rng.multivariate_normal(centre, cov, size=40)
        parts.append(_rows(lat0, lon0, off, cov, f"2020-0{k + 1}-01T05:00:00", 1000 * (k + 1)))
        truth += [k] * 40
    det = pd.concat(parts, ignore_index=True)
    det["detection_id"] = np.arange(len(det))
    return det, np.array(truth)


def test_sites_separable_only_along_the_minor_axis():
    det, truth = _two_sites()
    full = associate(det)
    diagonal = associate(det.drop(columns="lat_lon_err_corr"))  # what the tracker did before: corr = 0
    ari_full = adjusted_rand_index(truth, full.hotspot_id.to_numpy())
    ari_diag = adjusted_rand_index(truth, diagonal.hotspot_id.to_numpy())
    assert ari_full > 0.95, ari_full
    assert len(full.hotspots) == 2
    assert ari_diag < 0.5, ari_diag  # the diagonal model cannot tell them apart


def _pull_campaign(rng, n_sites: int, n_det: int, same_obs_pairs: bool = False):
    """Sites far apart (≥ 10° on a grid), each seen ``n_det`` times with random elongated ellipses; with
    ``same_obs_pairs`` each observation gives two detections (two bands) sharing one pointing error."""
    parts, truth_pos = [], []
    for s in range(n_sites):
        lat0 = -50.0 + 10.0 * (s % 11)
        lon0 = 5.0 + 15.0 * (s // 11)
        truth_pos.append((lat0, lon0))
        for j in range(n_det):
            cov = _cov(rng.uniform(5.0, 40.0), rng.uniform(0.5, 3.0), rng.uniform(0.0, 180.0))
            off = rng.multivariate_normal([0.0, 0.0], cov, size=1)
            t0 = f"2020-01-01T{j % 20:02d}:00:00"
            obs = 10_000 * s + 10 * j
            if same_obs_pairs:
                tiny = rng.normal(0.0, 0.05, (2, 2))  # the two bands' centroids, a pointing error shared
                rows = _rows(lat0, lon0, off + tiny, cov, t0, obs)
                rows = rows.iloc[[0, 0]].assign(
                    lat_deg=lat0 + (off + tiny)[:, 0] / (R_KM * DEG),
                    lon_w_deg=lon0 - (off + tiny)[:, 1] / (R_KM * DEG * np.cos(np.radians(lat0))),
                    band=["L", "M"],
                )
            else:
                rows = _rows(lat0, lon0, off, cov, t0, obs)
            parts.append(rows.assign(time_utc=pd.Timestamp("2020-01-01") + pd.Timedelta(days=3 * j + s % 3)))
    det = pd.concat(parts, ignore_index=True)
    det["time_utc"] = det["time_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    det["detection_id"] = np.arange(len(det))
    return det, np.array(truth_pos)


def _mahalanobis2(hotspots: pd.DataFrame, truth: np.ndarray) -> np.ndarray:
    """d² of each true site from its nearest hot spot under the hot spot's reported covariance."""
    out = []
    for lat0, lon0 in truth:
        dlon = (hotspots["lon_w_deg"] - lon0 + 180.0) % 360.0 - 180.0
        h = hotspots.iloc[int(np.argmin((hotspots["lat_deg"] - lat0) ** 2 + dlon**2))]
        d = np.array([h["lat_deg"] - lat0, ((h["lon_w_deg"] - lon0 + 180.0) % 360.0) - 180.0])
        sl, so, r = h["lat_err_deg"], h["lon_err_deg"], h["lat_lon_err_corr"]
        cov = np.array([[sl * sl, r * sl * so], [r * sl * so, so * so]])
        out.append(float(d @ np.linalg.solve(cov, d)))
    return np.array(out)


def test_hotspot_position_pulls_with_its_covariance():
    det, truth = _pull_campaign(np.random.default_rng(7), n_sites=110, n_det=8)
    res = associate(det, error_model=None, night_offsets=None)
    assert len(res.hotspots) == len(truth)
    d2 = _mahalanobis2(res.hotspots, truth)
    # χ²₂: mean 2, standard error of the mean 2/√110 = 0.19
    assert 1.45 < d2.mean() < 2.6, d2.mean()
    assert 0.88 < np.mean(d2 < 5.99) <= 1.0  # the 95 % ellipse holds the truth
    # the same with the default calibration steps on (they must not shrink the covariance)
    d2_default = _mahalanobis2(associate(det).hotspots, truth)
    assert 1.45 < d2_default.mean() < 2.6, d2_default.mean()


def test_detections_of_one_observation_count_once():
    """Two bands of one frame share its pointing error: the hot spot's covariance is not halved by them."""
    det, truth = _pull_campaign(np.random.default_rng(11), n_sites=110, n_det=6, same_obs_pairs=True)
    res = associate(det, error_model=None, night_offsets=None)
    assert len(res.hotspots) == len(truth)
    d2 = _mahalanobis2(res.hotspots, truth)
    assert 1.45 < d2.mean() < 2.6, d2.mean()  # pooled as independent it would be ~4


def test_zero_correlation_is_the_diagonal_tracker():
    det, _ = _pull_campaign(np.random.default_rng(3), n_sites=30, n_det=5)
    det = det.assign(lat_lon_err_corr=0.0)
    with_zero = associate(det)
    without = associate(det.drop(columns="lat_lon_err_corr"))
    nan = associate(det.assign(lat_lon_err_corr=np.nan))
    for other in (without, nan):
        assert (with_zero.hotspot_id == other.hotspot_id).all()
        pd.testing.assert_frame_equal(with_zero.hotspots, other.hotspots)


def test_isotropic_hotspot_is_the_precision_weighted_mean():
    """With isotropic errors (corr 0) the hot spot is the 1/σ²-weighted mean of its members' unit vectors,
    with 1σ² = 1/Σ(1/σ²): what the tracker always gave."""
    rng = np.random.default_rng(5)
    sig = rng.uniform(1.0, 6.0, 12)
    lat = 20.0 + rng.normal(0, 1, 12) * sig / (R_KM * DEG)
    lon = 300.0 + rng.normal(0, 1, 12) * sig / (R_KM * DEG * np.cos(np.radians(20.0)))
    det = pd.DataFrame(
        {
            "detection_id": np.arange(12),
            "lat_deg": lat,
            "lon_w_deg": lon,
            "lat_err_deg": sig / (R_KM * DEG),
            "lon_err_deg": sig / (R_KM * DEG * np.cos(np.radians(lat))),
            "lat_lon_err_corr": 0.0,
            "time_utc": pd.date_range("2021-01-01", periods=12, freq="2D").strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    res = associate(det, error_model=None, night_offsets=None, mixture=None)
    assert len(res.hotspots) == 1
    h = res.hotspots.iloc[0]
    # the tracker's unit vectors (spheroid mapping) are its own; on a 2-km cluster a sphere's are as good
    la, lo = np.radians(lat), -np.radians(lon)
    u = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)
    w = 1.0 / sig**2
    m = (w[:, None] * u).sum(axis=0)
    m /= np.linalg.norm(m)
    assert abs(np.degrees(np.arcsin(m[2])) - h["lat_deg"]) < 2e-4  # 6 m
    assert abs(np.degrees(-np.arctan2(m[1], m[0])) % 360.0 - h["lon_w_deg"]) < 2e-4
    assert abs(h["lat_err_deg"] * R_KM * DEG - np.sqrt(1.0 / w.sum())) < 1e-6
    assert abs(h["lat_lon_err_corr"]) < 1e-9


def test_gate_on_the_major_axis():
    """``max_position_err_km`` holds back an ellipse by its major axis, not by √(σn² + σe²)."""
    cov_long = _cov(290.0, 100.0, 30.0)  # major 290 km; √(σn² + σe²) = 307 km
    cov_longer = _cov(310.0, 10.0, 30.0)  # major 310 km
    rows = []
    for cov in (cov_long, cov_longer):
        r = _rows(0.0, 100.0, np.zeros((1, 2)), cov, "2020-01-01", 1)
        r["position_err_km"] = np.sqrt(np.trace(cov))
        rows.append(r)
    det = pd.concat(rows, ignore_index=True).assign(id=[1, 2], flags=0, emission_deg=30.0)
    det["spectral_intensity_gw_um_sr"] = 1.0
    used = usable_detections(det, TrackConfig())
    assert list(used["detection_id"]) == [1]
    imported = det.assign(position_err_km=np.nan)  # published rows: never held back, as before
    assert list(usable_detections(imported, TrackConfig())["detection_id"]) == [1, 2]
