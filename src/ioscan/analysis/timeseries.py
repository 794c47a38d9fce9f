"""Volcanic output through time, and its correlation with an external series.

**Epochs**: one per Juno orbit (``PJ<n>``) for spacecraft observations with an orbit number, otherwise one per
observer and UTC date (a ground-based night). Per epoch and region, the output is the summed total power of
the census hot spots detected in that epoch (each hot spot once: its mean unsaturated M-band spectral power
that epoch × its own M-to-total factor) divided by the epoch's power-exposure in the region (area seen ×
power completeness at the epoch's limits, :mod:`ioscan.analysis.coverage`), W m⁻²: output per unit area
*looked at*, so an epoch that saw only one hemisphere is not mistaken for a quiet one. Regions seen over less
than :data:`MIN_REGION_FRACTION` of their area get no value.

**Discrete correlation function** (Edelson & Krolik 1988, ApJ 333, 646): every pair (a_i, b_j) is binned by
its lag τ = t_b − t_a (positive: b follows a), without interpolation, so irregular sampling is handled as is.
Each bin's value is the mean over its pairs of UDCF_ij = (a_i − ā)(b_j − b̄) / √((s_a² − ē_a²)(s_b² − ē_b²))
(the measurement variance removed where it is smaller than the variance, else s² alone). The *local* DCF
(Welsh 1999, PASP 111, 1347: the Pearson correlation of each bin's pairs) is an option; with short red-noise
series its false-positive rate against these surrogates was 0.1–0.2 at α = 0.05 (the time scale fitted to 30
samples is biased low, so the surrogates are too white), the global form's ≤ 0.05 (``bench_report.py``),
hence the default. Only bins with at least :data:`MIN_PAIRS` pairs and :data:`MIN_PAIR_FRACTION` of the
fullest bin's are searched (sparse bins at extreme lags give wild values).

**Significance** from surrogates that keep each series' autocorrelation: each series is fitted by maximum
likelihood with a damped random walk (Ornstein–Uhlenbeck process: mean μ, stationary σ, time scale τ, plus its
own measurement errors; exact Gaussian likelihood at the sampled times), and independent surrogate pairs are
drawn at the *same* times with the same errors. Their DCFs give pointwise 95 % envelopes and the global
p-value of the largest |DCF| (which accounts for having looked at every lag).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ioscan.analysis import grids
from ioscan.analysis.coverage import Completeness, build_exposure
from ioscan.records import DetectionFlag

MIN_REGION_FRACTION = 0.05
#: lag bins with fewer pairs than this (or than this fraction of the fullest bin) are not searched
MIN_PAIRS = 10
MIN_PAIR_FRACTION = 0.2
TIME_REGIONS = ("global", "north_polar", "south_polar", "equatorial", "leading", "trailing")
DAY_S = 86400.0


def epoch_key(observer, orbit, time_utc: str) -> str:
    """``PJ<orbit>`` for an orbit number, else ``<observer> <UTC date>``."""
    if orbit is not None and np.isfinite(float(orbit)):
        return f"PJ{int(orbit)}"
    return f"{observer or 'unknown'} {str(time_utc)[:10]}"


def _times(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values).astype(str).str.rstrip("Z"), format="ISO8601")


def epoch_output(view, config, completeness: Completeness | None = None) -> pd.DataFrame:
    """Output per epoch and region (module docstring) from a :class:`~ioscan.analysis.catalog_view.
    CatalogView`: columns ``epoch``, ``time_utc``, ``region``, ``n_observations``, ``n_hotspots``,
    ``power_gw``, ``power_err_gw``, ``power_exposure_km2``, ``observed_area_fraction``, ``output_w_m2``,
    ``output_err_w_m2``."""
    comp = completeness or Completeness.davies2024()
    obs = view.census_observations
    cols = [
        "epoch",
        "time_utc",
        "region",
        "n_observations",
        "n_hotspots",
        "power_gw",
        "power_err_gw",
        "power_exposure_km2",
        "observed_area_fraction",
        "output_w_m2",
        "output_err_w_m2",
    ]
    if obs.empty:
        return pd.DataFrame(columns=cols)
    keys = [
        epoch_key(o, r, t) for o, r, t in zip(obs["observer"], obs["orbit"], obs["time_utc"], strict=True)
    ]
    obs = obs.assign(epoch=keys, t=_times(obs["time_utc"]).to_numpy())
    hs = view.hotspots.set_index("hotspot_id")
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = (hs["power_gw"] / hs["spectral_power_gw_um"]).to_dict()
        rel_err = (hs["power_err_gw"] / hs["power_gw"]).to_dict()
    det = view.census_detections
    rows = []
    kw = {"polar_lat_deg": config.polar_lat_deg, "eq_lat_deg": config.equatorial_lat_deg}
    for epoch, group in obs.groupby("epoch", sort=False):
        ex = build_exposure(
            group,
            view.frames,
            view.coverage,
            bands=config.bands,
            completeness=comp,
            emission_max_deg=config.emission_max_deg,
        )
        d = det[det["observation_id"].isin(group["id"])]
        per_hs = _epoch_hotspot_powers(d, factor, rel_err)
        lat = hs.loc[per_hs.index, "lat_deg"].to_numpy(float) if len(per_hs) else np.zeros(0)
        lon = hs.loc[per_hs.index, "lon_w_deg"].to_numpy(float) if len(per_hs) else np.zeros(0)
        t_mid = group["t"].mean()
        for region in TIME_REGIONS:
            w = np.ones(ex.area_km2.shape) if region == "global" else grids.region_cells(region, **kw)
            m = np.ones(lat.size, bool) if region == "global" else grids.in_region(region, lat, lon, **kw)
            e_p = float(np.sum(ex.exposure_p_km2 * w))
            frac = ex.observed_fraction(w)
            p = float(per_hs["power_gw"].to_numpy()[m].sum()) if len(per_hs) else 0.0
            pe = float(np.sqrt(np.sum(per_hs["power_err_gw"].to_numpy()[m] ** 2))) if len(per_hs) else 0.0
            good = frac >= MIN_REGION_FRACTION and e_p > 0
            rows.append(
                {
                    "epoch": epoch,
                    "time_utc": t_mid,
                    "region": region,
                    "n_observations": len(group),
                    "n_hotspots": int(m.sum()),
                    "power_gw": p,
                    "power_err_gw": pe,
                    "power_exposure_km2": e_p,
                    "observed_area_fraction": frac,
                    "output_w_m2": p / e_p * 1e3 if good else np.nan,
                    "output_err_w_m2": pe / e_p * 1e3 if good else np.nan,
                }
            )
    return (
        pd.DataFrame(rows, columns=cols)
        .sort_values(["region", "time_utc"], kind="stable")
        .reset_index(drop=True)
    )


def _epoch_hotspot_powers(det: pd.DataFrame, factor: dict, rel_err: dict) -> pd.DataFrame:
    rows = {}
    for hid, g in det.groupby("hotspot_id"):
        phi = g["spectral_power_gw_um"].to_numpy(float)
        sat = (g["flags"].fillna(0).astype(int).to_numpy() & int(DetectionFlag.SATURATED)) != 0
        ok = np.isfinite(phi)
        if not ok.any():
            continue
        x = phi[ok & ~sat].mean() if (ok & ~sat).any() else phi[ok].max()
        f = factor.get(hid, np.nan)
        if not np.isfinite(f):
            continue
        p = x * f
        rows[hid] = {"power_gw": p, "power_err_gw": abs(p) * np.nan_to_num(rel_err.get(hid, 0.0))}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["power_gw", "power_err_gw"])


# ------------------------------------------------------------------------------------- correlation
def _days(t) -> np.ndarray:
    t = pd.to_datetime(pd.Series(t))
    return ((t - pd.Timestamp("2000-01-01")).dt.total_seconds() / DAY_S).to_numpy(float)


def _norm_denominator(x: np.ndarray, e: np.ndarray) -> float:
    var = np.var(x, ddof=1) if x.size > 1 else np.nan
    noise = np.nanmean(e**2) if np.isfinite(e).any() else 0.0
    return var - noise if var - noise > 0 else var


def dcf_bins(lag_bin_d: float, max_lag_d: float) -> np.ndarray:
    """Lag-bin edges, days, symmetric about 0 with a bin centred on 0."""
    n = int(np.ceil(max_lag_d / lag_bin_d - 0.5))
    return (np.arange(-n, n + 2) - 0.5) * lag_bin_d


def discrete_correlation(
    t_a, a, e_a, t_b, b, e_b, edges_d: np.ndarray, *, local: bool = False
) -> pd.DataFrame:
    """The discrete correlation of series b against a on lag bins ``edges_d`` (days; module docstring):
    columns ``lag_d`` (bin centre), ``dcf``, ``dcf_err``, ``n_pairs``.

    Default: Edelson & Krolik's (1988) DCF with global means and noise-corrected variances. ``local``: the
    Pearson correlation of the pairs in each bin (the local DCF of Welsh 1999, PASP 111, 1347: |DCF| ≤ 1;
    error (1 − r²)/√(M − 2)).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    lags = (np.asarray(t_b, float)[None, :] - np.asarray(t_a, float)[:, None]).ravel()
    k = np.digitize(lags, edges_d) - 1
    nb = len(edges_d) - 1
    inside = (k >= 0) & (k < nb)
    kk = k[inside]
    n = np.bincount(kk, minlength=nb).astype(float)
    ia, ib = np.divmod(np.arange(a.size * b.size), b.size)
    av, bv = a[ia][inside], b[ib][inside]
    centres = 0.5 * (edges_d[:-1] + edges_d[1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        if local:
            sa, sb = np.bincount(kk, av, nb), np.bincount(kk, bv, nb)
            saa, sbb, sab = (
                np.bincount(kk, av * av, nb),
                np.bincount(kk, bv * bv, nb),
                np.bincount(kk, av * bv, nb),
            )
            cov = n * sab - sa * sb
            var = (n * saa - sa**2) * (n * sbb - sb**2)
            r = np.where(var > 0, cov / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
            err = (1 - r**2) / np.sqrt(n - 2)
            return pd.DataFrame(
                {
                    "lag_d": centres,
                    "dcf": np.where(n > 2, r, np.nan),
                    "dcf_err": np.where(n > 2, err, np.nan),
                    "n_pairs": n.astype(int),
                }
            )
        ea = np.nan_to_num(np.asarray(e_a, float)) if e_a is not None else np.zeros(a.size)
        eb = np.nan_to_num(np.asarray(e_b, float)) if e_b is not None else np.zeros(b.size)
        den = np.sqrt(_norm_denominator(a, ea) * _norm_denominator(b, eb))
        udcf = (av - a.mean()) * (bv - b.mean()) / den
        mean = np.bincount(kk, udcf, nb) / n
        ss = np.bincount(kk, (udcf - mean[kk]) ** 2, nb)
        err = np.sqrt(ss) / (n - 1)
    return pd.DataFrame(
        {
            "lag_d": centres,
            "dcf": np.where(n > 0, mean, np.nan),
            "dcf_err": np.where(n > 1, err, np.nan),
            "n_pairs": n.astype(int),
        }
    )


@dataclass(frozen=True)
class OUProcess:
    """A damped random walk: mean, stationary σ and time scale τ (days)."""

    mean: float
    sigma: float
    tau_d: float

    def simulate(self, t_d: np.ndarray, err: np.ndarray, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """(n, len(t)) draws at the times ``t_d`` (sorted), plus Gaussian measurement noise ``err``."""
        t = np.asarray(t_d, float)
        out = np.empty((n, t.size))
        out[:, 0] = rng.standard_normal(n)
        phi = np.exp(-np.diff(t) / self.tau_d)
        shocks = rng.standard_normal((n, max(t.size - 1, 0)))
        for i in range(1, t.size):
            out[:, i] = phi[i - 1] * out[:, i - 1] + np.sqrt(1 - phi[i - 1] ** 2) * shocks[:, i - 1]
        return self.mean + self.sigma * out + np.nan_to_num(err) * rng.standard_normal((n, t.size))


def ou_neg_log_likelihood(t_d, x, e2, tau_d: float, s2: float) -> tuple[float, float]:
    """(−log L up to a constant, GLS mean) of a damped random walk of variance ``s2`` and time scale ``tau_d``
    (days) observed at sorted times ``t_d`` with noise variances ``e2``, the mean profiled out.

    The exponential covariance is Markov, so the exact Gaussian likelihood comes from a Kalman filter in O(n)
    (the same number as the dense σ² exp(−|Δt|/τ) + diag(e²) covariance's Cholesky): innovations of the data
    and of a constant are whitened together and the mean is their generalised-least-squares ratio."""
    a = np.exp(-np.diff(t_d) / tau_d)
    n = len(x)
    vx = np.empty(n)
    v1 = np.empty(n)
    var = np.empty(n)
    mx = m1 = 0.0
    p = s2
    for i in range(n):
        if i:
            ai = a[i - 1]
            mx, m1 = ai * mx, ai * m1
            p = ai * ai * p + s2 * (1.0 - ai * ai)
        s = p + e2[i] + 1e-12 * s2
        vx[i], v1[i], var[i] = x[i] - mx, 1.0 - m1, s
        k = p / s
        mx += k * vx[i]
        m1 += k * v1[i]
        p *= 1.0 - k
    mu = float(np.sum(v1 * vx / var) / np.sum(v1 * v1 / var))
    r = vx - mu * v1
    return 0.5 * float(np.sum(r * r / var)) + 0.5 * float(np.sum(np.log(var))), mu


def fit_ou(t_d, x, err=None) -> OUProcess:
    """Maximum-likelihood damped random walk for a series (exact Gaussian likelihood with covariance
    σ² exp(−|Δt|/τ) + diag(err²), by a Kalman filter; the mean by generalised least squares; τ between the
    shortest spacing / 10 and 10× the span)."""
    from scipy.optimize import minimize

    t = np.asarray(t_d, float)
    order = np.argsort(t, kind="stable")
    t = t[order]
    x = np.asarray(x, float)[order]
    e2 = (np.nan_to_num(np.asarray(err, float)) ** 2 if err is not None else np.zeros(x.size))[order]
    span = max(t.max() - t.min(), 1e-3)
    steps = np.diff(t)
    tau_lo = max(steps[steps > 0].min() / 10 if (steps > 0).any() else span / 100, 1e-3)
    tau_hi = 10 * span
    var0 = max(np.var(x) - e2.mean(), 1e-12 * max(np.var(x), 1e-300))

    def tau_of(p0: float) -> float:
        return float(np.exp(np.clip(p0, np.log(tau_lo), np.log(tau_hi))))

    def nll(p):
        return ou_neg_log_likelihood(t, x, e2, tau_of(p[0]), float(np.exp(p[1])))[0]

    start = np.array([np.log(np.sqrt(tau_lo * tau_hi)), np.log(var0)])
    best = min(
        (
            minimize(
                nll,
                np.array([np.log(tau0), np.log(var0)]),
                method="Nelder-Mead",
                options={"xatol": 1e-3, "fatol": 1e-6, "maxiter": 400},
            )
            for tau0 in (tau_lo * 10, np.exp(start[0]), span)
        ),
        key=lambda r: r.fun,
    )
    tau = tau_of(best.x[0])
    s2 = float(np.exp(best.x[1]))
    mu = ou_neg_log_likelihood(t, x, e2, tau, s2)[1]
    return OUProcess(mu, float(np.sqrt(s2)), tau)


def correlate_with_surrogates(
    t_a,
    a,
    e_a,
    t_b,
    b,
    e_b,
    *,
    lag_bin_d: float = 0.0,
    max_lag_d: float = 0.0,
    n_surrogates: int = 500,
    alpha: float = 0.05,
    rng: np.random.Generator | None = None,
) -> dict:
    """DCF of b against a with surrogate significance (module docstring); times in days.

    Returns ``dcf`` (DataFrame with ``envelope_low``/``envelope_high`` columns: pointwise 1 − α surrogate
    quantiles, and ``used``: the bins searched), ``peak_lag_d``, ``peak_dcf``, ``p_value`` (global, max
    |DCF|), ``ou_a``/``ou_b`` (fitted processes), ``lag_bin_d``, ``max_lag_d``, ``n_surrogates``.
    """
    rng = rng or np.random.default_rng(0)
    ta, tb = np.asarray(t_a, float), np.asarray(t_b, float)
    oa, ob = np.argsort(ta), np.argsort(tb)
    ta, a = ta[oa], np.asarray(a, float)[oa]
    tb, b = tb[ob], np.asarray(b, float)[ob]
    ea = np.zeros(a.size) if e_a is None else np.nan_to_num(np.asarray(e_a, float)[oa])
    eb = np.zeros(b.size) if e_b is None else np.nan_to_num(np.asarray(e_b, float)[ob])
    span = min(ta.max(), tb.max()) - max(ta.min(), tb.min())
    full = max(ta.max(), tb.max()) - min(ta.min(), tb.min())
    if max_lag_d <= 0:
        max_lag_d = max(full / 2, 1.0) if span <= 0 else max(span / 2, 1.0)
    if lag_bin_d <= 0:
        spacing = np.median(np.diff(np.unique(np.concatenate([ta, tb])))) if (ta.size + tb.size) > 2 else 1.0
        lag_bin_d = max(float(spacing), max_lag_d / 25)
    edges = dcf_bins(lag_bin_d, max_lag_d)
    obs = discrete_correlation(ta, a, ea, tb, b, eb, edges)
    fa, fb = fit_ou(ta, a, ea), fit_ou(tb, b, eb)
    sa = fa.simulate(ta, ea, rng, n_surrogates)
    sb = fb.simulate(tb, eb, rng, n_surrogates)
    sur = np.array(
        [
            discrete_correlation(ta, sa[k], ea, tb, sb[k], eb, edges)["dcf"].to_numpy()
            for k in range(n_surrogates)
        ]
    )
    n_pairs = obs["n_pairs"].to_numpy()
    valid = n_pairs >= max(MIN_PAIRS, MIN_PAIR_FRACTION * n_pairs.max())
    obs["used"] = valid
    obs["envelope_low"] = np.nanquantile(sur, alpha / 2, axis=0)
    obs["envelope_high"] = np.nanquantile(sur, 1 - alpha / 2, axis=0)
    d = np.abs(obs["dcf"].to_numpy())
    if not np.isfinite(d[valid]).any():
        return {
            "dcf": obs,
            "peak_lag_d": np.nan,
            "peak_dcf": np.nan,
            "p_value": np.nan,
            "ou_a": fa,
            "ou_b": fb,
            "lag_bin_d": lag_bin_d,
            "max_lag_d": max_lag_d,
            "n_surrogates": n_surrogates,
        }
    k = int(np.nanargmax(np.where(valid, d, -np.inf)))
    peak = float(d[k])
    sur_max = np.nanmax(np.abs(np.where(valid[None, :], sur, np.nan)), axis=1)
    p = (1.0 + np.sum(sur_max >= peak - 1e-12)) / (1.0 + n_surrogates)
    return {
        "dcf": obs,
        "peak_lag_d": float(obs["lag_d"].iloc[k]),
        "peak_dcf": float(obs["dcf"].iloc[k]),
        "p_value": float(p),
        "ou_a": fa,
        "ou_b": fb,
        "lag_bin_d": float(lag_bin_d),
        "max_lag_d": float(max_lag_d),
        "n_surrogates": n_surrogates,
    }
