"""The hot-spot matcher as it was before it was vectorised (issue 15): a frozen reference.

:mod:`ioscan.geometry.hotspot_registration` must give the same modes, offsets, covariances, evidences and
false-match probabilities on the same inputs (``test_matcher_equivalence.py``);
``benchmarks/bench_navigation.py --matcher`` times both. Slow (a 2×2 ``numpy.linalg.inv`` per pair per
iteration): never call it outside tests and benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import erf

from ioscan.instruments.base import PointingPrior

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class MatchProblem:
    """Inputs of :func:`match_offsets` (pixels are band-local, 0-based; B bands, n detections, m anchors).

    Attributes:
        det_xy: (n, 2) detection (sample, line).
        det_cov: (n, 2, 2) centroid covariance, px².
        det_band: (n,) band index of each detection.
        anc_xy: (m, B, 2) predicted (sample, line) of each anchor in each band at zero offset (NaN where the
            anchor faces away from the observer).
        anc_cov: (m, B, 2, 2) core covariance of each anchor's position in each band, px².
        anc_tail_scale: (m,) tail σ / core σ.
        anc_tail_fraction: (m,) fraction of anchors with the tail error.
        anc_pd: (m,) probability that an anchor in view is detected.
        band_shape: (B, 2) (n_samples, n_lines) of each band.
        anc_group: (m,) group label of each anchor (anchors sharing an error).
        anc_shared_cov: (m, B, 2, 2) the shared part of the anchors' covariance (px², 0 if independent).
        anc_id: (m,) anchor IDs (for reports).
        det_cluster: (n,) detections with one label may be one source (a split or extended hot spot): at
            most one of them is matched. None: every detection apart.
        anc_source: (m,) anchors with one label may be one source (the same hot spot in two tables, or in
            a table and in a registered frame): at most one of them is matched, and they count once.
            None: every anchor apart.
    """

    det_xy: np.ndarray
    det_cov: np.ndarray
    det_band: np.ndarray
    anc_xy: np.ndarray
    anc_cov: np.ndarray
    anc_tail_scale: np.ndarray
    anc_tail_fraction: np.ndarray
    anc_pd: np.ndarray
    band_shape: np.ndarray
    anc_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    anc_shared_cov: np.ndarray | None = None
    anc_id: np.ndarray | None = None
    det_cluster: np.ndarray | None = None
    anc_source: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.det_cluster is None:
            self.det_cluster = np.arange(self.n_det)
        if self.anc_source is None:
            self.anc_source = np.arange(self.n_anc)

    @property
    def n_det(self) -> int:
        return int(self.det_xy.shape[0])

    @property
    def n_anc(self) -> int:
        return int(self.anc_xy.shape[0])


@dataclass
class Mode:
    """One local solution: offset (sample, line) px, its covariance, the matched (detection, anchor) pairs
    and its log evidence."""

    offset_px: np.ndarray
    cov_px: np.ndarray  #: the fit's covariance plus the matched anchors' shared errors
    pairs: list[tuple[int, int]]
    log_evidence: float
    n_matches: int = 0  #: distinct sources matched
    fit_cov_px: np.ndarray | None = None  #: the fit's covariance alone
    weights: np.ndarray | None = None  #: (k, 2, 2) inverse covariances of the matched pairs


@dataclass
class Registration:
    """Result of :func:`match_offsets`.

    Attributes:
        ok: registered (≥ min_matches anchors, false-match probability ≤ the limit).
        reason: why not, when not.
        offset_px: (sample, line) scene shift, observed − predicted, of the best mode (0, 0 when none).
        cov_px: its 2×2 covariance, px² (the fit's, plus the anchors' shared errors).
        false_match_prob: posterior probability that the best mode is wrong (1 without a mode).
        n_matches: distinct anchors matched in the best mode.
        pairs: (detection index, anchor index) of the best mode.
        modes: every mode found, best first, with posterior weights ``weights``.
        log_evidence_null: log evidence of "nothing matched".
        log_evidence: log of the total evidence (modes + null): compare it between two pixel conventions.
    """

    ok: bool
    reason: str = ""
    offset_px: tuple[float, float] = (0.0, 0.0)
    cov_px: np.ndarray = field(default_factory=lambda: np.zeros((2, 2)))
    false_match_prob: float = 1.0
    n_matches: int = 0
    pairs: list[tuple[int, int]] = field(default_factory=list)
    modes: list[Mode] = field(default_factory=list)
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    log_evidence_null: float = 0.0
    log_evidence: float = 0.0
    _null_grid: tuple[np.ndarray, np.ndarray] | None = None

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 2) offsets drawn from the posterior: the modes (Gaussians) and, with the null's weight, the
        prior weighted by the missed-anchor terms (grid cells, jittered within a cell)."""
        w = np.append(self.weights, max(1.0 - float(np.sum(self.weights)), 0.0))
        k = rng.choice(len(w), size=n, p=w / float(np.sum(w)))
        out = np.empty((n, 2))
        for m, mode in enumerate(self.modes):
            sel = k == m
            if sel.any():
                out[sel] = rng.multivariate_normal(mode.offset_px, mode.cov_px, int(sel.sum()))
        sel = k == len(self.modes)
        if sel.any():
            out[sel] = _sample_grid(self._null_grid, rng, int(sel.sum()))
        return out


def _sample_grid(grid, rng, n):
    pts, w, step = grid
    idx = rng.choice(len(w), size=n, p=w)
    return pts[idx] + (rng.random((n, 2)) - 0.5) * step


# --------------------------------------------------------------------------------------------------- prior
def _log_prior_1d(x, sigma: float, top: float):
    """ln of a Gaussian of σ truncated to |x| ≤ top (normalised)."""
    norm = math.log(sigma * math.sqrt(2 * math.pi) * erf(top / (sigma * math.sqrt(2))))
    x = np.asarray(x, dtype=float)
    return np.where(np.abs(x) <= top, -0.5 * (x / sigma) ** 2 - norm, -np.inf)


def log_prior(offset, prior: PointingPrior):
    """ln prior density of offsets (..., 2) (sample, line), px⁻²."""
    o = np.asarray(offset, dtype=float)
    return _log_prior_1d(o[..., 0], prior.sigma_px[0], prior.max_px[0]) + _log_prior_1d(
        o[..., 1], prior.sigma_px[1], prior.max_px[1]
    )


# ------------------------------------------------------------------------------------------------- scoring
def _in_view(prob: MatchProblem, offset) -> np.ndarray:
    """(m, B) anchors inside each band's image at ``offset``."""
    xy = prob.anc_xy + np.asarray(offset, dtype=float)
    ns, nl = prob.band_shape[:, 0], prob.band_shape[:, 1]
    with np.errstate(invalid="ignore"):
        inside = (xy[..., 0] >= -0.5) & (xy[..., 0] <= ns - 0.5) & (xy[..., 1] >= -0.5)
        return inside & (xy[..., 1] <= nl - 0.5)


def _missed(prob: MatchProblem, offset) -> float:
    """Σ ln(1 − P_d) over anchors in view (each anchor counted once, in whichever band shows it)."""
    vis = _in_view(prob, offset).any(axis=1)
    return float(np.sum(np.log1p(-prob.anc_pd[vis])))


def _pair_tables(prob: MatchProblem):
    """Per (detection, anchor) pair in the same band: offset d = x − p, core covariance, tail scale², and
    the log-odds term; pairs with an anchor facing away are dropped."""
    i, j = np.meshgrid(np.arange(prob.n_det), np.arange(prob.n_anc), indexing="ij")
    i, j = i.ravel(), j.ravel()
    b = prob.det_band[i]
    p = prob.anc_xy[j, b]
    ok = np.all(np.isfinite(p), axis=1)
    i, j, b, p = i[ok], j[ok], b[ok], p[ok]
    d = prob.det_xy[i] - p
    cov = prob.det_cov[i] + prob.anc_cov[j, b]
    return i, j, b, d, cov


def _log_mix(r, cov, tail2, frac):
    """ln of the core/tail Gaussian mixture density of residuals r (k, 2) and the core responsibility."""
    inv = np.linalg.inv(cov)
    q = np.einsum("ki,kij,kj->k", r, inv, r)
    det = np.linalg.det(cov)
    lc = np.log1p(-frac) - 0.5 * q - 0.5 * np.log(det) - LOG_2PI
    lt = np.log(np.maximum(frac, 1e-300)) - 0.5 * q / tail2 - 0.5 * np.log(det * tail2**2) - LOG_2PI
    top = np.maximum(lc, lt)
    total = top + np.log(np.exp(lc - top) + np.exp(lt - top))
    return total, np.exp(lc - total)


# --------------------------------------------------------------------------------------------------- modes
def _greedy(gain, ci, sj):
    """One-to-one pairs of positive gain, best first (one per detection cluster ``ci`` and per anchor
    source ``sj``): indices into the pair arrays."""
    order = np.argsort(-gain)
    used_i, used_j, chosen = set(), set(), []
    for k in order:
        if gain[k] <= 0:
            break
        if ci[k] in used_i or sj[k] in used_j:
            continue
        used_i.add(int(ci[k]))
        used_j.add(int(sj[k]))
        chosen.append(int(k))
    return np.array(chosen, dtype=int)


def _refine(prob, prior, tables, log_lambda, seed_offset, max_iter: int = 6):
    i, j, b, d, cov = tables
    tail2 = prob.anc_tail_scale[j] ** 2
    frac = prob.anc_tail_fraction[j]
    log_odds = np.log(prob.anc_pd[j]) - np.log1p(-prob.anc_pd[j])
    p_inv = np.diag(1.0 / np.square(prior.sigma_px))
    o = np.asarray(seed_offset, dtype=float)
    chosen = np.zeros(0, dtype=int)
    ci, sj = prob.det_cluster[i], prob.anc_source[j]
    for _ in range(max_iter):
        lmix, resp = _log_mix(d - o, cov, tail2, frac)
        gain = log_odds + lmix - log_lambda
        new = _greedy(gain, ci, sj)
        if len(new) == 0:
            return None
        w = np.linalg.inv(cov[new]) * (resp[new] + (1 - resp[new]) / tail2[new])[:, None, None]
        h = w.sum(axis=0) + p_inv
        o_new = np.linalg.solve(h, np.einsum("kij,kj->i", w, d[new]))
        done = np.array_equal(np.sort(new), np.sort(chosen)) and np.allclose(o_new, o, atol=1e-3)
        o, chosen = o_new, new
        if done:
            break
    lp = float(log_prior(o, prior))
    if not np.isfinite(lp):
        return None
    lmix, resp = _log_mix(d[chosen] - o, cov[chosen], tail2[chosen], frac[chosen])
    score = float(np.sum(log_odds[chosen] + lmix - log_lambda))
    w = np.linalg.inv(cov[chosen]) * (resp + (1 - resp) / tail2[chosen])[:, None, None]
    h = w.sum(axis=0) + p_inv
    cov_o = np.linalg.inv(h)
    log_ev = lp + _missed(prob, o) + score + LOG_2PI + 0.5 * math.log(np.linalg.det(cov_o))
    pairs = [(int(i[k]), int(j[k])) for k in chosen]
    mode = Mode(o, cov_o, pairs, log_ev, len({int(sj[k]) for k in chosen}), cov_o, w)
    # anchors sharing an error (the detections of one registered frame) move the offset together: their
    # shared part is not reduced by the number of matches
    mode.cov_px = mode.cov_px + _shared_cov(prob, mode)
    return mode


def _null_evidence(prob, prior):
    """ln ∫ prior · Π_{in view}(1 − P_d) over a grid of the prior's box, and the grid (for sampling)."""
    step = (
        max(min(prior.sigma_px[0] / 4, 1.0), 0.25),
        max(min(prior.sigma_px[1] / 4, 1.0), 0.25),
    )
    gs = np.arange(-prior.max_px[0], prior.max_px[0] + 1e-9, step[0])
    gl = np.arange(-prior.max_px[1], prior.max_px[1] + 1e-9, step[1])
    oo = np.stack(np.meshgrid(gs, gl, indexing="ij"), -1).reshape(-1, 2)
    lp = log_prior(oo, prior)
    if prob.n_anc:
        xy = prob.anc_xy[None] + oo[:, None, None, :]
        ns, nl = prob.band_shape[:, 0], prob.band_shape[:, 1]
        with np.errstate(invalid="ignore"):
            inside = (xy[..., 0] >= -0.5) & (xy[..., 0] <= ns - 0.5) & (xy[..., 1] >= -0.5)
            inside &= xy[..., 1] <= nl - 0.5
        miss = inside.any(axis=2) @ np.log1p(-prob.anc_pd)
    else:
        miss = np.zeros(len(oo))
    lw = lp + miss + math.log(step[0] * step[1])
    top = float(np.max(lw))
    w = np.exp(lw - top)
    total = float(np.sum(w))
    return top + math.log(total), (oo, w / total, np.array(step))


def match_offsets(
    prob: MatchProblem,
    prior: PointingPrior,
    *,
    min_matches: int = 2,
    max_false_match_prob: float = 0.01,
    floor_px: float = 0.0,
) -> Registration:
    """Posterior over the pointing offset and the registration it supports (module docstring)."""
    log_null, grid = _null_evidence(prob, prior)
    if prob.n_det == 0 or prob.n_anc == 0:
        why = "no detections to match" if prob.n_det == 0 else "no known hot spot near the frame"
        return Registration(False, why, log_evidence_null=log_null, log_evidence=log_null, _null_grid=grid)
    area = float(np.sum(prob.band_shape[:, 0] * prob.band_shape[:, 1]))
    log_lambda = math.log(max(prob.n_det, 1) / area)
    tables = _pair_tables(prob)
    i, j, b, d, cov = tables
    reach = np.asarray(prior.max_px) + 3 * np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    inside = np.all(np.abs(d) <= reach, axis=1)
    modes: list[Mode] = []
    seen: set[tuple] = set()
    in_a_mode: set[tuple[int, int]] = set()
    for k in np.flatnonzero(inside):
        if (int(i[k]), int(j[k])) in in_a_mode:  # that pair already converged to a mode
            continue
        seed = np.clip(d[k], -np.asarray(prior.max_px), np.asarray(prior.max_px))
        mode = _refine(prob, prior, tables, log_lambda, seed)
        if mode is None:
            continue
        key = tuple(sorted(mode.pairs))
        if key in seen:
            continue
        seen.add(key)
        in_a_mode.update(key)
        modes.append(mode)
    modes.sort(key=lambda m: -m.log_evidence)
    logs = np.array([m.log_evidence for m in modes] + [log_null])
    top = float(np.max(logs))
    total = top + math.log(float(np.sum(np.exp(logs - top))))
    weights = np.exp(logs[:-1] - total)
    reg = Registration(
        False,
        modes=modes,
        weights=weights,
        log_evidence_null=log_null,
        log_evidence=total,
        _null_grid=grid,
    )
    if not modes:
        reg.reason = "no detection matches a known hot spot"
        return reg
    best = modes[0]
    agree = np.array(
        [_mahalanobis2(m.offset_px - best.offset_px, m.cov_px + best.cov_px) <= 9.0 for m in modes]
    )
    reg.false_match_prob = float(np.clip(1.0 - np.sum(weights[agree]), 0.0, 1.0))
    reg.offset_px = (float(best.offset_px[0]), float(best.offset_px[1]))
    reg.n_matches = best.n_matches
    reg.pairs = best.pairs
    # the fit's covariance rescaled by the matched residuals' variance factor (ν₀ = 4), pair by pair
    chi2 = 0.0
    for (di, aj), w in zip(best.pairs, best.weights, strict=True):
        r = prob.det_xy[di] - prob.anc_xy[aj, prob.det_band[di]] - best.offset_px
        chi2 += float(r @ w @ r)
    s2 = (chi2 + 4.0) / (max(2 * len(best.pairs) - 2, 0) + 4.0)
    p_inv = np.diag(1.0 / np.square(np.asarray(prior.sigma_px, dtype=float)))
    shared = best.cov_px - best.fit_cov_px
    reg.cov_px = np.linalg.inv(sum(best.weights) / s2 + p_inv) + shared + np.eye(2) * floor_px**2
    if best.n_matches < min_matches:
        reg.reason = f"only {best.n_matches} known hot spot matched (≥ {min_matches} needed)"
    elif not _survives_leave_one_out(best, prior):
        reg.reason = f"rests on one match ({best.n_matches} matched, the others barely constrain the offset)"
    elif reg.false_match_prob > max_false_match_prob:
        reg.reason = (
            f"ambiguous: false-match probability {reg.false_match_prob:.2g} > {max_false_match_prob:g} "
            f"({best.n_matches} matches)"
        )
    else:
        reg.ok = True
    return reg


#: a registration must not rest on one match: without any single one, the offset's error may grow by at most
#: this factor (along its worst direction)
LEAVE_ONE_OUT_FACTOR = 3.0


def _survives_leave_one_out(mode: Mode, prior: PointingPrior) -> bool:
    """True when dropping any one matched pair leaves the offset constrained (error ≤
    :data:`LEAVE_ONE_OUT_FACTOR` × the full fit's): ≥ 2 matches that each carry the registration."""
    if mode.weights is None or len(mode.weights) < 2:
        return False
    p_inv = np.diag(1.0 / np.square(prior.sigma_px))
    h = mode.weights.sum(axis=0) + p_inv
    worst_full = float(np.max(np.linalg.eigvalsh(np.linalg.inv(h))))
    for w in mode.weights:
        worst = float(np.max(np.linalg.eigvalsh(np.linalg.inv(h - w))))
        if worst > LEAVE_ONE_OUT_FACTOR**2 * worst_full:
            return False
    return True


def _mahalanobis2(d: np.ndarray, cov: np.ndarray) -> float:
    return float(d @ np.linalg.solve(cov, d))


def _shared_cov(prob: MatchProblem, mode: Mode) -> np.ndarray:
    """The matched anchors' shared errors (one per group, weighted by the group's share of the matches)."""
    if prob.anc_shared_cov is None or not mode.pairs:
        return np.zeros((2, 2))
    groups: dict = {}
    for i, j in mode.pairs:
        groups.setdefault(prob.anc_group[j], []).append((i, j))
    n = len(mode.pairs)
    out = np.zeros((2, 2))
    for pairs in groups.values():
        i, j = pairs[0]
        out += (len(pairs) / n) ** 2 * prob.anc_shared_cov[j, prob.det_band[i]]
    return out
