"""Synthetic hot-spot populations and detections with known truth, for testing and benchmarking the tracker.

Errors are Gaussian in the local tangent plane with the 1σ each detection reports, so the truth is
independent of the association code (which only sees the noisy positions and their errors).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ioscan.body import IO_MEAN_RADIUS_KM
from ioscan.track._common import DEG, local_north_east, vectors_to_lat_lon

R_KM = IO_MEAN_RADIUS_KM


def random_directions(n: int, rng: np.random.Generator) -> np.ndarray:
    """n unit vectors uniform on the sphere."""
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def offset(u: np.ndarray, north_km, east_km) -> np.ndarray:
    """Move unit directions ``u`` by (north, east) km along the surface (exact great-circle step)."""
    nn, ee = local_north_east(u)
    dn, de = np.asarray(north_km, float), np.asarray(east_km, float)
    d = np.hypot(dn, de)
    ang = d / R_KM
    dirn = (nn * dn[..., None] + ee * de[..., None]) / np.where(d > 0, d, 1.0)[..., None]
    return u * np.cos(ang)[..., None] + dirn * np.sin(ang)[..., None]


def population(
    n: int, rng: np.random.Generator, *, n_pairs: int = 0, pair_sep_km: tuple[float, float] = (30.0, 100.0)
) -> pd.DataFrame:
    """True hot spots: ``n`` random ones plus ``n_pairs`` companions 30–100 km from the first ones.

    Returns columns true_id, lat_deg (planetographic), lon_w_deg, and the unit vector ux, uy, uz.
    """
    u = random_directions(n, rng)
    if n_pairs:
        sep = rng.uniform(*pair_sep_km, size=n_pairs)
        az = rng.uniform(0, 2 * np.pi, size=n_pairs)
        u = np.vstack([u, offset(u[:n_pairs], sep * np.cos(az), sep * np.sin(az))])
    lat, lon = vectors_to_lat_lon(u)
    return pd.DataFrame(
        {
            "true_id": np.arange(len(u)),
            "lat_deg": lat,
            "lon_w_deg": lon,
            "ux": u[:, 0],
            "uy": u[:, 1],
            "uz": u[:, 2],
        }
    )


def detections(
    truth: pd.DataFrame,
    rng: np.random.Generator,
    *,
    n_obs: int,
    visible_fraction: float = 0.5,
    sigma_km: tuple[float, float] = (0.5, 50.0),
    sigma_deg: tuple[float, float] | None = None,
    start: str = "2022-01-01T00:00:00",
    cadence_d: float = 30.0,
    band: str = "M",
    obs_prefix: str = "OBS",
    id_start: int = 1,
) -> pd.DataFrame:
    """Detections of ``truth`` in ``n_obs`` observations.

    Each observation sees a random ``visible_fraction`` of the hot spots (at most one detection of each)
    with one 1σ error for the frame drawn log-uniformly from ``sigma_km`` (or, if ``sigma_deg`` is given,
    uniformly in degrees of arc, ground-based style), scattered ×0.8–1.2 per detection. Columns follow
    the tracker's input (detection_id, time_utc, band, lat_deg, lon_w_deg, lat_err_deg, lon_err_deg,
    position_err_km, observation_id) plus the truth ``true_id``.
    """
    u_true = truth[["ux", "uy", "uz"]].to_numpy()
    n_true = len(u_true)
    n_vis = np.maximum(rng.binomial(n_true, visible_fraction, size=n_obs), 1)
    obs_idx = np.repeat(np.arange(n_obs), n_vis)
    # choose visible hot spots without replacement within a frame (random keys, take the smallest n)
    true_idx = np.concatenate([rng.permutation(n_true)[:k] for k in n_vis])
    if sigma_deg is not None:
        frame_sig = rng.uniform(*sigma_deg, size=n_obs) * DEG * R_KM
    else:
        frame_sig = np.exp(rng.uniform(np.log(sigma_km[0]), np.log(sigma_km[1]), size=n_obs))
    sig = frame_sig[obs_idx] * rng.uniform(0.8, 1.2, size=len(obs_idx))
    g = rng.normal(size=(len(obs_idx), 2)) * sig[:, None]
    u = offset(u_true[true_idx], g[:, 0], g[:, 1])
    lat, lon = vectors_to_lat_lon(u)
    t0 = np.datetime64(start, "s")
    times = t0 + (np.arange(n_obs) * cadence_d * 86400.0).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "detection_id": np.arange(id_start, id_start + len(obs_idx)),
            "time_utc": times[obs_idx].astype("datetime64[ns]"),
            "band": band,
            "lat_deg": lat,
            "lon_w_deg": lon,
            "lat_err_deg": sig / R_KM / DEG,
            "lon_err_deg": np.minimum(sig / (R_KM * np.maximum(np.cos(lat * DEG), 1e-9)) / DEG, 1e6),
            "position_err_km": sig,
            "observation_id": np.char.add(obs_prefix, np.char.zfill(obs_idx.astype(str), 5)),
            "true_id": truth["true_id"].to_numpy()[true_idx],
        }
    )


def adjusted_rand_index(labels_true, labels_pred) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) from the contingency table."""
    from scipy.special import comb

    a = pd.factorize(pd.Series(labels_true).astype(str))[0]
    b = pd.factorize(pd.Series(labels_pred).astype(str))[0]
    n = len(a)
    if n < 2:
        return 1.0
    cont = pd.Series(1, index=pd.MultiIndex.from_arrays([a, b])).groupby(level=[0, 1]).sum().to_numpy()
    sum_ij = comb(cont, 2).sum()
    sum_a = comb(np.bincount(a), 2).sum()
    sum_b = comb(np.bincount(b), 2).sum()
    expected = sum_a * sum_b / comb(n, 2)
    max_idx = 0.5 * (sum_a + sum_b)
    if max_idx == expected:
        return 1.0
    return float((sum_ij - expected) / (max_idx - expected))


def observed_campaign(
    truth: pd.DataFrame,
    rng: np.random.Generator,
    *,
    n_obs: int,
    start: str = "2017-01-01T00:00:00",
    cadence_h: float = 24.0,
    view_deg: float = 80.0,
    p_detect: float = 0.9,
    l_fraction: float = 0.02,
    sigma_km: tuple[float, float] = (0.5, 15.0),
    obs_start: int = 1,
    product_prefix: str = "SIM_IMG",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A JIRAM-like campaign of ``truth``'s hot spots as a catalogue would hold it: observations with their
    coverage and detections with intensities, for tracking benchmarks and tests.

    Each observation looks at Io from a random sub-observer longitude (latitude within ±10°) and covers the
    2° cells within ``view_deg`` of it (its ``coverage_grid``); every hot spot in view is detected with
    probability ``p_detect`` (the rest are covering observations without a detection), in band L with
    probability ``l_fraction`` (else M), with the observation's position error (log-uniform ``sigma_km``,
    ×0.8–1.2 per detection). Intensities: a log-normal level per hot spot, 10 % scatter, a 5 % random error,
    a 20 % systematic one; 1 % of points ×5–10 (outbursts); a tenth of the hot spots switch on part-way and a
    tenth switch off (new / fading). Hot spots are those of :func:`population`.

    Returns:
        (observations, detections): ``observations`` has ``id`` (from ``obs_start``), ``product_id``,
        ``time_utc`` (ISO text), ``coverage_grid``, ``sub_lat_deg``, ``sub_lon_w_deg``; ``detections`` has
        ``observation_id``, ``time_utc``, ``band``, ``wavelength_um``, positions and errors (planetographic
        °N, °W, 1σ), ``emission_deg``, ``snr``, ``flags``, intensities with random and systematic errors
        and the truth ``true_id``.
    """
    from ioscan.geometry.coverage import N_LAT, N_LON, encode_grid

    u_true = truth[["ux", "uy", "uz"]].to_numpy()
    n_true = len(u_true)
    level = rng.lognormal(1.0, 1.0, n_true)
    on = np.full(n_true, -np.inf)
    off = np.full(n_true, np.inf)
    k = rng.permutation(n_true)
    on[k[: n_true // 10]] = rng.uniform(0.2, 0.8, n_true // 10) * n_obs
    off[k[n_true // 10 : n_true // 5]] = rng.uniform(0.2, 0.8, n_true // 5 - n_true // 10) * n_obs
    lat_c = np.radians(np.arange(N_LAT) * 2.0 - 89.0)
    lon_c = np.radians(np.arange(N_LON) * 2.0 + 1.0)
    cell_u = np.stack(
        [
            np.cos(lat_c)[:, None] * np.cos(lon_c)[None, :],
            -np.cos(lat_c)[:, None] * np.sin(lon_c)[None, :],
            np.broadcast_to(np.sin(lat_c)[:, None], (N_LAT, N_LON)),
        ],
        axis=-1,
    )
    t0 = np.datetime64(start, "us")
    obs_rows, parts = [], []
    cos_view = np.cos(np.radians(view_deg))
    for o in range(n_obs):
        sub_lat, sub_lon = rng.uniform(-10, 10), rng.uniform(0, 360)
        (sub,) = _unit(np.array([sub_lat]), np.array([sub_lon]))
        mu = u_true @ sub
        seen = (mu > cos_view) & (o >= on) & (o < off)
        det = np.flatnonzero(seen & (rng.random(n_true) < p_detect))
        when = t0 + np.timedelta64(int(o * cadence_h * 3600e6), "us")
        oid = obs_start + o
        grid = (cell_u @ sub) > cos_view
        obs_rows.append(
            {
                "id": oid,
                "product_id": f"{product_prefix}_{oid:07d}",
                "time_utc": str(when) + "Z",
                "coverage_grid": encode_grid(grid),
                "sub_lat_deg": sub_lat,
                "sub_lon_w_deg": sub_lon,
            }
        )
        if len(det) == 0:
            continue
        sig = np.exp(rng.uniform(np.log(sigma_km[0]), np.log(sigma_km[1]))) * rng.uniform(0.8, 1.2, len(det))
        g = rng.normal(size=(len(det), 2)) * sig[:, None]
        u = offset(u_true[det], g[:, 0], g[:, 1])
        lat, lon = vectors_to_lat_lon(u)
        value = level[det] * (1 + 0.1 * rng.normal(size=len(det)))
        burst = rng.random(len(det)) < 0.01
        value[burst] *= rng.uniform(5, 10, int(burst.sum()))
        band = np.where(rng.random(len(det)) < l_fraction, "L", "M")
        parts.append(
            pd.DataFrame(
                {
                    "observation_id": oid,
                    "time_utc": str(when) + "Z",
                    "band": band,
                    "wavelength_um": np.where(band == "L", 3.455, 4.78),
                    "lat_deg": lat,
                    "lon_w_deg": lon,
                    "lat_err_deg": sig / R_KM / DEG,
                    "lon_err_deg": np.minimum(
                        sig / (R_KM * np.maximum(np.cos(lat * DEG), 1e-9)) / DEG, 180.0
                    ),
                    "position_err_km": sig,
                    "emission_deg": np.degrees(np.arccos(np.clip(mu[det], -1, 1))),
                    "snr": np.clip(10 * value, 5, 1000),
                    "flags": 0,
                    "spectral_intensity_gw_um_sr": value,
                    "spectral_intensity_err_gw_um_sr": 0.05 * value,
                    "spectral_intensity_sys_err_gw_um_sr": 0.2 * value,
                    "true_id": truth["true_id"].to_numpy()[det],
                }
            )
        )
    detections = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return pd.DataFrame(obs_rows), detections


def _unit(lat_deg: np.ndarray, lon_w_deg: np.ndarray) -> np.ndarray:
    from ioscan.track._common import unit_vectors

    return unit_vectors(lat_deg, lon_w_deg)
