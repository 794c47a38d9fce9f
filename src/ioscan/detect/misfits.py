"""Background misfits that pass for point sources, told apart by their cause (issue 11, sunlit frames).

Tests, each for a shape the background estimate cannot follow and a point source does not have:

* **Ridges** (:func:`ridge_fraction`, :func:`flag_ridges`). Where the sunlit disk's brightness has a kink —
  the terminator's foot, a ridge the limb's profile leaves, an albedo edge — the local quadratic background
  leaves a line in the residual, and the matched filter's S/N stays high *along* it. A point source's filtered
  response is gone 3 px from its peak (≥ 3.75 σ of a core of σ ≤ 0.8 px). A detection whose S/N map keeps
  at least ``max_fraction`` of its peak on *both* sides at that distance along some direction is a ridge —
  where the background has structure to misfit (its estimate varies by ≥ 5 white-noise σ within 4 px): on
  dark ground a faint source's own noisy S/N map can pass the fraction (on the independent renderer's night
  frames it flagged only true hot spots, all where the background varies by < 3 σ).
* **The limb where it crosses the frame edge** (:func:`limb_step_at_edge`, :func:`flag_edge_limb_steps`).
  Beyond the frame edge the background is a point reflection of the edge rows, smoothed along the edge
  (:mod:`ioscan.detect.background`); a sharp bright limb crossing the edge obliquely is not continued by a
  reflection, and near the edge the limb's place is extrapolated from edge points farther in (the limb band
  left out of the search thins there). The misfit is a fraction of the limb's own step. A detection within
  the background's reach of the edge and beside the limb whose net peak is below half the local step height
  cannot be told from that misfit.

* **A residual that runs along the limb** (:func:`along_limb_fraction`, :func:`flag_along_limb`). The
  limb's measured profile (:mod:`ioscan.detect.limb_profile`) misplaced by a fraction of a pixel, or its
  amplitude smoothed over a brightness change along the limb, leaves a residual (data − background) that
  keeps the same value along the limb at the same limb distance; a point source's is gone 3 px away. A
  detection within 10 px of the limb whose residual, at its peak's limb distance (± 0.5 px) and 3–8 px from
  it, has a median of at least half the peak is that misfit. On the independent renderer's sunlit frames the
  false detections at the limb had a median fraction 0.51 (terminator 0.9), the true ones 0.00 (90 % below
  0.07); the true ones above 0.5 sit on such a misfit, which then makes most of their peak.
* **A residual along the limb whose amplitude changes within a few px** (:func:`along_limb_clutter`,
  :func:`flag_along_limb_clutter`). Where the limb profile's amplitude or place is off by an amount that
  changes along the limb within 3–8 px, the along-limb median above reads well below the peak, but the
  residual at the peak's limb distance (± 0.5 px), 3–12 px along the limb, scatters by a sizeable fraction of
  it: the peak is one crest of that clutter. A point source stands out from what its limb distance holds
  nearby: the scatter there is the white noise (the residual is in its units) and the source's own wings
  are gone 3 px away. A detection within 10 px of the limb whose clutter — the robust scatter (1.4826 ×
  MAD) of those pixels with the white noise's unit variance taken out in quadrature — is at least
  ``max_fraction`` of its peak is that misfit. On the renderer's sunlit frames with the limb band searched
  and the zone's scale made honest, the false detections at the limb had a median fraction 0.39, the true
  ones 0.07 (90 % below 0.19).
* **A residual that continues along the limb on one side** (:func:`along_limb_side_fraction`,
  :func:`flag_along_limb_sides`). Where the misfit's amplitude ramps along the limb, the detection sits at
  the end or on the shoulder of a crest: 3 px along the limb (its tangent, from the limb distance's
  gradient) the residual keeps a sizeable part of the peak on one side, where a point source's is gone. A
  detection within 10 px of the limb whose residual 3 px along the limb keeps ≥ ``max_fraction`` of the
  peak on either side is that misfit (the edge plateau's rule, along the limb). On the renderer's sunlit
  frames, with the clutter test, the honest zone scale and the band searched, the false detections within
  10 px of the limb had a median fraction 0.41, the true ones 0.01 (90 % below 0.09).
* **A plateau along the frame edge** (:func:`edge_plateau_fraction`, :func:`flag_edge_plateaus`). Beyond the
  edge the background is a reflection of the edge rows, which cannot follow sunlit ground that keeps
  changing past the edge: the residual is a plateau a few pixels long on the edge row, and the detections
  sit at its ends. A peak within 1 px of the edge whose residual 3 px along the edge keeps ≥ 0.7 of it on
  one side is that plateau (a point source's residual is gone there).

The ridge test reads the S/N map around its own largest value next to the fitted position: a fit beside
the unsearched limb band lands in the band, where the map is 0.

The same step test, anywhere along the limb, vets the bright limb band when it is searched
(``DetectConfig.search_limb_band``, on by default, with ``limb_band_step_test``, off: it costs true hot spots
faint against the step): there the background follows the limb through its measured profile, whose
misplacement leaves a fraction of the step. The band is searched by default because the clutter and side
tests catch its misfits.

All set ARTEFACT with ``extra["artefact_test"]`` naming the test; saturated detections, cosmic-ray hits and
detections already flagged are left alone. The measured effect is in docs/measurements.md (issue 11 part 2).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from scipy import ndimage

from ioscan.detect.flags import VETTED_OR_SATURATED, flag_artefact
from ioscan.records import Detection
from ioscan.robust import MAD_TO_SIGMA, median_or_nan

#: distance (px) along a direction at which the S/N map is read on either side of a detection (at least
#: 4 σ of the core: see :func:`ridge_distance_px`)
RIDGE_DISTANCE_PX = 3.0
#: directions (over 180°) tried by the ridge test
RIDGE_DIRECTIONS = 12
#: the ridge test applies where the background estimate varies by at least this many white-noise σ within
#: :data:`STRUCTURE_BOX_PX` (sunlit ground, a limb, a terminator: structure a local quadratic can misfit);
#: on dark ground a faint source's S/N map can reach the ridge fraction on both sides by noise alone
MIN_STRUCTURE_SIGMA = 5.0
#: half-size (px) of that box
STRUCTURE_BOX_PX = 4
#: box half-size (px) in which the limb's step height is measured around a detection at the edge
STEP_BOX_PX = 10
#: half-size (px) of the centre left out of that box (the source itself)
STEP_CORE_PX = 3
#: fraction of the limb's step below which a net peak at the edge can be the reflection's misfit (a point
#: reflection of a smoothed step misses it by up to about half its height at the step)
STEP_FRACTION = 0.5

#: the along-limb test (:func:`along_limb_fraction`): detections this close to the limb (px, either side:
#: the limb profile's reach on the disk side)...
ALONG_LIMB_REACH_PX = 10.0
#: ...compared with the residual at their own limb distance (± px)...
ALONG_LIMB_DISTANCE_PX = 0.5
#: ...this far from their peak (px; beyond a point source's core, within the profile's amplitude smoothing)
ALONG_LIMB_RANGE_PX = (3.0, 8.0)
#: fewest such pixels the comparison needs
ALONG_LIMB_MIN_PIXELS = 4

#: the along-limb clutter test (:func:`along_limb_clutter`): the residual at the peak's limb distance is read
#: this far from the peak (px): beyond a point source's core, over the few px in which the misfit changes
ALONG_CLUTTER_RANGE_PX = (3.0, 12.0)
#: fewest such pixels the scatter needs
ALONG_CLUTTER_MIN_PIXELS = 8

#: the along-limb side test (:func:`along_limb_side_fraction`): the residual is read this far along the limb
#: on either side of the peak (px; a point source's residual is gone there)
ALONG_SIDE_PX = 3.0

#: the edge-plateau test (:func:`edge_plateau_fraction`): residual peaks this close to the frame edge (px)...
EDGE_PLATEAU_REACH_PX = 1
#: ...read this far along the edge on either side (px; a point source's residual is gone there)
EDGE_PLATEAU_PX = 3

_SKIP = VETTED_OR_SATURATED  #: (a plain int: see :mod:`ioscan.detect.flags`)

#: the PSF-over-ridge comparison (:func:`psf_over_ridge_gain`): pixels this far along the limb tangent (px;
#: an along-limb ridge keeps its value there, a point source's core of σ ≤ 0.8 px is gone)...
RIDGE_FIT_ALONG_PX = 4.0
#: ...and this far across it (px; the ridge's and the source's core, a little of the background beside)
RIDGE_FIT_ACROSS_PX = 2.5
#: fewest finite pixels the comparison needs
RIDGE_FIT_MIN_PIXELS = 12
#: the point-beyond-ridge fit (:func:`point_beyond_ridge_snr`): the ridge's place across the limb relative to
#: the fitted position (px; a misplaced limb profile's residual need not run through the source)...
RIDGE_OFFSETS_PX = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)
#: ...and its width across, in units of the core σ (the profile's smoothing widens its residual)
RIDGE_WIDTHS_SIGMA = (1.0, 1.5, 2.0, 3.0)


def ridge_distance_px(core_sigma_px: float) -> float:
    """Distance (px) at which a point source's filtered response has died away: max(3 px, 4 σ_core)."""
    return max(RIDGE_DISTANCE_PX, 4.0 * core_sigma_px)


def ridge_fraction(snr: np.ndarray, line: int, sample: int, distance_px: float) -> float:
    """max over directions of min(S/N at ± ``distance_px`` along the direction) ÷ the peak S/N (the 3 × 3
    maximum around (line, sample) of ``snr``, crop pixels); bilinear, 0 beyond the map. 0 when the peak is
    not positive."""
    return ridge_fractions(snr, [line], [sample], distance_px)[0]


def ridge_fractions(snr: np.ndarray, lines, samples, distance_px: float) -> list[float]:
    """:func:`ridge_fraction` at each crop pixel (lines[k], samples[k]), the same values: the map read at
    every detection's points in one bilinear call (each point's value is its own)."""
    peaks = []
    for line, sample in zip(lines, samples, strict=True):
        box = snr[max(line - 1, 0) : line + 2, max(sample - 1, 0) : sample + 2]
        peaks.append(float(np.max(box)) if box.size else 0.0)
    at = [k for k, p in enumerate(peaks) if p > 0]
    out = [0.0] * len(peaks)
    if not at:
        return out
    ang = np.arange(RIDGE_DIRECTIONS) * np.pi / RIDGE_DIRECTIONS
    dy, dx = distance_px * np.sin(ang), distance_px * np.cos(ang)
    li = np.array([lines[k] for k in at])[:, None]
    sj = np.array([samples[k] for k in at])[:, None]
    ys = np.concatenate([li + dy, li - dy], axis=1)
    xs = np.concatenate([sj + dx, sj - dx], axis=1)
    vals = ndimage.map_coordinates(snr, [ys.ravel(), xs.ravel()], order=1, mode="constant", cval=0.0)
    vals = vals.reshape(len(at), 2 * ang.size)
    both = np.minimum(vals[:, : ang.size], vals[:, ang.size :]).max(axis=1)
    for k, b in zip(at, both.tolist(), strict=True):
        out[k] = b / peaks[k]
    return out


def snr_peak(snr: np.ndarray, line: int, sample: int) -> tuple[int, int]:
    """(line, sample) of the largest value of ``snr`` in the 3 × 3 pixels around crop pixel (line, sample)
    (the pixel itself on ties or when none is finite)."""
    i0, j0 = max(line - 1, 0), max(sample - 1, 0)
    box = snr[i0 : line + 2, j0 : sample + 2]
    if box.size == 0 or not np.isfinite(box).any():
        return line, sample
    a, b = divmod(_nanargmax(box), box.shape[1])
    if box[a, b] <= snr[line, sample]:
        return line, sample
    return i0 + int(a), j0 + int(b)


def snr_peaks(snr: np.ndarray, lines: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`snr_peak` at each crop pixel (lines[k], samples[k]), the same pixels: the 3 × 3 boxes of all
    of them at once (the pixels beyond the map read as −inf, which the largest finite value beats)."""
    lines, samples = np.asarray(lines, np.intp), np.asarray(samples, np.intp)
    n = lines.size
    if n == 0:
        return lines, samples
    nl, ns = snr.shape
    off = np.arange(-1, 2)
    li = lines[:, None, None] + off[None, :, None]
    sj = samples[:, None, None] + off[None, None, :]
    inside = ((li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)).reshape(n, 9)
    raw = snr[np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)].reshape(n, 9)
    any_finite = (inside & np.isfinite(raw)).any(axis=1)
    at = np.argmax(np.where(inside & ~np.isnan(raw), raw, -np.inf), axis=1)  # (_nanargmax: the first largest)
    top = raw[np.arange(n), at]
    move = any_finite & ~(top <= snr[lines, samples])
    return np.where(move, lines + at // 3 - 1, lines), np.where(move, samples + at % 3 - 1, samples)


def background_structures(
    background: np.ndarray, sigma_white: np.ndarray, lines: np.ndarray, samples: np.ndarray
) -> np.ndarray:
    """:func:`background_structure` at each crop pixel (lines[k], samples[k]) (inside :func:`kept_band_maps`
    kept alike, each pixel made once): the boxes of the pixels not made yet at once, each one's range the
    same (the box's largest and smallest values; the pixels beyond the map read as NaN, which fmax and fmin
    pass over), the rare box holding an infinity or no finite value by :func:`_background_structure`."""
    lines, samples = np.asarray(lines, np.intp), np.asarray(samples, np.intp)
    values: dict = {}
    if _KEPT.active:
        kept = _KEPT.structures
        if not (kept and kept[0] is background and kept[1] is sigma_white):
            kept[:] = [background, sigma_white, {}]
        values = kept[2]
    pixels = list(zip(lines.tolist(), samples.tolist(), strict=True))
    todo = [k for k, at in enumerate(pixels) if at not in values]
    if todo:
        made = _background_structures(background, sigma_white, lines[todo], samples[todo])
        for k, v in zip(todo, made, strict=True):
            values[pixels[k]] = v
    return np.array([values[at] for at in pixels], dtype=float)


def _background_structures(
    background: np.ndarray, sigma_white: np.ndarray, lines: np.ndarray, samples: np.ndarray
) -> list[float]:
    """:func:`_background_structure` of each crop pixel (lines[k], samples[k]), made anew."""
    h = STRUCTURE_BOX_PX
    n = lines.size
    nl, ns = background.shape
    off = np.arange(-h, h + 1)
    li, sj = np.broadcast_arrays(lines[:, None, None] + off[None, :, None], samples[:, None, None] + off)
    inside = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
    box = np.full(li.shape, np.nan, dtype=background.dtype)
    box[inside] = background[li[inside], sj[inside]]
    box = box.reshape(n, -1)
    hi, lo = np.fmax.reduce(box, axis=1), np.fmin.reduce(box, axis=1)
    sw = np.asarray(sigma_white[lines, samples], dtype=np.float64)
    out = ((hi - lo).astype(np.float64) / np.where(sw > 0, sw, 1.0)).tolist()
    for k in np.flatnonzero(~(sw > 0) | ~np.isfinite(hi) | ~np.isfinite(lo)).tolist():
        out[k] = _background_structure(background, sigma_white, int(lines[k]), int(samples[k]))
    return out


def background_structure(background: np.ndarray, sigma_white: np.ndarray, line: int, sample: int) -> float:
    """Range (max − min) of the background estimate over the box of half-size :data:`STRUCTURE_BOX_PX`
    around crop pixel (line, sample), in units of the white pixel noise there (each pixel's value kept for
    the band's later tests inside :func:`kept_band_maps`)."""
    if not _KEPT.active:
        return _background_structure(background, sigma_white, line, sample)
    kept = _KEPT.structures
    if not (kept and kept[0] is background and kept[1] is sigma_white):
        kept[:] = [background, sigma_white, {}]
    at = (line, sample)
    values = kept[2]
    if at not in values:
        values[at] = _background_structure(background, sigma_white, line, sample)
    return values[at]


def _background_structure(background: np.ndarray, sigma_white: np.ndarray, line: int, sample: int) -> float:
    """:func:`background_structure` made anew."""
    h = STRUCTURE_BOX_PX
    box = background[max(line - h, 0) : line + h + 1, max(sample - h, 0) : sample + h + 1]
    sw = float(sigma_white[line, sample])
    if box.size == 0 or not sw > 0:
        return 0.0
    hi, lo = np.fmax.reduce(box, axis=None), np.fmin.reduce(box, axis=None)
    if not (np.isfinite(hi) and np.isfinite(lo)):  # none finite, or infinities: the finite values' own path
        box = box[np.isfinite(box)]
        if box.size == 0:
            return 0.0
        hi, lo = np.max(box), np.min(box)
    return float(hi - lo) / sw


def _nanargmax(box: np.ndarray) -> int:
    """``np.nanargmax(box)`` (flat index; ``box`` holding a finite value) with less overhead: NaN read as
    −inf, the first largest value."""
    return int(np.argmax(np.where(np.isnan(box), -np.inf, box)))


def _unflagged_in_crop(
    detections: list[Detection], offset: tuple[int, int], line_offset: int, shape: tuple[int, ...]
) -> Iterator[tuple[Detection, int, int]]:
    """(detection, crop line, crop sample) of each detection not yet flagged (:data:`_SKIP`) whose nearest
    pixel lies in a crop of ``shape`` starting at band pixel ``offset``; detections' lines are product
    lines, ``line_offset`` the band's first."""
    l0, s0 = offset
    for det in detections:
        if det.flags & _SKIP:
            continue
        li = round(det.line - line_offset) - l0  # (round: int(np.rint(·))'s value, halves to even)
        sj = round(det.sample) - s0
        if 0 <= li < shape[0] and 0 <= sj < shape[1]:
            yield det, li, sj


def unflagged_near_edge(
    detections: list[Detection], line_offset: int, shape: tuple[int, ...], reach_px: int
) -> Iterator[tuple[Detection, int, int]]:
    """(detection, band line, band sample) of each detection not yet flagged (:data:`_SKIP`) whose nearest
    pixel (clipped to the band of ``shape``) lies within ``reach_px`` of the frame edge; detections' lines
    are product lines, ``line_offset`` the band's first."""
    nl, ns = shape[0], shape[1]
    for det in detections:
        if det.flags & _SKIP:
            continue
        li = min(max(round(det.line - line_offset), 0), nl - 1)  # int(np.clip(np.rint(·), ...))'s value
        sj = min(max(round(det.sample), 0), ns - 1)
        if min(li, sj, nl - 1 - li, ns - 1 - sj) <= reach_px:
            yield det, li, sj


def flag_ridges(
    detections: list[Detection],
    snr: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    core_sigma_px: float,
    max_fraction: float,
    peak_centred: bool = True,
) -> int:
    """Flag ARTEFACT on detections of one band lying on a ridge of the S/N map ``snr`` (the crop starting at
    band pixel ``offset`` = (line, sample); detections' lines are product lines, ``line_offset`` the band's
    first): :func:`ridge_fraction` ≥ ``max_fraction`` at :func:`ridge_distance_px` of ``core_sigma_px`` (an
    elongated core's longer σ), where the background has structure to misfit (:func:`background_structure`
    ≥ :data:`MIN_STRUCTURE_SIGMA`; ``background``, ``sigma_white``: the crop's maps). ``peak_centred``: the
    map is read around its largest value in the 3 × 3 pixels at the fitted position (:func:`snr_peak`; a fit
    beside the unsearched limb band lands where the map is 0, and the ridge along the band's edge was then
    read from inside the band); False: around the fitted position's pixel. Returns how many were flagged."""
    r = ridge_distance_px(core_sigma_px)
    n = 0
    found = list(_unflagged_in_crop(detections, offset, line_offset, snr.shape))
    if not found:
        return 0
    li = np.array([f[1] for f in found], np.intp)
    sj = np.array([f[2] for f in found], np.intp)
    if peak_centred:  # read the ridge from the S/N map's own peak, not the fit's (maybe unsearched) pixel
        li, sj = snr_peaks(snr, li, sj)
    structured = background_structures(background, sigma_white, li, sj) >= MIN_STRUCTURE_SIGMA
    # (detection, line, sample) where the background has structure to misfit
    tested = [(found[k][0], int(li[k]), int(sj[k])) for k in np.flatnonzero(structured).tolist()]
    if not tested:
        return 0
    fracs = ridge_fractions(snr, [t[1] for t in tested], [t[2] for t in tested], r)
    for (det, _, _), frac in zip(tested, fracs, strict=True):
        det.extra["ridge_fraction"] = frac
        if frac >= max_fraction:
            flag_artefact(det, "ridge")
            n += 1
    return n


def limb_step_at_edge(data: np.ndarray, line: int, sample: int) -> float:
    """The image's step height around band pixel (line, sample): the 95th − 5th percentile of the finite
    pixels in a (2 :data:`STEP_BOX_PX` + 1)² box (clipped to the frame) without its (2 :data:`STEP_CORE_PX`
    + 1)² centre; NaN without enough pixels."""
    nl, ns = data.shape
    i0, i1 = max(line - STEP_BOX_PX, 0), min(line + STEP_BOX_PX + 1, nl)
    j0, j1 = max(sample - STEP_BOX_PX, 0), min(sample + STEP_BOX_PX + 1, ns)
    box = np.array(data[i0:i1, j0:j1], dtype=np.float64)
    c = (
        slice(max(line - STEP_CORE_PX - i0, 0), max(line + STEP_CORE_PX + 1 - i0, 0)),
        slice(max(sample - STEP_CORE_PX - j0, 0), max(sample + STEP_CORE_PX + 1 - j0, 0)),
    )
    box[c] = np.nan
    v = box[np.isfinite(box)]
    if v.size < 20:
        return float("nan")
    lo, hi = np.percentile(v, [5.0, 95.0])
    return float(hi - lo)


def flag_edge_limb_steps(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    reach_px: float | None,
    limb_px: float,
    test_name: str = "edge_limb_step",
) -> int:
    """Flag ARTEFACT on detections of one band within ``reach_px`` of the frame edge and within ``limb_px``
    of the limb (``extra["limb_distance_px"]``) whose net peak (data − background, the 3 × 3 maximum) is
    below :data:`STEP_FRACTION` of the limb's step height there (:func:`limb_step_at_edge`). ``data``: the
    band image; ``background``: the crop starting at band pixel ``offset``. ``reach_px`` None: anywhere in the
    frame (the searched bright limb band, ``test_name`` "limb_band_step"). Returns how many were flagged."""
    nl, ns = data.shape
    l0, s0 = offset
    n = 0
    for det in detections:
        if det.flags & _SKIP:
            continue
        d_limb = det.extra.get("limb_distance_px")
        if d_limb is None or not abs(d_limb) <= limb_px:
            continue
        y, x = det.line - line_offset, det.sample
        if reach_px is not None and min(y, x, nl - 1 - y, ns - 1 - x) > reach_px:
            continue
        li, sj = int(np.clip(np.rint(y), 0, nl - 1)), int(np.clip(np.rint(x), 0, ns - 1))
        sl = (slice(max(li - 1, 0), li + 2), slice(max(sj - 1, 0), sj + 2))
        bsl = (
            slice(max(li - 1 - l0, 0), max(li + 2 - l0, 0)),
            slice(max(sj - 1 - s0, 0), max(sj + 2 - s0, 0)),
        )
        win, bwin = data[sl], background[bsl]
        if win.shape != bwin.shape or not np.isfinite(win).any():
            continue
        peak = float(np.nanmax(win - bwin))
        step = limb_step_at_edge(data, li, sj)
        det.extra["edge_limb_step_ratio"] = peak / step if step > 0 else float("inf")
        if step > 0 and peak < STEP_FRACTION * step:
            flag_artefact(det, test_name)
            n += 1
    return n


def _residual_peak(residual: np.ndarray, line: int, sample: int) -> tuple[float, int, int] | None:
    """(peak, line, sample) of the largest ``residual`` in the 3 × 3 pixels around (line, sample); None when
    none is finite."""
    i0, j0 = max(line - 1, 0), max(sample - 1, 0)
    box = residual[i0 : line + 2, j0 : sample + 2]
    if box.size == 0 or not np.isfinite(box).any():
        return None
    a, b = divmod(_nanargmax(box), box.shape[1])
    pi, pj = i0 + a, j0 + b
    return float(residual[pi, pj]), pi, pj


def _residual_peak_kept(residual: np.ndarray, line: int, sample: int) -> tuple[float, int, int] | None:
    """:func:`_residual_peak`; inside :func:`kept_band_maps` made once per pixel of the same residual map (the
    three along-limb tests read the same detections' peaks)."""
    if not _KEPT.active:
        return _residual_peak(residual, line, sample)
    kept = _KEPT.peaks
    if not (kept and kept[0] is residual):
        kept[:] = [residual, {}]
    at = (line, sample)
    if at not in kept[1]:
        kept[1][at] = _residual_peak(residual, line, sample)
    return kept[1][at]


def _at_limb_distance(
    residual: np.ndarray,
    limb_distance_px: np.ndarray,
    pi: int,
    pj: int,
    range_px: tuple[float, float],
    with_radii: bool = False,
):
    """The finite ``residual`` values at pixel (pi, pj)'s limb distance (within
    :data:`ALONG_LIMB_DISTANCE_PX`) and ``range_px`` (min, max) from it (row-major; ``with_radii``: and their
    distances from it, px)."""
    nl, ns = residual.shape
    r = int(np.ceil(range_px[1]))
    if (
        residual.dtype == np.float64
        and residual.ndim == 2
        and np.asarray(limb_distance_px).dtype == np.float64
        and 0 <= pi < nl
        and 0 <= pj < ns
    ):  # (compiled: the same pixels, values and radii)
        from ioscan.detect.fit_kernels import at_limb_distance

        values, radii = at_limb_distance(
            residual,
            limb_distance_px,
            pi,
            pj,
            r,
            float(range_px[0]),
            float(range_px[1]),
            ALONG_LIMB_DISTANCE_PX,
        )
        return (values, radii) if with_radii else values
    d0 = float(limb_distance_px[pi, pj])
    a0, a1, b0, b1 = max(pi - r, 0), min(pi + r + 1, nl), max(pj - r, 0), min(pj + r + 1, ns)
    yy, xx = np.ogrid[a0:a1, b0:b1]
    rr = np.hypot(yy - pi, xx - pj)  # (broadcast: np.mgrid's values)
    res = residual[a0:a1, b0:b1]
    sel = (
        (np.abs(limb_distance_px[a0:a1, b0:b1] - d0) <= ALONG_LIMB_DISTANCE_PX)
        & (rr >= range_px[0])
        & (rr <= range_px[1])
        & np.isfinite(res)
    )
    if with_radii:
        return res[sel], np.broadcast_to(rr, sel.shape)[sel]
    return res[sel]


def _at_limb_distance_kept(
    residual: np.ndarray, limb_distance_px: np.ndarray, pi: int, pj: int, range_px: tuple[float, float]
) -> np.ndarray:
    """:func:`_at_limb_distance`; inside :func:`kept_band_maps`, for the along-limb tests' ranges, the values
    within the widest range (:data:`ALONG_CLUTTER_RANGE_PX`) are made once per pixel and a narrower range's
    picked from them (the same pixels in the same order: its box lies inside the wider one's)."""
    wide = ALONG_CLUTTER_RANGE_PX
    if not (_KEPT.active and range_px[0] == wide[0] and range_px[1] <= wide[1]):
        return _at_limb_distance(residual, limb_distance_px, pi, pj, range_px)
    kept = _KEPT.rings
    if not (kept and kept[0] is residual and kept[1] is limb_distance_px):
        kept[:] = [residual, limb_distance_px, {}]
    if (pi, pj) not in kept[2]:
        kept[2][(pi, pj)] = _at_limb_distance(residual, limb_distance_px, pi, pj, wide, with_radii=True)
    values, radii = kept[2][(pi, pj)]
    return values if range_px[1] == wide[1] else values[radii <= range_px[1]]


class _KeptMaps(threading.local):
    """Inside :func:`kept_band_maps`, per thread (two threads detecting at once keep their own): the band's
    residual maps (:func:`_crop_residual`, its NaN-free copy), one entry each keyed on the very arrays
    (``is``) and the offset (``last``), the background structures ([background, sigma_white, their
    values by pixel], ``structures``), the along-limb rings (``rings``) and residual peaks ([residual, its
    peaks by pixel], ``peaks``)."""

    def __init__(self) -> None:
        self.active = False
        self.last: dict = {}
        self.structures: list = []
        self.rings: list = []
        self.peaks: list = []


_KEPT = _KeptMaps()


@contextmanager
def kept_band_maps() -> Iterator[None]:
    """While active (the misfit tests of one band, whose maps do not change meanwhile), the maps the tests
    make from the same arrays are made once (:func:`_kept_for`); outside, each call makes its own."""
    _KEPT.last.clear()
    _KEPT.structures.clear()
    _KEPT.rings.clear()
    _KEPT.peaks.clear()
    _KEPT.active = True
    try:
        yield
    finally:
        _KEPT.active = False
        _KEPT.last.clear()
        _KEPT.structures.clear()
        _KEPT.rings.clear()
        _KEPT.peaks.clear()


def _kept_for(key: tuple, make):
    """``make()``, or (inside :func:`kept_band_maps`) what it made for the same ``key`` (arrays compared by
    identity, other items by value) if that was the last key asked for; an array kept is made read-only."""
    if not _KEPT.active:
        return make()
    last = _KEPT.last.get(make.__name__)
    same = last is not None and len(last[0]) == len(key)
    # (arrays by identity; the offset, a tuple, by value)
    if same and all(a is b or (type(a) is tuple and a == b) for a, b in zip(last[0], key, strict=True)):
        return last[1]
    value = make()
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    _KEPT.last[make.__name__] = (key, value)
    return value


def _crop_residual(
    data: np.ndarray, background: np.ndarray, sigma_white: np.ndarray, offset: tuple[int, int]
) -> np.ndarray:
    """(data − background) / sigma_white on the crop of ``background``'s shape at band pixel ``offset``
    (read-only; made once for the band's several tests)."""

    def crop_residual() -> np.ndarray:
        l0, s0 = offset
        nl, ns = background.shape
        with np.errstate(invalid="ignore", divide="ignore"):
            return (np.asarray(data[l0 : l0 + nl, s0 : s0 + ns], dtype=np.float64) - background) / sigma_white

    return _kept_for((data, background, sigma_white, tuple(offset)), crop_residual)


def _nan_to_zero(residual: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(residual, nan=0.0)`` (read-only; made once per residual map)."""

    def residual_nan_to_zero() -> np.ndarray:
        return np.nan_to_num(residual, nan=0.0)

    return _kept_for((residual,), residual_nan_to_zero)


def band_residual(
    data: np.ndarray, background: np.ndarray, sigma_white: np.ndarray, offset: tuple[int, int]
) -> np.ndarray:
    """:func:`_crop_residual` placed in the band image's frame (NaN outside the crop), so that distances to
    the frame edge are the image's own (read-only inside :func:`kept_band_maps`: made once for the band's
    tests)."""

    def band_residual_map() -> np.ndarray:
        l0, s0 = offset
        nl, ns = background.shape
        residual = np.full(data.shape, np.nan)
        residual[l0 : l0 + nl, s0 : s0 + ns] = _crop_residual(data, background, sigma_white, offset)
        return residual

    return _kept_for((data, background, sigma_white, tuple(offset)), band_residual_map)


def _flag_near_limb(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    limb_distance_px: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    max_fraction: float,
    score,
    extra_key: str,
    test_name: str,
) -> int:
    """Flag ARTEFACT (``test_name``) on the unflagged detections within :data:`ALONG_LIMB_REACH_PX` of the
    limb, where the background has structure to misfit, whose ``score(residual, limb_distance_px, line,
    sample)`` (its first value, stored in ``extra[extra_key]``) is ≥ ``max_fraction``. Returns how many."""
    found = list(_unflagged_in_crop(detections, offset, line_offset, background.shape))
    if not found:
        return 0
    li = np.array([f[1] for f in found], np.intp)
    sj = np.array([f[2] for f in found], np.intp)
    near = np.flatnonzero(
        np.abs(np.asarray(limb_distance_px[li, sj], dtype=np.float64)) <= ALONG_LIMB_REACH_PX
    )
    if not near.size:
        return 0
    structured = background_structures(background, sigma_white, li[near], sj[near]) >= MIN_STRUCTURE_SIGMA
    residual = None  # (made when a detection is first scored)
    n = 0
    for k in near[structured].tolist():
        det = found[k][0]
        if residual is None:
            residual = _crop_residual(data, background, sigma_white, offset)
        frac = score(residual, limb_distance_px, int(li[k]), int(sj[k]))[0]
        if not np.isfinite(frac):
            continue
        det.extra[extra_key] = frac
        if frac >= max_fraction:
            flag_artefact(det, test_name)
            n += 1
    return n


def along_limb_fraction(
    residual: np.ndarray, limb_distance_px: np.ndarray, line: int, sample: int
) -> tuple[float, int, int]:
    """How much of a detection's residual peak the limb keeps along itself: the median of ``residual`` (data
    − background, in white-noise σ) over the pixels at the peak's limb distance (within
    :data:`ALONG_LIMB_DISTANCE_PX`) and :data:`ALONG_LIMB_RANGE_PX` from it, ÷ the peak (the largest residual
    in the 3 × 3 pixels around crop pixel (line, sample)). Returns (fraction, peak line, peak sample);
    fraction NaN when the peak is not positive or fewer than :data:`ALONG_LIMB_MIN_PIXELS` pixels qualify."""
    found = _residual_peak_kept(residual, line, sample)
    if found is None:
        return float("nan"), line, sample
    peak, pi, pj = found
    values = _at_limb_distance_kept(residual, limb_distance_px, pi, pj, ALONG_LIMB_RANGE_PX)
    if not peak > 0 or values.size < ALONG_LIMB_MIN_PIXELS:
        return float("nan"), pi, pj
    return float(median_or_nan(values)) / peak, pi, pj


def flag_along_limb(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    limb_distance_px: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    max_fraction: float,
) -> int:
    """Flag ARTEFACT on detections of one band within :data:`ALONG_LIMB_REACH_PX` of the limb whose residual
    peak the limb keeps along itself (:func:`along_limb_fraction` ≥ ``max_fraction``), where the background
    has structure to misfit (:func:`background_structure` ≥ :data:`MIN_STRUCTURE_SIGMA`). ``data``: the band
    image; ``background``, ``sigma_white``, ``limb_distance_px`` (signed, positive on the disk: the one the
    background used): the crop's maps, starting at band pixel ``offset`` = (line, sample); detections' lines
    are product lines, ``line_offset`` the band's first. Returns how many were flagged."""
    return _flag_near_limb(
        detections, data, background, sigma_white, limb_distance_px, offset, line_offset, max_fraction,
        along_limb_fraction, "along_limb_fraction", "along_limb",
    )  # fmt: skip


def along_limb_clutter(
    residual: np.ndarray, limb_distance_px: np.ndarray, line: int, sample: int
) -> tuple[float, int, int]:
    """How large the residual's clutter along the limb is against a detection's peak: the robust scatter
    (1.4826 × MAD) of ``residual`` (data − background, in white-noise σ) over the pixels at the peak's limb
    distance (within :data:`ALONG_LIMB_DISTANCE_PX`) and :data:`ALONG_CLUTTER_RANGE_PX` from it, less the
    white noise's unit variance in quadrature (√max(s² − 1, 0)), ÷ the peak (the largest residual in the
    3 × 3 pixels around crop pixel (line, sample)). Returns (fraction, peak line, peak sample); fraction NaN
    when the peak is not positive or fewer than :data:`ALONG_CLUTTER_MIN_PIXELS` pixels qualify."""
    found = _residual_peak_kept(residual, line, sample)
    if found is None:
        return float("nan"), line, sample
    peak, pi, pj = found
    v = _at_limb_distance_kept(residual, limb_distance_px, pi, pj, ALONG_CLUTTER_RANGE_PX)
    if not peak > 0 or v.size < ALONG_CLUTTER_MIN_PIXELS:
        return float("nan"), pi, pj
    s = MAD_TO_SIGMA * float(median_or_nan(np.abs(v - median_or_nan(v))))
    return float(np.sqrt(max(s * s - 1.0, 0.0))) / peak, pi, pj


def flag_along_limb_clutter(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    limb_distance_px: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    max_fraction: float,
) -> int:
    """Flag ARTEFACT on detections of one band within :data:`ALONG_LIMB_REACH_PX` of the limb whose residual
    peak is a crest of the clutter along the limb at its own limb distance (:func:`along_limb_clutter` ≥
    ``max_fraction``), where the background has structure to misfit (:func:`background_structure` ≥
    :data:`MIN_STRUCTURE_SIGMA`). Arguments as :func:`flag_along_limb`. Returns how many were flagged."""
    return _flag_near_limb(
        detections, data, background, sigma_white, limb_distance_px, offset, line_offset, max_fraction,
        along_limb_clutter, "along_limb_clutter", "along_limb_clutter",
    )  # fmt: skip


def along_limb_side_fraction(
    residual: np.ndarray, limb_distance_px: np.ndarray, line: int, sample: int
) -> tuple[float, int, int]:
    """The larger of ``residual`` :data:`ALONG_SIDE_PX` along the limb on either side of a detection's peak
    (the largest residual in the 3 × 3 pixels around crop pixel (line, sample); the limb's tangent from the
    central differences of ``limb_distance_px`` there; bilinear) ÷ the peak. Returns (fraction, peak line,
    peak sample); fraction NaN when the peak is not positive, the limb distance has no gradient there or a
    side lies outside the map."""
    nl, ns = residual.shape
    found = _residual_peak_kept(residual, line, sample)
    if found is None:
        return float("nan"), line, sample
    peak, pi, pj = found
    if not peak > 0 or not (0 < pi < nl - 1 and 0 < pj < ns - 1):
        return float("nan"), pi, pj
    gy = float(limb_distance_px[pi + 1, pj] - limb_distance_px[pi - 1, pj])
    gx = float(limb_distance_px[pi, pj + 1] - limb_distance_px[pi, pj - 1])
    g = float(np.hypot(gy, gx))
    if not g > 0:
        return float("nan"), pi, pj
    ty, tx = -gx / g * ALONG_SIDE_PX, gy / g * ALONG_SIDE_PX  # along the limb
    vals = ndimage.map_coordinates(
        _nan_to_zero(residual), [[pi + ty, pi - ty], [pj + tx, pj - tx]], order=1, mode="constant",
        cval=np.nan,
    )  # fmt: skip
    ys, xs = np.array([pi + ty, pi - ty]), np.array([pj + tx, pj - tx])
    if not ((ys >= 0) & (ys <= nl - 1) & (xs >= 0) & (xs <= ns - 1)).all():
        return float("nan"), pi, pj
    return float(np.max(vals)) / peak, pi, pj


def flag_along_limb_sides(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    limb_distance_px: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    max_fraction: float,
) -> int:
    """Flag ARTEFACT on detections of one band within :data:`ALONG_LIMB_REACH_PX` of the limb whose residual
    continues along the limb on one side (:func:`along_limb_side_fraction` ≥ ``max_fraction``), where the
    background has structure to misfit (:func:`background_structure` ≥ :data:`MIN_STRUCTURE_SIGMA`).
    Arguments as :func:`flag_along_limb`. Returns how many were flagged."""
    return _flag_near_limb(
        detections, data, background, sigma_white, limb_distance_px, offset, line_offset, max_fraction,
        along_limb_side_fraction, "along_limb_side_fraction", "along_limb_side",
    )  # fmt: skip


def edge_plateau_fraction(residual: np.ndarray, line: int, sample: int, shape: tuple[int, int]) -> float:
    """How much of a detection's residual peak the frame edge's row (or column) keeps beside it: the larger
    of ``residual`` at ± :data:`EDGE_PLATEAU_PX` along the nearest frame edge from the peak (the largest
    residual in the 3 × 3 pixels around (line, sample)) ÷ the peak. Pixels are band-image pixels of a frame of
    ``shape``; NaN when the peak is more than :data:`EDGE_PLATEAU_REACH_PX` from the edge, not positive, or a
    side lies outside the map."""
    nl, ns = residual.shape
    found = _residual_peak(residual, line, sample)
    if found is None:
        return float("nan")
    peak, pi, pj = found
    gaps = (pi, shape[0] - 1 - pi, pj, shape[1] - 1 - pj)
    k = int(np.argmin(gaps))
    if gaps[k] > EDGE_PLATEAU_REACH_PX or not peak > 0:
        return float("nan")
    h = EDGE_PLATEAU_PX
    sides = ((pi, pj - h), (pi, pj + h)) if k < 2 else ((pi - h, pj), (pi + h, pj))
    vals = [residual[y, x] if 0 <= y < nl and 0 <= x < ns else np.nan for y, x in sides]
    if not np.isfinite(vals).all():
        return float("nan")
    return float(max(vals)) / peak


def flag_edge_plateaus(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    max_fraction: float,
) -> int:
    """Flag ARTEFACT on detections whose residual peak lies within :data:`EDGE_PLATEAU_REACH_PX` of the
    frame edge and whose residual ± :data:`EDGE_PLATEAU_PX` along the edge keeps at least ``max_fraction`` of
    the peak on one side (:func:`edge_plateau_fraction`), where the background has structure to misfit
    (:func:`background_structure` ≥ :data:`MIN_STRUCTURE_SIGMA`). ``data``: the band image; ``background``,
    ``sigma_white``: the crop's maps from band pixel ``offset``; ``line_offset``: the band's first product
    line. Returns how many were flagged."""
    l0, s0 = offset
    nl, ns = background.shape
    residual = None  # (made when a detection is first tested)
    n = 0
    reach = EDGE_PLATEAU_REACH_PX + 1  # (the peak lies within 1 px of the detection's pixel)
    for det, li, sj in _unflagged_in_crop(detections, offset, line_offset, (nl, ns)):
        bl, bs = li + l0, sj + s0
        if min(bl, bs, data.shape[0] - 1 - bl, data.shape[1] - 1 - bs) > reach:
            continue  # (its peak is farther from the edge than EDGE_PLATEAU_REACH_PX: NaN)
        if background_structure(background, sigma_white, li, sj) < MIN_STRUCTURE_SIGMA:
            continue
        if residual is None:
            residual = band_residual(data, background, sigma_white, offset)
        frac = edge_plateau_fraction(residual, bl, bs, data.shape)
        if not np.isfinite(frac):
            continue
        det.extra["edge_plateau_fraction"] = frac
        if frac >= max_fraction:
            flag_artefact(det, "edge_plateau")
            n += 1
    return n


def _limb_normal(limb_distance_px: np.ndarray, line: int, sample: int) -> tuple[float, float] | None:
    """Unit vector (d_sample, d_line) of the limb distance's gradient at crop pixel (line, sample): across
    the limb, towards the disk; None where it has none."""
    nl, ns = limb_distance_px.shape
    a0, a1, b0, b1 = max(line - 1, 0), min(line + 2, nl), max(sample - 1, 0), min(sample + 2, ns)
    win = np.asarray(limb_distance_px[a0:a1, b0:b1], dtype=np.float64)
    if min(win.shape) < 2 or not np.isfinite(win).all():
        return None
    g_line, g_sample = (float(np.mean(g)) for g in np.gradient(win))
    norm = float(np.hypot(g_sample, g_line))
    return (g_sample / norm, g_line / norm) if norm > 0 else None


def _fit_chi2(columns: list[np.ndarray], values: np.ndarray) -> float:
    """χ² of the linear least-squares fit of ``values`` (in white-noise σ) by ``columns``."""
    design = np.stack(columns, axis=1)
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return float(np.sum((design @ coef - values) ** 2))


def _limb_window(
    residual: np.ndarray, limb_distance_px: np.ndarray, x_px: float, y_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(finite residual values, squared distances (px²) to (``x_px``, ``y_px``), distances across the limb
    (px, along the limb distance's gradient)) of the pixels within :data:`RIDGE_FIT_ALONG_PX` along the limb's
    tangent and :data:`RIDGE_FIT_ACROSS_PX` across it from that crop position; None where the limb has no
    direction or fewer than :data:`RIDGE_FIT_MIN_PIXELS` are finite."""
    nl, ns = residual.shape
    li, sj = int(np.rint(y_px)), int(np.rint(x_px))
    if not (0 <= li < nl and 0 <= sj < ns):
        return None
    normal = _limb_normal(limb_distance_px, li, sj)
    if normal is None:
        return None
    r = int(np.ceil(np.hypot(RIDGE_FIT_ALONG_PX, RIDGE_FIT_ACROSS_PX)))
    a0, a1, b0, b1 = max(li - r, 0), min(li + r + 1, nl), max(sj - r, 0), min(sj + r + 1, ns)
    yy, xx = np.mgrid[a0:a1, b0:b1]
    dx, dy = xx - x_px, yy - y_px
    across = dx * normal[0] + dy * normal[1]
    along = dy * normal[0] - dx * normal[1]
    res = residual[a0:a1, b0:b1]
    sel = (np.abs(along) <= RIDGE_FIT_ALONG_PX) & (np.abs(across) <= RIDGE_FIT_ACROSS_PX) & np.isfinite(res)
    if int(sel.sum()) < RIDGE_FIT_MIN_PIXELS:
        return None
    return res[sel].astype(np.float64), dx[sel] ** 2 + dy[sel] ** 2, across[sel]


def _window_at(residual, limb_distance_px, x_px, y_px, window: tuple | None):
    """:func:`_limb_window` there, or ``window`` if given (``()``: it was made and is None)."""
    if window is None:
        return _limb_window(residual, limb_distance_px, x_px, y_px)
    return window or None


def psf_over_ridge_gain(
    residual: np.ndarray,
    limb_distance_px: np.ndarray,
    x_px: float,
    y_px: float,
    sigma_px: float,
    window: tuple | None = None,
) -> float:
    """How much better a point source fits a detection's residual than a ridge along the limb does: (χ²_ridge
    − χ²_psf) / χ²_psf over the pixels within :data:`RIDGE_FIT_ALONG_PX` along the limb's tangent and
    :data:`RIDGE_FIT_ACROSS_PX` across it from the fitted position (crop pixels ``x_px``, ``y_px``). Both
    models are linear with a constant: a circular Gaussian core of ``sigma_px`` at the position, and a
    Gaussian line-spread profile of the same σ across the limb, constant along it (what a misplaced or
    misshapen limb profile leaves). ``residual``: data − background in white-noise σ (crop); NaN when the
    limb has no direction there or too few pixels are finite. A point source's gain grows with its S/N² (a
    ridge does not fit its ends); a limb residual's stays near 0 (the ridge fits as well or better).
    ``window``: :func:`_limb_window`'s pixels there if already made (a tuple; ``()``: none)."""
    window = _window_at(residual, limb_distance_px, x_px, y_px, window)
    if window is None:
        return float("nan")
    values, r2, across = window
    one, two_var = np.ones(values.size), 2.0 * sigma_px**2
    chi2_psf = _fit_chi2([np.exp(-r2 / two_var), one], values)
    chi2_ridge = _fit_chi2([np.exp(-(across**2) / two_var), one], values)
    return (chi2_ridge - chi2_psf) / chi2_psf if chi2_psf > 0 else float("inf")


def point_beyond_ridge_snr(
    residual: np.ndarray,
    limb_distance_px: np.ndarray,
    x_px: float,
    y_px: float,
    sigma_px: float,
    window: tuple | None = None,
) -> float:
    """S/N of a point source at a detection's fitted position on top of the ridge along the limb that fits
    its residual best: over the pixels of :func:`psf_over_ridge_gain`, the residual (white-noise σ) is fitted
    by a circular Gaussian core of ``sigma_px`` at (``x_px``, ``y_px``) + a ridge (a Gaussian profile across
    the limb, constant along it) + a constant, the ridge at each place of :data:`RIDGE_OFFSETS_PX` across the
    limb and width of :data:`RIDGE_WIDTHS_SIGMA`; of the best fit (least χ²), the core's amplitude ÷ its
    error, the error scaled by √(χ²/dof) where the residual scatters more than white noise. A point source
    on a limb's misfit keeps its own S/N less what the ridge shares with it (≈ 0.8 of it); a misfit that a
    ridge explains, ~0–3. NaN as :func:`psf_over_ridge_gain` (``window`` as there)."""
    window = _window_at(residual, limb_distance_px, x_px, y_px, window)
    if window is None:
        return float("nan")
    values, r2, across = window
    offsets = np.repeat(np.asarray(RIDGE_OFFSETS_PX, float), len(RIDGE_WIDTHS_SIGMA))
    widths = np.tile(np.asarray(RIDGE_WIDTHS_SIGMA, float), len(RIDGE_OFFSETS_PX)) * sigma_px
    ridges = np.exp(-((across[None, :] - offsets[:, None]) ** 2) / (2.0 * widths[:, None] ** 2))
    point = np.exp(-r2 / (2.0 * sigma_px**2))
    # every (place, width) at once: [point, ridge, constant] by their normal equations
    design = np.stack([np.broadcast_to(point, ridges.shape), ridges, np.ones(ridges.shape)], axis=1)
    normal = np.einsum("kin,kjn->kij", design, design)
    rhs = np.einsum("kin,n->ki", design, values)
    ok = np.abs(np.linalg.det(normal)) > 1e-12 * np.prod(np.diagonal(normal, axis1=1, axis2=2), axis=1)
    if not ok.any():
        return float("nan")
    normal, rhs = normal[ok], rhs[ok]
    coef = np.linalg.solve(normal, rhs[..., None])[..., 0]
    chi2 = float(values @ values) - np.einsum("ki,ki->k", coef, rhs)
    k = int(np.argmin(chi2))
    scatter = max(float(chi2[k]) / max(values.size - 3, 1), 1.0)
    var = float(np.linalg.inv(normal[k])[0, 0]) * scatter
    return float(coef[k, 0] / np.sqrt(var)) if var > 0 else float("nan")


def limb_ridge_psf_gains(
    detections: list[Detection],
    data: np.ndarray,
    background: np.ndarray,
    sigma_white: np.ndarray,
    limb_distance_px: np.ndarray,
    offset: tuple[int, int],
    line_offset: int,
    sigma_px: float,
    in_zone: list[bool],
) -> list[float]:
    """:func:`psf_over_ridge_gain` of each detection of one band in the limb's zone (``in_zone``, one per
    detection; NaN elsewhere and outside the crop) at its fitted position, stored in
    ``extra["limb_ridge_psf_gain"]``. ``data``: the band image; ``background``,
    ``sigma_white``, ``limb_distance_px``: the crop's maps starting at band pixel ``offset`` = (line,
    sample); detections' lines are product lines, ``line_offset`` the band's first; ``sigma_px``: the PSF's
    core σ. Also stores :func:`point_beyond_ridge_snr` in ``extra["limb_point_snr"]``."""
    if not any(in_zone):  # (the residual is not made for nothing)
        return [float("nan")] * len(detections)
    residual = _crop_residual(data, background, sigma_white, offset)
    l0, s0 = offset
    gains = []
    for det, zone in zip(detections, in_zone, strict=True):
        if not zone:
            gains.append(float("nan"))
            continue
        x, y = det.sample - s0, det.line - line_offset - l0
        # the pixels both fits read, made once (() where there are none)
        window = _limb_window(residual, limb_distance_px, x, y) or ()
        gain = psf_over_ridge_gain(residual, limb_distance_px, x, y, sigma_px, window)
        det.extra["limb_ridge_psf_gain"] = gain
        det.extra["limb_point_snr"] = point_beyond_ridge_snr(
            residual, limb_distance_px, x, y, sigma_px, window
        )
        gains.append(gain)
    return gains
