"""Per-source quality flags set by the detector: blended, saturated, at the frame edge, cosmic-ray hit, near
the limb, off the disk (when the limb comes from the data). Artefacts around bright sources and unconfirmed
peaks are flagged afterwards (:mod:`ioscan.detect.artefacts`)."""

from __future__ import annotations

from dataclasses import dataclass
from math import isfinite

import numpy as np

from ioscan.records import Detection, DetectionFlag

#: matched-filter S/N above which a source is also tested for cosmic-ray shape (pixel count, spike ratio)
SHAPE_TEST_SNR = 20.0
#: brightest raw pixel over its second-brightest 4-neighbour above which a source is a cosmic-ray hit
MAX_SPIKE_RATIO = 6.0
#: a bright source with at most this many pixels above 5 % of its peak is a cosmic-ray hit: hits are 1–3
#: pixels (an L-shaped or straight 3-pixel track at full well has a spike ratio of 1), a PSF of core
#: σ ≥ 0.5 px lights ≥ 5
MAX_HIT_PIXELS = 3

# the flags as plain ints, for the per-detection loops of detection and vetting: ``int & IntFlag`` goes
# through enum's ``__rand__`` and makes a pseudo-member each time (~8 µs), ``int & int`` does not; the
# values are the same bits
SATURATED_BIT = int(DetectionFlag.SATURATED)
NEAR_LIMB_BIT = int(DetectionFlag.NEAR_LIMB)
EDGE_BIT = int(DetectionFlag.EDGE)
COSMIC_RAY_BIT = int(DetectionFlag.COSMIC_RAY)
BLENDED_BIT = int(DetectionFlag.BLENDED)
OFF_DISK_BIT = int(DetectionFlag.OFF_DISK)
ARTEFACT_BIT = int(DetectionFlag.ARTEFACT)
#: detections the vetting tests leave alone: already artefacts, cosmic-ray hits, saturated
VETTED_OR_SATURATED = ARTEFACT_BIT | COSMIC_RAY_BIT | SATURATED_BIT
#: detections that flag nothing and are never hot spots: artefacts, cosmic-ray hits
ARTEFACT_OR_HIT = ARTEFACT_BIT | COSMIC_RAY_BIT


def flag_artefact(det: Detection, test_name: str) -> None:
    """Flag ``det`` ARTEFACT, naming the first test that did (``extra["artefact_test"]``)."""
    det.flags |= ARTEFACT_BIT
    det.extra.setdefault("artefact_test", test_name)


def _nan_to(x: np.ndarray, value: float) -> np.ndarray:
    """``np.nan_to_num(x, nan=value)`` with less overhead for the small windows here (infinities, which
    nan_to_num also replaces, take its own path)."""
    x = np.asarray(x)
    if np.isinf(x).any():
        return np.nan_to_num(x, nan=value)
    return np.where(np.isnan(x), value, x)


def n_bright_pixels(
    data: np.ndarray, background: np.ndarray, noise: np.ndarray, i: int, j: int, l0: int, s0: int
) -> int:
    """Pixels of the 5×5 around the brightest pixel near (i, j) (crop coordinates) above 5 % of its net value
    (and above 4σ).

    A hot spot spreads over ≥ 5 such pixels (PSF core σ ≳ 0.5 px) at S/N ≳ 20, saturated or not; a
    cosmic-ray hit (1–3 pixels, possibly clipped at full well) does not. On float32 maps whose windows the
    crop does not cut short compiled (:func:`ioscan.detect.fit_kernels.bright_pixel_count`, the same count),
    else :func:`n_bright_pixels_numpy`."""
    nl, ns = background.shape
    f32 = np.float32
    if (
        data.dtype == background.dtype == noise.dtype == f32
        and (i + 4 <= nl or l0 + nl == data.shape[0])
        and (j + 4 <= ns or s0 + ns == data.shape[1])
    ):
        from ioscan.detect.fit_kernels import bright_pixel_count  # (numba: not on the CLI's import path)

        consts = (f32(0.05), f32(4.0), _F32_MAX, f32(-np.inf))
        return int(bright_pixel_count(data, background, noise, i, j, l0, s0, *consts))
    return n_bright_pixels_numpy(data, background, noise, i, j, l0, s0)


_F32_MAX = np.finfo(np.float32).max


def n_bright_pixels_numpy(
    data: np.ndarray, background: np.ndarray, noise: np.ndarray, i: int, j: int, l0: int, s0: int
) -> int:
    """:func:`n_bright_pixels` in numpy (the reference of its compiled form, any types)."""
    nl, ns = background.shape
    win = data[l0 + max(i - 1, 0) : l0 + min(i + 2, nl), s0 + max(j - 1, 0) : s0 + min(j + 2, ns)]
    bwin = background[max(i - 1, 0) : min(i + 2, nl), max(j - 1, 0) : min(j + 2, ns)]
    net = _nan_to(win - bwin, -np.inf)
    a, b = divmod(int(np.argmax(net)), net.shape[1])
    ci, cj = max(i - 1, 0) + a, max(j - 1, 0) + b
    sl = (slice(max(ci - 2, 0), ci + 3), slice(max(cj - 2, 0), cj + 3))
    big = data[l0 + sl[0].start : l0 + sl[0].stop, s0 + sl[1].start : s0 + sl[1].stop] - background[sl]
    level = np.maximum(0.05 * net[a, b], 4.0 * noise[sl])
    return int(np.count_nonzero(_nan_to(big, 0.0) > level))


def spike_ratio(data: np.ndarray, i: int, j: int) -> float:
    """Brightest raw pixel near (i, j) over the second-brightest of its four neighbours (the brightest one
    may be a 2-pixel track). A PSF of core σ ≳ 0.4 px keeps this below ~3 (background only lowers it); a
    cosmic-ray hit is far above, even where no background model holds (limb band). Compiled for float32 and
    float64 images (:func:`ioscan.detect.fit_kernels.spike_ratio_at`, the same value), else
    :func:`spike_ratio_numpy`."""
    if data.dtype in (np.float32, np.float64):
        from ioscan.detect.fit_kernels import spike_ratio_at  # (numba: not on the CLI's import path)

        return float(spike_ratio_at(data, i, j, np.finfo(data.dtype).max))
    return spike_ratio_numpy(data, i, j)


def spike_ratio_numpy(data: np.ndarray, i: int, j: int) -> float:
    """:func:`spike_ratio` in numpy (the reference of its compiled form)."""
    nl, ns = data.shape
    win = _nan_to(data[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3], -np.inf)
    a, b = divmod(int(np.argmax(win)), win.shape[1])
    ci, cj = max(i - 2, 0) + a, max(j - 2, 0) + b
    around = ((ci - 1, cj), (ci + 1, cj), (ci, cj - 1), (ci, cj + 1))
    nb = sorted(
        v for v in (float(data[y, x]) for y, x in around if 0 <= y < nl and 0 <= x < ns) if isfinite(v)
    )
    if len(nb) < 2 or nb[-2] <= 0:
        return 0.0
    return float(data[ci, cj]) / nb[-2]


@dataclass
class FlagContext:
    """What the per-source flags look at, for one band.

    Attributes:
        data: the band image (after streak removal); finite: its valid pixels.
        saturated: the saturation mask or None.
        background, noise: the background model's maps on the crop starting at (l0, s0).
        limb_distance_px: signed limb distance on the whole band, or None.
        limb_from_geometry: the limb distance is the geometry's (else the data's: off-disk is flagged here).
        limb_known: where the data's limb may decide what is off the disk (None: everywhere).
        fit_radius_px: half-size of the photometry stamp (saturation looked for within it).
        edge_px: distance from the frame edge below which EDGE is set.
        near_limb_px: |limb distance| below which NEAR_LIMB is set.
        cosmic_ray_dchi2: spike-test χ² advantage above which COSMIC_RAY is set.
    """

    data: np.ndarray
    finite: np.ndarray
    saturated: np.ndarray | None
    background: np.ndarray
    noise: np.ndarray
    l0: int
    s0: int
    limb_distance_px: np.ndarray | None
    limb_from_geometry: bool
    fit_radius_px: int
    edge_px: int
    near_limb_px: float
    cosmic_ray_dchi2: float
    limb_known: np.ndarray | None = None


def source_flags(
    ctx: FlagContext,
    li: int,
    lj: int,
    peak_line: int,
    peak_sample: int,
    mf_snr: float,
    dchi2: float,
    blended: bool,
    unconfirmed: bool,
    cosmic_ray_dchi2: float | None = None,
) -> tuple[int, float | None]:
    """Flags of one source at pixel (li, lj) of the band (its matched-filter peak at crop pixel
    (peak_line, peak_sample)), and its limb distance (px, None without a limb); ``cosmic_ray_dchi2``: this
    source's spike-test threshold (None: the context's)."""
    nl, ns = ctx.data.shape
    flags = 0
    if blended:
        flags |= BLENDED_BIT
    r = ctx.fit_radius_px
    win = (slice(max(li - r, 0), li + r + 1), slice(max(lj - r, 0), lj + r + 1))
    if ctx.saturated is not None and ctx.saturated[win].any():
        flags |= SATURATED_BIT
    pk = (slice(max(li - 1, 0), li + 2), slice(max(lj - 1, 0), lj + 2))
    er = ctx.edge_px
    if li < er or lj < er or li > nl - 1 - er or lj > ns - 1 - er or not ctx.finite[pk].all():
        flags |= EDGE_BIT
    if unconfirmed:  # gone once the saturated source beside it was subtracted: its wings' residual
        flags |= ARTEFACT_BIT
    dchi2_max = ctx.cosmic_ray_dchi2 if cosmic_ray_dchi2 is None else cosmic_ray_dchi2
    if (dchi2 > dchi2_max and not (flags & SATURATED_BIT)) or (
        mf_snr > SHAPE_TEST_SNR
        and (
            n_bright_pixels(ctx.data, ctx.background, ctx.noise, li - ctx.l0, lj - ctx.s0, ctx.l0, ctx.s0)
            <= MAX_HIT_PIXELS
            or spike_ratio(ctx.data, peak_line + ctx.l0, peak_sample + ctx.s0) > MAX_SPIKE_RATIO
        )
    ):
        flags |= COSMIC_RAY_BIT
    d_here = None
    if ctx.limb_distance_px is not None:
        d_here = float(ctx.limb_distance_px[li, lj])
        if abs(d_here) < ctx.near_limb_px:
            flags |= NEAR_LIMB_BIT
        known = ctx.limb_known is None or bool(ctx.limb_known[li, lj])
        # an image limb is the steepest part of the edge: a limb darkened towards the edge puts it a pixel or
        # two inside the true limb, so only what lies beyond the near-limb distance is off the disk
        if not ctx.limb_from_geometry and known and d_here < -ctx.near_limb_px:
            flags |= OFF_DISK_BIT
    return int(flags), d_here
