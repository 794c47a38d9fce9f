"""Tests, intervals and power: the statistics behind every comparison the report makes.

* Densities: two Poisson counts n_A, n_B with exposures E_A, E_B (km²) are compared with the exact
  conditional test: given n = n_A + n_B, n_A ~ Binomial(n, π₀) with π₀ = E_A/(E_A + E_B) when the densities
  are equal (Przyborowski & Wilenski 1940; the standard exact comparison of two Poisson rates). Two-sided
  p-values sum the probabilities of outcomes no more likely than the one seen (as
  ``scipy.stats.binomtest``). The density ratio ρ = (n_A/E_A)/(n_B/E_B) gets the Clopper–Pearson interval of
  π mapped through ρ = π/(1 − π) · E_B/E_A. Its power at a ratio ρ is exact (the binomial probability of
  the rejection region under π(ρ) = ρE_A/(ρE_A + E_B)).
* Counts: Garwood (1936) central intervals for a Poisson mean.
* Distributions of power: a two-sided permutation test of the difference in mean log₁₀ power (robust to
  the ~6 decades of hot-spot powers); p = (1 + #{|T*| ≥ |T|})/(1 + N_perm).
* Verdicts: "differ" when p < α; "cannot tell" when p ≥ α and the power at the named effect is below the
  required power (with the smallest ratio the data could detect); otherwise "no difference as large as ...".
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def garwood_interval(n, cl: float = 0.95) -> tuple[float, float]:
    """Central ``cl`` interval of a Poisson mean given an observed count ``n`` (Garwood 1936)."""
    a = 1.0 - cl
    lo = 0.0 if n == 0 else float(stats.chi2.ppf(a / 2, 2 * n) / 2)
    hi = float(stats.chi2.ppf(1 - a / 2, 2 * n + 2) / 2)
    return lo, hi


def binomial_two_sided_pvalues(n: int, p0: float) -> np.ndarray:
    """Two-sided exact p-values of every outcome k = 0..n of Binomial(n, p0) (the ``minlike`` rule of
    ``scipy.stats.binomtest``: the total probability of outcomes no more likely than k)."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p0)
    order = np.sort(pmf)
    csum = np.cumsum(order)
    idx = np.searchsorted(order, pmf * (1.0 + 1e-7), side="right") - 1
    return np.minimum(1.0, csum[np.clip(idx, 0, n)])


def density_ratio_test(n_a: int, e_a: float, n_b: int, e_b: float, cl: float = 0.95) -> dict:
    """Exact comparison of two Poisson densities with exposures (module docstring).

    Returns ``ratio`` (density A / density B), ``ratio_ci_low``/``ratio_ci_high`` (``cl``), ``p_value``
    (two-sided), ``expected_a`` (n·π₀) and the inputs.
    """
    n_a, n_b = int(n_a), int(n_b)
    out = {"n_a": n_a, "n_b": n_b, "exposure_a_km2": float(e_a), "exposure_b_km2": float(e_b)}
    n = n_a + n_b
    if n == 0 or e_a <= 0 or e_b <= 0:
        return out | {
            "ratio": np.nan,
            "ratio_ci_low": np.nan,
            "ratio_ci_high": np.nan,
            "p_value": np.nan,
            "expected_a": np.nan,
        }
    p0 = e_a / (e_a + e_b)
    res = stats.binomtest(n_a, n, p0)
    ci = res.proportion_ci(confidence_level=cl, method="exact")

    def to_ratio(pi: float) -> float:
        return np.inf if pi >= 1 else pi / (1 - pi) * e_b / e_a

    ratio = (n_a / e_a) / (n_b / e_b) if n_b > 0 else np.inf
    return out | {
        "ratio": float(ratio),
        "ratio_ci_low": float(to_ratio(ci.low)),
        "ratio_ci_high": float(to_ratio(ci.high)),
        "p_value": float(res.pvalue),
        "expected_a": float(n * p0),
    }


def density_test_power(n_total: int, e_a: float, e_b: float, ratio: float, alpha: float = 0.05) -> float:
    """Exact power of :func:`density_ratio_test` at level ``alpha`` when the true density ratio A/B is
    ``ratio``, given n_total = n_A + n_B hot spots."""
    n = int(n_total)
    if n == 0 or e_a <= 0 or e_b <= 0:
        return float("nan")
    p0 = e_a / (e_a + e_b)
    reject = binomial_two_sided_pvalues(n, p0) <= alpha
    p1 = ratio * e_a / (ratio * e_a + e_b)
    return float(stats.binom.pmf(np.arange(n + 1), n, p1)[reject].sum())


def min_detectable_ratio(
    n_total: int, e_a: float, e_b: float, alpha: float = 0.05, power: float = 0.8, upward: bool = True
) -> float:
    """Smallest density ratio A/B > 1 (``upward``) or largest < 1 detected with probability ``power``
    (bisection on the exact power; inf / 0 when no ratio up to 1000 reaches it)."""
    lo, hi = (1.0, 1000.0) if upward else (1e-3, 1.0)
    far = hi if upward else lo
    if density_test_power(n_total, e_a, e_b, far, alpha) < power:
        return float("inf") if upward else 0.0
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        ok = density_test_power(n_total, e_a, e_b, mid, alpha) >= power
        if upward:
            lo, hi = (lo, mid) if ok else (mid, hi)
        else:
            lo, hi = (mid, hi) if ok else (lo, mid)
    return float(hi if upward else lo)


def permutation_test(
    a, b, *, n_permutations: int = 1000, rng: np.random.Generator | None = None, log: bool = True
) -> dict:
    """Two-sided permutation test of the difference in means of (log₁₀) values, A − B.

    Returns ``statistic`` (mean log₁₀ A − mean log₁₀ B, or plain means with ``log=False``), ``p_value``,
    ``n_a``, ``n_b``, ``median_a``, ``median_b`` (of the values as given).
    """
    rng = rng or np.random.default_rng(0)
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a) & ((a > 0) | (not log))], b[np.isfinite(b) & ((b > 0) | (not log))]
    out = {
        "n_a": int(a.size),
        "n_b": int(b.size),
        "median_a": float(np.median(a)) if a.size else np.nan,
        "median_b": float(np.median(b)) if b.size else np.nan,
    }
    if a.size < 2 or b.size < 2:
        return out | {"statistic": np.nan, "p_value": np.nan}
    x = np.log10(np.concatenate([a, b])) if log else np.concatenate([a, b])
    p = permutation_pvalues(x[None, :], a.size, n_permutations, rng)
    stat = x[: a.size].mean() - x[a.size :].mean()
    return out | {"statistic": float(stat), "p_value": float(p[0])}


def permutation_pvalues(x: np.ndarray, n_a: int, n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Permutation p-values for many samples at once: each row of ``x`` holds n_a values of group A followed
    by the values of group B (rows of equal size); returns one two-sided p-value per row."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    n = x.shape[1]
    n_b = n - n_a
    obs = x[:, :n_a].mean(axis=1) - x[:, n_a:].mean(axis=1)
    total = x.sum(axis=1)
    count = np.zeros(x.shape[0])
    chunk = max(1, min(n_permutations, 2_000_000 // max(n * x.shape[0], 1)))
    done = 0
    while done < n_permutations:
        m = min(chunk, n_permutations - done)
        idx = np.argsort(rng.random((m, n)), axis=1)[:, :n_a]  # random subsets of size n_a
        sums = x[:, idx].sum(axis=2)  # (rows, m)
        stat = sums / n_a - (total[:, None] - sums) / n_b
        count += np.sum(np.abs(stat) >= np.abs(obs)[:, None] - 1e-12, axis=1)
        done += m
    return (1.0 + count) / (1.0 + n_permutations)


def verdict(
    p_value: float,
    alpha: float,
    power_at_effect: float,
    effect_text: str,
    min_power: float = 0.8,
    detectable_text: str = "",
) -> tuple[str, str]:
    """(short verdict, one sentence): "differ", "cannot tell" or "no difference as large as <effect>"."""
    if not np.isfinite(p_value):
        return "cannot tell", "cannot tell: too few hot spots for this test."
    if p_value < alpha:
        return "differ", f"differ (p = {p_value:.2g} < {alpha:g})."
    if not np.isfinite(power_at_effect) or power_at_effect < min_power:
        extra = f"; {detectable_text}" if detectable_text else ""
        return (
            "cannot tell",
            f"cannot tell: p = {p_value:.2g}, but {effect_text} would be detected with probability only "
            f"{power_at_effect:.2f}{extra}.",
        )
    return (
        f"no difference as large as {effect_text}",
        f"no difference as large as {effect_text} (p = {p_value:.2g}; power {power_at_effect:.2f}).",
    )
