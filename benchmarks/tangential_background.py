"""A limb-following (anisotropic) background for the sunlit disk: the point-source fit in the limb's frame
— a study kept beside ``bench_dayside_bound``, not a detection step (it lost to ioscan's map: README).

Near the limb the albedo texture is foreshortened only radially (towards the disk centre): a few px across
radially but still smooth (wavelength ≥ ~20 px) along the limb. A square-window polynomial background is
isotropic and cannot use that; here each pixel's background is a polynomial in its local polar coordinates
about the limb circle's centre,

* ``t``: arc length along the pixel's own limb-distance contour (its circle of radius r), px — the arc, not
  the tangent line (which departs radially by t² / 2r);
* ``u``: radial offset r_q − r, px (outwards positive): the same limb distance is u = 0,

with degree ``degree_t`` in t and ``degree_u`` in u (a tensor product: each radial row may have its own
smooth profile along the arc), fitted jointly with the PSF over the window |t| ≤ ``half_t_px``,
|u| ≤ U(r). The radial reach grows with the local foreshortening, U = clip(``radial_fraction`` ·
``texture_wavelength_px`` · cos e, ``min_half_u_px``, ``max_half_u_px``), cos e ≈ √(1 − (r/R)²) (a sphere seen
from afar): a few px near the limb, where the texture is radially compressed, wide deep in the disk where it
is isotropic again.

The PSF amplitude of the joint linear fit (uniform weights) is a linear filter w = p⊥ / (p⊥ᵀp⊥), p⊥ the PSF
less its projection on the background's columns; its white-noise S/N is p⊥ᵀI / √(Σ p⊥² σ²). Computed per
pixel (the filter changes with the pixel's place on the disk) at each sub-pixel phase of the PSF kernels
given; the caller calibrates the map with a robust local scale as for any other S/N map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class TangentialSettings:
    """The limb-following fit's window and background model (module docstring); lengths in px."""

    half_t_px: float = 7.0
    degree_t: int = 2
    degree_u: int = 2
    min_half_u_px: float = 1.6
    max_half_u_px: float = 6.0
    radial_fraction: float = 0.25
    texture_wavelength_px: float = 20.0
    #: pixels computed: limb distance ≥ this (px, > 0 on the disk)
    min_limb_distance_px: float = -3.0
    #: pixels the fits use: limb distance ≥ this (px; the sky and the limb's edge left out)
    window_min_limb_distance_px: float = -1e9


def radial_half_width_px(radius_px: np.ndarray, limb_radius_px: float, s: TangentialSettings) -> np.ndarray:
    """The window's radial half-width U (px) at distance ``radius_px`` from the disk centre (module docs)."""
    cos_e = np.sqrt(np.clip(1.0 - (np.asarray(radius_px, float) / limb_radius_px) ** 2, 0.0, 1.0))
    u = s.radial_fraction * s.texture_wavelength_px * cos_e
    return np.clip(u, s.min_half_u_px, s.max_half_u_px)


def tangential_snr(
    image: np.ndarray,
    var: np.ndarray,
    center_sample_px: float,
    center_line_px: float,
    radius_px: float,
    kernels: np.ndarray,
    valid: np.ndarray | None = None,
    settings: TangentialSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(S/N of the centred kernel, best S/N over the kernels) of the joint PSF + limb-following background fit
    at every pixel within the limb (module docstring); NaN where not computed.

    ``kernels``: (phases, K, K) PSF stamps, K odd, the centred one in the middle of the list; ``var``: the
    per-pixel noise variance (image units²); ``valid``: pixels the fits may use (default all finite)."""
    s = settings or TangentialSettings()
    img = np.ascontiguousarray(image, np.float64)
    ok = np.isfinite(img) if valid is None else (np.asarray(valid, bool) & np.isfinite(img))
    k = np.ascontiguousarray(kernels, np.float64)
    return _fit_snr_maps(
        np.where(ok, img, 0.0),
        np.ascontiguousarray(np.broadcast_to(var, img.shape), np.float64),
        ok,
        float(center_sample_px),
        float(center_line_px),
        float(radius_px),
        k,
        float(s.half_t_px),
        int(s.degree_t),
        int(s.degree_u),
        float(s.min_half_u_px),
        float(s.max_half_u_px),
        float(s.radial_fraction * s.texture_wavelength_px),
        float(s.min_limb_distance_px),
        float(s.window_min_limb_distance_px),
    )


@njit(cache=True)
def _cholesky_solve(g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with g x = b, g symmetric positive definite (m × m), b (m, k); a tiny ridge keeps it definite."""
    m = g.shape[0]
    ridge = 0.0
    for i in range(m):
        ridge += g[i, i]
    ridge *= 1e-10 / m
    low = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1):
            acc = g[i, j] + (ridge if i == j else 0.0)
            for k in range(j):
                acc -= low[i, k] * low[j, k]
            if i == j:
                low[i, i] = math.sqrt(max(acc, 1e-300))
            else:
                low[i, j] = acc / low[j, j]
    x = b.copy()
    for c in range(b.shape[1]):
        for i in range(m):
            acc = x[i, c]
            for k in range(i):
                acc -= low[i, k] * x[k, c]
            x[i, c] = acc / low[i, i]
        for i in range(m - 1, -1, -1):
            acc = x[i, c]
            for k in range(i + 1, m):
                acc -= low[k, i] * x[k, c]
            x[i, c] = acc / low[i, i]
    return x


@njit(cache=True)
def _fit_snr_maps(
    image: np.ndarray,
    var: np.ndarray,
    valid: np.ndarray,
    cs: float,
    cl: float,
    big_r: float,
    kernels: np.ndarray,
    half_t: float,
    deg_t: int,
    deg_u: int,
    u_min: float,
    u_max: float,
    u_scale: float,
    min_depth: float,
    window_min_depth: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The per-pixel joint fits of :func:`tangential_snr` (its arguments, flattened)."""
    nl, ns = image.shape
    n_ph, kw = kernels.shape[0], kernels.shape[1]
    kh = kw // 2
    centre_phase = n_ph // 2
    m = (deg_t + 1) * (deg_u + 1)
    box = int(math.ceil(max(half_t, u_max))) + 1
    n_max = (2 * box + 1) ** 2
    centred = np.full((nl, ns), np.nan)
    best = np.full((nl, ns), np.nan)
    cols = np.empty((n_max, m))
    pix = np.empty(n_max)
    pvar = np.empty(n_max)
    psf = np.empty((n_max, n_ph))
    for i in range(nl):
        for j in range(ns):
            dx, dy = j - cs, i - cl
            r = math.hypot(dx, dy)
            if big_r - r < min_depth or r < 1.0:
                continue
            theta = math.atan2(dy, dx)
            cos_e = math.sqrt(max(1.0 - (r / big_r) ** 2, 0.0))
            half_u = min(max(u_scale * cos_e, u_min), u_max)
            n = 0
            for a in range(max(i - box, 0), min(i + box + 1, nl)):
                for b in range(max(j - box, 0), min(j + box + 1, ns)):
                    if not valid[a, b]:
                        continue
                    qx, qy = b - cs, a - cl
                    rq = math.hypot(qx, qy)
                    u = rq - r
                    if abs(u) > half_u or big_r - rq < window_min_depth:
                        continue
                    dth = math.atan2(qy, qx) - theta
                    if dth > math.pi:
                        dth -= 2.0 * math.pi
                    elif dth < -math.pi:
                        dth += 2.0 * math.pi
                    t = r * dth
                    if abs(t) > half_t:
                        continue
                    tn, un = t / half_t, u / half_u
                    c = 0
                    pt = 1.0
                    for _ in range(deg_t + 1):
                        pu = 1.0
                        for _ in range(deg_u + 1):
                            cols[n, c] = pt * pu
                            c += 1
                            pu *= un
                        pt *= tn
                    pix[n] = image[a, b]
                    pvar[n] = var[a, b]
                    ka, kb = a - i + kh, b - j + kh
                    inside = 0 <= ka < kw and 0 <= kb < kw
                    for ph in range(n_ph):
                        psf[n, ph] = kernels[ph, ka, kb] if inside else 0.0
                    n += 1
            if n < m + 4:
                continue
            g = cols[:n].T @ cols[:n]
            coef = _cholesky_solve(g, cols[:n].T @ psf[:n])  # (m, phases)
            resid = psf[:n] - cols[:n] @ coef  # the PSF less its background part, per phase
            top = -np.inf
            for ph in range(n_ph):
                num = 0.0
                den = 0.0
                self_ = 0.0
                for q in range(n):
                    w = resid[q, ph]
                    num += w * pix[q]
                    den += w * w * pvar[q]
                    self_ += w * psf[q, ph]
                if den <= 0.0 or self_ <= 0.0:
                    continue
                z = num / math.sqrt(den)
                if ph == centre_phase:
                    centred[i, j] = z
                if z > top:
                    top = z
            if top > -np.inf:
                best[i, j] = top
    return centred, best
