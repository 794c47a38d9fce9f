"""Systematic per-night position offsets, estimated from the night's repeat detections and removed.

Ground-based positions of one night share an error: the navigation of Io's disk (where its centre and limb
are) shifts every source of the night's images together. To first order a sky-plane shift of the disk is a
small rotation ω of Io's sphere, so a detection at direction u is displaced by ω × u. For each night:

* every detection in a hot spot with ≥ ``min_members`` detections gives a residual: its offset from the
  leave-one-out centroid of the hot spot (tangent plane, radians), weighted by its effective variance;
* the rotation has a Gaussian prior of standard deviation τ per axis; τ is fitted per observer (catalogue
  and telescope) by maximising the evidence (the marginal likelihood of all nights' residuals, Bayesian
  linear regression), on a log grid that includes "no offset" (τ = 0), so data without night offsets are
  left alone, and only where at least ``min_nights`` nights have residuals;
* each detection is corrected by the rotation estimated from the **other** detections of its night (leave
  one out: a detection does not pull itself onto its hot spot).

Positions in and out are unit vectors in IAU_IO; the grouping into nights is
:func:`ioscan.track.error_model.error_groups`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioscan.body import IO_MEAN_RADIUS_KM
from ioscan.track._common import unique_ints
from ioscan.track.config import NightOffsetConfig  # noqa: F401  (defined with the tracker's settings)

R_KM = IO_MEAN_RADIUS_KM


@dataclass
class NightOffsets:
    """Result of :func:`correct_positions`.

    Attributes:
        u: corrected unit vectors (n, 3).
        omega: rotation applied to each detection (n, 3), radians.
        tau_deg: fitted prior standard deviation per group code, degrees.
    """

    u: np.ndarray
    omega: np.ndarray
    tau_deg: dict


def loo_centroids(
    u: np.ndarray, w: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leave-one-out centroid direction (n, 3), its variance (n, 1/Σw of the others) and the hot spot's size
    (n) for every detection (labels −1 = none: centroid = the detection itself, size 0)."""
    n = len(u)
    ok = labels >= 0
    m = int(labels[ok].max()) + 1 if ok.any() else 0
    vec = np.zeros((m, 3))
    for c in range(3):
        vec[:, c] = np.bincount(labels[ok], weights=w[ok] * u[ok, c], minlength=m)
    sw = np.bincount(labels[ok], weights=w[ok], minlength=m)
    size = np.bincount(labels[ok], minlength=m)
    lab = np.where(ok, labels, 0)
    loo = (vec[lab] - w[:, None] * u) if m else np.zeros((n, 3))
    loo_w = (sw[lab] - w) if m else np.zeros(n)
    norm = np.linalg.norm(loo, axis=1)
    valid = ok & (norm > 0) & (loo_w > 0)
    c = np.where(valid[:, None], loo / np.where(norm > 0, norm, 1.0)[:, None], u)
    var = np.where(valid, 1.0 / np.where(valid, loo_w, 1.0), np.inf)
    return c, var, np.where(ok, size[lab] if m else 0, 0)


def normal_equations(
    u: np.ndarray, r: np.ndarray, w: np.ndarray, group: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per detection and summed per group: M = Σ w (I − u uᵀ), b = Σ w (u × r), s = Σ w |r|², and the
    number of residuals (for residuals r ≈ ω × u with weights w)."""
    mi = w[:, None, None] * (np.eye(3)[None] - u[:, :, None] * u[:, None, :])
    bi = w[:, None] * np.cross(u, r)
    si = w * np.einsum("ij,ij->i", r, r)
    m = np.zeros((n_groups, 3, 3))
    b = np.zeros((n_groups, 3))
    np.add.at(m, group, mi)
    np.add.at(b, group, bi)
    s = np.bincount(group, weights=si, minlength=n_groups)
    count = np.bincount(group, weights=(w > 0).astype(float), minlength=n_groups)
    return mi, bi, m, b, np.stack([s, count], axis=1)


def log_evidence(m: np.ndarray, b: np.ndarray, tau2: float) -> float:
    """Σ over groups of ln p(residuals | τ²) up to terms free of τ (ω ~ N(0, τ² I)): −½ ln|I + τ² M| +
    ½ bᵀ (M + I/τ²)⁻¹ b."""
    if tau2 <= 0:
        return 0.0
    eye = np.eye(3)[None]
    _, logdet = np.linalg.slogdet(eye + tau2 * m)
    sol = np.linalg.solve(m + eye / tau2, b[..., None])[..., 0]
    return float(np.sum(-0.5 * logdet + 0.5 * np.einsum("ij,ij->i", b, sol)))


def fit_tau2(m: np.ndarray, b: np.ndarray, cfg: NightOffsetConfig) -> float:
    """The prior variance τ² (rad²) of largest evidence on the grid (0 included)."""
    grid = np.concatenate([[0.0], np.radians(np.geomspace(cfg.tau_min_deg, cfg.tau_max_deg, cfg.n_grid))])
    values = [log_evidence(m, b, t * t) for t in grid]
    return float(grid[int(np.argmax(values))] ** 2)


def loo_rotations(
    mi: np.ndarray, bi: np.ndarray, m: np.ndarray, b: np.ndarray, group: np.ndarray, tau2: np.ndarray
) -> np.ndarray:
    """Posterior-mean rotation of every detection's group from the group's *other* residuals (n, 3)."""
    omega = np.zeros((len(group), 3))
    use = tau2 > 0
    if not use.any():
        return omega
    g = group[use]
    lhs = m[g] - mi[use] + np.eye(3)[None] / tau2[use][:, None, None]
    omega[use] = np.linalg.solve(lhs, (b[g] - bi[use])[..., None])[..., 0]
    return omega


def correct_positions(
    u_raw: np.ndarray,
    u_now: np.ndarray,
    labels: np.ndarray,
    night: np.ndarray,
    catalogue: np.ndarray,
    var_km2: np.ndarray,
    cfg: NightOffsetConfig | None = None,
) -> NightOffsets:
    """Remove per-night rotations from the raw positions (see the module docstring).

    Args:
        u_raw: the detections' positions as published (n, 3).
        u_now: the current (corrected) positions, which make the hot spots' centroids (n, 3).
        labels: hot spot of every detection (−1 = none).
        night: night code of every detection.
        catalogue: group code of every detection (τ is fitted per group, e.g. per observer).
        var_km2: effective isotropic 1σ variance of every detection, km².
        cfg: knobs.

    Returns:
        :class:`NightOffsets` with the corrected positions.
    """
    cfg = cfg or NightOffsetConfig()
    n = len(u_raw)
    if n == 0:
        return NightOffsets(u_raw.copy(), np.zeros((0, 3)), {})
    w_km = 1.0 / var_km2
    c, var_c, size = loo_centroids(u_now, w_km, labels)
    use = (size >= cfg.min_members) & np.isfinite(var_c)
    r = u_raw - c
    r = r - np.einsum("ij,ij->i", r, u_raw)[:, None] * u_raw
    w = np.where(use, R_KM**2 / (var_km2 + np.where(use, var_c, 0.0)), 0.0)
    r = np.where(use[:, None], r, 0.0)
    n_nights = int(night.max()) + 1
    mi, bi, m, b, counts = normal_equations(u_raw, r, w, night, n_nights)
    tau2 = np.zeros(n)
    tau_deg = {}
    for cat in unique_ints(catalogue):
        nights = unique_ints(night[catalogue == cat])
        measured = int((counts[nights, 1] >= 2).sum())
        t2 = fit_tau2(m[nights], b[nights], cfg) if measured >= cfg.min_nights else 0.0
        tau2[catalogue == cat] = t2
        tau_deg[int(cat)] = float(np.degrees(np.sqrt(t2)))
    omega = loo_rotations(mi, bi, m, b, night, tau2)
    u = u_raw - np.cross(omega, u_raw)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    u = np.where((tau2 > 0)[:, None], u, u_raw)  # exactly as published where no offsets were fitted
    return NightOffsets(u, omega, tau_deg)
