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


# ------------------------------------------------------------------ component-array (fast) versions
def intersect_components(o, d, radii_km, *, closest: bool = False):
    """Nearest forward intersection of rays with the ellipsoid, on contiguous component arrays.

    Args:
        o: observer (ox, oy, oz), scalars or arrays broadcastable with ``d``, km.
        d: ray directions (dx, dy, dz), flat arrays of any length.
        radii_km: (a, b, c).
        closest: also return, for every ray, the parameter of its closest approach to the ellipsoid in the
            unit-sphere space (−qb/qa), a good estimate of the distance to a ray that just misses.

    Returns:
        (t, disc_over_qa[, t_closest]): ray parameter of the near intersection (NaN where the ray misses or
        points away) and disc/qa = 1 − h², h the ray's miss distance in the unit-sphere space (≥ 0 on a hit).
    """
    w = 1.0 / np.asarray(radii_km, dtype=float) ** 2
    wdx, wdy, wdz = d[0] * w[0], d[1] * w[1], d[2] * w[2]
    qa = d[0] * wdx
    qa += d[1] * wdy
    qa += d[2] * wdz
    qb = o[0] * wdx
    qb += o[1] * wdy
    qb += o[2] * wdz
    qc = o[0] * o[0] * w[0] + o[1] * o[1] * w[1] + o[2] * o[2] * w[2] - 1.0
    disc = qb * qb
    disc -= qa * qc
    hit = disc >= 0.0
    hit &= qb < 0.0
    root = np.maximum(disc, 0.0)  # never take sqrt of a negative: numpy's invalid-value path is slow
    np.sqrt(root, out=root)
    root -= qb
    with np.errstate(invalid="ignore", divide="ignore"):
        t = qc / root  # stable near root for qb < 0 (observer outside: qc > 0)
    t = np.where(hit, t, np.nan)
    disc /= qa
    if closest:
        qb /= qa
        np.negative(qb, out=qb)
        return t, disc, qb
    return t, disc


def limb_distance_grid(
    q_matrix: np.ndarray, d0: np.ndarray, d_s: np.ndarray, d_l: np.ndarray, s: np.ndarray, l: np.ndarray
) -> np.ndarray:
    """:func:`limb_distance_px` for rays linear in pixel coordinates, d = d0 + s·d_s + l·d_l.

    f = dᵀQd is then an exact quadratic in (s, l); evaluated separably (row and column polynomials plus
    one outer product), so the cost is a few operations per pixel. Returns (len(l), len(s)). The per-pixel
    part is compiled (:func:`ioscan.geometry.compiled.limb_distance_rows`): the numbers of
    :func:`limb_distance_grid_numpy`, bit for bit, in one pass.
    """
    from ioscan.geometry.compiled import limb_distance_rows, readonly

    q = np.asarray(q_matrix, dtype=float)
    f00, f0s, f0l = d0 @ q @ d0, d0 @ q @ d_s, d0 @ q @ d_l
    fss, fsl, fll = d_s @ q @ d_s, d_s @ q @ d_l, d_l @ q @ d_l
    s = np.ascontiguousarray(s, dtype=float)
    l = np.ascontiguousarray(l, dtype=float)
    # the row and column terms exactly as the numpy version forms them
    a_l = 2.0 * fsl * l
    row_s = f00 + 2.0 * f0s * s + fss * s * s
    col_l = 2.0 * f0l * l + fll * l * l
    b_s = 2.0 * (f0s + fss * s)
    c_l = 2.0 * (f0l + fll * l)
    d_s_ = 2.0 * fsl * s
    hss, hsl, hll = 2.0 * fss, 2.0 * fsl, 2.0 * fll
    arrays = readonly(a_l, row_s, col_l, b_s, c_l, d_s_, s)
    return limb_distance_rows(*arrays, float(hss), float(hll), float(2.0 * hsl))


def limb_distance_grid_numpy(
    q_matrix: np.ndarray, d0: np.ndarray, d_s: np.ndarray, d_l: np.ndarray, s: np.ndarray, l: np.ndarray
) -> np.ndarray:
    """:func:`limb_distance_grid` in numpy whole-array steps (its reference in the tests)."""
    q = np.asarray(q_matrix, dtype=float)
    f00, f0s, f0l = d0 @ q @ d0, d0 @ q @ d_s, d0 @ q @ d_l
    fss, fsl, fll = d_s @ q @ d_s, d_s @ q @ d_l, d_l @ q @ d_l
    s = np.asarray(s, dtype=float)
    l = np.asarray(l, dtype=float)
    f = np.multiply.outer(2.0 * fsl * l, s)
    f += (f00 + 2.0 * f0s * s + fss * s * s)[None, :]
    f += (2.0 * f0l * l + fll * l * l)[:, None]
    gs = np.add.outer(2.0 * fsl * l, 2.0 * (f0s + fss * s))
    gl = np.add.outer(2.0 * (f0l + fll * l), 2.0 * fsl * s)
    hss, hsl, hll = 2.0 * fss, 2.0 * fsl, 2.0 * fll
    # curvature along the gradient h = (hss gs² + 2 hsl gs gl + hll gl²)/|g|²; step t solves
    # f + |g| t + ½ h t² = 0 → distance = 2f / (|g| + sqrt(|g|² − 2hf)) (first order f/|g| if no root)
    g2 = gs * gs
    gl2 = gl * gl
    hg2 = hss * g2
    hg2 += hll * gl2
    g2 += gl2
    gs *= gl
    gs *= 2.0 * hsl
    hg2 += gs  # h·|g|²
    hg2 *= f
    with np.errstate(divide="ignore", invalid="ignore"):
        hg2 /= g2
        hg2 *= -2.0
        hg2 += g2  # disc = |g|² − 2hf
        ok = hg2 >= 0.0
        np.maximum(hg2, 0.0, out=hg2)
        np.sqrt(hg2, out=hg2)
        np.sqrt(g2, out=g2)  # |g|
        hg2 += g2
        f *= 2.0
        out = np.where(ok, f / hg2, 0.5 * f / g2)
    return out
