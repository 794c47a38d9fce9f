"""S/N near a bright limb from a local joint fit: PSF amplitude + a background free across the limb.

Near a sunlit limb the brightness changes across the limb faster than any smooth 2-D surface follows (the
disk's blurred step, the photometric function as the emission angle goes to 90°), and along it slowly. At
every pixel c of the limb model's zone the pixels j of a (2h+1)² window are fitted, by least squares with
weights w_j (1 on usable pixels, 0 elsewhere), as

    x_j = A · P(j − c − phase) + s + g_l ∂T/∂line_j + g_s ∂T/∂sample_j + T_j · Σ_k B_k(d_j − d_c) · q_k(Δ_j)

with P the PSF at one of the sub-pixel phases, T the measured limb profile (0 on the sky, 1 on the disk), d
the limb distance, B_k linear B-splines (hats) ``knot_px`` apart and q_k polynomials of degree
``knot_degree`` in the window offsets Δ: the background takes any profile across the limb, varying smoothly
along it over the window, the limb may sit a fraction of a pixel off, and a point source, compact along the
limb, stands out of it. The white-noise S/N is A / σ_A with σ_A² = Σ_j k_j² var_j, k the fit's linear
weights of A (the background's noise included, as the annulus options' noise gain is); A by the Schur
complement of the background block (one batched solve for all phases).

Measured (``DetectConfig.limb_fit``, off by default; docs/studies/day-side-detection.md, *Local joint fits,
tried*): told the independent renderer's true background, the S/N's noise scale near the limb is ~1 with
quadratic knots, but the fit's white-noise efficiency falls as much, and in the catalogue it finds no more hot
spots.

The same fit decides single peaks (:class:`LocalFitScale`, issue 11): the PSF + a quadratic in an 11 × 11 px
window (in the limb model's zone the fit above), its white-noise S/N divided by its own robust scatter on a
grid of the crop's pixels away from the sources, per zone of limb distance (on sunlit ground 1.0–2.5: the
ground's structure the window's quadratic does not follow; on pure noise the scatter is 1). Faint maxima of
the S/N map (3.5 up to the threshold) that it confirms, and that keep their S/N with a broad bump of the
ground freed beside the PSF, are kept; detections it finds nothing in are flagged ARTEFACT (``DetectConfig``
``faint_peak_*``, ``local_fit_min_snr``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from ioscan.detect.flags import VETTED_OR_SATURATED, flag_artefact
from ioscan.detect.psf import PsfModel
from ioscan.records import Detection

#: fewest weighted pixels in a window beyond the fit's unknowns (its residual degrees of freedom)
MIN_PIXELS = 24


@lru_cache(maxsize=32)
def _psf_window(psf: PsfModel, half: int, phase: tuple[float, float]) -> np.ndarray:
    """The PSF at ``phase`` (line, sample offset of the source from the centre pixel) on the (2h+1)²
    window, flattened in C order (read-only)."""
    o = np.arange(-half, half + 1, dtype=float)
    p, _, _ = psf.stamps(o[None, None, :], o[None, :, None], np.array([phase[1]]), np.array([phase[0]]))
    v = p[0].ravel()
    v.setflags(write=False)
    return v


def limb_fit_snr(
    x: np.ndarray,
    var: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
    distance_px: np.ndarray,
    psf: PsfModel,
    phases: tuple[tuple[float, float], ...],
    half: int = 5,
    knot_px: float = 2.0,
    knot_degree: int = 2,
    profile: np.ndarray | None = None,
) -> list[np.ndarray]:
    """White-noise S/N A / σ_A of the joint fit (module docstring) at the ``target`` pixels, one map per
    phase (float64; 0 elsewhere, and where a window holds fewer than :data:`MIN_PIXELS` weighted pixels or
    than twice the unknowns).

    Args:
        x: image (values where ``weight`` is False are not used).
        var: white pixel variance (image units²) where ``weight``.
        weight: pixels that may feed a fit (finite, unmasked, not outliers).
        target: pixels where the S/N is wanted.
        distance_px: signed limb distance per pixel (px); the background's hats are in d_j − d_c.
        psf: the PSF (its stamps at each phase).
        phases: (line, sample) sub-pixel offsets of the source.
        half: the window's half-size h (px).
        knot_px: spacing of the hats across the limb (px).
        knot_degree: each hat × the monomials of the window offsets of total degree ≤ this.
        profile: the limb's expected shape T per pixel (0 on the sky, 1 on the disk; the measured profile), or
            None. Given it, the hats are × T, and a constant (the sky) and T's two gradients (a sub-pixel
            shift of the limb) join them: the limb's step itself needs no hats.
    """
    nl, ns = x.shape
    out = [np.zeros((nl, ns), np.float64) for _ in phases]
    ii, jj = np.nonzero(target)
    if ii.size == 0:
        return out
    o = np.arange(-half, half + 1)
    li = (ii[:, None, None] + o[None, :, None] + 0 * o[None, None, :]).reshape(len(ii), -1)
    sj = (jj[:, None, None] + 0 * o[None, :, None] + o[None, None, :]).reshape(len(ii), -1)
    ins = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
    lc, sc = np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)
    w = (ins & weight[lc, sc]).astype(np.float64)
    xw = np.where(w > 0, x[lc, sc], 0.0).astype(np.float64)
    vw = np.where(w > 0, var[lc, sc], 0.0).astype(np.float64)
    d = np.asarray(distance_px, np.float64)
    dd = (d[lc, sc] - d[ii, jj][:, None]) / knot_px
    dl, ds = np.meshgrid(o / half, o / half, indexing="ij")
    monos = [(ds**i * dl**j).ravel() for i in range(knot_degree + 1) for j in range(knot_degree + 1 - i)]
    kmax = int(np.ceil(half * np.sqrt(2.0) / knot_px)) + 1
    cols = []
    shape_w = None
    if profile is not None:
        t = np.asarray(profile, np.float64)
        gl, gs = np.gradient(t)
        shape_w = t[lc, sc]
        cols += [np.ones_like(shape_w), gl[lc, sc], gs[lc, sc]]
    for k in range(-kmax, kmax + 1):
        hat = np.maximum(0.0, 1.0 - np.abs(dd - k))
        if shape_w is not None:
            hat = hat * shape_w
        if not (hat * w).any():
            continue
        cols.extend(hat * m[None, :] for m in monos)
    bg = np.stack(cols, 1)  # (n_pix, n_terms, window)
    bw = bg * w[:, None, :]
    g = np.matmul(bw, bg.transpose(0, 2, 1))  # the background's normal matrix, shared by the phases
    m_b = g.shape[1]
    enough = w.sum(axis=1) >= m_b + 1 + MIN_PIXELS
    # the amplitude by the Schur complement of the background block: one solve for all phases
    # (a tiny ridge keeps windows that leave a term unconstrained solvable; that term then ~0)
    tr = np.trace(g, axis1=1, axis2=2)[:, None, None]
    pv = np.stack([_psf_window(psf, half, ph) for ph in phases])  # (phases, window)
    pw = w[:, None, :] * pv[None]  # (n_pix, phases, window)
    gp = np.matmul(bg, pw.transpose(0, 2, 1))  # (n_pix, terms, phases)
    u = np.linalg.solve(g + np.eye(m_b)[None] * (1e-9 * tr + 1e-300), gp)
    for p in range(len(phases)):
        schur = np.sum(pw[:, p] * pv[p][None, :], axis=1) - np.sum(gp[:, :, p] * u[:, :, p], axis=1)
        good = enough & (schur > 1e-12 * np.sum(pw[:, p] * pv[p][None, :], axis=1))
        kk = w * (pv[p][None, :] - np.matmul(u[:, None, :, p], bg)[:, 0])  # A's weights × the Schur term
        kk /= np.where(good, schur, 1.0)[:, None]
        amp = np.sum(kk * xw, axis=1)
        sa = np.sqrt(np.maximum(np.sum(kk * kk * vw, axis=1), 1e-300))
        out[p][ii, jj] = np.where(good, amp / sa, 0.0)
    return out


#: sub-pixel phases (line, sample offsets, px) of the local fit's decision: a 3 × 3 grid of thirds
DECISION_PHASES = tuple((a, b) for a in (-1.0 / 3.0, 0.0, 1.0 / 3.0) for b in (-1.0 / 3.0, 0.0, 1.0 / 3.0))
#: the calibration grid's step (px): every this-many lines and samples of the search region
CALIBRATION_STEP_PX = 3
#: fewest calibration pixels a limb-distance zone needs for its own scale (else the frame's)
MIN_CALIBRATION_PIXELS = 60
#: within this many px (box half-size) of a fit's target pixel, outliers feed the fit (a source's own pixels)
CORE_HALF_PX = 2
#: at most this many calibration pixels per zone
MAX_CALIBRATION_PIXELS = 400


@lru_cache(maxsize=64)
def _design(
    psf: PsfModel, half: int, degree: int, phase: tuple[float, float], broad_sigma_px: float | None
) -> np.ndarray:
    """The local fit's design on the (2h+1)² window, flattened (read-only): row 0 the PSF at ``phase``, then
    the monomials of the window offsets (÷ h) of total degree ≤ ``degree``, then (``broad_sigma_px``) a
    centred round Gaussian of that σ (px): a bump of the ground broader than the PSF."""
    o = np.arange(-half, half + 1, dtype=float)
    dl, ds = np.meshgrid(o / half, o / half, indexing="ij")
    rows = [_psf_window(psf, half, phase)]
    rows += [(ds**i * dl**j).ravel() for i in range(degree + 1) for j in range(degree + 1 - i)]
    if broad_sigma_px is not None:
        rows.append(np.exp(-0.5 * ((dl * half) ** 2 + (ds * half) ** 2) / broad_sigma_px**2).ravel())
    d = np.stack(rows)
    d.setflags(write=False)
    return d


def _windows(a: np.ndarray, lines: np.ndarray, samples: np.ndarray, half: int, fill: float) -> np.ndarray:
    """The (2h+1)² windows of ``a`` around the pixels, flattened (n, window); ``fill`` beyond the array."""
    p = np.pad(a, half, mode="constant", constant_values=fill)
    o = np.arange(2 * half + 1)
    return p[lines[:, None, None] + o[None, :, None], samples[:, None, None] + o[None, None, :]].reshape(
        len(lines), -1
    )


def local_fit_snr_at(
    x: np.ndarray,
    var: np.ndarray,
    weight: np.ndarray,
    lines: np.ndarray,
    samples: np.ndarray,
    psf: PsfModel,
    half: int = 5,
    degree: int = 2,
    phases: tuple[tuple[float, float], ...] = DECISION_PHASES,
    broad_sigma_px: float | None = None,
) -> np.ndarray:
    """White-noise S/N A / σ_A of a PSF (best of ``phases``) + a polynomial background of total degree
    ``degree`` (+ a centred Gaussian of σ ``broad_sigma_px``, :func:`_design`) fitted by least squares on the
    ``weight`` pixels of the (2 ``half`` + 1)² window around each pixel (``lines``, ``samples``): close to
    the matched filter told the true background where the background is smooth over the window. ``var``:
    white pixel variance (image units²). 0 where the window holds fewer than :data:`MIN_PIXELS` weighted
    pixels beyond the unknowns."""
    lines, samples = np.asarray(lines, int), np.asarray(samples, int)
    n = lines.size
    if n == 0:
        return np.zeros(0)
    w = _windows(np.asarray(weight, np.float64), lines, samples, half, 0.0)
    xw = _windows(np.where(weight, x, 0.0).astype(np.float64), lines, samples, half, 0.0)
    vw = _windows(np.where(weight, var, 0.0).astype(np.float64), lines, samples, half, 0.0)
    best = np.full(n, -np.inf)
    for ph in phases:
        d = _design(psf, half, degree, ph, broad_sigma_px)
        dw = d[None, :, :] * w[:, None, :]  # (n, m, window)
        g = np.matmul(dw, d.T[None])  # (n, m, m)
        tr = np.trace(g, axis1=1, axis2=2)[:, None, None]
        e0 = np.zeros((n, d.shape[0], 1))
        e0[:, 0, 0] = 1.0
        row = np.linalg.solve(g + np.eye(d.shape[0])[None] * (1e-9 * tr + 1e-300), e0)[:, :, 0]
        k = np.matmul(row[:, None, :], dw)[:, 0]  # A's linear weights per pixel of the window
        amp = np.sum(k * xw, axis=1)
        sa = np.sqrt(np.maximum(np.sum(k * k * vw, axis=1), 1e-300))
        best = np.maximum(best, amp / sa)
    enough = w.sum(axis=1) >= _design(psf, half, degree, phases[0], broad_sigma_px).shape[0] + MIN_PIXELS
    return np.where(enough, best, 0.0)


def calibration_pixels(
    usable: np.ndarray, avoid: np.ndarray, step_px: int = CALIBRATION_STEP_PX
) -> np.ndarray:
    """The calibration grid: every ``step_px``-th line and sample that is ``usable`` and not ``avoid``
    (pixels near known sources). Returns (n, 2) line, sample indices."""
    grid = np.zeros(usable.shape, bool)
    grid[step_px // 2 :: step_px, step_px // 2 :: step_px] = True
    return np.argwhere(grid & usable & ~avoid)


def thin_per_zone(
    grid: np.ndarray, zones: np.ndarray, max_per_zone: int = MAX_CALIBRATION_PIXELS
) -> np.ndarray:
    """At most ``max_per_zone`` of the calibration pixels ``grid`` ((n, 2) line, sample) in each zone,
    evenly spaced in their order (the scatter's MAD needs a few hundred; the fits cost in proportion)."""
    z = zones[grid[:, 0], grid[:, 1]]
    keep = np.zeros(len(grid), bool)
    for zone in np.unique(z):
        idx = np.flatnonzero(z == zone)
        if idx.size > max_per_zone:
            idx = idx[np.linspace(0, idx.size - 1, max_per_zone).round().astype(int)]
        keep[idx] = True
    return grid[keep]


def fit_scale_by_zone(
    null_snr: np.ndarray,
    zone_of_pixel: np.ndarray,
    n_zones: int,
    min_pixels: int = MIN_CALIBRATION_PIXELS,
) -> np.ndarray:
    """The robust scatter (MAD × 1.4826, ≥ 1) of the local fit's S/N at the calibration pixels, per zone
    (``zone_of_pixel``: 0 … ``n_zones`` − 1); a zone with fewer than ``min_pixels`` takes the scatter of
    all. On white noise and a smooth background the fit's S/N is N(0, 1) there: a scatter above 1 is the
    background's structure the fit does not follow, which raises false peaks as much."""
    from ioscan.robust import MAD_TO_SIGMA

    def mad(v: np.ndarray) -> float:
        return float(MAD_TO_SIGMA * np.median(np.abs(v - np.median(v)))) if v.size else 1.0

    overall = max(mad(null_snr), 1.0)
    out = np.full(n_zones, overall)
    for z in range(n_zones):
        v = null_snr[zone_of_pixel == z]
        if v.size >= min_pixels:
            out[z] = max(mad(v), 1.0)
    return out


#: signed limb-distance edges (px, positive on the disk) of the zones whose local-fit scale is measured apart
ZONE_EDGES_PX = (-8.0, -3.0, 3.0, 8.0, 20.0)
#: pixels within this distance (px) of a first-pass source are left out of the calibration grid
AVOID_SOURCE_PX = 4


def limb_zones(distance_px: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Each pixel's zone of signed limb distance (:data:`ZONE_EDGES_PX`; the last zone, ≥ 20 px on the
    disk, also where no limb is known)."""
    if distance_px is None:
        return np.full(shape, len(ZONE_EDGES_PX), np.intp)
    d = np.nan_to_num(np.asarray(distance_px, np.float64), nan=1e9)
    return np.searchsorted(np.asarray(ZONE_EDGES_PX), d, side="right").astype(np.intp)


def fit_snr_at(
    x: np.ndarray,
    var: np.ndarray,
    weight: np.ndarray,
    lines: np.ndarray,
    samples: np.ndarray,
    psf: PsfModel,
    phases: tuple[tuple[float, float], ...],
    limb: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    half: int = 5,
    degree: int = 2,
) -> np.ndarray:
    """The local fit's white-noise S/N at pixels (``lines``, ``samples``), best of ``phases``: in a limb
    model's zone (``limb``: signed limb distance px, profile T, zone mask) the joint fit with a background
    free across the limb (:func:`limb_fit_snr`: hats 2 px apart × T, degree ``degree`` along the window),
    elsewhere the PSF + a polynomial of degree ``degree`` (:func:`local_fit_snr_at`)."""
    lines, samples = np.asarray(lines, int), np.asarray(samples, int)
    out = np.zeros(lines.size)
    in_zone = np.zeros(lines.size, bool) if limb is None else limb[2][lines, samples]
    plain = ~in_zone
    out[plain] = local_fit_snr_at(x, var, weight, lines[plain], samples[plain], psf, half, degree, phases)
    if in_zone.any():
        d, profile, _ = limb
        target = np.zeros(x.shape, bool)
        target[lines[in_zone], samples[in_zone]] = True
        maps = limb_fit_snr(x, var, weight, target, d, psf, phases, half, 2.0, degree, profile)
        li, sj = lines[in_zone], samples[in_zone]
        out[in_zone] = np.max(np.stack([m[li, sj] for m in maps]), axis=0)
    return out


@dataclass
class LocalFitScale:
    """The local fit (:func:`fit_snr_at`) on one crop, with its scatter measured on the crop's own
    source-free pixels per limb-distance zone: :meth:`snr_at` gives its S/N ÷ that scatter."""

    x: np.ndarray
    var: np.ndarray
    weight: np.ndarray
    clean: np.ndarray
    limb: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    zones: np.ndarray
    scale: np.ndarray
    psf: PsfModel
    half: int
    degree: int

    def snr_at(self, lines: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """The calibrated local-fit S/N (best of :data:`DECISION_PHASES`) at pixels (``lines``,
        ``samples``)."""
        lines, samples = np.asarray(lines, int), np.asarray(samples, int)
        snr = fit_snr_at(
            self.x,
            self.var,
            self.target_weight(lines, samples),
            lines,
            samples,
            self.psf,
            DECISION_PHASES,
            self.limb,
            self.half,
            self.degree,
        )
        return snr / self.scale[self.zones[lines, samples]]

    def target_weight(self, lines: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """The pixels the fits at (``lines``, ``samples``) use: the clean ones (outliers — cosmic-ray hits —
        left out), and within :data:`CORE_HALF_PX` of a target every usable one (a source's own bright
        pixels may be outliers to the background)."""
        core = np.zeros(self.weight.shape, bool)
        core[lines, samples] = True
        core = ndimage.binary_dilation(core, np.ones((2 * CORE_HALF_PX + 1,) * 2, bool))
        return self.weight & (self.clean | core)

    def compact_snr_at(self, lines: np.ndarray, samples: np.ndarray, broad_sigma_px: float) -> np.ndarray:
        """The S/N of the PSF with a centred Gaussian of σ ``broad_sigma_px`` (a bump of the ground) freed
        beside the quadratic (:func:`local_fit_snr_at`; no limb terms), ÷ the same zone scale as
        :meth:`snr_at`: what of the peak is sharper than such a bump."""
        lines, samples = np.asarray(lines, int), np.asarray(samples, int)
        snr = local_fit_snr_at(
            self.x,
            self.var,
            self.target_weight(lines, samples),
            lines,
            samples,
            self.psf,
            self.half,
            self.degree,
            DECISION_PHASES,
            broad_sigma_px,
        )
        return snr / self.scale[self.zones[lines, samples]]


def local_fit_scale(
    x: np.ndarray,
    var: np.ndarray,
    usable: np.ndarray,
    distance_px: np.ndarray | None,
    known_lines: np.ndarray,
    known_samples: np.ndarray,
    psf: PsfModel,
    limb: tuple[np.ndarray, np.ndarray] | None = None,
    half: int = 5,
    degree: int = 2,
    clean: np.ndarray | None = None,
) -> LocalFitScale:
    """The local fit on the crop ``x`` (white variance ``var``, image units²; pixels ``usable``), its scatter
    measured at phase 0 on the calibration grid (:func:`calibration_pixels`, pixels within
    :data:`AVOID_SOURCE_PX` of the known sources left out) per zone of signed limb distance
    (:func:`limb_zones`, :func:`fit_scale_by_zone`). ``limb``: the limb model's profile T and zone mask (its
    zone then fitted with a background free across the limb); ``clean``: the usable pixels that are no
    outliers (None: all)."""
    weight = usable & np.isfinite(x)
    xs = np.where(weight, x, 0.0)
    clean_w = weight if clean is None else weight & clean
    near = np.zeros(x.shape, bool)
    kl, ks = np.asarray(known_lines, int), np.asarray(known_samples, int)
    near[kl, ks] = True
    if kl.size:
        near = ndimage.binary_dilation(near, np.ones((2 * AVOID_SOURCE_PX + 1,) * 2, bool))
    zones = limb_zones(distance_px, x.shape)
    grid = thin_per_zone(calibration_pixels(clean_w, near), zones)
    lz = None if limb is None or distance_px is None else (np.asarray(distance_px, np.float64), *limb)
    null = fit_snr_at(xs, var, clean_w, grid[:, 0], grid[:, 1], psf, ((0.0, 0.0),), lz, half, degree)
    scale = fit_scale_by_zone(null, zones[grid[:, 0], grid[:, 1]], len(ZONE_EDGES_PX) + 1)
    return LocalFitScale(xs, var, weight, clean_w, lz, zones, scale, psf, half, degree)


def flag_local_fit_unconfirmed(detections: list[Detection], min_snr: float) -> int:
    """Flag ARTEFACT on detections whose calibrated local-fit S/N (``extra["local_fit_snr"]``) is below
    ``min_snr`` (saturated ones, cosmic-ray hits, artefacts and those without that S/N aside): a peak of
    the background estimate's misfit that a fit with its own background finds no point source in. Returns
    how many were flagged."""
    skip = VETTED_OR_SATURATED
    n = 0
    for det in detections:
        snr = det.extra.get("local_fit_snr", float("nan"))
        if det.flags & skip or not np.isfinite(snr) or snr >= min_snr:
            continue
        flag_artefact(det, "local_fit")
        n += 1
    return n
