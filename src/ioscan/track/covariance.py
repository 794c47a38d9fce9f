"""Position covariances of detections and hot spots on Io's mean sphere (km, R = 1821.49 km).

A detection's 1σ error ellipse is a 2×2 covariance in its own tangent plane along local north and east
(``var_n``, ``var_e``, ``cov_ne``, km²). The catalogue stores it as ``lat_err_deg``, ``lon_err_deg`` (degrees
of west longitude) and ``lat_lon_err_corr``, the correlation of the latitude and **west**-longitude errors
(``measure/positions.py``); east is minus west, so cov(n, e) = −corr·σn·σe.

Hot spots pool their members in *information form* in 3-D: each detection's precision Λ (the inverse of its
2×2 covariance) is embedded as W = [N E] Λ [N E]ᵀ + r·u uᵀ (N, E its north/east unit vectors, u its
direction, r = tr Λ / 2 a radial weight that only makes W invertible: an isotropic detection has W = I/σ²).
A detection without a correlation (``cov_ne`` = 0: imported catalogues, ``lat_lon_err_corr`` absent) keeps
the weight the diagonal tracker gave it, W = I·2/(σn² + σe²), so such catalogues associate exactly as
before; its χ² still uses its own σn, σe. A hot spot holds ΣW and Σ W u; its
position is the normalised (ΣW)⁻¹ Σ W u — the inverse-covariance weighted mean, which for isotropic errors
is the old precision-weighted mean of unit vectors — and its 2×2 covariance in any nearby tangent plane
(N', E') is ([N' E']ᵀ ΣW [N' E'])⁻¹. Symmetric 3×3 matrices are kept as six components (xx, xy, xz, yy, yz,
zz) so sums are ``bincount`` calls and solves closed-form.
"""

from __future__ import annotations

import numpy as np

from ioscan.body import IO_MEAN_RADIUS_KM
from ioscan.track._common import DEG

#: indices of the six components of a symmetric 3×3 matrix, (row, column)
SYM = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def tangent_covariance(lat_deg, lat_err_deg, lon_err_deg, corr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """North/east covariance (km²) from 1σ lat error (°), 1σ west-longitude error (° of longitude) and their
    correlation (NaN = 0): var_n, var_e, cov_ne = −corr·σn·σe."""
    lat = np.asarray(lat_deg, float)
    s_n = np.asarray(lat_err_deg, float) * DEG * IO_MEAN_RADIUS_KM
    s_e = np.asarray(lon_err_deg, float) * DEG * IO_MEAN_RADIUS_KM * np.abs(np.cos(lat * DEG))
    rho = np.nan_to_num(np.asarray(corr, float), nan=0.0)
    return s_n**2, s_e**2, -rho * s_n * s_e


def correlation(var_n, var_e, cov_ne) -> np.ndarray:
    """cov_ne / (σn σe), clipped to ±0.999 (0 where a variance is 0)."""
    den = np.sqrt(np.asarray(var_n) * np.asarray(var_e))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(den > 0, np.asarray(cov_ne) / np.where(den > 0, den, 1.0), 0.0)
    return np.clip(rho, -0.999, 0.999)


def major_variance(var_n, var_e, cov_ne) -> np.ndarray:
    """Variance along the major axis of the ellipse (largest eigenvalue), km²."""
    half = 0.5 * (np.asarray(var_n) - np.asarray(var_e))
    return 0.5 * (np.asarray(var_n) + np.asarray(var_e)) + np.sqrt(half * half + np.asarray(cov_ne) ** 2)


def inverse2(a, b, c) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of [[a, b], [b, c]] as (a', b', c') and its determinant."""
    det = a * c - b * b
    inv = 1.0 / np.where(det > 0, det, np.inf)
    return c * inv, -b * inv, a * inv, det


def embed(u, north, east, var_n, var_e, cov_ne) -> np.ndarray:
    """Information matrices W (n, 6) of detections with the given tangent covariances (see module doc)."""
    pa, pb, pc, _ = inverse2(var_n, cov_ne, var_e)
    r = 0.5 * (pa + pc)
    out = np.empty((len(u), 6))
    for j, (p, q) in enumerate(SYM):
        out[:, j] = (
            pa * north[:, p] * north[:, q]
            + pb * (north[:, p] * east[:, q] + east[:, p] * north[:, q])
            + pc * east[:, p] * east[:, q]
            + r * u[:, p] * u[:, q]
        )
    # uncorrelated errors pool as the diagonal tracker always did: isotropically, with weight 2/(σn² + σe²)
    # (exactly, so that catalogues without correlations associate as before)
    iso = np.asarray(cov_ne) == 0
    out[iso] = 0.0
    out[iso, 0] = out[iso, 3] = out[iso, 5] = (2.0 / (np.asarray(var_n) + np.asarray(var_e)))[iso]
    return out


def matvec(w6: np.ndarray, v: np.ndarray) -> np.ndarray:
    """W v for symmetric W given as six components (..., 6) and vectors (..., 3)."""
    xx, xy, xz, yy, yz, zz = (w6[..., j] for j in range(6))
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([xx * x + xy * y + xz * z, xy * x + yy * y + yz * z, xz * x + yz * y + zz * z], axis=-1)


def solve(w6: np.ndarray, v: np.ndarray) -> np.ndarray:
    """W⁻¹ v (closed form, adjugate), up to a positive factor: the result is only ever normalised, so the
    determinant is left out. Singular W gives v back."""
    xx, xy, xz, yy, yz, zz = (w6[..., j] for j in range(6))
    c00, c01, c02 = yy * zz - yz * yz, xz * yz - xy * zz, xy * yz - xz * yy
    c11, c12, c22 = xx * zz - xz * xz, xy * xz - xx * yz, xx * yy - xy * xy
    adj = np.stack([c00, c01, c02, c11, c12, c22], axis=-1)
    out = matvec(adj, v)
    det = xx * c00 + xy * c01 + xz * c02
    return np.where((det > 0)[..., None], out, v)


def project(w6: np.ndarray, north: np.ndarray, east: np.ndarray) -> tuple[np.ndarray, ...]:
    """Nᵀ W N, Nᵀ W E, Eᵀ W E: the information of W in the tangent plane (N, E)."""
    wn = matvec(w6, north)
    we = matvec(w6, east)
    return (
        np.einsum("...j,...j->...", wn, north),
        np.einsum("...j,...j->...", wn, east),
        np.einsum("...j,...j->...", we, east),
    )


def tangent_of(w6: np.ndarray, north: np.ndarray, east: np.ndarray) -> tuple[np.ndarray, ...]:
    """Covariance (var_n, var_e, cov_ne, km²) in the plane (N, E) of a hot spot with information W
    (infinite variances where it has none)."""
    a, b, c = project(w6, north, east)
    va, vb, vc, det = inverse2(a, b, c)
    none = ~(det > 0)
    return np.where(none, np.inf, va), np.where(none, np.inf, vc), np.where(none, 0.0, vb)


def chi2_and_logdet(dn, de, vn, ve, vne) -> tuple[np.ndarray, np.ndarray]:
    """χ² of offsets (dn, de) under covariance [[vn, vne], [vne, ve]] and ln of its determinant (where
    vne is 0 exactly the diagonal form dn²/vn + de²/ve)."""
    det = vn * ve - vne * vne
    diag = dn * dn / vn + de * de / ve
    with np.errstate(invalid="ignore", divide="ignore"):
        full = (ve * dn * dn - 2.0 * vne * dn * de + vn * de * de) / det
    corr = vne != 0
    return np.where(corr, full, diag), np.where(corr, np.log(np.maximum(det, 1e-300)), np.log(vn * ve))
