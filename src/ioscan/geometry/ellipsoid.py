"""Vectorised ray–ellipsoid intersection and the limb seen from an observer."""

from __future__ import annotations

import numpy as np


def intersect_rays(origin_km: np.ndarray, directions: np.ndarray, radii_km: np.ndarray):
    """Nearest intersection of rays with the ellipsoid x²/a² + y²/b² + z²/c² = 1.

    Args:
        origin_km: ray origin (3,) or (..., 3), body-fixed km (outside the body).
        directions: ray directions (..., 3), any length.
        radii_km: (a, b, c) km.

    Returns:
        (points_km (..., 3) with NaN where missed, hit (...) bool).
    """
    inv_r2 = 1.0 / np.asarray(radii_km, dtype=float) ** 2
    o = np.asarray(origin_km, dtype=float)
    d = np.asarray(directions, dtype=float)
    qa = np.sum(d * d * inv_r2, axis=-1)
    qb = np.sum(o * d * inv_r2, axis=-1)
    qc = np.sum(o * o * inv_r2, axis=-1) - 1.0
    disc = qb * qb - qa * qc
    hit = disc >= 0.0
    root = np.sqrt(np.where(hit, disc, 0.0))
    # numerically stable near root: t = c / (−b + sqrt(disc)) for b < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(qb < 0, qc / (-qb + root), (-qb - root) / qa)
    hit &= t > 0.0
    pts = o + t[..., None] * d
    pts = np.where(hit[..., None], pts, np.nan)
    return pts, hit


def limb_quadric(origin_km: np.ndarray, radii_km: np.ndarray):
    """Symmetric 3×3 matrix Q of the limb cone: a ray d grazes the ellipsoid where dᵀQd = 0.

    dᵀQd > 0 for rays that meet the body (front or back nappe), < 0 for rays that miss.
    """
    a_mat = np.diag(1.0 / np.asarray(radii_km, dtype=float) ** 2)
    o = np.asarray(origin_km, dtype=float)
    ao = a_mat @ o
    k = float(o @ ao) - 1.0
    if k <= 0.0:
        raise ValueError("observer is inside the ellipsoid")
    return np.outer(ao, ao) - k * a_mat


def limb_distance_px(
    q_matrix: np.ndarray, rays: np.ndarray, ray_d_sample: np.ndarray, ray_d_line: np.ndarray
) -> np.ndarray:
    """Signed distance of each pixel to the limb, pixels (positive on the disk, negative off it).

    The limb is the image conic f(s, l) = dᵀQd = 0, an exact quadratic in (sample, line) since the rays are
    linear in them. Each pixel steps along the gradient to the conic, solving the quadratic
    f + |∇f|t + ½ h t² = 0 (h = curvature of f along the gradient): exact for a circular limb, and within a
    small fraction of a pixel of the true distance for Io's nearly circular limb.

    Args:
        q_matrix: limb quadric from :func:`limb_quadric`, in the frame of ``rays``.
        rays: un-normalised pixel rays (..., 3), linear in (sample, line).
        ray_d_sample, ray_d_line: derivative of the ray with respect to sample and line (3,).
    """
    qd = rays @ q_matrix
    f = np.sum(qd * rays, axis=-1)
    gs = 2.0 * (qd @ ray_d_sample)
    gl = 2.0 * (qd @ ray_d_line)
    hss = 2.0 * float(ray_d_sample @ q_matrix @ ray_d_sample)
    hsl = 2.0 * float(ray_d_sample @ q_matrix @ ray_d_line)
    hll = 2.0 * float(ray_d_line @ q_matrix @ ray_d_line)
    g2 = gs * gs + gl * gl
    with np.errstate(divide="ignore", invalid="ignore"):
        h = (hss * gs * gs + 2.0 * hsl * gs * gl + hll * gl * gl) / g2
        h = np.where(g2 > 0, h, min(hss, hll))
        disc = g2 - 2.0 * h * f
        step = -2.0 * f / (np.sqrt(g2) + np.sqrt(np.maximum(disc, 0.0)))
        first_order = -f / np.sqrt(g2)
    return -np.where(disc >= 0, step, first_order)
