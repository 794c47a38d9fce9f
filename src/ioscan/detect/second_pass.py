"""Subtract and search again: faint hot spots beside bright ones.

After the first detection pass, its sources are rendered with the full PSF model and subtracted, and the
background, local scale and matched filter are made again on what is left (DAOPHOT's FIND → ALLSTAR →
SUBSTAR → FIND cycle, on the matched-filter S/N map). A faint neighbour a few pixels from a bright source is
then no longer on its shoulder, its background annulus no longer holds the bright one's wings, and its local
scale is no longer raised by them: in the tests, faint sources (S/N 8–20) 3–6 px from bright ones
(S/N 300–3,000) go from 48 % found to 100 %; in the benchmark's close pairs (SNR ≥ 7, 3–4 / 4–6 px from a
hot spot of SNR 50–1,000) from 0.27 / 0.80 to 0.90 / 0.975.

Where it may look, and what it keeps, is limited to what that physics needs (each limit was measured on the
benchmark and the demo to keep the false-detection rate where it was):

* only within 1.5 local-scale blocks of a first-pass source of fitted S/N ≥ :data:`BRIGHT_SOURCE_SNR`;
* not within 2 (2σ + 1) px of the limb (a sunlit limb's structure, once its first-pass detections are
  subtracted, would otherwise give more);
* cosmic-ray hits (the spike test of :func:`ioscan.detect.find.spike_dchi2`) are masked, not subtracted as
  PSFs, and nothing new is taken within 6 px of one; saturated sources (fitted to their wings, with streaks
  and rings the model lacks) are subtracted but their surroundings are not searched again;
* faint first-pass detections (below 2 % of the flux) within two scale blocks of a saturated source or of
  one with S/N ≥ 200 are re-checked on the image with everything else subtracted, and flagged ARTEFACT when
  gone (the residuals of bright wings in the first pass's background);
* what a PSF model error symmetric about a bright source leaves (core width, wing weight, rings) is taken
  out with the azimuthal median of the residual around it (:func:`radial_profiles`);
* the new map's S/N is divided by √(1 + (f · S_model)²), S_model being the matched-filter S/N of the
  subtracted model there and f :attr:`~ioscan.detect.config.DetectConfig.psf_model_error`, or twice the
  model error the bright sources' own residuals show if larger (:func:`measured_model_error`), so a PSF
  mismatch around a bright source does not make sources;
* a new peak, and its fitted position, must lie farther than max(2.5 px, 2σ) from every known source (an
  elongated core leaves lobes 1.5–2 px out that the azimuthal median cannot take), and its fitted S/N (on
  the subtracted image) must reach the threshold. Measured with the model's circular 0.6-px core against true
  cores 10 % wider, 0.66 × 0.55 px, 0.72 × 0.5 px and 0.8 × 0.5 px: at most 1 false source in 8 frames of
  16 bright hot spots each (19 to 110 without these guards).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ioscan.detect.background import BandModel, background_kernel, estimate_background
from ioscan.detect.background_kernels import correlate_lines, correlate_samples
from ioscan.detect.config import DetectConfig
from ioscan.detect.disk import grow
from ioscan.detect.find import Peaks, find_peaks
from ioscan.detect.photometry import PsfFit, effective_psf, fit_radius_px, fit_sources
from ioscan.detect.psf import PsfModel, kernel1d
from ioscan.detect.saturated import CENTROID_ERR_PX
from ioscan.detect.second_pass_kernels import (
    PAIRWISE_BLOCK,
    add_at,
    add_stamps,
    model_error_ratios,
    or_disks,
    radial_profiles_kernel,
)

#: the second background is made on windows around the bright sources when they cover less than this fraction
#: of the analysed crop (else on the whole crop)
WINDOWED_FRACTION = 0.5
#: first-pass detections within this many scale blocks of a saturated source or of one with S/N ≥
#: CHECK_AROUND_SNR, and below CHECK_FLUX_RATIO of its flux, are checked on the image with it subtracted: the
#: residuals of its wings in the first pass's background make such peaks (this replaced a flag on every faint
#: peak within 10 px, which in the demo's crowded close-range frames flagged 44 real hot spots for 13 false)
CHECK_RADIUS_BLOCKS = 2.0
CHECK_AROUND_SNR = 200.0
CHECK_FLUX_RATIO = 0.02
#: the model error used is at least this many times the one the bright sources' residuals show
MODEL_ERROR_MARGIN = 2.0
#: first-pass sources at least this bright (fitted S/N) get their neighbourhood searched again
BRIGHT_SOURCE_SNR = 50.0
#: the second background is made only where the first pass's maps leave an S/N of at least this fraction of
#: the threshold in the zone (:func:`something_left`; not where faint neighbours are re-checked: they need it)
LEFT_SNR_FRACTION = 0.8


def disk_offsets(radius_px: float) -> tuple[int, np.ndarray]:
    """Half-size r = ceil(``radius_px``) and the (2r + 1)² mask of the offsets (px) within ``radius_px``."""
    r = int(np.ceil(radius_px))
    off = np.arange(-r, r + 1)
    return r, off[:, None] ** 2 + off[None, :] ** 2 <= radius_px**2


def disk_window(
    xi: int, yi: int, shape: tuple, r: int, disk: np.ndarray
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The box of ``shape`` around pixel (sample ``xi``, line ``yi``) that the offset mask ``disk`` (half-size
    ``r``, :func:`disk_offsets`) reaches, and the mask's part in it; None when it is outside."""
    l0, l1 = max(yi - r, 0), min(yi + r + 1, shape[0])
    s0, s1 = max(xi - r, 0), min(xi + r + 1, shape[1])
    if l0 >= l1 or s0 >= s1:
        return None
    return (slice(l0, l1), slice(s0, s1)), disk[l0 - yi + r : l1 - yi + r, s0 - xi + r : s1 - xi + r]


def near_sources(x: np.ndarray, y: np.ndarray, shape: tuple, radius_px: float) -> np.ndarray:
    """True within ``radius_px`` of any of the positions (sample ``x``, line ``y``)."""
    out = np.zeros(shape, bool)
    r, disk = disk_offsets(radius_px)
    # (compiled: each position's window of the disk OR-ed in, disk_window's clipping)
    xi, yi = (np.ascontiguousarray(np.rint(v).astype(np.int64)) for v in (x, y))
    or_disks(out, xi, yi, r, np.ascontiguousarray(disk))
    return out


def near_saturated(saturated: np.ndarray, li: np.ndarray, sj: np.ndarray, reach_px: int) -> np.ndarray:
    """For each pixel (line ``li``, sample ``sj``): whether a ``saturated`` pixel lies within city-block
    distance ``reach_px`` (≥ 1) of it — ``ndimage.binary_dilation(saturated, iterations=reach_px)`` read at
    those pixels, without dilating the whole image."""
    off = np.arange(-reach_px, reach_px + 1)
    dl, ds = np.meshgrid(off, off, indexing="ij")
    diamond = np.abs(dl) + np.abs(ds) <= reach_px
    lines = np.asarray(li)[:, None] + dl[diamond][None, :]
    samples = np.asarray(sj)[:, None] + ds[diamond][None, :]
    inside = (lines >= 0) & (lines < saturated.shape[0]) & (samples >= 0) & (samples < saturated.shape[1])
    hit = np.zeros(lines.shape, bool)
    hit[inside] = np.asarray(saturated, bool)[lines[inside], samples[inside]]
    return hit.any(axis=1)


def source_image(psf: PsfModel, x: np.ndarray, y: np.ndarray, flux: np.ndarray, shape: tuple) -> np.ndarray:
    """Image (lines × samples) of point sources of total ``flux`` at (``x``, ``y``) (sample, line; pixel
    centres at integers) with the full PSF model, out to 4 σ of its broadest component."""
    out = np.zeros(shape)
    if len(x) == 0:
        return out
    r = int(np.ceil(4.0 * max(psf.sigmas_px)))
    off = np.arange(-r, r + 1)
    ci, cj = np.rint(y).astype(int), np.rint(x).astype(int)
    li = ci[:, None, None] + off[None, :, None]
    sj = cj[:, None, None] + off[None, None, :]
    p = psf.stamp_values(sj.astype(float), li.astype(float), np.asarray(x, float), np.asarray(y, float))
    # (compiled: np.add.at of flux × p at the stamps' pixels inside, in its order)
    add_stamps(out, p, np.ascontiguousarray(flux, dtype=float), ci.astype(np.int64), cj.astype(np.int64), r)
    return out


def ring_edges(radius_px: float) -> np.ndarray:
    """Edges (px) of :func:`radial_profiles`'s ring bins: 0.5 px wide to 3 px, then 1 px to past
    ``radius_px``."""
    return np.concatenate([np.arange(0.0, 3.0, 0.5), np.arange(3.0, radius_px + 1.0, 1.0)])


def radial_profiles(
    resid: np.ndarray, usable: np.ndarray, x: np.ndarray, y: np.ndarray, radius_px: float
) -> np.ndarray:
    """Image of the azimuthal-median profile of ``resid`` around each position (sample ``x``, line ``y``) out
    to ``radius_px``, brightest first (each on what the previous ones left): what a PSF model error that is
    symmetric about the source (core width, wing weight) leaves after the model is subtracted. A neighbour
    covers a small part of its ring and does not move the median. Bins 0.5 px wide to 3 px, then 1 px
    (ring medians of at least 3 finite values, linear between the bins' centres, 0 past the last edge).
    Compiled (:func:`~ioscan.detect.second_pass_kernels.radial_profiles_kernel`), the same bit for bit as
    :func:`radial_profiles_numpy`, which it falls back to where a ring's median is a zero of either sign."""
    work = np.where(usable, resid, np.nan).astype(float, copy=False)  # (np.where made it: a fresh array)
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    out, exact = radial_profiles_kernel(work, xs, ys, ring_edges(radius_px), int(np.ceil(radius_px)), 3)
    return out if exact else radial_profiles_numpy(resid, usable, xs, ys, radius_px)


def radial_profiles_numpy(
    resid: np.ndarray, usable: np.ndarray, x: np.ndarray, y: np.ndarray, radius_px: float
) -> np.ndarray:
    """:func:`radial_profiles` in numpy, one ``np.median`` per ring bin (``np.digitize`` on the radii) and
    ``np.interp`` between them: the reference the compiled kernel equals, and its fall-back."""
    out = np.zeros(resid.shape)
    work = np.where(usable, resid, np.nan).astype(float)
    edges = ring_edges(radius_px)
    r_int = int(np.ceil(radius_px))
    nl, ns = resid.shape
    for xi, yi in zip(np.asarray(x, float), np.asarray(y, float), strict=True):
        l0, l1 = max(int(np.floor(yi)) - r_int, 0), min(int(np.ceil(yi)) + r_int + 1, nl)
        s0, s1 = max(int(np.floor(xi)) - r_int, 0), min(int(np.ceil(xi)) + r_int + 1, ns)
        if l0 >= l1 or s0 >= s1:
            continue
        ll, ss = np.mgrid[l0:l1, s0:s1]
        r = np.hypot(ll - yi, ss - xi)
        patch = work[l0:l1, s0:s1]
        k = np.digitize(r, edges) - 1
        inside = r < edges[-1]
        centres, meds = [], []
        for j in range(len(edges) - 1):
            v = patch[(k == j) & inside]
            v = v[np.isfinite(v)]
            if v.size >= 3:
                centres.append(0.5 * (edges[j] + edges[j + 1]))
                meds.append(float(np.median(v)))
        if len(centres) < 2:
            continue
        prof = np.where(inside, np.interp(r, centres, meds, right=0.0), 0.0)
        out[l0:l1, s0:s1] += prof
        work[l0:l1, s0:s1] -= prof
    return out


def windows_around(x: np.ndarray, y: np.ndarray, half_px: int, shape: tuple) -> list[tuple[slice, slice]]:
    """Boxes of half-size ``half_px`` around the positions, clipped to ``shape``, overlapping ones merged."""
    boxes = []
    for xi, yi in zip(np.rint(x).astype(int), np.rint(y).astype(int), strict=True):
        boxes.append(
            [
                max(yi - half_px, 0),
                min(yi + half_px + 1, shape[0]),
                max(xi - half_px, 0),
                min(xi + half_px + 1, shape[1]),
            ]
        )
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, c = boxes[i], boxes[j]
                if a[0] < c[1] and c[0] < a[1] and a[2] < c[3] and c[2] < a[3]:
                    boxes[i] = [min(a[0], c[0]), max(a[1], c[1]), min(a[2], c[2]), max(a[3], c[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return [(slice(b[0], b[1]), slice(b[2], b[3])) for b in boxes if b[0] < b[1] and b[2] < b[3]]


def windows_holding(
    windows: list[tuple[slice, slice]], x: np.ndarray, y: np.ndarray
) -> list[tuple[slice, slice]]:
    """The ``windows`` that hold a pixel of the 3 × 3 around a position (sample ``x``, line ``y``; the pixel
    ``round``ed, as :func:`still_there` reads it), in their order."""
    keep = []
    for win in windows:
        (l0, l1), (s0, s1) = (win[0].start, win[0].stop), (win[1].start, win[1].stop)
        for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
            i, j = int(round(yi)), int(round(xi))
            if max(i - 1, 0) < l1 and i + 2 > l0 and max(j - 1, 0) < s1 and j + 2 > s0:
                keep.append(win)
                break
    return keep


def background_in_windows(image: np.ndarray, windows: list[tuple[slice, slice]], args: dict) -> BandModel:
    """:func:`estimate_background` of ``image`` run on each window alone (every array argument of the image's
    shape cropped alike, and the limb model), pasted into a model of the whole image that is unusable outside
    the windows."""
    shape = image.shape

    def cropped(v, win):
        if isinstance(v, tuple):
            return tuple(cropped(u, win) for u in v)
        if isinstance(v, np.ndarray) and v.shape == shape:
            return v[win]
        return v.crop(win) if hasattr(v, "crop") else v

    parts = []
    for win in windows:
        sub_args = {k: cropped(v, win) for k, v in args.items()}
        parts.append((win, estimate_background(image[win], **sub_args)))
    first = parts[0][1]
    return PastedModel(
        parts,
        shape,
        annuli=first.annuli,
        limb_distance_px=args.get("limb_distance_px"),
        noise_median=float(np.median([m.noise_median for _, m in parts])),  # (NaN: second_background's)
    )


#: the maps of a :class:`PastedModel`: dtype and value outside the windows
PASTED_MAPS = {
    "background": (np.float64, 0.0),
    "usable": (bool, False),
    "clean": (bool, False),
    "sigma_white": (np.float64, 1.0),
    "scale": (np.float64, 1.0),
    "noise": (np.float64, 1.0),
    "snr": (np.float64, 0.0),
    "phase": (np.intp, 0),
    "choice": (np.intp, 0),
}


class PastedModel(BandModel):
    """The :class:`BandModel` of the whole image that :func:`background_in_windows` makes from its windows'
    models: each map pasted into an array of the image's shape (float64 / bool / intp, the value of
    :data:`PASTED_MAPS` outside the windows; the residuals float64, 0 outside) when it is first read — the
    second pass reads a few of them (S/N, noise, usability, background; the rest only where new sources
    are fitted), and pasting all of them took ~1 ms per frame."""

    def __init__(
        self,
        parts: list[tuple[tuple[slice, slice], BandModel]],
        shape: tuple[int, int],
        *,
        annuli: list[tuple[int, int, int]],
        limb_distance_px: np.ndarray | None,
        noise_median: float,
    ):
        self._parts, self._shape = parts, shape
        self.annuli, self.limb_distance_px, self.noise_median = annuli, limb_distance_px, noise_median
        self.refit, self.scale_block = None, None

    def _paste(self, get, dtype, fill) -> np.ndarray:
        out = np.full(self._shape, fill, dtype=dtype)
        for win, m in self._parts:
            out[win] = get(m)
        return out

    def __getattr__(self, name: str):
        # (called for attributes not set yet: the maps, each pasted once and kept)
        if name == "residuals":
            n = len(self._parts[0][1].residuals)
            value = [self._paste(lambda m, k=k: m.residuals[k], np.float64, 0.0) for k in range(n)]
        elif name in PASTED_MAPS:
            dtype, fill = PASTED_MAPS[name]
            value = self._paste(lambda m: getattr(m, name), dtype, fill)
        else:
            raise AttributeError(name)
        setattr(self, name, value)
        return value


def faint_neighbours(
    x: np.ndarray, y: np.ndarray, flux: np.ndarray, around: np.ndarray, radius_px: float
) -> np.ndarray:
    """True for sources within ``radius_px`` of a source marked ``around`` and fainter than
    :data:`CHECK_FLUX_RATIO` of its flux."""
    out = np.zeros(len(x), bool)
    for j in np.flatnonzero(around):
        d = np.hypot(x - x[j], y - y[j])
        out |= (d <= radius_px) & (d > 0) & (flux < CHECK_FLUX_RATIO * flux[j])
    return out & ~around


def near_any(x: np.ndarray, y: np.ndarray, of: np.ndarray, radius_px: float) -> np.ndarray:
    """True for the positions (sample ``x``, line ``y``, px) within ``radius_px`` of one marked ``of`` (not
    counting itself)."""
    out = np.zeros(len(x), bool)
    for j in np.flatnonzero(of):
        d = np.hypot(x - x[j], y - y[j])
        out |= (d <= radius_px) & (d > 0)
    return out


def model_error_snr(
    src: np.ndarray, noise: np.ndarray, sigma_px: float, box: tuple[slice, slice] | None = None
) -> np.ndarray:
    """Matched-filter S/N (PSF core filter, pixel ``noise``) of the subtracted source image: where a model
    error of fraction f would show at f times this. ``box`` (lines, samples; None: the whole image): made
    there only, the same values as the whole image's there, 0 elsewhere."""
    k = kernel1d(sigma_px)
    nl, ns = src.shape
    (l0, l1), (s0, s1) = (
        ((0, nl), (0, ns)) if box is None else ((box[0].start, box[0].stop), (box[1].start, box[1].stop))
    )
    # (compiled: scipy's correlate1d passes, background_kernels.correlate_lines / correlate_samples, on the
    # box and the kernel's reach about it alone: each output line and sample is the whole image's, a line
    # pass reading its own sample's column and the boundary being the image's where the reach meets it)
    h = k.size // 2
    cl0, cl1, cs0, cs1 = max(l0 - h, 0), min(l1 + h, nl), max(s0 - h, 0), min(s1 + h, ns)
    lines = correlate_lines(src[cl0:cl1, cs0:cs1], k, False, 0.0, l0 - cl0, l1 - cl0)
    mf = correlate_samples(lines, k, False, 0.0, s0 - cs0, s1 - cs0)
    norm = float(np.sum(k * k))  # ‖k ⊗ k‖ = Σ k²
    part = noise[l0:l1, s0:s1]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = mf / (norm * np.where(part > 0, part, np.inf))
    s = np.nan_to_num(s, nan=0.0, posinf=0.0)
    if box is None:
        return s
    out = np.zeros((nl, ns), s.dtype)
    out[l0:l1, s0:s1] = s
    return out


def zone_box(zone: np.ndarray, margin_px: int) -> tuple[slice, slice] | None:
    """The bounding box of the True pixels of ``zone`` grown by ``margin_px`` (clipped to the image), or None
    when there are none."""
    lines, samples = np.flatnonzero(zone.any(axis=1)), np.flatnonzero(zone.any(axis=0))
    if lines.size == 0:
        return None
    nl, ns = zone.shape
    return (
        slice(max(int(lines[0]) - margin_px, 0), min(int(lines[-1]) + margin_px + 1, nl)),
        slice(max(int(samples[0]) - margin_px, 0), min(int(samples[-1]) + margin_px + 1, ns)),
    )


def new_peaks(
    snr: np.ndarray,
    src: np.ndarray,
    noise: np.ndarray,
    known_x: np.ndarray,
    known_y: np.ndarray,
    *,
    threshold: float,
    sigma_px: float,
    model_error: float,
    min_separation_px: float,
    search: np.ndarray | None,
    saddle_snr: float,
    max_peaks: int,
    valid: np.ndarray,
) -> Peaks:
    """Peaks of the second pass's S/N map (``snr``, made on the image minus ``src``), its S/N discounted for
    the model error, that are farther than ``min_separation_px`` from every known source. The discount is
    made on the box of ``search`` and 1 px more only: :func:`~ioscan.detect.find.find_peaks` reads the map
    at the pixels searched, their 8 neighbours and the segments between two of them, all inside it."""
    box = None if search is None else zone_box(search, 1)
    if box is None and search is not None:  # (nothing searched: the map is not read)
        box = (slice(0, 0), slice(0, 0))
    eff = discounted_snr(snr, src, noise, sigma_px, model_error, box)
    pk = find_peaks(
        eff,
        threshold,
        search=search,
        sigma_px=sigma_px,
        saddle_snr=saddle_snr,
        max_peaks=max_peaks,
        valid=valid,
    )
    if len(pk) == 0 or len(known_x) == 0:
        return pk
    d = np.hypot(pk.x[:, None] - np.asarray(known_x)[None, :], pk.y[:, None] - np.asarray(known_y)[None, :])
    return take_peaks(pk, d.min(axis=1) > min_separation_px)


def discounted_snr(
    snr: np.ndarray,
    src: np.ndarray,
    noise: np.ndarray,
    sigma_px: float,
    model_error: float,
    box: tuple[slice, slice] | None,
) -> np.ndarray:
    """``snr`` ÷ √(1 + (``model_error`` × :func:`model_error_snr`)²) as float64, the discount made in ``box``
    only (None: everywhere); outside it the map is ``snr`` as it is (the discount there is ÷ √1 = 1: the
    same values as on the whole image)."""
    if box is None:
        err = model_error * model_error_snr(src, noise, sigma_px)
        return snr / np.sqrt(1.0 + err * err)
    err = model_error * model_error_snr(src, noise, sigma_px, box)[box]
    eff = np.array(snr, dtype=np.result_type(snr, err))
    eff[box] = snr[box] / np.sqrt(1.0 + err * err)
    return eff


def take_peaks(peaks: Peaks, keep: np.ndarray) -> Peaks:
    """The peaks where ``keep`` is True."""
    return Peaks(*(getattr(peaks, f)[keep] for f in ("line", "sample", "y", "x", "snr", "blended")))


def merge_peaks(first: Peaks, extra: Peaks, blend_px: float) -> Peaks:
    """First-pass peaks followed by the new ones; a new peak within ``blend_px`` of any other source marks
    both ``blended``."""
    cat = {
        f: np.concatenate([getattr(first, f), getattr(extra, f)]) for f in ("line", "sample", "y", "x", "snr")
    }
    blended = np.concatenate([first.blended, extra.blended]).copy()
    n1 = len(first)
    for k in range(len(extra)):
        d = np.hypot(cat["x"] - cat["x"][n1 + k], cat["y"] - cat["y"][n1 + k])
        d[n1 + k] = np.inf
        close = d <= blend_px
        if close.any():
            blended[close] = True
            blended[n1 + k] = True
    return Peaks(cat["line"], cat["sample"], cat["y"], cat["x"], cat["snr"], blended)


def take_fit(fit: PsfFit, keep: np.ndarray) -> PsfFit:
    """The fits where ``keep`` is True (or at the indices ``keep``)."""
    return PsfFit(**{name: getattr(fit, name)[keep] for name in fit.__dataclass_fields__})


def coupling_reach_px(psf: PsfModel) -> int:
    """Largest line or sample distance (px) between two peak pixels whose PSF fits can touch each other in
    :func:`~ioscan.detect.photometry.psf_photometry`: a fit starts at the peak pixel or half a pixel past it
    and moves at most 1.5 px, so its stamp (half-size r, :func:`~ioscan.detect.photometry.fit_radius_px`) is
    centred within 2 px of the peak pixel, and two stamps overlap when their centres are at most 2 r apart:
    2 r + 4."""
    return 2 * fit_radius_px(psf) + 4


def coupled_to(line: np.ndarray, sample: np.ndarray, seeds: np.ndarray, reach_px: int) -> np.ndarray:
    """True for the sources (peak pixels ``line``, ``sample``) linked to a ``seeds`` source by a chain of
    sources each within ``reach_px`` (px, line and sample) of the next; the seeds themselves included (the
    sources whose fits a new one can change at all, the reference :func:`refit_beside_new` is measured
    against)."""
    li, sj = np.asarray(line, np.int64), np.asarray(sample, np.int64)
    out = np.asarray(seeds, bool).copy()
    frontier = np.flatnonzero(out)
    while frontier.size:
        near = (np.abs(li[:, None] - li[frontier][None, :]) <= reach_px) & (
            np.abs(sj[:, None] - sj[frontier][None, :]) <= reach_px
        )
        found = near.any(axis=1) & ~out
        out |= found
        frontier = np.flatnonzero(found)
    return out


def within_reach(line: np.ndarray, sample: np.ndarray, of: np.ndarray, reach_px: int) -> np.ndarray:
    """True for the sources (peak pixels ``line``, ``sample``) within ``reach_px`` (px, line and sample) of a
    source marked ``of``, those included: one step of :func:`coupled_to`."""
    li, sj = np.asarray(line, np.int64), np.asarray(sample, np.int64)
    f = np.flatnonzero(of)
    near = (np.abs(li[:, None] - li[f][None, :]) <= reach_px) & (
        np.abs(sj[:, None] - sj[f][None, :]) <= reach_px
    )
    return near.any(axis=1) | np.asarray(of, bool)


def with_fixed_sources(
    model: BandModel, peaks: Peaks, fit: PsfFit, fixed: np.ndarray, psf: PsfModel
) -> BandModel:
    """``model`` with the ``fixed`` sources' fitted models (their effective PSFs,
    :func:`~ioscan.detect.photometry.effective_psf`, at their fitted positions and fluxes) subtracted from the
    residual of the background option each was fitted on (the option chosen at its peak pixel): what the fit
    of a source beside them sees as its neighbours' models, held at those values."""
    k_of = model.choice[peaks.line, peaks.sample]
    ok = fixed & np.isfinite(fit.x) & np.isfinite(fit.y) & np.isfinite(fit.flux)
    r = fit_radius_px(psf)
    residuals = list(model.residuals)
    for k, (h0, h1, degree) in enumerate(model.annuli):
        sel = np.flatnonzero(ok & (k_of == k))
        if not sel.size:
            continue
        kern = background_kernel(h0, h1, degree)
        p, _, _, li, sj, inside = effective_psf(
            psf, fit.x[sel], fit.y[sel], kern, model.snr.shape, r, model.clean, derivatives=False
        )
        img = np.zeros(model.snr.shape)
        add_at(img, li[inside], sj[inside], (fit.flux[sel][:, None, None] * p)[inside])
        residuals[k] = (residuals[k] - img).astype(residuals[k].dtype, copy=False)
    return replace(model, residuals=residuals)


#: the first-pass sources refitted beside new ones: those within this many coupling steps
#: (:func:`coupling_reach_px`) of a new source, their fits' neighbours one step farther held at their fitted
#: values (:func:`refit_beside_new`)
REFIT_HOPS = 2


def refit_beside_new(model: BandModel, both: Peaks, psf: PsfModel, fit: PsfFit, fit_new: PsfFit) -> PsfFit:
    """The first-pass sources (``both``'s first ``len(fit.x)``, fitted as ``fit``) refitted where the new ones
    (``fit_new``, as fitted on the subtracted image, after them) reach, the new ones' own values kept.

    A fit's neighbours are the sources whose stamps its own can overlap (peak pixels within
    :func:`coupling_reach_px`), and the fit (:func:`~ioscan.detect.photometry.psf_photometry`, four Jacobi
    rounds) carries a change one such step per round, ever smaller. Refitted: the new sources, the sources a
    saturated core was put on (:func:`~ioscan.detect.saturated.recentre_saturated` changed ``fit`` in place;
    their errors are exactly its centroid's) and the first-pass sources within :data:`REFIT_HOPS` steps of
    them, all together; the first-pass sources one step beyond enter those fits as fixed models (their
    fitted positions and fluxes, :func:`with_fixed_sources`); every other source keeps its first-pass fit.
    Against refitting every source linked by a chain of steps (:func:`coupled_to`): on bench_scan's campaign
    (35 calls that found new sources, 1,989 first-pass sources) every fit within 0.004 σ in flux and 0.04 σ
    in position; 998 first-pass sources refitted → 611 and 118 fixed models, the refit's CPU ×0.80 (3 rounds
    interleaved). One step (the fixed ones a step nearer) moved one fit that four rounds leave unconverged
    by 2.6 σ."""
    n1 = len(fit.x)
    seeds = np.arange(len(both)) >= n1
    seeds[:n1] = (fit.x_err == CENTROID_ERR_PX) & (fit.y_err == CENTROID_ERR_PX)
    reach = coupling_reach_px(psf)
    again = seeds
    for _ in range(REFIT_HOPS):
        again = within_reach(both.line, both.sample, again, reach)
    again[n1:] = True  # (the new ones are in their neighbours' fits; their own values are fit_new's)
    out = {
        name: np.concatenate([getattr(fit, name), getattr(fit_new, name)])
        for name in fit.__dataclass_fields__
    }
    if again[:n1].any():
        fixed = (within_reach(both.line, both.sample, again, reach) & ~again)[:n1]
        base = model
        if fixed.any():
            base = with_fixed_sources(model, take_peaks(both, np.arange(len(both)) < n1), fit, fixed, psf)
        part = fit_sources(base, take_peaks(both, again), psf)
        first = np.flatnonzero(again[:n1])
        for name, arr in out.items():
            arr[first] = getattr(part, name)[: first.size]
    return PsfFit(**out)


@dataclass
class SecondPass:
    """What the second pass returns: all peaks and fits (first-pass ones first), how many are new, and which
    faint first-pass detections beside very bright or saturated sources did not hold once those were
    subtracted."""

    peaks: Peaks
    fit: PsfFit
    n_new: int
    unconfirmed: np.ndarray


@dataclass
class SourceRoles:
    """What each first-pass source is to the second pass (boolean arrays over the sources)."""

    good: np.ndarray  #: finite positive fit, not a cosmic-ray hit: subtracted
    hit: np.ndarray  #: cosmic-ray hit: masked, not subtracted
    clipped: np.ndarray  #: saturated: subtracted, surroundings not searched
    bright: np.ndarray  #: S/N ≥ BRIGHT_SOURCE_SNR, unsaturated: surroundings searched
    very_bright: np.ndarray  #: saturated, or S/N ≥ CHECK_AROUND_SNR: faint neighbours re-checked
    check: np.ndarray  #: faint neighbour of a very bright source: re-checked, not subtracted


def source_roles(
    model: BandModel,
    fit: PsfFit,
    spike_dchi2: np.ndarray,
    psf: PsfModel,
    cfg: DetectConfig,
    saturated: np.ndarray | None,
    block: int,
) -> SourceRoles:
    """Sort the first-pass sources into :class:`SourceRoles` (``spike_dchi2``: the spike test of each,
    :func:`ioscan.detect.find.spike_dchi2`; ``saturated``: the band's saturated pixels)."""
    shape = model.snr.shape
    good = np.isfinite(fit.flux) & (fit.flux > 0) & np.isfinite(fit.x) & np.isfinite(fit.y)
    hit = good & (spike_dchi2 > cfg.cosmic_ray_dchi2)
    good &= ~hit
    li = np.clip(np.rint(np.nan_to_num(fit.y)).astype(int), 0, shape[0] - 1)
    sj = np.clip(np.rint(np.nan_to_num(fit.x)).astype(int), 0, shape[1] - 1)
    clipped = np.zeros(len(fit.x), bool)
    if saturated is not None and saturated.any():
        clipped = good & near_saturated(saturated, li, sj, fit_radius_px(psf) + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = fit.flux / fit.flux_err
    bright = good & ~clipped & (snr >= BRIGHT_SOURCE_SNR)
    very_bright = clipped | (good & (snr >= CHECK_AROUND_SNR))
    check = (
        faint_neighbours(fit.x, fit.y, fit.flux, very_bright, CHECK_RADIUS_BLOCKS * block) & good & ~bright
    )
    return SourceRoles(good, hit, clipped, bright, very_bright, check)


def search_zone(
    roles: SourceRoles, fit: PsfFit, model: BandModel, search: np.ndarray | None, sigma: float, block: int
) -> np.ndarray:
    """Pixels where new sources may be taken: near the bright sources, inside the search region, not along
    the limb (where the background is least certain), not next to a hit (tracks are longer than the PSF) nor
    within 3 blocks of a saturated source (the zones of its rings' peaks too)."""
    shape = model.snr.shape
    zone = near_sources(fit.x[roles.bright], fit.y[roles.bright], shape, 1.5 * block)
    if search is not None:
        zone &= search
    if model.limb_distance_px is not None:
        zone &= model.limb_distance_px > 2.0 * (2.0 * sigma + 1.0)
    if roles.hit.any():
        zone &= ~near_sources(fit.x[roles.hit], fit.y[roles.hit], shape, 6.0)
    if roles.clipped.any():
        zone &= ~near_sources(fit.x[roles.clipped], fit.y[roles.clipped], shape, 3.0 * block)
    return zone


def second_background(
    sub: np.ndarray,
    src: np.ndarray,
    roles: SourceRoles,
    fit: PsfFit,
    model: BandModel,
    background_args: dict,
    sigma: float,
    block: int,
    left: np.ndarray | None = None,
    read_only_at: np.ndarray | None = None,
) -> tuple[BandModel, np.ndarray]:
    """Background, noise and S/N of ``sub`` − ``src`` − the azimuthal-median halo of the bright sources (and
    that image, :func:`subtracted`; ``left``: it, if already made), with the hits' pixels masked and the
    first pass's white noise and dark limb (``estimate_background(known_noise=...)``); on windows around
    the bright sources and the very bright ones with faint neighbours to re-check (:func:`near_any`; a
    saturated source alone needs none: its surroundings are not searched) when they cover less than
    :data:`WINDOWED_FRACTION` of the crop (reaching past the zone by the background annulus, the filter and a
    scale block, and one block more where neighbours are re-checked). ``read_only_at`` (a bool per source):
    only the 3 × 3 pixels around these sources will be read (:func:`still_there`; nothing new is searched):
    the windows (once merged) that hold none of them are not made (the others' values are the same: each
    window is made alone)."""
    # (nothing reads the second model's noise median; the white noise and the dark limb are the first pass's)
    args = dict(background_args, with_noise_median=False, known_noise=(model.sigma_white, model.usable))
    if roles.hit.any():
        # the hit's pixels: significant residual within 4 px of it (tracks reach a few pixels), and 1 px more
        near = near_sources(fit.x[roles.hit], fit.y[roles.hit], sub.shape, 4.0)
        cr = grow(near & (model.residuals[0] > 3.0 * model.noise), 1)  # (binary_dilation's pixels, compiled)
        args["mask"] = cr if args.get("mask") is None else (args["mask"] | cr)
    if left is None:
        left = subtracted(sub, src, roles, fit, model, block)
    half = (
        int(np.ceil(1.5 * block)) + max(h1 for _, h1, _ in model.annuli) + 2 * int(np.ceil(4 * sigma)) + block
    )
    centres = roles.bright | (
        roles.very_bright & near_any(fit.x, fit.y, roles.check, CHECK_RADIUS_BLOCKS * block)
    )
    windows = windows_around(fit.x[centres], fit.y[centres], half + int(roles.check.any()) * block, sub.shape)
    area = sum((w[0].stop - w[0].start) * (w[1].stop - w[1].start) for w in windows)
    if area < WINDOWED_FRACTION * sub.size:
        if read_only_at is not None:
            windows = windows_holding(windows, fit.x[read_only_at], fit.y[read_only_at]) or windows
        return background_in_windows(left, windows, args), left
    return estimate_background(left, **args), left


def subtracted(
    sub: np.ndarray, src: np.ndarray, roles: SourceRoles, fit: PsfFit, model: BandModel, block: int
) -> np.ndarray:
    """``sub`` − ``src`` − the azimuthal-median halo of the bright sources (:func:`radial_profiles` of what
    the first pass's background leaves, out to 1.5 scale blocks), float64."""
    left = np.asarray(sub, float) - src
    bx, by = fit.x[roles.bright], fit.y[roles.bright]
    return left - radial_profiles(left - model.background, model.usable, bx, by, 1.5 * block)


def something_left(
    left: np.ndarray,
    src: np.ndarray,
    model: BandModel,
    zone: np.ndarray,
    fit: PsfFit,
    *,
    sigma_px: float,
    threshold: float,
    model_error: float,
    min_separation_px: float,
) -> bool:
    """Whether the zone may hold a new source, judged on the first pass's maps before a second background is
    made: the matched-filter S/N of ``left`` (:func:`subtracted`) less the first pass's background, over its
    white noise alone (the local scale at its floor, 1: near bright sources the first pass's scale is up to
    ~2.5× the second's), discounted as :func:`new_peaks` discounts with the least model error it assumes,
    must reach :data:`LEFT_SNR_FRACTION` of ``threshold`` somewhere in the zone on a usable pixel farther
    than ``min_separation_px`` − 1 from every known source. Not a bound (the second background is not the
    first's), a gate with a margin: on bench_scan's campaign every call that finds a source reads ≥ 5.8 here
    (threshold 5.2); of the 31 calls it judges, 19 read < 4.2 (each of them finds nothing)."""
    box = zone_box(zone, 0)
    if box is None:
        return False
    # made on the zone's box and the filter's reach about it alone (the same values there as on the whole
    # image: model_error_snr's passes, the boundary being the image's where the reach meets it)
    h = kernel1d(sigma_px).size // 2
    nl, ns = zone.shape
    (l0, l1), (s0, s1) = (box[0].start, box[0].stop), (box[1].start, box[1].stop)
    crop = (slice(max(l0 - h, 0), min(l1 + h, nl)), slice(max(s0 - h, 0), min(s1 + h, ns)))
    inner = (slice(l0 - crop[0].start, l1 - crop[0].start), slice(s0 - crop[1].start, s1 - crop[1].start))
    white = model.sigma_white[crop]
    snr = model_error_snr(left[crop] - model.background[crop], white, sigma_px, inner)[inner]
    err = model_error * model_error_snr(src[crop], white, sigma_px, inner)[inner]
    eff = snr / np.sqrt(1.0 + err * err)  # (discounted_snr's)
    ok = np.isfinite(fit.x) & np.isfinite(fit.y)
    # near_sources' disks on the box (each position rounded before the shift)
    r, disk = disk_offsets(max(min_separation_px - 1.0, 0.0))
    near = np.zeros((l1 - l0, s1 - s0), bool)
    xi = np.ascontiguousarray(np.rint(fit.x[ok]).astype(np.int64) - s0)
    yi = np.ascontiguousarray(np.rint(fit.y[ok]).astype(np.int64) - l0)
    or_disks(near, xi, yi, r, np.ascontiguousarray(disk))
    sel = zone[box] & model.usable[box] & ~near
    return bool(sel.any()) and float(eff[sel].max()) >= LEFT_SNR_FRACTION * threshold


def measured_model_error(
    left: np.ndarray, src: np.ndarray, model: BandModel, x: np.ndarray, y: np.ndarray, radius_px: float = 3.0
) -> float:
    """Relative error of the PSF model as the subtracted bright sources show it: over the usable pixels within
    ``radius_px`` of each source, √(⟨r²⟩ − ⟨σ²⟩) / √⟨m²⟩ with r the residual (``left`` − background), σ the
    pixel noise and m the subtracted model; the median over the sources (0 without any). Compiled
    (:func:`~ioscan.detect.second_pass_kernels.model_error_ratios`), the same bit for bit as
    :func:`measured_model_error_numpy` (which it is on disks of more than
    :data:`~ioscan.detect.second_pass_kernels.PAIRWISE_BLOCK` pixels)."""
    _, disk = disk_offsets(radius_px)
    if disk.sum() > PAIRWISE_BLOCK:
        return measured_model_error_numpy(left, src, model, x, y, radius_px)
    vals, taken = model_error_ratios(
        np.ascontiguousarray(left),
        np.ascontiguousarray(src),
        np.ascontiguousarray(model.background),
        np.ascontiguousarray(model.usable),
        np.ascontiguousarray(model.noise),
        np.rint(np.asarray(y, float)).astype(np.int64),
        np.rint(np.asarray(x, float)).astype(np.int64),
        disk,
    )
    return float(np.median(vals[taken].tolist())) if taken.any() else 0.0


def measured_model_error_numpy(
    left: np.ndarray, src: np.ndarray, model: BandModel, x: np.ndarray, y: np.ndarray, radius_px: float = 3.0
) -> float:
    """:func:`measured_model_error` in numpy, source by source on its disk's window: the reference the
    compiled kernel equals."""
    vals = []
    r, disk = disk_offsets(radius_px)
    for xi, yi in zip(np.rint(x).astype(int), np.rint(y).astype(int), strict=True):
        part = disk_window(int(xi), int(yi), left.shape, r, disk)
        if part is None:
            continue
        win, near = part[0], part[1] & model.usable[part[0]]
        if near.sum() < 5:
            continue
        m2 = float(np.mean(src[win][near] ** 2))
        if m2 <= 0:
            continue
        res = (left[win] - model.background[win])[near]
        excess = float(np.mean(res**2) - np.mean(model.noise[win][near].astype(float) ** 2))
        vals.append(np.sqrt(max(excess, 0.0) / m2))
    return float(np.median(vals)) if vals else 0.0


def still_there(check: np.ndarray, fit: PsfFit, snr: np.ndarray, threshold: float) -> np.ndarray:
    """False for the ``check`` sources whose 3 × 3 neighbourhood in ``snr`` no longer reaches ``threshold``
    (True for all others)."""
    out = np.ones(len(fit.x), bool)
    for k in np.flatnonzero(check):
        i, j = int(round(fit.y[k])), int(round(fit.x[k]))
        win = (slice(max(i - 1, 0), i + 2), slice(max(j - 1, 0), j + 2))
        out[k] = float(np.max(snr[win])) >= threshold
    return out


def search_again(
    sub: np.ndarray,
    model: BandModel,
    peaks: Peaks,
    fit: PsfFit,
    spike_dchi2: np.ndarray,
    psf: PsfModel,
    cfg: DetectConfig,
    background_args: dict,
    search: np.ndarray | None,
) -> SecondPass:
    """The second pass (module docstring) on the analysed crop ``sub``, ``spike_dchi2`` being the first-pass
    sources' spike test, ``fit`` their fits (``fit_sources(model, peaks, psf)``, saturated cores placed by
    :func:`~ioscan.detect.saturated.recentre_saturated`) and ``background_args`` the arguments of
    :func:`estimate_background`: the first-pass sources the new ones reach refitted with them as neighbours
    (:func:`refit_beside_new`), the new ones as fitted on the subtracted image, faint neighbours of very
    bright sources re-checked."""
    n1 = len(peaks)
    sigma = psf.core_sigma_px
    block = int(cfg.local_window_px or max(8, int(round(4 * sigma))))
    roles = source_roles(model, fit, spike_dchi2, psf, cfg, background_args.get("mask"), block)
    zone = search_zone(roles, fit, model, search, sigma, block)
    if not zone.any() and not roles.check.any():
        return SecondPass(peaks, fit, 0, np.zeros(n1, bool))
    sub_src = roles.good & ~roles.check
    src = source_image(psf, fit.x[sub_src], fit.y[sub_src], fit.flux[sub_src], sub.shape)
    left = subtracted(sub, src, roles, fit, model, block)
    min_separation = max(2.5, 2.0 * sigma)  # px from a known source (4 JIRAM core σ: past its lobes)
    if not roles.check.any() and not something_left(
        left,
        src,
        model,
        zone,
        fit,
        sigma_px=sigma,
        threshold=cfg.threshold_snr,
        model_error=cfg.psf_model_error,
        min_separation_px=min_separation,
    ):
        return SecondPass(peaks, fit, 0, np.zeros(n1, bool))
    # (no zone: only the faint neighbours' re-check reads the second background)
    only = None if zone.any() else roles.check
    again, left = second_background(sub, src, roles, fit, model, background_args, sigma, block, left, only)
    unconfirmed = ~still_there(roles.check, fit, again.snr, cfg.threshold_snr)
    if not zone.any():
        return SecondPass(peaks, fit, 0, unconfirmed)
    # the model error assumed, or larger where the bright sources' own residuals show it (an elongated PSF)
    f_seen = measured_model_error(left, src, again, fit.x[roles.bright], fit.y[roles.bright])
    model_error = max(cfg.psf_model_error, MODEL_ERROR_MARGIN * f_seen)
    extra = new_peaks(
        again.snr,
        src,
        again.noise,
        fit.x,
        fit.y,
        threshold=cfg.threshold_snr,
        sigma_px=sigma,
        model_error=model_error,
        min_separation_px=min_separation,
        search=zone,
        saddle_snr=cfg.deblend_saddle_snr,
        max_peaks=max(cfg.max_sources - n1, 0),
        valid=again.usable,
    )
    if not len(extra):
        return SecondPass(peaks, fit, 0, unconfirmed)
    fit_new = fit_sources(again, extra, psf)
    with np.errstate(invalid="ignore", divide="ignore"):
        held = fit_new.flux / fit_new.flux_err >= cfg.threshold_snr
    # ... and its fit may not have slid onto a known source (into the residual lobes of its PSF's core)
    if len(fit.x):
        gap = np.hypot(fit_new.x[:, None] - fit.x[None, :], fit_new.y[:, None] - fit.y[None, :])
        held &= np.nan_to_num(gap, nan=np.inf).min(axis=1) > min_separation
    if not held.any():
        return SecondPass(peaks, fit, 0, unconfirmed)
    extra = take_peaks(extra, held)
    both = merge_peaks(peaks, extra, 4.0 * sigma * np.sqrt(2.0) + 1.0)
    fit_all = refit_beside_new(model, both, psf, fit, take_fit(fit_new, held))
    n_new = int(held.sum())
    return SecondPass(both, fit_all, n_new, np.concatenate([unconfirmed, np.zeros(n_new, bool)]))
