"""A GLS matched filter whose texture covariance is learned from the frame and mapped by foreshortening
(issue 11, day side) — a study kept beside ``bench_dayside_bound``, not a detection step: it lost to
ioscan's own S/N map (docs/studies/day-side-detection.md, *A texture GLS learned from the frame, tried*).

The sunlit disk's albedo texture is multiplicative (albedo × shading) and foreshortened radially by cos e
(e the emission angle; on a sphere seen from afar cos e = √(1 − (r/R)²) at r px from the disk's centre, R
its radius). With ``model`` a smooth disk model (:mod:`ioscan.detect.disk_model`) the relative texture
t = (image − model) / disk is, up to noise, a field on the surface. Here:

1. its covariance on the surface is learned from the frame (:func:`learn_surface_spectrum`): the
   autocovariance of t over sectors of a zone of cos e (normalised per lag), each surface lag gathered from
   the image lag it foreshortens to (radial component × the sector's cos e), the white noise taken off lag 0,
   tapered; its Fourier transform, negative power clipped, kept as modes κ_m with powers P_m, so the surface
   covariance Σ P_m cos(κ_m·Δu) is positive semi-definite by construction. One spectrum per zone of cos e
   (:func:`learn_zone_spectra`): the texture left in the residual depends on how the disk model absorbs it,
   which differs with the distance to the limb;
2. each pixel's window gets surface coordinates u (radial: R·arcsin(r/R) relative to the window's centre,
   which stretches radial image lags by 1/cos e; tangential: unchanged), and its image covariance is
   C = D U Uᵀ D + N with U = √P_m [cos κ_m·u, sin κ_m·u], D the disk model's brightness at each pixel and
   N the per-pixel noise variance;
3. the GLS matched filter k ∝ C⁻¹(p − A β̂), β̂ profiled over nuisances A (a free level, the disk model's
   own scale, and within ``edge_nuisance_px`` of the limb the model's radial derivative: the limb's
   position), scaled so kᵀCk = 1; one filter per bin of (limb distance or cos e, position angle), built at
   the bin's centre and applied to every pixel of the bin (a bank per frame, not a solve per pixel);
4. the map is the best of the PSF's sub-pixel phases; its calibration (a robust local scale) is the
   caller's.

No plane-wave (or any other parametric) form of the texture is assumed: only that it is a field on the
surface whose statistics vary slowly over the disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import linalg, ndimage

#: surface wavevector grid step, rad/px (a covariance periodic over 128 surface px)
K_STEP_RAD_PX = 2 * np.pi / 128
#: rings of cos e of the learning sectors and the number of position-angle sectors in each
LEARN_RINGS = (
    (0.95, 1.01, 1),
    (0.8, 0.95, 8),
    (0.6, 0.8, 12),
    (0.4, 0.6, 16),
    (0.2, 0.4, 24),
    (0.0, 0.2, 32),
)
#: the zones (cos e from, to) of :func:`learn_zone_spectra`: one spectrum each (the disk model absorbs the
#: texture differently in each: its limb term reaches in to cos e 0.5)
ZONES_COS_E = ((0.6, 1.01), (0.4, 0.6), (0.2, 0.4), (0.0, 0.2))


@dataclass(frozen=True)
class DiskCircle:
    """The disk's limb circle in the image: centre (sample, line) and radius, px."""

    center_sample: float
    center_line: float
    radius_px: float

    def polar(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(distance from the centre, px; position angle, rad, atan2(line, sample)) of every pixel."""
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
        dx, dy = xx - self.center_sample, yy - self.center_line
        return np.hypot(dx, dy), np.arctan2(dy, dx)

    def cos_emission(self, r_px: np.ndarray) -> np.ndarray:
        """cos e = √(1 − (r/R)²) at distance r px from the centre (0 off the disk)."""
        rho = np.clip(np.asarray(r_px, float) / self.radius_px, 0.0, 1.0)
        return np.sqrt(1.0 - rho**2)

    def surface_radius_px(self, r_px: np.ndarray) -> np.ndarray:
        """Surface distance from the sub-observer point, R·arcsin(r/R), px of the centre's scale."""
        rho = np.clip(np.asarray(r_px, float) / self.radius_px, 0.0, 1.0)
        return self.radius_px * np.arcsin(rho)


@dataclass
class SurfaceSpectrum:
    """The relative texture's covariance on the surface as modes: cov(Δu) = Σ power · cos(κ · Δu).

    Attributes:
        kappa_rad_px: (M, 2) surface wavevectors (sample, line components), rad per px (of the disk centre's
            scale); one of each ±κ pair.
        power: (M,) variance of each mode (the pair's together), relative texture units².
    """

    kappa_rad_px: np.ndarray
    power: np.ndarray

    @property
    def variance(self) -> float:
        """The texture's variance, Σ power."""
        return float(np.sum(self.power))

    def covariance(self, lag_px: np.ndarray) -> np.ndarray:
        """cov at surface lags (..., 2) (sample, line), relative texture units²."""
        return np.cos(np.asarray(lag_px, float) @ self.kappa_rad_px.T) @ self.power

    def features(self, u_px: np.ndarray) -> np.ndarray:
        """U (n, 2M) with U Uᵀ = cov(u_i − u_j) for surface positions u (n, 2) px."""
        arg = u_px @ self.kappa_rad_px.T
        amp = np.sqrt(self.power)
        return np.concatenate([np.cos(arg) * amp, np.sin(arg) * amp], axis=1)


def spectrum_from_grid(
    power_grid: np.ndarray, k_step: float, power_fraction: float, max_modes: int
) -> SurfaceSpectrum:
    """Modes of a centred (odd × odd) grid of surface power: ±κ folded together, κ = 0 dropped (a free level
    takes it), the strongest modes holding ``power_fraction`` of the power, at most ``max_modes``."""
    n = power_grid.shape[0] // 2
    ky, kx = np.mgrid[-n : n + 1, -n : n + 1]
    half = (ky > 0) | ((ky == 0) & (kx > 0))
    folded = power_grid + power_grid[::-1, ::-1]
    p = np.where(half, folded, 0.0).ravel()
    order = np.argsort(p)[::-1]
    cum = np.cumsum(p[order])
    if cum[-1] <= 0:
        return SurfaceSpectrum(np.zeros((0, 2)), np.zeros(0))
    keep = order[: min(int(np.searchsorted(cum, power_fraction * cum[-1])) + 1, max_modes)]
    keep = keep[p[keep] > 0]
    kappa = np.column_stack([kx.ravel()[keep], ky.ravel()[keep]]) * k_step
    return SurfaceSpectrum(kappa.astype(float), p[keep])


def _sector_masks(circle: DiskCircle, shape, usable, min_cos_e: float, max_cos_e: float = 1.01):
    """(mask, mean cos e, mean position angle rad) of each learning sector (LEARN_RINGS) with pixels, of
    cos e from ``min_cos_e`` to ``max_cos_e``."""
    r, theta = circle.polar(shape)
    cos_e = circle.cos_emission(r)
    out = []
    for lo, hi, n_angle in LEARN_RINGS:
        if hi <= min_cos_e or lo >= max_cos_e:
            continue
        ring = usable & (cos_e >= max(lo, min_cos_e)) & (cos_e < hi) & (r < circle.radius_px)
        for a in range(n_angle):
            if n_angle == 1:
                m = ring
            else:
                a0 = -np.pi + 2 * np.pi * a / n_angle
                m = ring & (theta >= a0) & (theta < a0 + 2 * np.pi / n_angle)
            if m.sum() < 50:
                continue
            mean_angle = float(np.angle(np.mean(np.exp(1j * theta[m]))))
            out.append((m, float(np.mean(cos_e[m])) if n_angle > 1 else 1.0, mean_angle))
    return out


def _sector_autocovariance(t: np.ndarray, m: np.ndarray, max_lag_px: int) -> tuple[np.ndarray, np.ndarray]:
    """(autocovariance, pair count) of t over mask m at image lags (line, sample) |·| ≤ max_lag_px, the pairs'
    first pixel in the sector and both in it: Σ t(x) t(x + ℓ) / Σ 1 (normalised per lag, not biased by
    the sector's shape), grids (2L + 1)²."""
    pad = [int(2 ** np.ceil(np.log2(n + max_lag_px + 1))) for n in t.shape]
    g = np.where(m, t, 0.0)
    fg, fm = np.fft.rfft2(g, s=pad), np.fft.rfft2(m.astype(float), s=pad)
    prod = np.fft.irfft2(np.abs(fg) ** 2, s=pad)
    count = np.fft.irfft2(np.abs(fm) ** 2, s=pad)
    idx = np.arange(-max_lag_px, max_lag_px + 1)
    grid = np.ix_(idx % pad[0], idx % pad[1])
    n = np.rint(count[grid])
    return np.where(n > 0, prod[grid] / np.maximum(n, 1), 0.0), n


def learn_surface_spectrum(
    texture: np.ndarray,
    noise_var: np.ndarray,
    usable: np.ndarray,
    circle: DiskCircle,
    *,
    min_cos_e: float = 0.6,
    max_cos_e: float = 1.01,
    max_lag_px: int = 32,
    flat_lag_px: float = 12.0,
    min_pairs: int = 200,
    power_fraction: float = 0.995,
    max_modes: int = 150,
) -> SurfaceSpectrum | None:
    """The relative texture's surface spectrum learned from the frame (module docstring, 1.).

    Per sector of the disk's central part (cos e ≥ ``min_cos_e``; LEARN_RINGS), the autocovariance of t
    at image lags up to ``max_lag_px`` (:func:`_sector_autocovariance`); on a grid of surface lags (1 px,
    ±64) each sector's value gathered at the image lag the surface lag foreshortens to (radial component ×
    the sector's mean cos e), averaged over the sectors weighted by pairs; the white noise's variance taken
    off lag 0; lags with fewer than ``min_pairs`` pairs dropped; a taper (flat to ``flat_lag_px``, cosine
    to 0 at ``max_lag_px``: no truncation edge to ring); its Fourier transform on K_STEP_RAD_PX, negative
    power clipped, is the spectrum (:func:`spectrum_from_grid`).

    Args:
        texture: t = (image − model) / disk, relative units (any value where not ``usable``).
        noise_var: t's white-noise variance per pixel (σ² / disk²).
        usable: pixels to learn from (on the disk, no source, cosmic ray or saturated pixel).
        circle: the limb circle.
    Returns None when fewer than 200 pixels qualify.
    """
    half = int(round(np.pi / K_STEP_RAD_PX))  # the surface-lag grid: ±64 px
    n_grid = 2 * half
    sectors = _sector_masks(circle, texture.shape, usable, min_cos_e, max_cos_e)
    if sum(m.sum() for m, _, _ in sectors) < 200:
        return None
    acc = np.zeros((n_grid, n_grid))
    pairs = np.zeros((n_grid, n_grid))
    u_l, u_s = np.mgrid[-half:half, -half:half].astype(float)
    for m, cos_e, angle in sectors:
        t = np.where(m, texture - np.mean(texture[m]), 0.0)
        cov, n = _sector_autocovariance(t, m, max_lag_px)
        cov[max_lag_px, max_lag_px] -= float(np.mean(noise_var[m]))
        # each surface lag's image lag: its radial component × cos e (gathered, so the grid has no holes)
        er = np.array([np.cos(angle), np.sin(angle)])  # (sample, line)
        radial = (u_s * er[0] + u_l * er[1]) * cos_e
        tangential = -u_s * er[1] + u_l * er[0]
        img_s = radial * er[0] - tangential * er[1] + max_lag_px
        img_l = radial * er[1] + tangential * er[0] + max_lag_px
        at = np.array([img_l.ravel(), img_s.ravel()])
        inside = ((at >= 0) & (at <= 2 * max_lag_px)).all(axis=0).reshape(u_l.shape)
        cn = ndimage.map_coordinates(cov * n, at, order=1, mode="constant").reshape(u_l.shape)
        nn = ndimage.map_coordinates(n, at, order=1, mode="constant").reshape(u_l.shape)
        acc += np.where(inside, cn, 0.0)
        pairs += np.where(inside, nn, 0.0)
    cov_s = np.where(pairs >= min_pairs, acc / np.maximum(pairs, 1), 0.0)
    yy, xx = np.mgrid[-half:half, -half:half]
    lag = np.hypot(xx, yy)
    taper = np.where(lag <= flat_lag_px, 1.0, 0.5 * (1 + np.cos(np.pi * np.clip(
        (lag - flat_lag_px) / (max_lag_px - flat_lag_px), 0, 1))))  # fmt: skip
    power = np.fft.fftshift(np.real(np.fft.fft2(np.fft.ifftshift(cov_s * taper)))) / n_grid**2
    power = np.maximum(power, 0.0)
    # the grid is even-sized (κ from −π to π − step): drop the unpaired first row and column
    return spectrum_from_grid(power[1:, 1:], K_STEP_RAD_PX, power_fraction, max_modes)


def learn_zone_spectra(
    texture: np.ndarray, noise_var: np.ndarray, usable: np.ndarray, circle: DiskCircle
) -> list[tuple[float, SurfaceSpectrum]]:
    """(lowest cos e, spectrum) per zone of ZONES_COS_E that has enough pixels (:func:`learn_surface_spectrum`
    over that zone's sectors), highest cos e first; a zone without enough pixels takes the next deeper
    zone's."""
    out: list[tuple[float, SurfaceSpectrum]] = []
    for lo, hi in ZONES_COS_E:
        spec = learn_surface_spectrum(texture, noise_var, usable, circle, min_cos_e=lo, max_cos_e=hi)
        if spec is None and out:
            spec = out[-1][1]
        if spec is not None:
            out.append((lo, spec))
    return out


# ------------------------------------------------------------------------------------------- the filters


@dataclass
class BinWindow:
    """What a bin's filter needs of its centre's window (W × W pixels, row-major): surface coordinates u
    (W², 2) px, the disk's brightness D, the noise variance N, and the nuisance columns A (W², m)."""

    u_px: np.ndarray
    disk: np.ndarray
    noise_var: np.ndarray
    nuisance: np.ndarray


def window_surface_coordinates(
    circle: DiskCircle, center_sample: float, center_line: float, width_px: int
) -> np.ndarray:
    """Surface coordinates (W², 2) px (sample, line axes) of a W × W window's pixels around a point:
    radial offset R·arcsin(r/R) − that of the centre (radial lags stretched by 1/cos e), tangential offset
    as in the image; the radial and tangential directions are the centre's."""
    h = width_px // 2
    oy, ox = np.mgrid[-h : h + 1, -h : h + 1].astype(float)
    dx0, dy0 = center_sample - circle.center_sample, center_line - circle.center_line
    r0 = float(np.hypot(dx0, dy0))
    er = np.array([1.0, 0.0]) if r0 < 1e-9 else np.array([dx0, dy0]) / r0
    et = np.array([-er[1], er[0]])
    r = np.hypot(dx0 + ox, dy0 + oy)
    radial = circle.surface_radius_px(r) - circle.surface_radius_px(r0)
    tangential = ox * et[0] + oy * et[1]
    u = radial[..., None] * er + tangential[..., None] * et
    return u.reshape(-1, 2)


def gls_kernels(
    spectrum: SurfaceSpectrum, win: BinWindow, templates: np.ndarray, ridge: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """(kernels (W², P) scaled to unit noise, information pᵀk per template (P,)) of the GLS filter
    (module docstring, 3.) for PSF templates (W², P) in one window."""
    u_feat = spectrum.features(win.u_px) * win.disk[:, None]
    cov = u_feat @ u_feat.T
    cov[np.diag_indices_from(cov)] += win.noise_var + ridge * float(np.mean(win.noise_var))
    factor = linalg.cho_factor(cov, lower=True, check_finite=False)
    a = win.nuisance
    solved = linalg.cho_solve(factor, np.concatenate([templates, a], axis=1), check_finite=False)
    cp, ca = solved[:, : templates.shape[1]], solved[:, templates.shape[1] :]
    if a.shape[1]:
        beta = np.linalg.lstsq(a.T @ ca, a.T @ cp, rcond=None)[0]
        cp = cp - ca @ beta
    info = np.maximum(np.sum(templates * cp, axis=0), 1e-300)
    return cp / np.sqrt(info), info


@dataclass
class FilterBins:
    """Pixels grouped by bin: ``label`` per pixel (−1: not filtered) and each bin's centre (sample,
    line) px and limb distance px."""

    label: np.ndarray
    centers: np.ndarray
    limb_px: np.ndarray


def filter_bins(
    circle: DiskCircle,
    shape: tuple[int, int],
    *,
    outside_px: float = 2.0,
    limb_step_px: float = 0.5,
    limb_zone_px: float = 12.0,
    cos_e_step: float = 0.05,
    arc_step_rad: float = np.radians(7.5),
) -> FilterBins:
    """Bins of (radius, position angle) for the filter bank: within ``limb_zone_px`` of the limb (and
    ``outside_px`` beyond it) steps of ``limb_step_px`` in radius, deeper steps of ``cos_e_step`` in cos e;
    position-angle steps of ``arc_step_rad`` where cos e < 0.5, twice that to 0.8, four times to 0.95, and
    one bin deeper (foreshortening below 5 %)."""
    r_px, theta = circle.polar(shape)
    big_r = circle.radius_px
    d = big_r - r_px
    edges_limb = np.arange(-outside_px, limb_zone_px + 1e-9, limb_step_px)
    c_limb = float(circle.cos_emission(big_r - limb_zone_px))
    c_edges = np.arange(c_limb, 1.0 + cos_e_step, cos_e_step)
    r_edges_deep = big_r * np.sqrt(np.clip(1 - np.minimum(c_edges, 1.0) ** 2, 0, 1))
    r_edges = np.unique(np.concatenate([big_r - edges_limb, r_edges_deep, [0.0]]))
    ring = np.searchsorted(r_edges, r_px, side="right") - 1
    inside = (d >= -outside_px) & (ring >= 0) & (ring < len(r_edges) - 1)
    label = np.full(shape, -1, int)
    centers, limb = [], []
    for k in range(len(r_edges) - 1):
        here = inside & (ring == k)
        if not here.any():
            continue
        r_c = 0.5 * (r_edges[k] + r_edges[k + 1])
        c = float(circle.cos_emission(r_c))
        step = arc_step_rad * (1 if c < 0.5 else 2 if c < 0.8 else 4 if c < 0.95 else np.inf)
        n_angle = 1 if not np.isfinite(step) else max(int(np.ceil(2 * np.pi / step)), 1)
        a_idx = np.minimum(((theta[here] + np.pi) / (2 * np.pi) * n_angle).astype(int), n_angle - 1)
        for a in np.unique(a_idx):
            pix = tuple(ix[a_idx == a] for ix in np.nonzero(here))
            if n_angle == 1:
                cs, cl = circle.center_sample, circle.center_line
                if r_c > 0:
                    cs, cl = float(np.mean(pix[1])), float(np.mean(pix[0]))
            else:
                ang = -np.pi + (a + 0.5) * 2 * np.pi / n_angle
                cs = circle.center_sample + r_c * np.cos(ang)
                cl = circle.center_line + r_c * np.sin(ang)
            label[pix] = len(centers)
            centers.append((cs, cl))
            limb.append(big_r - r_c)
    return FilterBins(label, np.array(centers, float).reshape(-1, 2), np.array(limb, float))


def bin_window(
    circle: DiskCircle,
    disk: np.ndarray,
    noise_var: np.ndarray,
    center: tuple[float, float],
    limb_px: float,
    width_px: int,
    edge_nuisance_px: float,
) -> BinWindow:
    """The :class:`BinWindow` at a bin's centre (sample, line): D and N interpolated there (bilinear), the
    nuisances a level, the disk's scale and (within ``edge_nuisance_px`` of the limb) its radial
    derivative."""
    h = width_px // 2
    oy, ox = np.mgrid[-h : h + 1, -h : h + 1].astype(float)
    cs, cl = center
    coords = np.array([(cl + oy).ravel(), (cs + ox).ravel()])
    d = ndimage.map_coordinates(disk, coords, order=1, mode="nearest")
    nv = ndimage.map_coordinates(noise_var, coords, order=1, mode="nearest")
    cols = [np.ones(d.size), d]
    if limb_px <= edge_nuisance_px:
        dx0, dy0 = cs - circle.center_sample, cl - circle.center_line
        r0 = max(float(np.hypot(dx0, dy0)), 1e-9)
        step = 0.25
        out = np.array([coords[0] + step * dy0 / r0, coords[1] + step * dx0 / r0])
        inn = np.array([coords[0] - step * dy0 / r0, coords[1] - step * dx0 / r0])
        d_out = ndimage.map_coordinates(disk, out, order=1, mode="nearest")
        d_in = ndimage.map_coordinates(disk, inn, order=1, mode="nearest")
        cols.append((d_out - d_in) / (2 * step))
    u = window_surface_coordinates(circle, cs, cl, width_px)
    return BinWindow(u, np.maximum(d, 0.0), np.maximum(nv, 1e-30), np.column_stack(cols))


@dataclass
class TextureGlsMaps:
    """The filter's S/N maps (NaN where not filtered): at the centred template and best over the phases."""

    centred: np.ndarray
    best: np.ndarray


def zone_spectrum(
    spectrum: SurfaceSpectrum | list[tuple[float, SurfaceSpectrum]], circle: DiskCircle, center
) -> SurfaceSpectrum:
    """The spectrum for a window centred at (sample, line): the one given, or its zone's."""
    if isinstance(spectrum, SurfaceSpectrum):
        return spectrum
    cos_e = float(
        circle.cos_emission(np.hypot(center[0] - circle.center_sample, center[1] - circle.center_line))
    )
    for lowest, spec in spectrum:
        if cos_e >= lowest:
            return spec
    return spectrum[-1][1]


def texture_gls_maps(
    residual: np.ndarray,
    disk: np.ndarray,
    noise_sigma: np.ndarray,
    circle: DiskCircle,
    spectrum: SurfaceSpectrum | list[tuple[float, SurfaceSpectrum]],
    templates: list[np.ndarray],
    *,
    edge_nuisance_px: float = 8.0,
) -> TextureGlsMaps:
    """Apply the filter bank (module docstring, 3.–4.) to ``residual`` = image − model.

    Args:
        residual: image − the disk model (with its column offsets), image units.
        disk: the disk model's brightness (no offsets), image units.
        noise_sigma: per-pixel noise σ, image units.
        circle: the limb circle.
        spectrum: the relative texture's surface spectrum (:func:`learn_surface_spectrum`), or (lowest
            cos e, spectrum) per zone, highest first (:func:`learn_zone_spectra`): a bin takes the first
            zone its centre's cos e reaches.
        templates: the PSF at its sub-pixel phases, W × W each (the middle one centred), unit flux.
        edge_nuisance_px: the limb's position is a nuisance for bins this close to the limb, px.
    """
    width = templates[0].shape[0]
    h = width // 2
    tmat = np.stack([t.ravel() for t in templates], axis=1)
    bins = filter_bins(circle, residual.shape)
    padded = np.pad(residual, h, mode="reflect")
    windows = sliding_window_view(padded, (width, width))
    var = noise_sigma.astype(float) ** 2
    centred = np.full(residual.shape, np.nan)
    best = np.full(residual.shape, np.nan)
    order = np.argsort(bins.label.ravel(), kind="stable")
    labels_sorted = bins.label.ravel()[order]
    starts = np.searchsorted(labels_sorted, np.arange(len(bins.centers) + 1))
    mid = len(templates) // 2
    for b, center in enumerate(bins.centers):
        flat = order[starts[b] : starts[b + 1]]
        if flat.size == 0:
            continue
        win = bin_window(circle, disk, var, tuple(center), float(bins.limb_px[b]), width, edge_nuisance_px)
        kernels, _ = gls_kernels(zone_spectrum(spectrum, circle, center), win, tmat)
        ii, jj = np.unravel_index(flat, residual.shape)
        z = windows[ii, jj].reshape(len(flat), -1) @ kernels
        centred[ii, jj] = z[:, mid]
        best[ii, jj] = z.max(axis=1)
    return TextureGlsMaps(centred, best)
