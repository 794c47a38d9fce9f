"""A global model of a sunlit disk's brightness, fitted to a whole band image at once (issue 11, day side).

The image is modelled as

    m(p) = o[column(p)] + Σ_k K ⊛ [D · g_k · S_k](p) + K ⊛ [D · L](p),     k = 0, 1,

with ``D`` the disk's indicator (an ellipse close to a circle: centre, radius, two shape terms),
``g_0 = 1`` and ``g_1 = cos e = √(1 − ρ²/R²)`` (the √(distance) cusp of Lambert / Minnaert shading at the
limb, which no polynomial in x, y follows), ``S_k`` smooth surfaces (tensor cubic B-splines in image
coordinates, knots ``knot_px`` apart), ``L`` a limb term (B-splines along the limb × B-splines in surface
distance from it, :func:`radial_knot_coordinate`: the foreshortened ground's structure near the limb),
``K`` the PSF with the pixel's box (a Gaussian of σ fitted from the limb's own edge) and ``o`` per-column
offsets (the sky and the detector's column pattern). A Lambert disk of any albedo is exactly
``A·(a x + b y) · 1 + A·c · cos e`` (the normal's components), so the basis needs no Sun direction.

The blur is taken along the limb's normal (the disk's curvature is small on the PSF's scale): with ``u`` the
inward distance of a point, ``d`` a pixel's, ``K ⊛ [D g_k S] ≈ S(p)·H_k(d) + ∂_in S(p)·G_k(d)`` where
``H_k(d) = ∫ φ_s(u − d) g_k(u) du`` and ``G_k(d) = ∫ φ_s(u − d)(u − d) g_k(u) du`` over the disk (first
order in the surface's variation across the PSF; tabulated once per limb and σ); the limb term's radial
splines are blurred exactly in 1-D. The model is linear in the coefficients and the column offsets
(weighted sparse least squares with small curvature penalties) and nonlinear in θ = (centre, radius, σ,
ellipse terms): joint Gauss–Newton steps (θ's columns by finite differences, solved by the Schur
complement of the sparse block). Hot spots and cosmic rays are kept out by iterated clipping of compact
outliers (:func:`compact_outliers`, grown by the PSF's reach). :meth:`DiskModelFit.trusted` says whether
the fit follows the limb.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: table step of the radial profiles, px
TABLE_STEP_PX = 0.05
#: the profiles reach this many blur σ outside the limb (beyond: 0)
TABLE_OUTSIDE_SIGMAS = 4.0
#: inside the disk the profiles are tabulated to this depth, px (beyond: the unblurred g_k, G_k = 0)
TABLE_DEPTH_PX = 40.0
#: the clipping schedule (σ) of the robust iterations
CLIP_SCHEDULE = (np.inf, 10.0, 4.0)
#: clipped pixels are grown by this many px (a source's wings, a cosmic ray's neighbours)
CLIP_GROW_PX = 2
#: the Gauss–Newton steps of θ see the pixels up to this far inside the limb, px
GN_DEPTH_PX = 15.0
#: largest Gauss–Newton step of (cx, cy, R, σ, e1, e2), px and ellipse terms
MAX_STEP = np.array([1.0, 1.0, 1.0, 0.2, 0.005, 0.005])
#: within this many px of the limb a compact outlier stands out from the residuals at its limb distance
#: (cells LIMB_CELL_D_PX deep, LIMB_CELL_ARC_PX along the limb), not from a box's
CLIP_LIMB_PX = 4.0
LIMB_CELL_D_PX = 0.5
LIMB_CELL_ARC_PX = 8.0
#: the fit's quality is judged on the pixels within this many px of its limb
QUALITY_LIMB_PX = 3.0
#: a trusted fit's limb χ² (per pixel), clipped fraction there, and largest ellipse term
MAX_LIMB_CHI2 = 4.0
MAX_LIMB_CLIPPED = 0.2
MAX_ELLIPSE = 0.015
#: box (px) of the median a compact outlier stands out from
COMPACT_BOX_PX = 7
#: θ's parameters the first (unclipped) round moves: centre and radius
FIRST_ROUND_FREE = np.array([True, True, True, False, False, False])
#: joint Gauss–Newton steps (surfaces and θ = centre, radius, σ, ellipse) per robust iteration
JOINT_STEPS = 2


@dataclass
class DiskModelFit:
    """A fitted disk model of one band image (see the module docstring).

    Attributes:
        center_sample, center_line, radius_px: the limb (refined sub-pixel), px.
        blur_sigma_px: σ of the edge's Gaussian blur (PSF core and pixel box together), px.
        ellipse: (e1, e2), the limb's departure from a circle (module docstring of :func:`_geometry`).
        model: the model image (column offsets and disk), the image's shape.
        column_offsets: per-column offset, image units.
        sigma: the noise σ per pixel the fit weighted with (a + b · disk brightness), image units.
        clipped: pixels the robust fit left out (sources, cosmic rays, masked).
        limb_distance_px: signed distance to the fitted limb per pixel, px (> 0 on the disk).
        chi2_dof: weighted χ² per degree of freedom of the kept pixels.
        limb_chi2: mean (residual / σ)² of the kept pixels within QUALITY_LIMB_PX of the limb.
        limb_clipped_fraction: fraction of the pixels within QUALITY_LIMB_PX of the limb that were clipped.
    """

    center_sample: float
    center_line: float
    radius_px: float
    blur_sigma_px: float
    ellipse: tuple[float, float]
    model: np.ndarray
    column_offsets: np.ndarray
    sigma: np.ndarray
    clipped: np.ndarray
    limb_distance_px: np.ndarray
    chi2_dof: float
    limb_chi2: float
    limb_clipped_fraction: float

    @property
    def disk(self) -> np.ndarray:
        """The disk's part of the model (without the column offsets), image units."""
        return self.model - self.column_offsets[None, :]

    def trusted(self) -> bool:
        """The fit follows the limb: the limb's residual χ² ≤ MAX_LIMB_CHI2, at most MAX_LIMB_CLIPPED of its
        pixels clipped, and an outline no further from a circle than MAX_ELLIPSE (Io's axes differ by < 1 %:
        more means the first circle was not the limb, e.g. a terminator taken for it)."""
        return (
            self.limb_chi2 <= MAX_LIMB_CHI2
            and self.limb_clipped_fraction <= MAX_LIMB_CLIPPED
            and max(abs(self.ellipse[0]), abs(self.ellipse[1])) <= MAX_ELLIPSE
        )


# ------------------------------------------------------------------------------------------------ B-splines


def cubic_bspline_1d(coord: np.ndarray, knot_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform cubic B-splines (knots ``knot_px`` apart, from −knot_px) at coordinates ≥ 0: (first basis
    index per point, (n, 4) values, (n, 4) derivatives per px)."""
    t_all = np.asarray(coord, dtype=float) / knot_px
    i0 = np.floor(t_all).astype(int)
    t = (t_all - i0)[:, None]
    val = np.hstack([(1 - t) ** 3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1, t**3]) / 6.0
    der = np.hstack([-((1 - t) ** 2), 3 * t**2 - 4 * t, -3 * t**2 + 2 * t + 1, t**2]) / (2.0 * knot_px)
    return i0, val, der


def n_basis_1d(length_px: int, knot_px: float) -> int:
    """Number of uniform cubic B-splines covering coordinates 0 … length_px − 1."""
    return int(np.floor((length_px - 1) / knot_px)) + 4


# ------------------------------------------------------------------------------------------ radial profiles


@dataclass(frozen=True)
class RadialTables:
    """H_k, G_k (see the module docstring) tabulated against the inward distance d, px."""

    d0_px: float
    step_px: float
    h: np.ndarray  # (2, n)
    g: np.ndarray  # (2, n)
    radius_px: float

    def at(self, d_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, G), each (2, n), at inward distances ``d_px``; beyond the table inside: the unblurred g_k."""
        pos = (np.asarray(d_px, dtype=float) - self.d0_px) / self.step_px
        n = self.h.shape[1]
        i = np.clip(np.floor(pos).astype(int), 0, n - 2)
        f = np.clip(pos - i, 0.0, 1.0)
        h = self.h[:, i] * (1 - f) + self.h[:, i + 1] * f
        g = self.g[:, i] * (1 - f) + self.g[:, i + 1] * f
        deep = pos > n - 1
        if deep.any():
            h[0, deep] = 1.0
            h[1, deep] = cos_emission(d_px[deep], self.radius_px)
            g[:, deep] = 0.0
        out = pos < 0
        h[:, out] = 0.0
        g[:, out] = 0.0
        return h, g


def cos_emission(d_px: np.ndarray, radius_px: float) -> np.ndarray:
    """cos e = √(1 − ρ²/R²) of a sphere's disk at inward distance d = R − ρ, px (0 outside)."""
    rho = np.clip(1.0 - np.asarray(d_px, dtype=float) / radius_px, 0.0, 1.0)
    return np.sqrt(1.0 - rho**2)


def _inside_fraction(u_px: np.ndarray) -> np.ndarray:
    """Fraction of each table cell (TABLE_STEP_PX wide, centred on u) inside the disk (u > 0)."""
    return np.clip(u_px / TABLE_STEP_PX + 0.5, 0.0, 1.0)


def _correlate_rows(rows: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """out[:, i] = Σ_m kernel[m] · rows[:, i + m − c] (c: the kernel's centre), zero beyond the ends."""
    from scipy import ndimage

    return ndimage.correlate1d(rows, kernel, axis=1, mode="constant")


@lru_cache(maxsize=64)
def radial_tables(radius_px: float, blur_sigma_px: float) -> RadialTables:
    """The blurred profiles of the disk's indicator and of its cos e across the limb (1-D, along the
    normal), for a Gaussian blur of σ ``blur_sigma_px``."""
    s = float(blur_sigma_px)
    reach = TABLE_OUTSIDE_SIGMAS * s
    depth = min(TABLE_DEPTH_PX, radius_px)
    u = np.arange(-2 * reach, depth + 2 * reach + TABLE_STEP_PX, TABLE_STEP_PX)
    inside = _inside_fraction(u)
    g_k = np.vstack([inside, cos_emission(u, radius_px) * inside])
    k = np.arange(-reach, reach + TABLE_STEP_PX / 2, TABLE_STEP_PX)
    phi = np.exp(-0.5 * (k / s) ** 2)
    phi /= phi.sum()
    # H(d) = Σ_u φ(u − d) g(u): a correlation; G(d) = Σ_u φ(u − d)(u − d) g(u)
    h = _correlate_rows(g_k, phi)
    g = _correlate_rows(g_k, phi * k)
    keep = (u >= -reach) & (u <= depth)
    return RadialTables(float(u[keep][0]), TABLE_STEP_PX, h[:, keep], g[:, keep], float(radius_px))


# ---------------------------------------------------------------------------------------------- the model


@dataclass
class _Basis:
    """Per-pixel spline pieces of the disk's pixels (those the blurred disk reaches)."""

    pix: np.ndarray  # flat pixel indices
    x: np.ndarray
    y: np.ndarray
    cols: np.ndarray  # (n, 16) basis index
    val: np.ndarray  # (n, 16)
    dx: np.ndarray  # (n, 16) ∂/∂x
    dy: np.ndarray  # (n, 16) ∂/∂y
    n_basis: int


def _basis(shape: tuple[int, int], pix: np.ndarray, knot_px: float) -> _Basis:
    nl, ns = shape
    y, x = np.divmod(pix, ns)
    ix, vx, dxv = cubic_bspline_1d(x.astype(float), knot_px)
    iy, vy, dyv = cubic_bspline_1d(y.astype(float), knot_px)
    nbx = n_basis_1d(ns, knot_px)
    a = np.arange(4)
    cols = ((iy[:, None] + a)[:, :, None] * nbx + (ix[:, None] + a)[:, None, :]).reshape(-1, 16)
    val = (vy[:, :, None] * vx[:, None, :]).reshape(-1, 16)
    dx = (vy[:, :, None] * dxv[:, None, :]).reshape(-1, 16)
    dy = (dyv[:, :, None] * vx[:, None, :]).reshape(-1, 16)
    return _Basis(pix, x.astype(float), y.astype(float), cols, val, dx, dy, nbx * n_basis_1d(nl, knot_px))


def _geometry(b: _Basis, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inward distance to the limb, outward unit normal x, y) of the basis' pixels for θ = (cx, cy, R, σ,
    e1, e2): the limb is the ellipse ρ = R with ρ² = (1 + e1)·u² + 2·e2·u·v + (1 − e1)·v² about the centre
    (a triaxial body's outline; e = 0: a circle)."""
    cx, cy, r, _, e1, e2 = theta
    u, v = b.x - cx, b.y - cy
    qu, qv = (1 + e1) * u + e2 * v, e2 * u + (1 - e1) * v
    rho = np.sqrt(np.maximum(u * qu + v * qv, 1e-18))
    gx, gy = qu / rho, qv / rho  # ∇ρ
    gn = np.maximum(np.hypot(gx, gy), 1e-9)
    return (r - rho) / gn, gx / gn, gy / gn


def _design_blocks(b: _Basis, theta: np.ndarray, tables: RadialTables) -> list[np.ndarray]:
    """The (n, 16) design entries of surface k = 0, 1: b·H_k + ∂_in b·G_k."""
    d, rx, ry = _geometry(b, theta)
    h, g = tables.at(d)
    d_in = -(b.dx * rx[:, None] + b.dy * ry[:, None])
    return [b.val * h[k][:, None] + d_in * g[k][:, None] for k in range(2)]


def _n_surfaces(zone) -> int:
    """Image-coordinate surfaces in use: S0 and S1 (× cos e); with a limb term, S0 only unless asked (the
    limb term's radial splines in surface distance hold the cos e cusp: cos e = sin(s / R) ≈ s / R there)."""
    return 2 if zone is None or zone.cos_e_surface else 1


def _disk_values(b: _Basis, coefs: np.ndarray, theta: np.ndarray, zone: _LimbZone | None) -> np.ndarray:
    """The disk's model at the basis' pixels for coefficients [S0 | S1 (no limb term) | limb term]."""
    nb, n_surf = b.n_basis, _n_surfaces(zone)
    blocks = _design_blocks(b, theta, radial_tables(float(theta[2]), float(theta[3])))
    out = sum(np.sum(blocks[k] * coefs[k * nb : (k + 1) * nb][b.cols], axis=1) for k in range(n_surf))
    if zone is not None:
        d = _geometry(b, theta)[0][zone.sel]
        lt = limb_tables(float(theta[2]), float(theta[3]), zone.knot_px, zone.min_knot_px, zone.n_radial)
        out[zone.sel] += _limb_values(zone, d, lt, coefs[n_surf * nb :])
    return out


@dataclass
class _LimbZone:
    """The limb term's pieces: pixels within the zone (indices into the basis' pixels), their angular
    B-splines (arc length along the first limb, px) and the radial basis' count."""

    sel: np.ndarray  # indices into _Basis.pix
    cols: np.ndarray  # (n, 4) angular basis index
    val: np.ndarray  # (n, 4)
    n_angle: int
    n_radial: int
    knot_px: float  # radial knot spacing in surface distance from the limb, px
    min_knot_px: float  # … and no closer than this in image distance, px
    cos_e_surface: bool = False  # keep S1 (× cos e) beside the limb term


def _limb_zone(
    b: _Basis,
    theta: np.ndarray,
    knot_px: float,
    radial_knot_px: float,
    min_knot_px: float,
    depth_cos_e: float,
) -> _LimbZone | None:
    """The limb term's zone: pixels where cos e < ``depth_cos_e`` (surface distance from the limb up to
    R·arcsin(depth_cos_e), see :func:`surface_distance_px`) plus the blur's reach outside; angular knots
    ``knot_px`` apart along the limb, radial ones ``radial_knot_px`` apart in surface distance."""
    d, _, _ = _geometry(b, theta)
    r = theta[2]
    d_max = r * (1.0 - np.sqrt(1.0 - depth_cos_e**2))  # where cos e = depth_cos_e
    q_max = float(radial_knot_coordinate(np.array([d_max]), r, radial_knot_px, min_knot_px)[0])
    n_radial = int(np.ceil(q_max)) + 1
    d_end = _radial_end_px(r, radial_knot_px, min_knot_px, n_radial)
    sel = np.flatnonzero((d < d_end) & (d > -TABLE_OUTSIDE_SIGMAS * 3.0))
    if sel.size < 50:
        return None
    phi = np.arctan2(b.y[sel] - theta[1], b.x[sel] - theta[0])
    # cut the circle where no zone pixel lies (the largest angular gap)
    srt = np.sort(phi)
    gaps = np.diff(np.concatenate([srt, srt[:1] + 2 * np.pi]))
    k = int(np.argmax(gaps))
    start = srt[(k + 1) % srt.size]
    rel = np.mod(phi - start, 2 * np.pi)
    arc = rel * r
    full = gaps[k] * r < 4 * knot_px  # the whole limb in view: periodic
    if full:
        n_angle = max(int(np.round(2 * np.pi * r / knot_px)), 4)
        h = 2 * np.pi * r / n_angle
        i0, val, _ = cubic_bspline_1d(arc, h)
        cols = np.mod(i0[:, None] + np.arange(4), n_angle)
    else:
        i0, val, _ = cubic_bspline_1d(arc, knot_px)
        n_angle = n_basis_1d(int(np.ceil(arc.max())) + 1, knot_px)
        cols = i0[:, None] + np.arange(4)
    return _LimbZone(sel, cols, val, n_angle, n_radial, radial_knot_px, min_knot_px)


def surface_distance_px(d_px: np.ndarray, radius_px: float) -> np.ndarray:
    """Distance along a sphere's surface from its limb, px of the disk's radius, of points at inward image
    distance d: R·arccos(1 − d/R) (the foreshortening near the limb spreads the surface's structure over
    few pixels); 0 outside."""
    return radius_px * np.arccos(np.clip(1.0 - np.asarray(d_px, dtype=float) / radius_px, -1.0, 1.0))


@dataclass(frozen=True)
class LimbTables:
    """The limb term's radial basis (cubic B-splines in surface distance from the limb) blurred across the
    limb, tabulated against the inward distance d, px."""

    d0_px: float
    step_px: float
    h: np.ndarray  # (n_radial, n)

    def at(self, d_px: np.ndarray) -> np.ndarray:
        """(n, n_radial) blurred radial basis at inward distances ``d_px`` (0 beyond the table)."""
        pos = (np.asarray(d_px, dtype=float) - self.d0_px) / self.step_px
        n = self.h.shape[1]
        i = np.clip(np.floor(pos).astype(int), 0, n - 2)
        f = np.clip(pos - i, 0.0, 1.0)
        out = (self.h[:, i] * (1 - f) + self.h[:, i + 1] * f).T
        out[(pos < 0) | (pos > n - 1)] = 0.0
        return out


def radial_knot_coordinate(
    d_px: np.ndarray, radius_px: float, knot_px: float, min_knot_px: float
) -> np.ndarray:
    """The limb term's radial coordinate (its knots at the integers) at inward distances d, px: knots
    ``min_knot_px`` apart in d up to d₁ = R·min_knot_px² / (2·knot_px²), where the foreshortening brings
    ``knot_px`` of surface distance (:func:`surface_distance_px`) to that, and ``knot_px`` apart in surface
    distance beyond (finer knots at the limb would let the term move the limb's edge itself)."""
    d = np.clip(np.asarray(d_px, dtype=float), 0.0, radius_px)
    d1 = min(radius_px * min_knot_px**2 / (2.0 * knot_px**2), radius_px)
    s1 = float(surface_distance_px(np.array([d1]), radius_px)[0])
    beyond = d1 / min_knot_px + (surface_distance_px(d, radius_px) - s1) / knot_px
    return np.where(d <= d1, d / min_knot_px, beyond)


def _radial_end_px(radius_px: float, knot_px: float, min_knot_px: float, n_radial: int) -> float:
    """The inward distance (px) where the radial coordinate reaches ``n_radial`` (the last basis' end)."""
    d = np.linspace(0.0, radius_px, 4096)
    q = radial_knot_coordinate(d, radius_px, knot_px, min_knot_px)
    return float(np.interp(n_radial, q, d)) if q[-1] > n_radial else radius_px


@lru_cache(maxsize=64)
def limb_tables(
    radius_px: float, blur_sigma_px: float, knot_px: float, min_knot_px: float, n_radial: int
) -> LimbTables:
    """:class:`LimbTables` for a limb of radius ``radius_px`` blurred by a Gaussian of σ ``blur_sigma_px``
    (radial knots: :func:`radial_knot_coordinate`)."""
    s = float(blur_sigma_px)
    reach = TABLE_OUTSIDE_SIGMAS * s
    d_end = _radial_end_px(radius_px, knot_px, min_knot_px, n_radial)
    u = np.arange(-2 * reach, d_end + 2 * reach + TABLE_STEP_PX, TABLE_STEP_PX)
    q = radial_knot_coordinate(u, radius_px, knot_px, min_knot_px)
    i0, val, _ = cubic_bspline_1d(q, 1.0)  # basis j: support [j − 3, j + 1] in q
    f = np.zeros((n_radial + 3, u.size))
    for m in range(4):
        j = i0 + m
        ok = (j >= 0) & (j < n_radial + 3)
        f[j[ok], np.flatnonzero(ok)] = val[ok, m]
    f = f[:n_radial] * _inside_fraction(u)
    k = np.arange(-reach, reach + TABLE_STEP_PX / 2, TABLE_STEP_PX)
    phi = np.exp(-0.5 * (k / s) ** 2)
    phi /= phi.sum()
    h = _correlate_rows(f, phi)
    keep = (u >= -reach) & (u <= d_end)
    return LimbTables(float(u[keep][0]), TABLE_STEP_PX, h[:, keep])


def _limb_values(zone: _LimbZone, d_zone: np.ndarray, tables: LimbTables, coefs: np.ndarray) -> np.ndarray:
    """The limb term at the zone's pixels for coefficients (n_angle × n_radial, angle-major)."""
    hr = tables.at(d_zone)  # (n, n_radial)
    c = coefs.reshape(zone.n_angle, zone.n_radial)[zone.cols]  # (n, 4, n_radial)
    return np.einsum("na,nar,nr->n", zone.val, c, hr)


def _curvature_penalty(nby: int, nbx: int):
    """Σ of squared second differences of a (nby, nbx) coefficient grid along each axis, as a sparse
    quadratic form."""
    from scipy import sparse

    def d2(n: int):
        return sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(max(n - 2, 0), n))

    ex, ey = sparse.identity(nbx), sparse.identity(nby)
    dxx = sparse.kron(ey, d2(nbx))
    dyy = sparse.kron(d2(nby), ex)
    return (dxx.T @ dxx + dyy.T @ dyy).tocsr()


def _design(b: _Basis, theta: np.ndarray, zone: _LimbZone | None, npix: int, ns: int):
    """The sparse design matrix (all pixels × [S0 | S1 (no limb term) | limb term | column offsets])."""
    from scipy import sparse

    nb, n_surf = b.n_basis, _n_surfaces(zone)
    blocks = _design_blocks(b, theta, radial_tables(float(theta[2]), float(theta[3])))[:n_surf]
    rows = np.repeat(b.pix, 16)
    r_all = [rows] * n_surf + [np.arange(npix)]
    c_all = [k * nb + b.cols.ravel() for k in range(n_surf)] + [None]
    v_all = [blk.ravel() for blk in blocks] + [np.ones(npix)]
    n_limb = 0
    if zone is not None:
        n_limb = zone.n_angle * zone.n_radial
        d = _geometry(b, theta)[0][zone.sel]
        hr = limb_tables(float(theta[2]), float(theta[3]), zone.knot_px, zone.min_knot_px, zone.n_radial).at(
            d
        )  # (n, n_radial)
        vals = zone.val[:, :, None] * hr[:, None, :]  # (n, 4, n_radial)
        cols = zone.cols[:, :, None] * zone.n_radial + np.arange(zone.n_radial)
        nz = vals != 0.0
        r_all.insert(n_surf, np.broadcast_to(b.pix[zone.sel][:, None, None], vals.shape)[nz])
        c_all.insert(n_surf, n_surf * nb + cols[nz])
        v_all.insert(n_surf, vals[nz])
    c_all[-1] = n_surf * nb + n_limb + np.arange(npix) % ns
    n_cols = n_surf * nb + n_limb + ns
    a = sparse.csr_matrix(
        (np.concatenate(v_all), (np.concatenate(r_all), np.concatenate(c_all))), shape=(npix, n_cols)
    )
    return a, n_limb


def _solve_linear(
    image: np.ndarray,
    weight: np.ndarray,
    b: _Basis,
    theta: np.ndarray,
    zone: _LimbZone | None,
    penalties: tuple,
    smooth: float,
    coefs_prev: np.ndarray | None = None,
    free: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares for the disk's coefficients [S0 | S1 | limb term] and the column offsets; with
    ``coefs_prev``, jointly with a Gauss–Newton step of θ (the model's derivatives in θ at those
    coefficients, on the pixels within GN_DEPTH_PX of the limb, as 6 more columns; ``free``: which of θ
    move, all by default). Returns (coefficients, offsets, θ step — zeros without ``coefs_prev``)."""
    from scipy import sparse
    from scipy.sparse.linalg import splu

    nl, ns = image.shape
    a, n_limb = _design(b, theta, zone, nl * ns, ns)
    w = weight.ravel()
    aw = a.multiply(w[:, None]).tocsr()
    normal = (a.T @ aw).tocsr()
    rhs = aw.T @ image.ravel()
    diag = normal.diagonal()
    scale = float(np.median(diag[diag > 0])) if np.any(diag > 0) else 1.0
    surface_pen, limb_pen = penalties
    blocks = [smooth * scale * surface_pen] * _n_surfaces(zone)
    if n_limb:
        blocks.append(smooth * scale * limb_pen)
    blocks.append(sparse.csr_matrix((ns, ns)))
    # a tiny ridge keeps unconstrained coefficients (no pixel, or a column wholly clipped) at 0
    ridge = sparse.identity(a.shape[1]) * (1e-8 * scale)
    lu = splu(
        (normal + sparse.block_diag(blocks) + ridge).tocsc(),
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    step = np.zeros(6)
    if coefs_prev is None:
        sol = lu.solve(rhs)
    else:  # the θ step by the Schur complement of the linear block (θ's 6 columns are dense)
        jac, rows = _theta_jacobian(b, zone, coefs_prev, theta)
        j = sparse.csr_matrix(
            (jac.ravel(), (np.repeat(rows, 6), np.tile(np.arange(6), rows.size))), shape=(nl * ns, 6)
        )
        jw = j.multiply(w[:, None]).tocsr()
        n_lt = (a.T @ jw).toarray()
        n_tt = (j.T @ jw).toarray()
        r_t = jw.T @ image.ravel()
        y0 = lu.solve(rhs)
        x_lt = lu.solve(n_lt)
        schur = n_tt - n_lt.T @ x_lt
        schur += 1e-3 * np.diag(np.diag(n_tt))  # Levenberg–Marquardt damping
        f = np.flatnonzero(np.ones(6, bool) if free is None else free)
        try:
            step[f] = np.linalg.solve(schur[np.ix_(f, f)], (r_t - n_lt.T @ y0)[f])
        except np.linalg.LinAlgError:
            step[:] = 0.0
        sol = y0 - x_lt @ step
    n_lin = a.shape[1]
    return sol[: n_lin - ns], sol[n_lin - ns :], step


def _theta_jacobian(
    b: _Basis, zone: _LimbZone | None, coefs: np.ndarray, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(∂ disk model / ∂θ (n, 6) by finite differences at ``coefs``, the flat pixel indices (n,)) on the
    pixels within GN_DEPTH_PX inside the limb and the blur's reach outside."""
    d = _geometry(b, theta)[0]
    sb, sz = _subset(b, zone, (d > -TABLE_OUTSIDE_SIGMAS * 3.0) & (d < GN_DEPTH_PX))
    m0 = _disk_values(sb, coefs, theta, sz)
    steps = np.array([0.01, 0.01, 0.01, 0.005, 1e-5, 1e-5])
    jac = np.column_stack(
        [(_disk_values(sb, coefs, theta + e, sz) - m0) / e[k] for k, e in enumerate(np.diag(steps))]
    )
    return jac, sb.pix


def _take_step(theta: np.ndarray, step: np.ndarray) -> np.ndarray:
    """θ + the step, clipped to MAX_STEP (σ kept within 0.3–3 px)."""
    out = theta + np.clip(step, -MAX_STEP, MAX_STEP)
    out[3] = float(np.clip(out[3], 0.3, 3.0))
    return out


def _model_image(
    shape: tuple[int, int], b: _Basis, coefs: np.ndarray, offsets: np.ndarray, theta, zone
) -> np.ndarray:
    out = np.broadcast_to(offsets[None, :], shape).copy()
    out.ravel()[b.pix] += _disk_values(b, coefs, theta, zone)
    return out


def _subset(b: _Basis, zone: _LimbZone | None, keep: np.ndarray) -> tuple[_Basis, _LimbZone | None]:
    """The basis and limb zone restricted to the basis' pixels ``keep`` (bool over b.pix)."""
    idx = np.flatnonzero(keep)
    sub = _Basis(b.pix[idx], b.x[idx], b.y[idx], b.cols[idx], b.val[idx], b.dx[idx], b.dy[idx], b.n_basis)
    if zone is None:
        return sub, None
    where = np.full(b.pix.size, -1)
    where[idx] = np.arange(idx.size)
    inz = keep[zone.sel]
    z = _LimbZone(
        where[zone.sel[inz]],
        zone.cols[inz],
        zone.val[inz],
        zone.n_angle,
        zone.n_radial,
        zone.knot_px,
        zone.min_knot_px,
        zone.cos_e_surface,
    )
    return sub, z


def _noise_sigma(residual: np.ndarray, disk: np.ndarray, keep: np.ndarray, floor_sigma: float) -> np.ndarray:
    """Per-pixel σ = √(a + b · max(disk, 0)) fitted to the kept residuals' squares (robustly: medians in
    brightness bins), image units."""
    lvl = np.maximum(disk, 0.0)
    r = residual[keep]
    v = lvl[keep]
    if r.size < 50:
        return np.full(residual.shape, floor_sigma)
    edges = np.unique(np.quantile(v, np.linspace(0, 1, 11)))
    xs, ys = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (v >= lo) & (v <= hi)
        if sel.sum() >= 30:
            xs.append(float(np.median(v[sel])))
            ys.append(float((1.4826 * np.median(np.abs(r[sel]))) ** 2))
    if len(xs) >= 2:
        slope, icpt = np.polyfit(xs, ys, 1)
        slope, icpt = max(float(slope), 0.0), max(float(icpt), floor_sigma**2)
    else:
        slope, icpt = 0.0, max(ys[0] if ys else floor_sigma**2, floor_sigma**2)
    return np.sqrt(icpt + slope * lvl)


def compact_outliers(
    residual: np.ndarray,
    sigma: np.ndarray,
    clip_sigma: float,
    limb_distance_px: np.ndarray | None = None,
    limb_arc_px: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels whose residual stands beyond ``clip_sigma`` σ both from zero and from the median residual
    around it: sources and cosmic rays (compact), not the model's own broad misfits (which clipping would
    hide from the fit, leaving the surfaces free to wander there). Around: the 7 × 7 box; within
    CLIP_LIMB_PX of the limb (given its distance and arc coordinate, px), the pixels at the same limb
    distance (cells of LIMB_CELL_D_PX) within LIMB_CELL_ARC_PX along it (a misfit of the limb is a thin
    ridge along it, which a box's median would not see)."""
    from scipy import ndimage

    z = residual / sigma
    local = ndimage.median_filter(z, size=COMPACT_BOX_PX, mode="nearest")
    if limb_distance_px is not None and limb_arc_px is not None:
        band = np.abs(limb_distance_px) < CLIP_LIMB_PX
        if band.any():
            key = np.floor(limb_distance_px[band] / LIMB_CELL_D_PX).astype(np.int64) * 1_000_000 + np.floor(
                limb_arc_px[band] / LIMB_CELL_ARC_PX
            ).astype(np.int64)
            local[band] = _group_median(key, z[band])
    return (np.abs(z) > clip_sigma) & (np.abs(z - local) > clip_sigma)


def _group_median(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's group median (groups by ``key``)."""
    order = np.lexsort((values, key))
    k, v = key[order], values[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], k.size]
    lo = starts + (ends - starts - 1) // 2
    hi = starts + (ends - starts) // 2
    med = 0.5 * (v[lo] + v[hi])
    out = np.empty_like(values)
    out[order] = np.repeat(med, ends - starts)
    return out


def _grow(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, np.ones((2 * CLIP_GROW_PX + 1,) * 2, bool))


def fit_disk_model(
    image: np.ndarray,
    center_sample: float,
    center_line: float,
    radius_px: float,
    blur_sigma_px: float = 0.85,
    *,
    mask: np.ndarray | None = None,
    knot_px: float = 6.0,
    smooth: float = 1e-3,
    limb_knot_px: float | None = 6.0,
    limb_radial_knot_px: float = 3.0,
    limb_min_knot_px: float = 1.0,
    limb_depth_cos_e: float = 0.5,
    cos_e_surface: bool = True,
) -> DiskModelFit:
    """Fit the disk model (module docstring) to a band image from a first limb circle (px) and blur σ (px).

    Args:
        image: the band image, image units (NaN: missing).
        center_sample, center_line, radius_px: the first guess of the limb circle, px.
        blur_sigma_px: first guess of the edge's Gaussian σ (PSF core with the pixel's box), px.
        mask: pixels to leave out (saturated), or None.
        knot_px: the surfaces' knot spacing, px.
        smooth: weight of the curvature penalties, relative to a typical coefficient's data weight.
        limb_knot_px: knot spacing of the limb term along the limb, px; None: no limb term.
        limb_radial_knot_px: … and in surface distance from the limb (R·arccos(1 − d/R)), px,
        limb_min_knot_px: … but no closer than this in image distance, px
            (:func:`radial_knot_coordinate`).
        limb_depth_cos_e: the limb term reaches in to where cos e is this.
    """
    x = np.asarray(image, dtype=float)
    shape = x.shape
    bad = ~np.isfinite(x) | (np.zeros(shape, bool) if mask is None else np.asarray(mask, bool))
    x = np.where(bad, 0.0, x)
    theta = np.array([center_sample, center_line, radius_px, blur_sigma_px, 0.0, 0.0], dtype=float)
    nl, ns = shape
    yy, xx = np.mgrid[0:nl, 0:ns]
    reach = TABLE_OUTSIDE_SIGMAS * 3.0 + 3.0  # pixels the blurred disk may reach as θ moves
    near = (radius_px - np.hypot(xx - center_sample, yy - center_line)) > -reach
    b = _basis(shape, np.flatnonzero(near.ravel()), knot_px)
    zone = (
        None
        if limb_knot_px is None
        else _limb_zone(b, theta, limb_knot_px, limb_radial_knot_px, limb_min_knot_px, limb_depth_cos_e)
    )
    if zone is not None:
        zone.cos_e_surface = cos_e_surface
    penalties = (
        _curvature_penalty(n_basis_1d(nl, knot_px), n_basis_1d(ns, knot_px)),
        None if zone is None else _curvature_penalty(zone.n_angle, zone.n_radial),
    )
    from ioscan.detect.limb import pixel_noise_map

    sigma = np.maximum(pixel_noise_map(x.astype(np.float32)).astype(float), 1e-30)
    floor_sigma = float(np.percentile(sigma, 5))
    clipped = bad.copy()
    coefs, offsets, _ = _solve_linear(
        x, np.where(clipped, 0.0, 1.0 / sigma**2), b, theta, zone, penalties, smooth
    )
    for clip in CLIP_SCHEDULE:
        weight = np.where(clipped, 0.0, 1.0 / sigma**2)
        # the first round moves the limb alone (centre, radius): σ and the ellipse terms, freed at once
        # from a poor first limb, can wander off with it
        free = FIRST_ROUND_FREE if not np.isfinite(clip) else None
        for _ in range(JOINT_STEPS):
            coefs, offsets, step = _solve_linear(x, weight, b, theta, zone, penalties, smooth, coefs, free)
            theta = _take_step(theta, step)
        model = _model_image(shape, b, coefs, offsets, theta, zone)
        sigma = _noise_sigma(x - model, model - offsets[None, :], ~clipped, floor_sigma)
        d_limb = np.full(shape, np.inf)
        d_limb.ravel()[b.pix] = _geometry(b, theta)[0]
        arc = theta[2] * np.arctan2(yy - theta[1], xx - theta[0])
        clipped = bad | _grow(compact_outliers(x - model, sigma, clip, d_limb, arc))
    weight = np.where(clipped, 0.0, 1.0 / sigma**2)
    coefs, offsets, _ = _solve_linear(x, weight, b, theta, zone, penalties, smooth)
    model = _model_image(shape, b, coefs, offsets, theta, zone)
    keep = ~clipped
    dof = max(int(keep.sum()) - coefs.size - ns, 1)
    z2 = ((x - model) / sigma) ** 2
    chi2 = float(np.sum(z2[keep])) / dof
    distance = np.full(shape, -np.inf)
    distance.ravel()[b.pix] = _geometry(b, theta)[0]
    at_limb = (np.abs(distance) < QUALITY_LIMB_PX) & ~bad
    n_limb = int(at_limb.sum())
    return DiskModelFit(
        center_sample=float(theta[0]),
        center_line=float(theta[1]),
        radius_px=float(theta[2]),
        blur_sigma_px=float(theta[3]),
        ellipse=(float(theta[4]), float(theta[5])),
        model=model,
        column_offsets=offsets,
        sigma=sigma,
        clipped=clipped,
        limb_distance_px=distance,
        chi2_dof=chi2,
        limb_chi2=float(np.mean(z2[at_limb & keep])) if (at_limb & keep).any() else np.inf,
        limb_clipped_fraction=float((at_limb & clipped).sum() / n_limb) if n_limb else 1.0,
    )


def fit_band_disk(
    data: np.ndarray,
    center_sample: float,
    center_line: float,
    radius_px: float,
    psf_core_sigma_px: float,
    saturated: np.ndarray | None = None,
) -> DiskModelFit | None:
    """The disk model of a band from the limb circle seen in it (px) and the PSF's core σ (px), or None when
    the fit does not follow the limb (:meth:`DiskModelFit.trusted`)."""
    blur = float(np.hypot(psf_core_sigma_px, np.sqrt(1.0 / 12.0)))
    fit = fit_disk_model(data, center_sample, center_line, radius_px, blur, mask=saturated)
    return fit if fit.trusted() else None


# ------------------------------------------------------------------------- the S/N map on data − model

#: the calibration's blocks away from the limb, px
SNR_BLOCK_PX = 16
#: within this many px of the fitted limb the scale is that of the pixels at the same limb distance
#: (bins SNR_LIMB_BIN_PX deep) within ± SNR_LIMB_ARC_PX / 2 along the limb (the model's residual there)
SNR_LIMB_PX = 6.0
SNR_LIMB_BIN_PX = 1.0
SNR_LIMB_ARC_PX = 24.0
#: the quantile of |S/N| along the limb its scale is read from (÷ that of a unit Gaussian): above the median,
#: so that a misfit over a quarter of the window (a hole the clipping left in the model) raises it
SNR_LIMB_QUANTILE = 0.75
#: fewest calibration pixels a block needs for its own scale
SNR_MIN_PIXELS = 12
#: |z| median of a unit Gaussian (robust rms = median |z| ÷ this)
_MEDIAN_ABS_Z = 0.6744897501960817
#: the SNR_LIMB_QUANTILE of |z| for a unit Gaussian
_LIMB_QUANTILE_Z = 1.1503493803760079  # ndtri(0.5 + 0.75 / 2)


@dataclass
class DiskSnr:
    """The matched filter's S/N on the data less the disk model (:func:`disk_snr_map`), full image.

    Attributes:
        snr: calibrated S/N, the best of the sub-pixel phases.
        phase: index in :data:`ioscan.detect.background.PHASES` of that phase.
        scale: the calibration (≥ 1): robust rms of the white-noise S/N per block, or along the limb.
        noise: σ per pixel (the model's a + b · level) × scale, image units.
        limb_px: signed distance to the fitted limb (> 0 on the disk; −inf far outside), px.
    """

    snr: np.ndarray
    phase: np.ndarray
    scale: np.ndarray
    noise: np.ndarray
    limb_px: np.ndarray


def _robust_rms_by_key(key: np.ndarray, z: np.ndarray, min_n: int) -> tuple[np.ndarray, np.ndarray]:
    """(robust rms about 0 — median |z| ÷ 0.674 —, enough pixels) of each pixel's group by ``key``."""
    med = _group_median(key, np.abs(z)) / _MEDIAN_ABS_Z
    _, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    return med, counts[inv] >= min_n


def _along_limb_rms(bin_index: np.ndarray, arc_px: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per pixel, the robust rms (the SNR_LIMB_QUANTILE of |z| ÷ its Gaussian value) of the pixels of its
    limb-distance bin within ± SNR_LIMB_ARC_PX / 2 along the limb (a running quantile over the bin's pixels
    in arc order: ~1 pixel per px of arc in a 1-px bin), so a misfit that changes along the limb is followed
    without cell edges."""
    from scipy import ndimage

    out = np.empty(z.size)
    order = np.lexsort((arc_px, bin_index))
    k, a = bin_index[order], np.abs(z[order])
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], k.size]
    for lo, hi in zip(starts, ends, strict=True):
        size = int(np.clip(round(SNR_LIMB_ARC_PX * SNR_LIMB_BIN_PX), 1, hi - lo)) | 1
        q = ndimage.percentile_filter(a[lo:hi], 100.0 * SNR_LIMB_QUANTILE, size=size, mode="nearest")
        out[order[lo:hi]] = q / _LIMB_QUANTILE_Z
    return out


def _block_scale(z: np.ndarray, calib: np.ndarray) -> np.ndarray:
    """Per SNR_BLOCK_PX block, the robust rms of the white-noise S/N ``z`` on the calibration pixels, ≥ 1,
    averaged over 3 × 3 blocks and spread to the pixels (blocks with too few pixels: the median block's)."""
    from scipy import ndimage

    nl, ns = z.shape
    b = SNR_BLOCK_PX
    nbl, nbs = -(-nl // b), -(-ns // b)
    iy, ix = np.nonzero(calib)
    key = (iy // b) * nbs + ix // b
    grid = np.full(nbl * nbs, np.nan)
    if key.size:
        rms, enough = _robust_rms_by_key(key, z[calib], SNR_MIN_PIXELS)
        grid[key[enough]] = rms[enough]
    grid = grid.reshape(nbl, nbs)
    fill = float(np.nanmedian(grid)) if np.isfinite(grid).any() else 1.0
    grid = np.where(np.isfinite(grid), grid, fill)
    grid = ndimage.uniform_filter(np.maximum(grid, 1.0), size=3, mode="nearest")
    return np.repeat(np.repeat(grid, b, axis=0), b, axis=1)[:nl, :ns]


def disk_snr_map(
    fit: DiskModelFit, image: np.ndarray, core_sigma_px: float, valid: np.ndarray | None = None
) -> DiskSnr:
    """The PSF's matched filter on ``image`` − the model, its noise from the model's own σ per pixel (the
    photon noise of the model's level, :func:`_noise_sigma`; no second local background), calibrated by the
    robust rms of its white-noise S/N per SNR_BLOCK_PX block and, within SNR_LIMB_PX of the fitted limb, of
    the pixels at the same limb distance nearby along the limb (:func:`_along_limb_rms`), where that is
    higher (the model's limb residual raises the threshold there instead of making detections).
    Calibration pixels: in the blocks, valid and beyond the filter's reach of the pixels the fit clipped
    (sources, cosmic rays); along the limb, all valid ones. ``core_sigma_px``: the PSF core's σ, px;
    ``valid``: the pixels the filter may read (default: the finite ones)."""
    from scipy import ndimage

    from ioscan.detect.background import PHASES
    from ioscan.detect.psf import kernel1d

    x = np.asarray(image, dtype=np.float64)
    ok_all = np.isfinite(x) if valid is None else np.asarray(valid, bool) & np.isfinite(x)
    resid = np.where(ok_all, x - fit.model, 0.0)
    var = np.where(ok_all, fit.sigma**2, 0.0)
    shifts = sorted({p for ph in PHASES for p in ph})
    kern = {sh: kernel1d(core_sigma_px, sh) for sh in shifts}
    rows = {sh: ndimage.correlate1d(resid, k, axis=0, mode="constant") for sh, k in kern.items()}
    rows_v = {sh: ndimage.correlate1d(var, k * k, axis=0, mode="constant") for sh, k in kern.items()}
    snr_white = []
    for dl, ds in PHASES:
        num = ndimage.correlate1d(rows[dl], kern[ds], axis=1, mode="constant")
        den = np.sqrt(ndimage.correlate1d(rows_v[dl], kern[ds] ** 2, axis=1, mode="constant"))
        snr_white.append(np.divide(num, den, out=np.zeros_like(num), where=den > 0))
    stack = np.stack(snr_white)
    phase = np.argmax(stack, axis=0).astype(np.intp)
    top = np.take_along_axis(stack, phase[None], axis=0)[0]
    reach = len(kern[0.0]) // 2 + 1
    calib = ok_all & ~ndimage.binary_dilation(fit.clipped & ok_all, iterations=reach)
    z = snr_white[0]
    scale = _block_scale(z, calib)
    d = fit.limb_distance_px
    near = np.isfinite(d) & (np.abs(d) < SNR_LIMB_PX) & ok_all
    if near.any():
        # all valid pixels: the fit clipped the model's own misfits at the limb too, and a source takes few
        # of a window's pixels (the median stands)
        yy, xx = np.nonzero(near)
        arc = fit.radius_px * np.arctan2(yy - fit.center_line, xx - fit.center_sample)
        rms = _along_limb_rms(np.floor(d[near] / SNR_LIMB_BIN_PX).astype(np.int64), arc, z[near])
        scale[near] = np.maximum(scale[near], rms)
    snr = np.where(ok_all, top / scale, 0.0)
    return DiskSnr(snr=snr, phase=phase, scale=scale, noise=np.sqrt(var) * scale, limb_px=d)
