"""Hot-spot counts and power by latitude band and region, raw and normalised by exposure, with intervals.

Inputs are a hot-spot table (``lat_deg`` planetographic °N, ``lon_w_deg`` °W, a power column, optionally its
1σ error and an M-band spectral-power column) and an :class:`~ioscan.analysis.coverage.Exposure`.

* Densities are per 10⁶ km² of exposure (area × completeness by number); their 95 % intervals are Garwood
  intervals of the count divided by the exposure (``ci_low``/``ci_high``).
* Power sums get bootstrap intervals: hot spots resampled with replacement (so the number in each band
  varies as it would between catalogues) and each power drawn within its own uncertainty (log-normal with
  σ_ln = error/power, ≤ 2), percentile intervals.
* Power-weighted comparisons (power per power-exposure, W m⁻²) are dominated by the brightest sources
  (Loki Patera alone gives ~17 % of the summed power of Davies et al. 2024, PSJ Table 10), so each comes with
  a jackknife over the brightest: the ratio again without the 1, 2, … brightest sources, and the
  leave-one-out jackknife standard error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ioscan.analysis import grids
from ioscan.analysis.coverage import Exposure
from ioscan.analysis.significance import (
    density_ratio_test,
    density_test_power,
    garwood_interval,
    min_detectable_ratio,
    permutation_test,
)

PER_MKM2 = 1e6  # densities per 10⁶ km²
GW_PER_KM2_TO_W_M2 = 1e3  # 1 GW km⁻² = 1e9 W / 1e6 m²

#: comparisons the report makes: (name, region A, region B)
COMPARISONS = (
    ("polar_vs_equatorial", "polar", "equatorial"),
    ("north_vs_south_polar", "north_polar", "south_polar"),
    ("leading_vs_trailing", "leading", "trailing"),
    ("subjovian_vs_antijovian", "subjovian", "antijovian"),
)


def _powers(df: pd.DataFrame, power_col: str, err_col: str | None) -> tuple[np.ndarray, np.ndarray]:
    p = df[power_col].to_numpy(float) if power_col in df.columns else np.full(len(df), np.nan)
    e = df[err_col].to_numpy(float) if err_col and err_col in df.columns else np.zeros(len(df))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.clip(np.nan_to_num(e / p, nan=0.0, posinf=0.0), 0.0, 2.0)
    return p, s


def bootstrap_sums(
    groups: np.ndarray, power: np.ndarray, sigma_ln: np.ndarray, n_groups: int, n_boot: int, rng
) -> np.ndarray:
    """(n_boot, n_groups) bootstrap power sums: hot spots resampled with replacement, each power drawn
    log-normally within its error; ``groups`` gives each hot spot's group (−1 = none); NaN powers add 0."""
    n = len(power)
    if n == 0:
        return np.zeros((n_boot, n_groups))
    idx = rng.integers(0, n, size=(n_boot, n))
    p = np.nan_to_num(power)[idx] * np.exp(
        sigma_ln[idx] * rng.standard_normal((n_boot, n)) - 0.5 * sigma_ln[idx] ** 2
    )
    g = groups[idx]
    out = np.zeros((n_boot, n_groups))
    for k in range(n_groups):
        out[:, k] = np.sum(np.where(g == k, p, 0.0), axis=1)
    return out


def latitude_bands(
    hotspots: pd.DataFrame,
    exposure: Exposure,
    edges_deg,
    *,
    power_col: str = "power_gw",
    err_col: str | None = "power_err_gw",
    n_bootstrap: int = 1000,
    rng: np.random.Generator | None = None,
    cl: float = 0.95,
) -> list[dict]:
    """One dict per band: ``lat_min_deg``, ``lat_max_deg``, ``n_hotspots``, ``power_gw`` (sum of
    ``power_col``), ``power_ci_low_gw``/``power_ci_high_gw`` (bootstrap), ``power_fraction``,
    ``observed_area_fraction``, ``area_km2``, ``exposure_km2``, ``expected_n_uniform`` (the band's share of
    the exposure × all hot spots), ``raw_density_per_1e6_km2`` (per band area), ``density_per_1e6_km2`` (per
    exposure) with its Garwood ``ci_low``/``ci_high`` (per 10⁶ km² of exposure), ``power_per_area_w_m2``
    (sum / power-exposure) and its bootstrap interval."""
    rng = rng or np.random.default_rng(0)
    edges = [float(e) for e in edges_deg]
    lat = hotspots["lat_deg"].to_numpy(float)
    power, sig = _powers(hotspots, power_col, err_col)
    groups = np.full(len(lat), -1)
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        groups[grids.in_band(lat, lo, hi)] = k
    boot = bootstrap_sums(groups, power, sig, len(edges) - 1, n_bootstrap, rng)
    total_exposure = float(exposure.exposure_n_km2.sum())
    total_power = float(np.nansum(power))
    a = (1 - cl) / 2
    rows = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        w = grids.band_cells(lo, hi)
        area = float(np.sum(exposure.area_km2 * w))
        e_n = float(np.sum(exposure.exposure_n_km2 * w))
        e_p = float(np.sum(exposure.exposure_p_km2 * w))
        n = int(np.sum(groups == k))
        p_sum = float(np.nansum(np.where(groups == k, power, np.nan))) if n else 0.0
        g_lo, g_hi = garwood_interval(n, cl)
        b_lo, b_hi = np.quantile(boot[:, k], [a, 1 - a])
        rows.append(
            {
                "lat_min_deg": lo,
                "lat_max_deg": hi,
                "n_hotspots": n,
                "n_with_power": int(np.sum((groups == k) & np.isfinite(power))),
                "power_gw": p_sum,
                "power_ci_low_gw": float(b_lo),
                "power_ci_high_gw": float(b_hi),
                "power_fraction": p_sum / total_power if total_power > 0 else float("nan"),
                "observed_area_fraction": exposure.observed_fraction(w),
                "area_km2": area,
                "exposure_km2": e_n,
                "expected_n_uniform": len(lat) * e_n / total_exposure if total_exposure > 0 else float("nan"),
                "raw_density_per_1e6_km2": n / area * PER_MKM2,
                "density_per_1e6_km2": n / e_n * PER_MKM2 if e_n > 0 else float("nan"),
                "ci_low": g_lo / e_n * PER_MKM2 if e_n > 0 else float("nan"),
                "ci_high": g_hi / e_n * PER_MKM2 if e_n > 0 else float("nan"),
                "ci_quantity": f"density per 1e6 km2 of exposure, {cl:.0%} Garwood",
                "power_exposure_km2": e_p,
                "power_per_area_w_m2": p_sum / e_p * GW_PER_KM2_TO_W_M2 if e_p > 0 else float("nan"),
                "power_per_area_ci_low_w_m2": b_lo / e_p * GW_PER_KM2_TO_W_M2 if e_p > 0 else float("nan"),
                "power_per_area_ci_high_w_m2": b_hi / e_p * GW_PER_KM2_TO_W_M2 if e_p > 0 else float("nan"),
            }
        )
    return rows


def region_summary(
    hotspots: pd.DataFrame,
    exposure: Exposure,
    names,
    *,
    power_col: str = "power_gw",
    polar_lat_deg: float = 60.0,
    eq_lat_deg: float = 30.0,
) -> list[dict]:
    """Counts, power and densities of named regions (:data:`ioscan.analysis.grids.REGIONS`)."""
    out = []
    lat, lon = hotspots["lat_deg"].to_numpy(float), hotspots["lon_w_deg"].to_numpy(float)
    power = (
        hotspots[power_col].to_numpy(float) if power_col in hotspots.columns else np.full(len(lat), np.nan)
    )
    for name in names:
        m = grids.in_region(name, lat, lon, polar_lat_deg=polar_lat_deg, eq_lat_deg=eq_lat_deg)
        w = grids.region_cells(name, polar_lat_deg=polar_lat_deg, eq_lat_deg=eq_lat_deg)
        e_n = float(np.sum(exposure.exposure_n_km2 * w))
        e_p = float(np.sum(exposure.exposure_p_km2 * w))
        n = int(m.sum())
        g_lo, g_hi = garwood_interval(n)
        p_sum = float(np.nansum(power[m]))
        out.append(
            {
                "region": name,
                "n_hotspots": n,
                "power_gw": p_sum,
                "area_km2": float(np.sum(exposure.area_km2 * w)),
                "observed_area_fraction": exposure.observed_fraction(w),
                "exposure_km2": e_n,
                "density_per_1e6_km2": n / e_n * PER_MKM2 if e_n > 0 else float("nan"),
                "ci_low": g_lo / e_n * PER_MKM2 if e_n > 0 else float("nan"),
                "ci_high": g_hi / e_n * PER_MKM2 if e_n > 0 else float("nan"),
                "power_per_area_w_m2": p_sum / e_p * GW_PER_KM2_TO_W_M2 if e_p > 0 else float("nan"),
            }
        )
    return out


def common_limit_gw_um(
    exposure: Exposure, weights_a: np.ndarray, weights_b: np.ndarray, q: float = 0.95
) -> float:
    """The area-weighted ``q`` quantile of the detection limit over the seen cells of two regions, GW µm⁻¹:
    hot spots above it would have been found almost anywhere in either region (NaN without limits)."""
    lim = exposure.limit_spectral_power_gw_um
    w = (np.maximum(weights_a, weights_b) * exposure.area_km2 * exposure.seen).ravel()
    v = lim.ravel()
    ok = np.isfinite(v) & (w > 0)
    if not ok.any():
        return float("nan")
    order = np.argsort(v[ok])
    cw = np.cumsum(w[ok][order])
    return float(v[ok][order][np.searchsorted(cw, q * cw[-1])])


def power_weighted_ratio(power_a, power_b, e_a: float, e_b: float) -> float:
    """(Σ power_A / E_A) / (Σ power_B / E_B)."""
    pa, pb = np.nansum(power_a), np.nansum(power_b)
    return float((pa / e_a) / (pb / e_b)) if pb > 0 and e_a > 0 and e_b > 0 else float("nan")


def compare_regions(
    hotspots: pd.DataFrame,
    exposure: Exposure,
    region_a: str,
    region_b: str,
    *,
    power_col: str = "power_gw",
    err_col: str | None = "power_err_gw",
    spectral_col: str | None = "spectral_power_gw_um",
    polar_lat_deg: float = 60.0,
    eq_lat_deg: float = 30.0,
    alpha: float = 0.05,
    effect_ratios=(1.5, 2.0),
    min_power: float = 0.8,
    n_permutations: int = 1000,
    n_bootstrap: int = 1000,
    n_brightest: int = 3,
    rng: np.random.Generator | None = None,
) -> dict:
    """Region A against region B: densities (exact Poisson test with exposures, its power at the named
    ratios and the smallest detectable ratios), power distributions (permutation test on the M-band
    spectral power of hot spots above the common detection limit), and power per area (ratio with bootstrap
    interval and a jackknife over the brightest sources)."""
    rng = rng or np.random.default_rng(0)
    lat, lon = hotspots["lat_deg"].to_numpy(float), hotspots["lon_w_deg"].to_numpy(float)
    kw = {"polar_lat_deg": polar_lat_deg, "eq_lat_deg": eq_lat_deg}
    in_a, in_b = grids.in_region(region_a, lat, lon, **kw), grids.in_region(region_b, lat, lon, **kw)
    w_a, w_b = grids.region_cells(region_a, **kw), grids.region_cells(region_b, **kw)
    e_a, e_b = float(np.sum(exposure.exposure_n_km2 * w_a)), float(np.sum(exposure.exposure_n_km2 * w_b))
    ep_a, ep_b = float(np.sum(exposure.exposure_p_km2 * w_a)), float(np.sum(exposure.exposure_p_km2 * w_b))
    n_a, n_b = int(in_a.sum()), int(in_b.sum())
    density = density_ratio_test(n_a, e_a, n_b, e_b, cl=1 - alpha)
    density["raw_ratio"] = (
        (n_a / np.sum(exposure.area_km2 * w_a)) / (n_b / np.sum(exposure.area_km2 * w_b)) if n_b else np.nan
    )
    density["power_at_ratio"] = {
        f"{r:g}": density_test_power(n_a + n_b, e_a, e_b, r, alpha) for r in effect_ratios
    }
    density["min_detectable_ratio_up"] = min_detectable_ratio(n_a + n_b, e_a, e_b, alpha, min_power, True)
    density["min_detectable_ratio_down"] = min_detectable_ratio(n_a + n_b, e_a, e_b, alpha, min_power, False)
    density["observed_area_fraction_a"] = exposure.observed_fraction(w_a)
    density["observed_area_fraction_b"] = exposure.observed_fraction(w_b)

    spectral = (
        hotspots[spectral_col].to_numpy(float)
        if spectral_col and spectral_col in hotspots.columns
        else hotspots[power_col].to_numpy(float)
    )
    cut = common_limit_gw_um(exposure, w_a, w_b) if spectral_col else float("nan")
    above = spectral >= cut if np.isfinite(cut) else np.isfinite(spectral)
    dist = permutation_test(
        spectral[in_a & above], spectral[in_b & above], n_permutations=n_permutations, rng=rng
    )
    dist["common_limit_gw_um"] = cut
    dist["quantity"] = spectral_col or power_col

    power, sig = _powers(hotspots, power_col, err_col)
    weighted = {
        "ratio": power_weighted_ratio(power[in_a], power[in_b], ep_a, ep_b),
        "power_a_gw": float(np.nansum(power[in_a])),
        "power_b_gw": float(np.nansum(power[in_b])),
        "power_per_area_a_w_m2": float(np.nansum(power[in_a]) / ep_a * GW_PER_KM2_TO_W_M2)
        if ep_a > 0
        else np.nan,
        "power_per_area_b_w_m2": float(np.nansum(power[in_b]) / ep_b * GW_PER_KM2_TO_W_M2)
        if ep_b > 0
        else np.nan,
    }
    groups = np.where(in_a, 0, np.where(in_b, 1, -1))
    boot = bootstrap_sums(groups, power, sig, 2, n_bootstrap, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = (boot[:, 0] / ep_a) / (boot[:, 1] / ep_b)
    finite = ratios[np.isfinite(ratios)]
    q = alpha / 2
    weighted["ratio_ci_low"], weighted["ratio_ci_high"] = (
        (float(np.quantile(finite, q)), float(np.quantile(finite, 1 - q)))
        if finite.size
        else (np.nan, np.nan)
    )
    weighted.update(_jackknife(power, in_a, in_b, ep_a, ep_b, n_brightest, hotspots))
    return {
        "region_a": region_a,
        "region_b": region_b,
        "density": density,
        "power_distribution": dist,
        "power_weighted": weighted,
    }


def _jackknife(power, in_a, in_b, ep_a, ep_b, n_brightest: int, hotspots: pd.DataFrame) -> dict:
    p = np.nan_to_num(power)
    total = p.sum()
    order = np.argsort(-p)
    names = hotspots["name"] if "name" in hotspots.columns else pd.Series([None] * len(p))
    ids = hotspots["hotspot_id"] if "hotspot_id" in hotspots.columns else hotspots.get("ref_id")
    brightest = []
    for k in range(1, min(n_brightest, len(p)) + 1):
        keep = np.ones(len(p), bool)
        keep[order[:k]] = False
        i = order[k - 1]
        brightest.append(
            {
                "removed": k,
                "id": None if ids is None else str(ids.iloc[i]),
                "name": None if pd.isna(names.iloc[i]) else str(names.iloc[i]),
                "share_of_total": float(p[i] / total) if total > 0 else np.nan,
                "ratio_without": power_weighted_ratio(p[in_a & keep], p[in_b & keep], ep_a, ep_b),
            }
        )
    # leave-one-out jackknife standard error of the ratio (hot spots in A or B)
    sa, sb = p[in_a].sum(), p[in_b].sum()
    loo = []
    for i in np.nonzero(in_a | in_b)[0]:
        a_i, b_i = sa - (p[i] if in_a[i] else 0.0), sb - (p[i] if in_b[i] else 0.0)
        loo.append((a_i / ep_a) / (b_i / ep_b) if b_i > 0 else np.nan)
    loo = np.asarray(loo)
    loo = loo[np.isfinite(loo)]
    n = loo.size
    se = float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))) if n > 1 else np.nan
    return {"jackknife_brightest": brightest, "jackknife_se": se}
