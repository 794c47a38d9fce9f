"""Registration without a limb: match a frame's detections to hot spots whose positions are known.

The pointing error is a shift o = (sample, line) of the whole scene, observed − predicted, with a prior
(:class:`ioscan.instruments.PointingPrior`: a Gaussian truncated at a bound, large along track). Anchors
(:mod:`ioscan.geometry.anchors`) are predicted at pixels p_j of their band; detections sit at x_i.

Model (a point-process likelihood, as multi-target trackers score an association): given o, anchor j in
view is detected with probability P_d,j, at x = p_j + o + error, the error Gaussian with the detection's
centroid covariance plus the anchor's position covariance mapped to pixels (a core and a wider tail); every
other detection is clutter, uniform over the frame with density λ (unknown hot spots, unflagged artefacts;
taken as all detections over the frame's area, which makes matches harder to believe, not easier). For an
assignment A of detections to anchors,

    ln L(o, A) = Σ_{j in view} ln(1 − P_d,j)
                 + Σ_{(i,j) in A} [ln P_d,j − ln(1 − P_d,j) + ln N(x_i − p_j − o) − ln λ],

so an offset that puts anchors that should have been seen in the frame where nothing was detected is
penalised, and a match counts only where it beats clutter. P_d,j (``MatchProblem.anc_pd``) is the chance
that anchor j would be detected in this frame: from its catalogue brightness, the frame's range and
emission angle and the band's noise (:mod:`ioscan.geometry.detectability`; a far frame's ~150 anchors in
view are mostly far too faint to be seen, and a P_d of 0.5 for all of them made every offset that puts the
disk in the 128-line frame pay ~100 nats that offsets pushing it out do not). The "nothing matched"
hypothesis uses the same P_d,j.

Search: every detection–anchor pair whose offset lies inside the prior seeds a mode; each mode alternates a
greedy assignment (pairs of positive score, one-to-one) with a weighted least-squares offset (with the prior)
until the assignment is stable. Each mode's posterior mass is its Laplace evidence; the "nothing matched"
hypothesis is the prior integrated with the missed-anchor terms on a grid. The posterior probability that
the best mode is wrong is the **false-match probability**: one minus the mass of the modes that agree with
it (within 3σ). A frame is registered when the best mode has ≥ ``min_matches`` distinct anchors and a
false-match probability ≤ ``max_false_match_prob``; otherwise :meth:`Registration.sample` draws offsets from
the whole posterior (the modes and the unmatched prior), which is what an unregistered frame's error bars
use.

The registered offset's covariance: the stated pair covariances (centroid errors with their matching floor,
anchors' position errors) are an upper guess — a far frame's 30–90 matched pairs scatter about their fit
with χ²/dof 0.2–0.9, so the fit's covariance alone overstated the offset's error (campaign pulls 0.56–0.89
per seed without any floor). The best mode's fit covariance is therefore rescaled by the variance factor the
matched residuals measure, s² = (χ² + ν₀) / (2k − 2 + ν₀) (k matched pairs, χ² with the pairs' weights;
ν₀ = :data:`RESIDUAL_SCALE_PRIOR_DOF`: the stated covariances count as that many degrees of freedom, so two
or three matches barely move it), the prior kept as it is; the shared errors and the floor are added after.
Decisions (modes, false-match probability, leave-one-out) use the stated covariances.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import erf

from ioscan.instruments.base import PointingPrior

LOG_2PI = math.log(2.0 * math.pi)
#: seed offsets refined together (memory ∝ chunk × pairs near an offset); seeds covered by the modes of
#: earlier chunks are not refined
SEED_CHUNK = 512
#: ν₀ of the residual variance factor s² = (χ² + ν₀) / (2k − 2 + ν₀) that rescales a registration's fit
#: covariance: the weight, in degrees of freedom, of the stated pair covariances against the matched
#: residuals. Campaign seeds 20261208 / 7 / 13 (30 registrations): offsets' pulls rms 0.81 without it (and
#: no floor), 0.97 / 1.01 / 0.94 with ν₀ = 4 / 2 / 8
RESIDUAL_SCALE_PRIOR_DOF = 4.0


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
        residual_scale2: the variance factor s² of the best mode's matched residuals that scaled its fit
            covariance in ``cov_px`` (module docstring; 1 without a mode).
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
    residual_scale2: float = 1.0
    _null_grid: tuple[np.ndarray, np.ndarray] | None = None

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 2) offsets drawn from the posterior: the modes (Gaussians) and, with the null's weight, the
        prior weighted by the missed-anchor terms (grid cells, jittered within a cell)."""
        w = np.append(self.weights, max(1.0 - float(np.sum(self.weights)), 0.0))
        k = rng.choice(len(w), size=n, p=w / float(np.sum(w)))
        out = np.empty((n, 2))
        for m in np.unique(k[k < len(self.modes)]):  # the modes drawn, in order (as a loop over all)
            sel = k == m
            mode = self.modes[m]
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
    """(..., m, B) anchors inside each band's image at ``offset`` (2,) or offsets (..., 2)."""
    o = np.asarray(offset, dtype=float)[..., None, None, :]
    xy = prob.anc_xy + o
    ns, nl = prob.band_shape[:, 0], prob.band_shape[:, 1]
    with np.errstate(invalid="ignore"):
        inside = (xy[..., 0] >= -0.5) & (xy[..., 0] <= ns - 0.5) & (xy[..., 1] >= -0.5)
        return inside & (xy[..., 1] <= nl - 0.5)


def _missed(prob: MatchProblem, offset) -> np.ndarray:
    """Σ ln(1 − P_d) over anchors in view at ``offset`` (2,) or each of offsets (S, 2) (each anchor counted
    once, in whichever band shows it)."""
    o = np.asarray(offset, dtype=float)
    if o.ndim == 1:
        return _missed(prob, o[None])[0]
    from ioscan.geometry.matcher_kernels import in_view_any

    c = np.log1p(-prob.anc_pd)
    out = np.empty(len(o))
    chunk = max(1, 2_000_000 // max(prob.anc_xy.size, 1))  # the same products as _missed_numpy
    anc_xy = np.ascontiguousarray(prob.anc_xy, dtype=np.float64)
    ns_hi, nl_hi = (np.ascontiguousarray(prob.band_shape[:, k] - 0.5, dtype=np.float64) for k in (0, 1))
    o = np.ascontiguousarray(o, dtype=np.float64)
    for s in range(0, len(o), chunk):
        out[s : s + chunk] = in_view_any(anc_xy, ns_hi, nl_hi, o[s : s + chunk]) @ c
    return out


def _missed_numpy(prob: MatchProblem, offset) -> np.ndarray:
    """:func:`_missed` with numpy's whole-array operations (the reference the compiled kernel equals)."""
    o = np.asarray(offset, dtype=float)
    if o.ndim == 1:
        return _missed_numpy(prob, o[None])[0]
    c = np.log1p(-prob.anc_pd)
    out = np.empty(len(o))
    chunk = max(1, 2_000_000 // max(prob.anc_xy.size, 1))  # bounded memory for many offsets
    for s in range(0, len(o), chunk):
        out[s : s + chunk] = _in_view(prob, o[s : s + chunk]).any(axis=-1) @ c
    return out


@dataclass
class _Pairs:
    """Every (detection, anchor) pair seen in one band, with the parts of its score that do not depend on
    the offset (K pairs; pair k is (i[k], j[k]), in lexicographic (i, j) order).

    The score of pair k at offset o, with r = d − o and q = rᵀC⁻¹r, is
    ``gain = gain0 + ln[exp(lc0 − q/2) + exp(lt0 − q/(2·tail2))]`` (core and tail of the mixture), > 0 only
    where q < ``q_max`` and so only where |r| < ``reach`` (−1: never): a search looks only at the pairs near
    an offset.
    """

    i: np.ndarray
    j: np.ndarray
    b: np.ndarray
    d: np.ndarray  #: (K, 2) detection − anchor, px
    cov: np.ndarray  #: (K, 2, 2) px²
    inv: tuple[np.ndarray, np.ndarray, np.ndarray]  #: (a, b, c) of C⁻¹ = [[a, b], [b, c]], px⁻²
    tail2: np.ndarray  #: (tail σ / core σ)²
    lc0: np.ndarray  #: ln(1 − f) − ½ ln det C − ln 2π
    lt0: np.ndarray  #: ln f − ½ ln(det C · tail2²) − ln 2π
    gain0: np.ndarray  #: ln P_d − ln(1 − P_d) − ln λ
    ci: np.ndarray  #: detection cluster of the pair
    sj: np.ndarray  #: anchor source of the pair
    q_max: np.ndarray  #: q beyond which the gain is ≤ 0 (a hair above the root; −1: never > 0)
    reach: np.ndarray  #: px

    def q_form(self, k: np.ndarray, r0: np.ndarray, r1: np.ndarray) -> np.ndarray:
        """q = rᵀC⁻¹r of residuals (r0, r1) of pairs k (closed-form 2×2 algebra)."""
        a, b, c = self.inv
        return a[k] * r0 * r0 + 2.0 * b[k] * r0 * r1 + c[k] * r1 * r1

    def log_density(self, k: np.ndarray, q: np.ndarray) -> np.ndarray:
        """ln of the core/tail mixture density of pairs k at q (px⁻²): :meth:`log_mix`'s first part alone."""
        lc = self.lc0[k] - 0.5 * q
        lt = self.lt0[k] - 0.5 * q / self.tail2[k]
        return np.logaddexp(lc, lt)

    def log_mix(self, k: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ln of the core/tail mixture density of pairs k at q (px⁻²), and the core responsibility."""
        lc = self.lc0[k] - 0.5 * q
        lt = self.lt0[k] - 0.5 * q / self.tail2[k]
        total = np.logaddexp(lc, lt)
        return total, np.exp(lc - total)


def _pair_tables(prob: MatchProblem, log_lambda: float) -> _Pairs:
    """The pairs of detections and anchors in the same band (anchors facing away dropped), with their
    offset d = x − p, combined covariance and constant score terms."""
    i, j = np.meshgrid(np.arange(prob.n_det), np.arange(prob.n_anc), indexing="ij")
    i, j = i.ravel(), j.ravel()
    b = prob.det_band[i]
    p = prob.anc_xy[j, b]
    ok = np.all(np.isfinite(p), axis=1)
    i, j, b, p = i[ok], j[ok], b[ok], p[ok]
    d = prob.det_xy[i] - p
    cov = prob.det_cov[i] + prob.anc_cov[j, b]
    c00, c01, c11 = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    det = c00 * c11 - c01 * c01
    inv = (c11 / det, -c01 / det, c00 / det)
    tail2 = prob.anc_tail_scale[j] ** 2
    frac = prob.anc_tail_fraction[j]
    lc0 = np.log1p(-frac) - 0.5 * np.log(det) - LOG_2PI
    lt0 = np.log(np.maximum(frac, 1e-300)) - 0.5 * np.log(det * tail2**2) - LOG_2PI
    gain0 = np.log(prob.anc_pd[j]) - np.log1p(-prob.anc_pd[j]) - log_lambda
    q_max = _gain_root(lc0, lt0, tail2, gain0)
    lam = 0.5 * (c00 + c11) + np.sqrt(0.25 * (c00 - c11) ** 2 + c01 * c01)  # largest eigenvalue of C
    with np.errstate(invalid="ignore"):
        reach = np.where(q_max >= 0, np.sqrt(lam * np.maximum(q_max, 0.0)) * (1.0 + 1e-9) + 1e-9, -1.0)
    reach = np.where(np.isfinite(reach), reach, -1.0)
    return _Pairs(
        i, j, b, d, cov, inv, tail2, lc0, lt0, gain0, prob.det_cluster[i], prob.anc_source[j], q_max, reach
    )


#: bisection steps of :func:`_gain_root` (40 before 2026-12-07: the same pairs of positive gain, ×0.35 of its
#: cost, ~4 ms on a far frame's 14,550 pairs)
GAIN_ROOT_STEPS = 14
#: candidates are looked up again for a seed that moved farther than this from its last look-up, px
LOOKUP_MARGIN_PX = 0.5


def _gain_root(lc0, lt0, tail2, gain0) -> np.ndarray:
    """Per pair, a q a hair above the root of gain(q) = 0 (gain falls with q), −1 where gain(0) ≤ 0.

    Bracketed by one mixture term alone reaching e^(−gain0) (below the root) and each term reaching half of
    it (above), then bisected :data:`GAIN_ROOT_STEPS` times; the upper end is kept, so gain ≤ 0 beyond it.
    Only a bound is needed (the pairs within it are scored exactly and kept where their gain is > 0): the
    bracket, at most 2 ln 2 · max(1, tail²) wide, ends within 2⁻¹⁴ of that above the root."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.maximum(2.0 * (lc0 + gain0), 2.0 * tail2 * (lt0 + gain0))
        hi = np.maximum(2.0 * (lc0 + gain0 + math.log(2.0)), 2.0 * tail2 * (lt0 + gain0 + math.log(2.0)))
        lo = np.maximum(lo, 0.0)
        never = ~(np.logaddexp(lc0, lt0) + gain0 > 0)
        hi = np.where(never | ~np.isfinite(hi), 0.0, hi)
        lo = np.minimum(np.where(np.isfinite(lo), lo, 0.0), hi)
        for _ in range(GAIN_ROOT_STEPS):
            mid = 0.5 * (lo + hi)
            pos = np.logaddexp(lc0 - 0.5 * mid, lt0 - 0.5 * mid / tail2) + gain0 > 0
            lo, hi = np.where(pos, mid, lo), np.where(pos, hi, mid)
    return np.where(never, -1.0, hi * (1.0 + 1e-9) + 1e-9)


# --------------------------------------------------------------------------------------------------- modes
def _pick(es: np.ndarray, ek: np.ndarray, gain: np.ndarray, ci: np.ndarray, sj: np.ndarray, n_seed: int):
    """The greedy matching of entries (seed ``es`` < ``n_seed``, pair ``ek``) with the pairs' clusters
    ``ci`` and sources ``sj`` (int64, per pair): the indices of the entries taken, in
    :func:`_greedy_numpy`'s order (compiled: :func:`ioscan.geometry.matcher_kernels.greedy_pick`)."""
    from ioscan.geometry.matcher_kernels import greedy_pick

    n_c, n_s = int(ci.max(initial=0)) + 1, int(sj.max(initial=0)) + 1
    return greedy_pick(es, ek, gain, ek, ci, sj, n_c, n_s, n_seed)


def _pick_numpy(es, ek, gain, ci, sj, n_seed: int) -> np.ndarray:
    """:func:`_pick` with numpy (the reference)."""
    return _greedy_numpy(es, ek, gain, ci[ek], sj[ek])


def _within(cand_s: np.ndarray, cand_k: np.ndarray, o: np.ndarray, tables: tuple):
    """The candidates (seed ``cand_s``, pair ``cand_k``) whose q = rᵀC⁻¹r at their seed's offset ``o``
    is ≤ the pair's ``q_max``, in their order: (seeds, pairs, q). ``tables``: the pairs' (d_sample,
    d_line, a, b, c, q_max), contiguous float64 (compiled: :func:`_within_numpy`'s numbers)."""
    from ioscan.geometry.matcher_kernels import pairs_within

    return pairs_within(cand_s, cand_k, *tables[:2], o, *tables[2:])


def _within_numpy(cand_s, cand_k, o, tables):
    """:func:`_within` with numpy (the reference)."""
    d0, d1, a, b, c, q_max = tables
    r0 = d0[cand_k] - o[cand_s, 0]
    r1 = d1[cand_k] - o[cand_s, 1]
    q = a[cand_k] * r0 * r0 + 2.0 * b[cand_k] * r0 * r1 + c[cand_k] * r1 * r1
    near = np.flatnonzero(q <= q_max[cand_k])
    return cand_s[near], cand_k[near], q[near]


def _scored(cand_s: np.ndarray, cand_k: np.ndarray, o: np.ndarray, tables: tuple):
    """The candidates (seed ``cand_s``, pair ``cand_k``) within reach (:func:`_within`) whose gain at their
    seed's offset ``o`` is > 0, in their order: (seeds, pairs, q, gain). ``tables``: the pairs' (d_sample,
    d_line, a, b, c, q_max, lc0, lt0, tail2, gain0), contiguous float64 (compiled, one pass:
    :func:`_scored_numpy`'s numbers bit for bit)."""
    from ioscan.geometry.matcher_kernels import pairs_gain

    return pairs_gain(cand_s, cand_k, *tables[:2], o, *tables[2:])


def _scored_numpy(cand_s, cand_k, o, tables):
    """:func:`_scored` with numpy (the reference): :func:`_within_numpy`, then the gains of
    :meth:`_Pairs.log_density`, the positive ones kept."""
    es, ek, q = _within_numpy(cand_s, cand_k, o, tables[:6])
    lc0, lt0, tail2, gain0 = tables[6:]
    gain = gain0[ek] + np.logaddexp(lc0[ek] - 0.5 * q, lt0[ek] - 0.5 * q / tail2[ek])
    pos = np.flatnonzero(gain > 0)
    return es[pos], ek[pos], q[pos], gain[pos]


def _greedy_numpy(
    seed: np.ndarray, k: np.ndarray, gain: np.ndarray, ci: np.ndarray, sj: np.ndarray
) -> np.ndarray:
    """Per seed, one-to-one pairs best first (one per detection cluster ``ci`` and per anchor source
    ``sj``) among scored pairs ``k`` (all of positive gain): indices of the taken ones (in no order).

    Sequential greedy matching (best gain first; ties: the lower pair index) equals the "locally dominant"
    one: a pair is taken once it is the best left in both its cluster and its source, and the pairs it
    conflicts with are dropped; repeat. Done in rounds over every seed at once, on dense (seed, cluster)
    and (seed, source) tables (usually one round)."""
    n_c, n_s = int(ci.max(initial=0)) + 1, int(sj.max(initial=0)) + 1
    n_seed = int(seed.max(initial=-1)) + 1
    kc = seed.astype(np.int64) * n_c + ci
    ks = seed.astype(np.int64) * n_s + sj
    alive = np.arange(len(k))
    taken = []
    while len(alive):
        dom = _best_in_group(kc[alive], n_seed * n_c, gain[alive], k[alive])
        dom &= _best_in_group(ks[alive], n_seed * n_s, gain[alive], k[alive])
        taken.append(alive[dom])
        used_c = np.zeros(n_seed * n_c, dtype=bool)
        used_c[kc[alive[dom]]] = True
        used_s = np.zeros(n_seed * n_s, dtype=bool)
        used_s[ks[alive[dom]]] = True
        alive = alive[~(used_c[kc[alive]] | used_s[ks[alive]])]
    return np.concatenate(taken) if taken else alive


def _best_in_group(group: np.ndarray, n_groups: int, gain: np.ndarray, k: np.ndarray) -> np.ndarray:
    """True for the best entry of each group: highest gain, then lowest pair index ``k``."""
    # canonical dtypes: ufunc.at's fast loop is skipped for an equal but distinct dtype object (unpickled
    # arrays have one), which makes it ~25× slower
    gain, k, group = gain.view(np.float64), k.view(np.int64), group.view(np.int64)
    best = np.full(n_groups, -np.inf)
    np.maximum.at(best, group, gain)
    top = gain == best[group]
    low = np.full(n_groups, np.iinfo(np.int64).max)
    np.minimum.at(low, group[top], k[top])
    return top & (k == low[group])


#: a reach class's grid has at most this many cells per pair, or :data:`GRID_MIN_CELLS` (larger cells then)
GRID_CELLS_PER_PAIR = 4
GRID_MIN_CELLS = 4096


def _grid_cell(x: np.ndarray, y: np.ndarray, cell: float) -> float:
    """The side of :class:`_PairIndex`'s grid cells over points (x, y): ``cell`` (px), or larger where that
    would make more than max(:data:`GRID_CELLS_PER_PAIR` · n, :data:`GRID_MIN_CELLS`) cells (a sparse class
    spread over the frame; any side finds the same pairs)."""
    span_x, span_y = float(np.ptp(x)), float(np.ptp(y))
    most = max(GRID_CELLS_PER_PAIR * len(x), GRID_MIN_CELLS)
    while (span_x / cell + 1.0) * (span_y / cell + 1.0) > most:
        cell *= 2.0
    return cell


class _PairIndex:
    """Which pairs may score > 0 near given offsets: the pair offsets d in classes of ``reach`` (within a
    factor 1.25), each class on a uniform grid of cells its largest reach + :data:`LOOKUP_MARGIN_PX` wide
    (:func:`_grid_cell`), searched to that reach (:func:`ioscan.geometry.matcher_kernels.grid_near`; k-d
    trees, one per class, before 2026-12-07: the same pairs, found in another order, at ~0.6 of the cost)."""

    def __init__(self, pairs: _Pairs):
        from ioscan.geometry.matcher_kernels import grid_cells

        self.pairs = pairs
        usable = np.flatnonzero(pairs.reach >= 0)
        reach = pairs.reach[usable]
        self.classes: list[tuple[tuple, np.ndarray, float]] = []
        if len(usable):
            cls = np.floor(np.log(reach / reach.min()) / math.log(1.25)).astype(int)
            for c in np.unique(cls):
                members = usable[cls == c]
                top = float(pairs.reach[members].max())
                x, y = (np.ascontiguousarray(pairs.d[members, k], dtype=np.float64) for k in (0, 1))
                cell = _grid_cell(x, y, top + LOOKUP_MARGIN_PX)
                self.classes.append(((x, y, cell, *grid_cells(x, y, cell)), members, top))
        self.empty = not self.classes

    def near(self, offsets: np.ndarray, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(offset index, pair index) of the pairs within their class's reach + ``margin`` of each offset."""
        from ioscan.geometry.matcher_kernels import grid_near

        if len(offsets) == 0 or self.empty:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        qx, qy = (np.ascontiguousarray(offsets[:, k], dtype=np.float64) for k in (0, 1))
        out_i, out_k = [], []
        for grid, members, reach in self.classes:
            hit_i, hit_k = grid_near(qx, qy, *grid, reach + margin)
            out_i.append(hit_i.astype(np.intp))
            out_k.append(members[hit_k])
        return np.concatenate(out_i), np.concatenate(out_k)


@dataclass
class _Solutions:
    """Converged solutions of many seeds (S) at once.

    ``ok[s]``: seed s reached a mode; its matched pairs are ``pair[start[s]:start[s + 1]]`` (best first),
    with weights ``w[start[s]:start[s + 1]]`` (n, 2, 2); ``offset``, ``fit_cov``, ``shared_cov`` (S, 2, 2),
    ``log_evidence`` and ``n_matches`` per seed."""

    ok: np.ndarray
    offset: np.ndarray
    pair: np.ndarray
    start: np.ndarray
    w: np.ndarray
    fit_cov: np.ndarray
    shared_cov: np.ndarray
    log_evidence: np.ndarray
    n_matches: np.ndarray


def _weighted(pairs: _Pairs, seed, k, q, n_seeds: int, p_inv: np.ndarray):
    """Per-pair weights (a, b, c) of the core/tail mixture at q, their per-seed sums H (with the prior) and
    Σ w·d, and ln of the mixture densities."""
    lmix, resp = pairs.log_mix(k, q)
    scale = resp + (1.0 - resp) / pairs.tail2[k]
    wa, wb, wc = (x[k] * scale for x in pairs.inv)
    d0, d1 = pairs.d[k, 0], pairs.d[k, 1]
    h00 = np.bincount(seed, wa, n_seeds) + p_inv[0]
    h01 = np.bincount(seed, wb, n_seeds)
    h11 = np.bincount(seed, wc, n_seeds) + p_inv[1]
    g0 = np.bincount(seed, wa * d0 + wb * d1, n_seeds)
    g1 = np.bincount(seed, wb * d0 + wc * d1, n_seeds)
    return (wa, wb, wc), (h00, h01, h11), (g0, g1), lmix


def _refine_all(prob, prior, index: _PairIndex, seeds: np.ndarray, max_iter: int = 6) -> _Solutions:
    """Every seed offset (S, 2) refined at once: alternate the greedy assignment (pairs of positive gain)
    with the weighted least-squares offset (with the prior) until the assignment is stable and the offset
    moves < 1e-3 px (at most ``max_iter`` times); then each solution's Laplace evidence.

    Each seed's path is its own (the seeds do not interact), so the result is the one a seed-by-seed loop
    gives; only pairs within their ``reach`` of an offset are scored (:class:`_PairIndex`)."""
    pairs = index.pairs
    n = len(seeds)
    p_inv = 1.0 / np.square(np.asarray(prior.sigma_px, dtype=float))
    o = np.array(seeds, dtype=float).reshape(n, 2)
    ok = np.zeros(n, dtype=bool)
    fin: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [(np.zeros(0, np.intp),) * 2 + (np.zeros(0),)]
    if n and not index.empty:
        _iterate(index, o, ok, fin, p_inv, max_iter)
    es, ek, gain = (np.concatenate(x) for x in zip(*fin, strict=True))
    order = np.lexsort((ek, -gain, es))  # by seed, then as the greedy took them (best gain first)
    es, ek = es[order], ek[order]
    ok &= np.all(np.isfinite(o), axis=1)
    lp = np.full(n, -np.inf)
    lp[ok] = log_prior(o[ok], prior)
    ok &= np.isfinite(lp)
    sel = ok[es]
    es, ek = es[sel], ek[sel]
    q = pairs.q_form(ek, pairs.d[ek, 0] - o[es, 0], pairs.d[ek, 1] - o[es, 1])
    (wa, wb, wc), (h00, h01, h11), _, lmix = _weighted(pairs, es, ek, q, n, p_inv)
    score = np.bincount(es, pairs.gain0[ek] + lmix, n)
    det_h = h00 * h11 - h01 * h01
    with np.errstate(invalid="ignore", divide="ignore"):
        fit_cov = np.stack([np.stack([h11, -h01], -1), np.stack([-h01, h00], -1)], -2) / det_h[:, None, None]
        log_ev = lp + score + LOG_2PI - 0.5 * np.log(det_h)
    log_ev[ok] += _missed(prob, o[ok])
    w = np.stack([np.stack([wa, wb], -1), np.stack([wb, wc], -1)], -2)
    start = np.concatenate([[0], np.cumsum(np.bincount(es, minlength=n))])
    n_s = int(pairs.sj.max(initial=0)) + 1
    sources = np.unique(es.astype(np.int64) * n_s + pairs.sj[ek])
    n_matches = np.bincount(sources // n_s, minlength=n)
    shared = _shared_cov(prob, pairs, es, ek, n)
    return _Solutions(ok, o, ek, start, w, fit_cov, shared, log_ev, n_matches)


def _iterate(index: _PairIndex, o, ok, fin: list, p_inv, max_iter: int) -> None:
    """The iterations of :func:`_refine_all`: updates the offsets ``o`` in place, marks the seeds that
    reached a solution in ``ok`` and appends their assignments (seed, pair, gain) to ``fin``."""
    pairs = index.pairs
    n = len(o)
    d0, d1 = np.ascontiguousarray(pairs.d[:, 0]), np.ascontiguousarray(pairs.d[:, 1])
    per_pair = (*pairs.inv, pairs.q_max, pairs.lc0, pairs.lt0, pairs.tail2, pairs.gain0)
    tables = (d0, d1, *(np.ascontiguousarray(x, dtype=np.float64) for x in per_pair))
    ci, sj = (np.ascontiguousarray(x, dtype=np.int64) for x in (pairs.ci, pairs.sj))
    margin = LOOKUP_MARGIN_PX
    # an assignment is compared with the previous one by its size and a 64-bit random hash of its pairs
    # (summed, wrapping): two different sets agree with probability 2⁻⁶⁴
    pair_hash = np.random.default_rng(0).integers(0, 2**63, len(pairs.d), dtype=np.uint64)
    old_hash, old_count = np.zeros(n, np.uint64), np.zeros(n, np.intp)
    centre = o.copy()
    alive = np.ones(n, dtype=bool)
    cand_s = cand_k = np.zeros(0, dtype=np.intp)
    for it in range(max_iter):
        act = np.flatnonzero(alive)
        if len(act) == 0:
            return
        # candidate pairs within reach + margin of a look-up centre (again for seeds that moved farther)
        req = act if it == 0 else act[np.hypot(*(o[act] - centre[act]).T) > margin]
        moved = np.zeros(n, dtype=bool)
        moved[req] = True
        keep = alive[cand_s] & ~moved[cand_s]
        cand_s, cand_k = cand_s[keep], cand_k[keep]
        if len(req):
            centre[req] = o[req]
            qi, qk = index.near(o[req], margin)
            cand_s = np.concatenate([cand_s, req[qi]])
            cand_k = np.concatenate([cand_k, qk])
        # exact gains of the pairs below their q_max, then the greedy assignment of each seed
        es, ek, q, gain = _scored(cand_s, cand_k, o, tables)
        pick = _pick(es, ek, gain, ci, sj, n)
        es, ek, q, gain = es[pick], ek[pick], q[pick], gain[pick]
        count = np.bincount(es, minlength=n)
        alive &= count > 0  # nothing of positive gain: that seed leads nowhere
        act = np.flatnonzero(alive)
        _, (h00, h01, h11), (g0, g1), _ = _weighted(pairs, es, ek, q, n, p_inv)
        h00, h01, h11, g0, g1 = h00[act], h01[act], h11[act], g0[act], g1[act]
        det = h00 * h11 - h01 * h01
        o_new = np.column_stack([(h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det])
        # converged: the same assignment as before and an offset that moved < 1e-3 px (as np.allclose)
        new_hash = np.zeros(n, np.uint64)
        np.add.at(new_hash, es, pair_hash[ek])
        same = (new_hash[act] == old_hash[act]) & (count[act] == old_count[act])
        close = np.all(np.abs(o_new - o[act]) <= 1e-3 + 1e-5 * np.abs(o[act]), axis=1)
        o[act] = o_new
        old_hash, old_count = new_hash, count
        done = np.zeros(n, dtype=bool)
        done[act[close & same]] = True
        if it == max_iter - 1:
            done[act] = True  # out of iterations: the last solution stands
        last = done[es]
        fin.append((es[last], ek[last], gain[last]))
        ok[done] = True
        alive[done] = False


def _shared_cov(prob: MatchProblem, pairs: _Pairs, es, ek, n: int) -> np.ndarray:
    """(n, 2, 2) the matched anchors' shared errors of each solution (one per anchor group, weighted by the
    group's share of the matches, taken at the group's first pair): anchors sharing an error (the
    detections of one registered frame) move the offset together, however many of them match."""
    out = np.zeros((n, 2, 2))
    if prob.anc_shared_cov is None or len(es) == 0:
        return out
    labels = prob.anc_group if len(prob.anc_group) == prob.n_anc else np.arange(prob.n_anc)
    codes = np.unique(labels.astype(str), return_inverse=True)[1].ravel()
    n_g = int(codes.max()) + 1
    key = es.astype(np.int64) * n_g + codes[pairs.j[ek]]
    _, first, count = np.unique(key, return_index=True, return_counts=True)
    total = np.bincount(es, minlength=n)
    k = ek[first]
    part = (count / total[es[first]])[:, None, None] ** 2 * prob.anc_shared_cov[pairs.j[k], pairs.b[k]]
    np.add.at(out, es[first], part)
    return out


#: the null's grid of a prior (:func:`_prior_grid`), by the prior's σ and bound, most recent last
_PRIOR_GRIDS: dict[tuple, tuple] = {}
PRIOR_GRIDS_KEPT = 8


def _prior_grid(prior: PointingPrior):
    """(step, offsets along samples, along lines, every (sample, line) offset, ln prior there) of the grid
    :func:`_null_evidence` integrates over, kept per prior (σ and bound: every frame of an instrument's
    geometry source has the same); the arrays read-only."""
    key = (*map(float, prior.sigma_px), *map(float, prior.max_px))
    hit = _PRIOR_GRIDS.pop(key, None)
    if hit is None:
        step = (
            max(min(prior.sigma_px[0] / 4, 1.0), 0.25),
            max(min(prior.sigma_px[1] / 4, 1.0), 0.25),
        )
        gs = np.arange(-prior.max_px[0], prior.max_px[0] + 1e-9, step[0])
        gl = np.arange(-prior.max_px[1], prior.max_px[1] + 1e-9, step[1])
        oo = np.stack(np.meshgrid(gs, gl, indexing="ij"), -1).reshape(-1, 2)
        lp = log_prior(oo, prior)
        for a in (gs, gl, oo, lp):
            a.setflags(write=False)
        hit = (step, gs, gl, oo, lp)
    _PRIOR_GRIDS[key] = hit
    while len(_PRIOR_GRIDS) > PRIOR_GRIDS_KEPT:
        del _PRIOR_GRIDS[next(iter(_PRIOR_GRIDS))]
    return hit


def _null_evidence(prob, prior):
    """ln ∫ prior · Π_{in view}(1 − P_d) over a grid of the prior's box, and the grid (for sampling).

    An anchor is in a band's view on a rectangle of offsets, so the missed-anchor sum over the grid is a
    sum of outer products (inclusion–exclusion over the bands for anchors two bands could show at once)."""
    step, gs, gl, oo, lp = _prior_grid(prior)
    if prob.n_anc:
        c = np.log1p(-prob.anc_pd)
        x, y = prob.anc_xy[..., 0, None], prob.anc_xy[..., 1, None]  # (m, B, 1)
        ns, nl = prob.band_shape[:, 0, None], prob.band_shape[:, 1, None]
        with np.errstate(invalid="ignore"):
            in_s = (x + gs >= -0.5) & (x + gs <= ns - 0.5)  # (m, B, n_s)
            in_l = (y + gl >= -0.5) & (y + gl <= nl - 0.5)
        miss = np.zeros((len(gs), len(gl)))
        n_b = prob.anc_xy.shape[1]
        for size in range(1, n_b + 1):
            for bands in itertools.combinations(range(n_b), size):
                s_in = np.logical_and.reduce(in_s[:, bands], axis=1)
                l_in = np.logical_and.reduce(in_l[:, bands], axis=1)
                if s_in.any() and l_in.any():
                    miss += (-1.0) ** (size + 1) * ((s_in * c[:, None]).T @ l_in)
        miss = miss.ravel()
    else:
        miss = np.zeros(len(oo))
    lw = lp + miss + math.log(step[0] * step[1])
    top = float(np.max(lw))
    w = np.exp(lw - top)
    total = float(np.sum(w))
    return top + math.log(total), (oo, w / total, np.array(step))


#: a mode is left out of a registration when its posterior weight is below this share of the total divided
#: by the number of modes (so all left out weigh < this share together), unless it is the best mode
NEGLIGIBLE_WEIGHT = 1e-12


def _modes_that_weigh(log_evidence: np.ndarray, log_null: float) -> np.ndarray:
    """True for the modes (log evidences ``log_evidence``) a registration keeps: the best (and its ties) and
    every mode within ln(1/:data:`NEGLIGIBLE_WEIGHT`) + ln(n) of the larger of the best and the null's
    ``log_null``. A mode left out has weight < NEGLIGIBLE_WEIGHT / n of the total (which is ≥ both), so the
    modes left out change the weights, the false-match probability and the total by < NEGLIGIBLE_WEIGHT;
    the best mode, its offset and matches are those of every mode."""
    if len(log_evidence) == 0:
        return np.zeros(0, dtype=bool)
    best = float(np.max(log_evidence))
    margin = -math.log(NEGLIGIBLE_WEIGHT) + math.log(len(log_evidence))
    return log_evidence >= min(best, max(best, log_null) - margin)


def _mode(pairs: _Pairs, sol: _Solutions, c: int) -> Mode:
    """The :class:`Mode` of solution ``c`` of ``sol``."""
    ks = sol.pair[sol.start[c] : sol.start[c + 1]]
    return Mode(
        offset_px=sol.offset[c].copy(),
        cov_px=sol.fit_cov[c] + sol.shared_cov[c],
        pairs=list(zip(pairs.i[ks].tolist(), pairs.j[ks].tolist(), strict=True)),
        log_evidence=float(sol.log_evidence[c]),
        n_matches=int(sol.n_matches[c]),
        fit_cov_px=sol.fit_cov[c].copy(),
        weights=sol.w[sol.start[c] : sol.start[c + 1]],
    )


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
    pairs = _pair_tables(prob, log_lambda)
    d = pairs.d
    reach = np.asarray(prior.max_px) + 3 * np.sqrt(np.diagonal(pairs.cov, axis1=1, axis2=2))
    seed_pairs = np.flatnonzero(np.all(np.abs(d) <= reach, axis=1))
    top = np.asarray(prior.max_px, dtype=float)
    seeds = np.clip(d[seed_pairs], -top, top)
    seed_pairs = seed_pairs.tolist()
    index = _PairIndex(pairs)
    # the seeds in order, as one at a time would go: a seed whose pair already converged to a mode is not
    # followed again, and a mode reached twice counts once; seeds are refined together in chunks, each
    # leaving out the seeds that the modes found so far cover
    found: list[tuple[_Solutions, int]] = []  # each new mode: its chunk's solutions and its place there
    seen: set[tuple] = set()
    in_a_mode: set[int] = set()
    for c0 in range(0, len(seed_pairs), SEED_CHUNK):
        chunk = [
            s for s in range(c0, min(c0 + SEED_CHUNK, len(seed_pairs))) if seed_pairs[s] not in in_a_mode
        ]
        sol = _refine_all(prob, prior, index, seeds[chunk])
        ok, start, matched = sol.ok.tolist(), sol.start.tolist(), sol.pair.tolist()  # Python's, per seed
        for c, s in enumerate(chunk):
            if not ok[c] or seed_pairs[s] in in_a_mode:
                continue
            key = tuple(sorted(matched[start[c] : start[c + 1]]))
            if key in seen:
                continue
            seen.add(key)
            in_a_mode.update(key)
            found.append((sol, c))
    log_ev = np.array([sol.log_evidence[c] for sol, c in found], dtype=float)
    keep = _modes_that_weigh(log_ev, log_null).tolist()
    modes = [_mode(pairs, sol, c) for (sol, c), kept in zip(found, keep, strict=True) if kept]
    modes.sort(key=lambda m: -m.log_evidence)
    logs = np.array([m.log_evidence for m in modes] + [log_null])
    top_log = float(np.max(logs))
    total = top_log + math.log(float(np.sum(np.exp(logs - top_log))))
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
    offsets = np.array([m.offset_px for m in modes]) - best.offset_px
    covs = np.array([m.cov_px for m in modes]) + best.cov_px
    agree = _mahalanobis2(offsets, covs) <= 9.0
    reg.false_match_prob = float(np.clip(1.0 - np.sum(weights[agree]), 0.0, 1.0))
    reg.offset_px = (float(best.offset_px[0]), float(best.offset_px[1]))
    reg.n_matches = best.n_matches
    reg.pairs = best.pairs
    reg.residual_scale2 = residual_variance_scale(prob, best)
    reg.cov_px = scaled_cov(best, reg.residual_scale2, prior) + np.eye(2) * floor_px**2
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


def residual_variance_scale(
    prob: MatchProblem, mode: Mode, prior_dof: float = RESIDUAL_SCALE_PRIOR_DOF
) -> float:
    """s² = (χ² + ν₀) / (2k − 2 + ν₀): the matched pairs' residuals about the mode's offset against their
    stated covariances (χ² with the pairs' weights, the core/tail mixture's), k pairs, 2 fitted parameters,
    the stated covariances counting as ν₀ degrees of freedom. 1 when the mode has no weights."""
    if mode.weights is None or not mode.pairs:
        return 1.0
    i = np.array([p[0] for p in mode.pairs])
    j = np.array([p[1] for p in mode.pairs])
    r = prob.det_xy[i] - prob.anc_xy[j, prob.det_band[i]] - np.asarray(mode.offset_px, dtype=float)
    chi2 = float(np.einsum("ki,kij,kj->", r, mode.weights, r))
    return (chi2 + prior_dof) / (max(2 * len(i) - 2, 0) + prior_dof)


def scaled_cov(mode: Mode, scale2: float, prior: PointingPrior) -> np.ndarray:
    """The mode's covariance (px²) with its pairs' weights divided by ``scale2`` (the prior kept) and the
    anchors' shared errors added as before."""
    if mode.weights is None or mode.fit_cov_px is None:
        return np.array(mode.cov_px, dtype=float)
    h = mode.weights.sum(axis=0) / scale2 + np.diag(1.0 / np.square(np.asarray(prior.sigma_px, dtype=float)))
    return np.linalg.inv(h) + (mode.cov_px - mode.fit_cov_px)


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


def _mahalanobis2(d: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """dᵀ C⁻¹ d of offsets d (..., 2) with covariances C (..., 2, 2), closed form."""
    a, b, c = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
    x, y = d[..., 0], d[..., 1]
    return (c * x * x - 2.0 * b * x * y + a * y * y) / (a * c - b * b)
