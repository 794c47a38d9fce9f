"""Tidal-heating patterns of Io and their comparison with the observed emission map.

**Angular functions** (Beuthe 2013, Icarus 223, 308–329, "Spatial patterns of tidal heating"): the tidal
dissipation in a spherically stratified body is a linear combination f_A Ψ_A + f_B Ψ_B + f_C Ψ_C of three
angular functions set by the tidal potential alone, with radial weights set by the interior. For eccentricity
tides on a synchronous satellite the degree-2 potential is (unit sphere, colatitude θ, longitude φ from the
sub-Jovian meridian, mean anomaly M, in units of ω²R²e)

    U = a cos M + b sin M,   a = −(3/4)(3cos²θ − 1) + (9/4) sin²θ cos 2φ,   b = 3 sin²θ sin 2φ,

and the orbit-averaged functions are Ψ_A = ⟨U²⟩, Ψ_B = ⟨|∇U|²⟩ and Ψ_C = ⟨|∇∇U + 3U g|²⟩ (the traceless
surface Hessian). With s = sin θ, c = cos θ they are, in closed form (derived here; a test checks them against
a numerical orbit average with finite differences):

    Ψ_A = ½ [a² + 9 s⁴ sin² 2φ]
    Ψ_B = ½ [81 s²c² cos⁴φ + (81/4) s² sin² 2φ + 36 s²c² sin² 2φ + 36 s² cos² 2φ]
    Ψ_C = [−(9/4) s² + (9/4)(1 + c²) cos 2φ]² + (81/4) c² sin² 2φ + 9 (1 + c²)² sin² 2φ + 36 c² cos² 2φ

with sphere means 21/10, 63/5 and 126/5 (⟨Ψ_B⟩ = n(n+1)⟨Ψ_A⟩ and ⟨Ψ_C⟩ = ½(n−1)n(n+1)(n+2)⟨Ψ_A⟩ for n = 2).
All three are even in φ (the sin M cos M cross terms average out), so east/west conventions do not matter.

**End-member patterns** (weights of Ψ_A, Ψ_B, Ψ_C; ``AnalysisConfig.tidal_weights``), normalised to unit
mean:

* ``deep_mantle`` = (2/3) Ψ_A + Ψ_C: the strain at the surface of a homogeneous incompressible body
  (tangential displacement l∇U/g, radial hU/g, h/l = 10/3; shear heating ∝ l²Ψ_C + 6(h − 3l)²Ψ_A) — Beuthe's
  "mantle dissipation" type. Heating peaks at the poles (2.1× the mean) and vanishes on the equator at the
  sub- and anti-Jovian points, the features of model A (deep mantle) of Segatz et al. (1988, Icarus 75,
  187–206).
* ``asthenosphere`` = Ψ_B: shear in a thin soft layer driven by the horizontal displacement ∝ ∇U — Beuthe's
  "thin soft layer" type, low-latitude heating with a strong degree-4 structure and none at the poles, as
  model B (asthenosphere) of Segatz et al. (1988).

These are the limits named by Beuthe (2013), not a fit to Segatz's numerical tables (which were not
available here); replace the weights with a model's own f_A : f_B : f_C to compare with it.

**Comparison** (:func:`compare_patterns`): how much more each pattern predicts where the hot spots (or
their power) are than on average over the area seen, against simulated censuses without a pattern. A pattern
*fits* when p < α/k for k patterns (Bonferroni); the better of two is the one whose z is larger by a
bootstrap interval excluding 0.
Verdicts: "deep_mantle", "asthenosphere", "cannot tell which" (one or both fit, the interval spans 0) or
"neither" (no pattern fits).
"""

from __future__ import annotations

import numpy as np

from ioscan.analysis import grids

MEANS = {"A": 21.0 / 10.0, "B": 63.0 / 5.0, "C": 126.0 / 5.0}
CITATIONS = (
    "Beuthe, M. (2013), Spatial patterns of tidal heating, Icarus 223, 308-329, "
    "doi:10.1016/j.icarus.2012.11.020",
    "Segatz, M., Spohn, T., Ross, M.N., Schubert, G. (1988), Tidal dissipation, surface heat flow, and "
    "figure "
    "of viscoelastic models of Io, Icarus 75, 187-206, doi:10.1016/0019-1035(88)90001-2",
)


def _angles(lat_deg, lon_w_deg) -> tuple[np.ndarray, np.ndarray]:
    lat_pc = grids.pg_to_pc_spheroid_deg(lat_deg)
    theta = np.radians(90.0 - lat_pc)
    phi = np.radians(np.asarray(lon_w_deg, dtype=float))  # even in φ: west or east alike
    return theta, phi


def psi_functions(lat_deg, lon_w_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beuthe's Ψ_A, Ψ_B, Ψ_C for eccentricity tides (module docstring), units (ω²R²e)²."""
    theta, phi = _angles(lat_deg, lon_w_deg)
    s, c = np.sin(theta), np.cos(theta)
    s2p, c2p = np.sin(2 * phi), np.cos(2 * phi)
    a = -0.75 * (3 * c**2 - 1) + 2.25 * s**2 * c2p
    psi_a = 0.5 * (a**2 + 9 * s**4 * s2p**2)
    psi_b = 0.5 * (
        81 * s**2 * c**2 * np.cos(phi) ** 4
        + 20.25 * s**2 * s2p**2
        + 36 * s**2 * c**2 * s2p**2
        + 36 * s**2 * c2p**2
    )
    psi_c = (
        (-2.25 * s**2 + 2.25 * (1 + c**2) * c2p) ** 2
        + 20.25 * c**2 * s2p**2
        + 9 * (1 + c**2) ** 2 * s2p**2
        + 36 * c**2 * c2p**2
    )
    return psi_a, psi_b, psi_c


def pattern(weights, lat_deg, lon_w_deg) -> np.ndarray:
    """Surface heat-flux pattern w_A Ψ_A + w_B Ψ_B + w_C Ψ_C normalised to unit mean over the sphere."""
    wa, wb, wc = (float(x) for x in weights)
    pa, pb, pc = psi_functions(lat_deg, lon_w_deg)
    mean = wa * MEANS["A"] + wb * MEANS["B"] + wc * MEANS["C"]
    return (wa * pa + wb * pb + wc * pc) / mean


def pattern_properties(weights) -> dict:
    """Pole / mean, minimum and maximum (with where) of a pattern on a 1° grid."""
    lat = np.linspace(-89.5, 89.5, 180)
    lon = np.linspace(0.5, 359.5, 360)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    p = pattern(weights, la, lo)
    i_max, i_min = np.unravel_index(np.argmax(p), p.shape), np.unravel_index(np.argmin(p), p.shape)
    return {
        "pole_over_mean": float(pattern(weights, 90.0, 0.0)),
        "max_over_mean": float(p[i_max]),
        "max_at_lat_deg": float(la[i_max]),
        "max_at_lon_w_deg": float(lo[i_max]),
        "min_over_mean": float(p[i_min]),
        "min_at_lat_deg": float(la[i_min]),
        "min_at_lon_w_deg": float(lo[i_min]),
    }


def _excess(pv: np.ndarray, values: np.ndarray, mean_e: np.ndarray) -> np.ndarray:
    """Value-weighted mean of each pattern at the hot spots over its exposure-weighted mean, minus 1;
    ``pv`` is (patterns, hot spots)."""
    return (pv @ values) / values.sum() / mean_e - 1.0


def compare_patterns(
    lat_deg,
    lon_w_deg,
    values,
    exposure_km2: np.ndarray,
    weights: dict,
    *,
    alpha: float = 0.05,
    n_simulations: int = 200,
    n_bootstrap: int = 500,
    rng: np.random.Generator | None = None,
) -> dict:
    """Compare hot spots carrying ``values`` (power, or 1 for numbers) with each named pattern.

    Statistic per pattern: the *excess* S = (Σ v_i p(x_i) / Σ v_i) / p̄_E − 1, how much more the pattern
    predicts where the hot spots (or their power) are than on average over what was seen (p̄_E: the
    exposure-weighted mean of the pattern) — the score statistic of a map λ ∝ E·(1 + β(p − 1)) against β = 0.
    Its null distribution: ``n_simulations`` censuses with positions drawn in proportion to the exposure and
    the values reshuffled; p = fraction with S ≥ S_observed; z = (S − null mean) / null σ. The two patterns
    are compared by a bootstrap over hot spots of z₁ − z₂.

    A pattern fits when p < α / (number of patterns) (Bonferroni: the chance that a population without a
    pattern "fits" any of them stays ≤ α).

    Returns ``excess``, ``z``, ``p_value``, ``fits`` per pattern name, ``difference`` (z of the first
    two patterns, with its bootstrap interval), ``verdict`` and the counts.
    """
    rng = rng or np.random.default_rng(0)
    names = list(weights)
    lat_c, lon_c = grids.cell_centres_deg()
    e = exposure_km2.ravel()
    seen = np.nonzero(e > 0)[0]
    e_seen = e[seen]
    pats = np.array([pattern(weights[n], lat_c.ravel()[seen], lon_c.ravel()[seen]) for n in names])
    mean_e = pats @ e_seen / e_seen.sum() if seen.size else np.full(len(names), np.nan)
    lat = np.asarray(lat_deg, float)
    lon = np.asarray(lon_w_deg, float)
    val = np.asarray(values, float)
    ok = np.isfinite(lat) & np.isfinite(lon) & np.isfinite(val) & (val > 0)
    if seen.size:
        i, j = grids.cell_index(lat, lon)
        ok &= e.reshape(exposure_km2.shape)[i, j] > 0
    lat, lon, val = lat[ok], lon[ok], val[ok]
    out: dict = {
        "patterns": names,
        "n_points": int(lat.size),
        "n_simulations": n_simulations,
        "pattern_mean_over_coverage": {n: float(m) for n, m in zip(names, mean_e, strict=True)},
    }
    if lat.size < 3 or not names:
        return out | {"verdict": "cannot tell", "reason": "too few hot spots in seen cells"}
    pv = np.array([pattern(weights[n], lat, lon) for n in names])
    s_obs = _excess(pv, val, mean_e)
    cdf = np.cumsum(e_seen) / e_seen.sum()
    null = np.empty((n_simulations, len(names)))
    for k in range(n_simulations):
        cells = np.minimum(np.searchsorted(cdf, rng.random(lat.size)), seen.size - 1)
        null[k] = _excess(pats[:, cells], rng.permutation(val), mean_e)
    p = (1.0 + np.sum(null >= s_obs[None, :] - 1e-12, axis=0)) / (1.0 + n_simulations)
    mu, sd = null.mean(axis=0), null.std(axis=0, ddof=1)
    z = (s_obs - mu) / sd
    out["excess"] = {n: float(x) for n, x in zip(names, s_obs, strict=True)}
    out["z"] = {n: float(x) for n, x in zip(names, z, strict=True)}
    out["p_value"] = {n: float(x) for n, x in zip(names, p, strict=True)}
    fits = {n: bool(x < alpha / len(names)) for n, x in zip(names, p, strict=True)}  # Bonferroni
    out["fits"] = fits
    diff = {}
    if len(names) >= 2:
        boot = np.empty(n_bootstrap)
        for k in range(n_bootstrap):
            idx = rng.integers(0, lat.size, lat.size)
            zb = (_excess(pv[:2, idx], val[idx], mean_e[:2]) - mu[:2]) / sd[:2]
            boot[k] = zb[0] - zb[1]
        lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        diff = {
            "of": f"z({names[0]}) - z({names[1]})",
            "value": float(z[0] - z[1]),
            "ci_low": float(lo),
            "ci_high": float(hi),
        }
        out["difference"] = diff
    if not any(fits.values()):
        verdict = "neither"
    elif diff and diff["ci_low"] > 0:
        verdict = names[0]
    elif diff and diff["ci_high"] < 0:
        verdict = names[1]
    elif len(names) == 1:
        verdict = names[0]
    else:
        verdict = "cannot tell which"
    out["verdict"] = verdict
    return out
