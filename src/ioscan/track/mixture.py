"""Merge hot spots that the data do not tell apart: a greedy search on a Student-t mixture of sites.

Model (collapsed Dirichlet-process mixture, Laplace approximation; positions on Io's mean sphere, km):

* a hot spot k at position μ_k (prior uniform on the sphere, density 1/(4πR²)) emits detections with a
  bivariate Student-t (``nu`` degrees of freedom) of scale Σ_i, each detection's effective 2×2 covariance
  (north/east variances and their covariance, calibrated by :mod:`ioscan.track.error_model`, plus the
  association floor);
* partitions have the Chinese-restaurant prior α^K Π Γ(n_k) (``alpha``, the concentration, is estimated
  from the number of hot spots K and detections N with K = α ln(1 + N/α) unless given);
* a hot spot scores S_k = ln α + ln Γ(n_k) + Σ_i ln t(x_i | μ̂_k, Σ_i) + ln(σ̂²_k / 2R²), the last term
  being the Occam factor of its position (σ̂²_k = |Σ_k|^½ of its inverse-covariance weighted centroid,
  1/Σw for isotropic errors; :mod:`ioscan.track.covariance`).

Two neighbouring hot spots merge when S_ab > S_a + S_b. Pairs are taken best first, each hot spot at most
once per round, until no merge gains. A single far detection (a tail) thus joins a busy hot spot when a
heavy-tailed member is likelier than a new site; two clusters of detections 3–5° apart stay apart when the
data separate them, and never merge when they share a frame (two sources seen at once). Hot spots carried
from a previous run (``fixed``) never merge with each other, so their IDs stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.spatial import cKDTree
from scipy.special import gammaln

from ioscan.body import IO_MEAN_RADIUS_KM
from ioscan.track._common import isin_ints, local_north_east, unique_ints
from ioscan.track.config import MixtureConfig  # noqa: F401  (defined with the tracker's settings)
from ioscan.track.covariance import chi2_and_logdet, project, solve

R_KM = IO_MEAN_RADIUS_KM


def estimate_alpha(n_clusters: int, n_detections: int) -> float:
    """Concentration α with α·ln(1 + N/α) = K (the expected number of clusters of N draws), ≥ 1e-3."""
    if n_clusters <= 1 or n_detections <= n_clusters:
        return max(float(n_clusters), 1e-3)
    return float(brentq(lambda a: a * np.log1p(n_detections / a) - n_clusters, 1e-6, 1e12))


def log_t2(q: np.ndarray, logdet: np.ndarray, nu: float) -> np.ndarray:
    """ln of the bivariate Student-t density (scale matrix of log-determinant ``logdet``, ln km⁴) at squared
    Mahalanobis distance q."""
    return -np.log(2.0 * np.pi) - 0.5 * logdet - 0.5 * (nu + 2.0) * np.log1p(q / nu)


def _q_logdet(d, u, north, east, centres, var_n, var_e, cov_ne):
    """Squared Mahalanobis distance and ln|Σ| of detections ``d`` from ``centres`` (one per row)."""
    dn, de = _offsets_km(u[d], north[d], east[d], centres)
    cne = np.zeros(len(d)) if cov_ne is None else cov_ne[d]
    return chi2_and_logdet(dn, de, var_n[d], var_e[d], cne)


def _offsets_km(u: np.ndarray, north: np.ndarray, east: np.ndarray, c: np.ndarray):
    """North and east offsets (km) of centres ``c`` (n, 3) seen from detections ``u`` (n, 3)."""
    cosang = np.einsum("ij,ij->i", c, u)
    dn, de = np.einsum("ij,ij->i", c, north), np.einsum("ij,ij->i", c, east)
    tang = np.hypot(dn, de)
    scale = np.where(tang > 0, np.arctan2(tang, cosang) / np.where(tang > 0, tang, 1.0), 1.0) * R_KM
    return dn * scale, de * scale


@dataclass
class Clusters:
    """Hot spots as sums over their members (and a prior from a previous run).

    Attributes:
        vec: Σ w·u (m, 3) including the prior's weighted vector.
        sw: Σ w (m,) including the prior's weight, 1/km².
        n: detections (m,) including the prior's count.
        fixed: hot spots carried from a previous run (m,) bool.
        info: Σ W (m, 6), the information matrices of :mod:`ioscan.track.covariance` (with ``vec`` = Σ W u);
            None = isotropic, ``sw`` · I.
    """

    vec: np.ndarray
    sw: np.ndarray
    n: np.ndarray
    fixed: np.ndarray
    info: np.ndarray | None = None

    def infos(self) -> np.ndarray:
        if self.info is not None:
            return self.info
        return self.sw[:, None] * np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1.0])

    def centres(self) -> np.ndarray:
        vec = solve(self.infos(), self.vec)
        norm = np.linalg.norm(vec, axis=1)
        return vec / np.where(norm > 0, norm, 1.0)[:, None]

    def score(self, loglike: np.ndarray, alpha: float) -> np.ndarray:
        """S_k of every hot spot from the summed member log-likelihoods ``loglike`` (m,); the Occam factor
        uses |Σ_k|^½ of the centroid's 2×2 covariance (1/Σw for isotropic errors)."""
        north, east = local_north_east(self.centres())
        a, b, c = project(self.infos(), north, east)
        var = 1.0 / np.sqrt(np.maximum(a * c - b * b, 1e-300))
        return np.log(alpha) + gammaln(np.maximum(self.n, 1)) + loglike + np.log(var / (2.0 * R_KM**2))


def _segments(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ranges start[i] .. start[i] + count[i] − 1."""
    offsets = np.repeat(start - np.cumsum(np.concatenate([[0], count[:-1]])), count)
    return offsets + np.arange(int(count.sum()))


def candidate_pairs(centres: np.ndarray, live: np.ndarray, k: int) -> np.ndarray:
    """Unordered pairs (p, 2) of live hot spots among each other's ``k`` nearest, a < b."""
    idx = np.flatnonzero(live)
    if len(idx) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    kk = min(k + 1, len(idx))
    _, nb = cKDTree(centres[idx]).query(centres[idx], k=kk)
    nb = idx[nb.reshape(len(idx), kk)]
    a = np.repeat(idx, kk - 1)
    b = nb[:, 1:].ravel()
    pairs = np.sort(np.stack([a, b], axis=1), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def share_frame(pairs: np.ndarray, labels: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Whether each pair of hot spots holds two detections of one frame (frame codes ≥ 0)."""
    ok = (labels >= 0) & (frames >= 0)
    if not ok.any() or len(pairs) == 0:
        return np.zeros(len(pairs), dtype=bool)
    n_frames = int(frames[ok].max()) + 1
    codes = unique_ints(labels[ok].astype(np.int64) * n_frames + frames[ok])
    owner = codes // n_frames
    start = np.searchsorted(owner, pairs[:, 0], side="left")
    stop = np.searchsorted(owner, pairs[:, 0], side="right")
    count = stop - start
    rows = np.repeat(np.arange(len(pairs)), count)
    pos = _segments(start, count)
    probe = pairs[rows, 1] * n_frames + codes[pos] % n_frames
    hit = isin_ints(probe, codes)
    return np.bincount(rows[hit], minlength=len(pairs)) > 0


def merged_loglike(
    pairs: np.ndarray,
    centres: np.ndarray,
    u: np.ndarray,
    north: np.ndarray,
    east: np.ndarray,
    var_n: np.ndarray,
    var_e: np.ndarray,
    labels: np.ndarray,
    nu: float,
    cov_ne: np.ndarray | None = None,
) -> np.ndarray:
    """Σ ln t of the members of both hot spots of every pair about the pair's centre ``centres`` (p, 3)."""
    member = labels >= 0
    out = np.zeros(len(pairs))
    for side in (0, 1):
        order = np.argsort(pairs[:, side], kind="stable")
        keys = pairs[order, side]
        det = np.flatnonzero(member)
        lo = np.searchsorted(keys, labels[det], side="left")
        hi = np.searchsorted(keys, labels[det], side="right")
        count = hi - lo
        d = np.repeat(det, count)
        p = order[_segments(lo, count)]
        q, logdet = _q_logdet(d, u, north, east, centres[p], var_n, var_e, cov_ne)
        out += np.bincount(p, weights=log_t2(q, logdet, nu), minlength=len(pairs))
    return out


def member_loglike(
    cl: Clusters, u, north, east, var_n, var_e, labels: np.ndarray, nu: float, cov_ne=None
) -> np.ndarray:
    """Σ ln t of every hot spot's members about its own centre (m,)."""
    member = labels >= 0
    d = np.flatnonzero(member)
    q, logdet = _q_logdet(d, u, north, east, cl.centres()[labels[d]], var_n, var_e, cov_ne)
    return np.bincount(labels[d], weights=log_t2(q, logdet, nu), minlength=len(cl.sw))


def choose_merges(pairs: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Greedy matching: pairs with a positive gain, best first, each hot spot at most once."""
    order = np.argsort(-gain, kind="stable")
    order = order[gain[order] > 0]
    used: set[int] = set()
    chosen = []
    for p in order:
        a, b = int(pairs[p, 0]), int(pairs[p, 1])
        if a in used or b in used:
            continue
        used.update((a, b))
        chosen.append(p)
    return pairs[np.asarray(chosen, dtype=np.int64)] if chosen else np.zeros((0, 2), dtype=np.int64)


def merge_round(
    cl: Clusters,
    u: np.ndarray,
    north: np.ndarray,
    east: np.ndarray,
    var_n: np.ndarray,
    var_e: np.ndarray,
    labels: np.ndarray,
    frames: np.ndarray,
    alpha: float,
    cfg: MixtureConfig,
    frame_labels: np.ndarray | None = None,
    cov_ne: np.ndarray | None = None,
) -> np.ndarray:
    """One round of merges: the (p, 2) pairs merged (the second hot spot goes into the first);
    ``frame_labels`` (default ``labels``) are the hot spots the same-frame rule looks at."""
    live = cl.n > 0
    pairs = candidate_pairs(cl.centres(), live, cfg.k_neighbours)
    if len(pairs) == 0:
        return pairs
    pairs = pairs[~(cl.fixed[pairs[:, 0]] & cl.fixed[pairs[:, 1]])]
    pairs = pairs[~share_frame(pairs, labels if frame_labels is None else frame_labels, frames)]
    if len(pairs) == 0:
        return pairs
    own = cl.score(member_loglike(cl, u, north, east, var_n, var_e, labels, cfg.nu, cov_ne), alpha)
    a, b = pairs[:, 0], pairs[:, 1]
    info = cl.infos()
    merged = Clusters(
        cl.vec[a] + cl.vec[b],
        cl.sw[a] + cl.sw[b],
        cl.n[a] + cl.n[b],
        cl.fixed[a] | cl.fixed[b],
        info[a] + info[b],
    )
    ll = merged_loglike(pairs, merged.centres(), u, north, east, var_n, var_e, labels, cfg.nu, cov_ne)
    gain = merged.score(ll, alpha) - own[pairs[:, 0]] - own[pairs[:, 1]]
    chosen = choose_merges(pairs, gain)
    # the surviving index is the fixed one when there is one
    swap = cl.fixed[chosen[:, 1]]
    chosen[swap] = chosen[swap][:, ::-1]
    return chosen


def merge_hotspots(
    cl: Clusters,
    u: np.ndarray,
    north: np.ndarray,
    east: np.ndarray,
    var_n: np.ndarray,
    var_e: np.ndarray,
    labels: np.ndarray,
    frames: np.ndarray,
    cfg: MixtureConfig | None = None,
    *,
    frame_labels: np.ndarray | None = None,
    cov_ne: np.ndarray | None = None,
) -> np.ndarray:
    """Merge hot spots while the mixture score gains (see the module docstring).

    Args:
        cl: the hot spots (sums include their members and any prior).
        u, north, east: detections' unit vectors and local north/east tangents (n, 3).
        var_n, var_e: effective 1σ variances along north and east incl. the association floor, km².
        labels: hot spot of every detection whose likelihood scores its hot spot (−1 = none, or a member a
            prior already stands for).
        frames: frame code of every detection (−1 = unknown), for the same-frame rule.
        cfg: knobs.
        frame_labels: hot spot of every detection for the same-frame rule (default ``labels``).
        cov_ne: north–east covariances of the detections, km² (None = 0).

    Returns:
        Map old → new hot-spot index (m,) after all merges (a merged hot spot maps to its survivor).
    """
    cfg = cfg or MixtureConfig()
    m = len(cl.sw)
    target = np.arange(m)
    if m < 2:
        return target
    alpha = cfg.alpha or cfg.alpha_factor * estimate_alpha(int((cl.n > 0).sum()), int(cl.n.sum()))
    labels = labels.copy()
    frame_labels = labels.copy() if frame_labels is None else frame_labels.copy()
    cl = Clusters(cl.vec.copy(), cl.sw.copy(), cl.n.copy(), cl.fixed.copy(), cl.infos().copy())
    for _ in range(cfg.max_rounds):
        chosen = merge_round(
            cl, u, north, east, var_n, var_e, labels, frames, alpha, cfg, frame_labels, cov_ne
        )
        if len(chosen) == 0:
            break
        keep, gone = chosen[:, 0], chosen[:, 1]
        cl.vec[keep] += cl.vec[gone]
        cl.sw[keep] += cl.sw[gone]
        cl.info[keep] += cl.info[gone]
        cl.info[gone] = 0.0
        cl.n[keep] += cl.n[gone]
        cl.fixed[keep] |= cl.fixed[gone]
        cl.vec[gone], cl.sw[gone], cl.n[gone] = 0.0, 0.0, 0
        step = np.arange(m)
        step[gone] = keep
        target = step[target]
        labels = np.where(labels >= 0, step[np.maximum(labels, 0)], -1)
        frame_labels = np.where(frame_labels >= 0, step[np.maximum(frame_labels, 0)], -1)
    return target
