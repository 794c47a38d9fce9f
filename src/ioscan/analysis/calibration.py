"""Simulated hot-spot populations with known truth, to calibrate false-positive rates and measure power.

A simulated census goes through the same selection as the real one: true hot spots are placed on Io's
sphere (uniformly by area, or with a density ratio ρ in one region), each gets an M-band spectral power drawn
from the reference luminosity function (:class:`~ioscan.analysis.coverage.Completeness`, jittered
log-normally by 0.3 dex-e so values do not repeat), optionally multiplied by a factor in one region, and is
*detected* when its cell was seen and its power is at or above the cell's detection limit. Populations are
drawn until they hold as many detected hot spots as the real census. Every test is then run on each
simulated census exactly as on the real one:

* without an effect, the fraction of p-values below α is the **false-positive rate** (it should be ≤ α; the
  report also shows the rate of the area-only test, which ignores completeness);
* with an effect of a named size, that fraction is the **power** of the test at that size.

The exact density test's power is also computed analytically (:func:`~ioscan.analysis.significance.
density_test_power`); the simulation checks it on the real coverage and limits.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from ioscan.analysis import grids
from ioscan.analysis.coverage import Completeness, Exposure
from ioscan.analysis.distributions import common_limit_gw_um
from ioscan.analysis.significance import binomial_two_sided_pvalues, permutation_pvalues

JITTER_LN = 0.0
#: total power per M-band spectral power for simulated hot spots, µm (f(T) near 770–1000 K for JIRAM M)
SIM_FACTOR_UM = 7.0


def _sample_in_cells(cells: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Uniform-by-area points inside 2° cells (flat indices), planetographic °N and °W."""
    lat_e, lon_e = grids.cell_edges_deg()
    i, j = np.unravel_index(cells, (len(lat_e) - 1, len(lon_e) - 1))
    s1 = np.sin(np.radians(grids.pg_to_pc_spheroid_deg(lat_e[i])))
    s2 = np.sin(np.radians(grids.pg_to_pc_spheroid_deg(lat_e[i + 1])))
    lat_pc = np.degrees(np.arcsin(s1 + (s2 - s1) * rng.random(cells.size)))
    c2 = (1.0 - grids.iobody.IO.flattening) ** 2
    lat = np.degrees(np.arctan2(np.sin(np.radians(lat_pc)), c2 * np.cos(np.radians(lat_pc))))
    lon = lon_e[j] + (lon_e[j + 1] - lon_e[j]) * rng.random(cells.size)
    return lat, lon


class _Sampler:
    """Precomputed cell probabilities, coverage and limits for fast repeated simulations."""

    def __init__(self, exposure: Exposure, density_weights=None, power_factor_cells=None):
        area = exposure.area_km2.ravel()
        w = area * (1.0 if density_weights is None else np.asarray(density_weights, float).ravel())
        self.cdf = np.cumsum(w) / w.sum()
        self.seen = exposure.seen.ravel()
        self.limit = exposure.limit_spectral_power_gw_um.ravel()
        self.factor = None if power_factor_cells is None else np.asarray(power_factor_cells, float).ravel()
        self.frac_seen = max(float(np.sum(np.diff(self.cdf, prepend=0.0)[self.seen])), 1e-6)

    def draw(
        self, n_detected: int, reference: Completeness, rng
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ref = reference.reference_gw_um
        cells_all, p_all, got = [], [], 0
        for _ in range(1000):
            m = int(1.5 * (n_detected - got) / self.frac_seen) + 16
            cells = np.minimum(np.searchsorted(self.cdf, rng.random(m), side="right"), self.cdf.size - 1)
            p = ref[rng.integers(0, ref.size, m)]
            if JITTER_LN:
                p = p * np.exp(JITTER_LN * rng.standard_normal(m))
            if self.factor is not None:
                p = p * self.factor[cells]
            lim = self.limit[cells]
            det = self.seen[cells] & (~np.isfinite(lim) | (p >= lim))
            cells_all.append(cells[det])
            p_all.append(p[det])
            got += int(det.sum())
            if got >= n_detected:
                break
        cells = np.concatenate(cells_all)[:n_detected]
        p = np.concatenate(p_all)[:n_detected]
        lat, lon = _sample_in_cells(cells, rng)
        return lat, lon, p


def simulate_census(
    exposure: Exposure,
    n_detected: int,
    rng: np.random.Generator,
    *,
    reference: Completeness,
    density_weights: np.ndarray | None = None,
    power_factor_cells: np.ndarray | None = None,
) -> pd.DataFrame:
    """A simulated census of ``n_detected`` detected hot spots (module docstring).

    Args:
        exposure: coverage and limits (cells unseen or above the limit detect nothing).
        n_detected: hot spots in the census.
        reference: the luminosity function powers are drawn from.
        density_weights: (90, 180) true density multiplier per cell (default 1 everywhere).
        power_factor_cells: (90, 180) multiplier of the spectral power per cell (default 1).

    Returns:
        DataFrame ``lat_deg`` (°N), ``lon_w_deg`` (°W), ``spectral_power_gw_um``, ``power_gw``.
    """
    lat, lon, p = _Sampler(exposure, density_weights, power_factor_cells).draw(n_detected, reference, rng)
    return pd.DataFrame(
        {"lat_deg": lat, "lon_w_deg": lon, "spectral_power_gw_um": p, "power_gw": p * SIM_FACTOR_UM}
    )


@lru_cache(maxsize=4096)
def _pvalue_table(n: int, p0: float) -> np.ndarray:
    return binomial_two_sided_pvalues(n, p0)


def _density_p(n_a: int, n_b: int, e_a: float, e_b: float) -> float:
    """Two-sided exact p-value of the conditional density test (as ``scipy.stats.binomtest``)."""
    n = n_a + n_b
    return float(_pvalue_table(n, round(e_a / (e_a + e_b), 12))[n_a]) if n else 1.0


def rate_interval(k: int, n: int, cl: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of a rate k/n (a false-positive rate or a power from n simulations)."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=cl, method="exact")
    return float(ci.low), float(ci.high)


def _tests(sim: tuple, exps: tuple, in_kw, a: str, b: str, cut: float, n_perm: int, rng) -> tuple:
    lat, lon, s = sim
    e_a, e_b, r_a, r_b = exps
    ia, ib = grids.in_region(a, lat, lon, **in_kw), grids.in_region(b, lat, lon, **in_kw)
    p_density = _density_p(int(ia.sum()), int(ib.sum()), e_a, e_b)
    p_raw = _density_p(int(ia.sum()), int(ib.sum()), r_a, r_b)
    if n_perm == 0:
        return p_density, p_raw, np.nan
    above = s >= cut if np.isfinite(cut) else np.ones(len(s), bool)
    xa, xb = np.log10(s[ia & above]), np.log10(s[ib & above])
    if xa.size < 2 or xb.size < 2:
        p_dist = 1.0
    else:
        p_dist = float(permutation_pvalues(np.concatenate([xa, xb])[None, :], xa.size, n_perm, rng)[0])
    return p_density, p_raw, p_dist


def calibrate_comparisons(
    exposure: Exposure,
    n_detected: int,
    comparisons,
    *,
    reference: Completeness,
    n_populations: int = 200,
    alpha: float = 0.05,
    effect_ratios=(1.5, 2.0),
    effect_power_factor: float = 2.0,
    n_permutations: int = 500,
    polar_lat_deg: float = 60.0,
    eq_lat_deg: float = 30.0,
    rng: np.random.Generator | None = None,
) -> dict:
    """False-positive rates and powers of every comparison ``(name, region_a, region_b)`` on
    ``n_populations`` simulated censuses each (module docstring). Returns name → dict with
    ``false_positive_rate_density``, ``false_positive_rate_density_area_only``,
    ``false_positive_rate_power_distribution`` (each with a ``_ci`` Clopper–Pearson 95 % interval),
    ``power_density_at_ratio`` {ratio: power},
    ``power_power_distribution_at_factor``, ``n_populations``, ``alpha``."""
    rng = rng or np.random.default_rng(0)
    in_kw = {"polar_lat_deg": polar_lat_deg, "eq_lat_deg": eq_lat_deg}
    n_detected = int(n_detected)
    results: dict = {}
    if n_detected < 2:
        return results
    null = _Sampler(exposure)
    nulls = [null.draw(n_detected, reference, rng) for _ in range(n_populations)]
    for name, a, b in comparisons:
        wa, wb = grids.region_cells(a, **in_kw), grids.region_cells(b, **in_kw)
        exps = (
            float(np.sum(exposure.exposure_n_km2 * wa)),
            float(np.sum(exposure.exposure_n_km2 * wb)),
            float(np.sum(exposure.area_km2 * wa * exposure.seen)),
            float(np.sum(exposure.area_km2 * wb * exposure.seen)),
        )
        cut = common_limit_gw_um(exposure, wa, wb)
        p0 = np.array([_tests(s, exps, in_kw, a, b, cut, n_permutations, rng) for s in nulls])
        res = {"n_populations": n_populations, "alpha": alpha, "power_density_at_ratio": {}}
        for key, col in (("density", 0), ("density_area_only", 1), ("power_distribution", 2)):
            k = int(np.sum(p0[:, col] < alpha))
            res[f"false_positive_rate_{key}"] = k / n_populations
            res[f"false_positive_rate_{key}_ci"] = rate_interval(k, n_populations)
        for ratio in effect_ratios:
            sampler = _Sampler(exposure, density_weights=1.0 + (ratio - 1.0) * wa)
            ps = [
                _tests(sampler.draw(n_detected, reference, rng), exps, in_kw, a, b, cut, 0, rng)[0]
                for _ in range(n_populations)
            ]
            res["power_density_at_ratio"][f"{ratio:g}"] = float(np.mean(np.asarray(ps) < alpha))
        sampler = _Sampler(exposure, power_factor_cells=1.0 + (effect_power_factor - 1.0) * wa)
        pp = [
            _tests(sampler.draw(n_detected, reference, rng), exps, in_kw, a, b, cut, n_permutations, rng)[2]
            for _ in range(n_populations)
        ]
        res["power_power_distribution_at_factor"] = {
            f"{effect_power_factor:g}": float(np.mean(np.asarray(pp) < alpha))
        }
        results[name] = res
    return results
