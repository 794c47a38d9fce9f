"""Detection on frames ioscan's simulator did not make: the independent renderer; prints one JSON object.

Frames come from :mod:`ioscan.simulate.independent` (its own geometry, a Gaussian PSF σ = 0.8 px instead of
the project's 0.6 + 2.5 px mixture, a smooth albedo with no structure finer than ~8 px, column offsets and
gain changes, cosmic rays, saturation, on-board background subtraction): JIRAM I2 (M band, 128 × 432), half
requested on the day side and half on the night side (the renderer's own flag decides which side a frame is
counted on), range log-uniform 20,000–400,000 km, seeded. Each frame is written as a real-archive-style PDS3
product without geometry in the label and read back with ``ioscan.formats.read_product`` (``--in-memory``
skips the files), then ``ioscan.detect.detect_frame(frame)`` runs with no geometry and default settings.
``--geometry``: detection is given the renderer's own exact geometry as backplanes
(:func:`ioscan.simulate.independent_backplanes.truth_backplanes`, told a pointing error of
:data:`GEOMETRY_POINTING_PX`), as a limb-registered JIRAM frame has its SPICE geometry (with Io in Jupiter's
shadow on the renderer's eclipsed frames, as SPICE says it: no pixel sunlit).

Scoring (per side, day and night):

* a detection matches a true hot spot within 2 px, one to one (Hungarian assignment on distance), against
  every rendered hot spot however faint; detections flagged COSMIC_RAY or ARTEFACT are ignored (neither found
  nor false: not catalogue entries);
* completeness in bins of the truth's ideal matched-filter S/N (true PSF, true per-pixel noise): ≥ 7, 5–7
  and 3–5, over isolated hot spots (none other within 4 px; the renderer keeps its population ≥ 5 px apart
  and adds close pairs 1.5–4 px apart on purpose); also at ≥ 7 for saturated sources, sources at emission
  ≥ 80°, sources within / beyond 8 px of the limb, and, apart, for close-pair members;
* false detections per frame, and where they sit (first that applies): ``cosmic_ray`` (≤ 1.5 px from a hit
  pixel), ``bright_source`` (≤ 6 px from a saturated or S/N ≥ 100 hot spot), ``limb`` (≤ 3 px from a pixel
  the limb crosses), ``near_limb`` (3–8 px), ``edge`` (≤ 3 px from the frame edge), ``on_disk``,
  ``off_disk``;
* ``tracked_view``: the same completeness (≥ 7, 5–7) and false rate counting only detections the tracker
  keeps (not flagged OFF_DISK: a limb circle trusted on a terminator flags the hot spots beyond it so).

What each false detection is (``false_kind_per_frame`` always; every one listed with ``--list-false``), from
the renderer's truth: a cosmic-ray remnant, a saturated or bright source's wing, a split of a found hot spot,
a mislocated one (2–4 px off a hot spot nothing matched), a noise peak (the oracle's S/N map of the frame's
noise alone — image − true background − true hot spots — reaches 4 within 1 px), else a misfit of the
background estimate at the frame edge, the limb, the terminator, a column gain step, on the disk or the sky
(:func:`false_kind`). Why each isolated unsaturated hot spot of S/N ≥ 7 was missed, by distance to the limb
(``--misses``, the band models kept): vetted by which test, merged, mislocated, not searched, below threshold
(with the S/N map ÷ ideal and the local scale there), peak lost (:func:`miss_causes`); and, with
``--misses``, where each hot spot's S/N map falls short of the ideal filter's (``snr_decomposition_snr_ge5``,
:func:`snr_decomposition`: the white-noise σ against the renderer's, the background option's efficiency, the
PSF model's mismatch, the local scale against the scatter actually there, the background's bias), medians
over hot spots of S/N ≥ 5 found and missed, within 8 px of the limb, 8–20 px and beyond. With ``--vetted``,
per misfit test (and COSMIC_RAY) the detections it flagged on false positions and on true hot spots (by their
ideal S/N: ≥ 7, 5–7), ``vetted_by_test`` (:func:`vetted_by_test`); those on isolated true hot spots of S/N ≥ 5
listed with their S/N, χ²/dof, limb distance and the tests' statistics (``vetted_true``), and per test the
medians of the same over its false ones (``vetted_false_medians``).

Reference: the ideal matched filter told the true background (noise-free, hot-spot-free product image), the
true per-pixel noise and the true PSF, with cosmic-ray and saturated pixels given zero weight (the oracle's
counterpart of ignoring detections ioscan flags as cosmic rays); S/N maps for 9 sub-pixel template shifts
(0, ±⅓ px), 3 × 3 local maxima. Reported at a fixed threshold of 5 and at the lowest threshold whose false
rate does not exceed ioscan's on the same side.

Usage: ``python benchmarks/bench_generalise.py [--frames N] [--seed S] [--mode I2|I1] [--psf-jitter F]
[--elongation E] [--side both|day|night] [--in-memory] [--geometry] [--list-false]
[--misses] [--vetted] [--by-image-limb] [--keep-dir DIR]
[--set detect.KEY=VALUE ...] [--disk-model-gate] [--limb-errors [--limb-errors-model]]
[--limb-zone-scale]``
(default 500 frames; ~2 min on one core). ``--set`` changes a detection setting as ioscan's ``--set`` does
(``--set detect.psf_elongation=false``: a round core, as before the elongated one). ``--side day`` renders and
scores only the frames requested on the day side (the same frames, drawn from the same random sequence, as in
a run of both sides: half the time for a day-side study). ``--by-image-limb``: completeness at S/N ≥ 7 within
and beyond 8 px of the limb by the limb circle the image shows (none, right, wrong and trusted, wrong and not;
:func:`image_limb_table`) and, where it is right, by the true disk's radius. ``--disk-model-gate``: instead of
detection, the sunlit disk's global model (:mod:`ioscan.detect.disk_model`, fitted to the noisy image from the
limb circle the detection finds) against the renderer's noise-free background, per limb-distance bin
(:func:`disk_model_gate`). ``--limb-errors``: instead of detection, the limb circle ``find_limb`` sees in each
frame against the renderer's true disk (:func:`limb_errors`; ``--limb-errors-model``: the disk model fitted
from it too, slow). ``--limb-zone-scale``: instead of detection, on the sunlit frames whose image limb is
right, the local scale, the scatter of the S/N and the background's structure by limb distance
(:func:`limb_zone_scale`).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from ioscan.detect import DetectConfig, DetectionFlag, detect_frame
from ioscan.detect.background import _noise_gain, correlate_kernel, efficiency
from ioscan.detect.psf import PsfModel, kernel1d
from ioscan.formats import read_product
from ioscan.robust import MAD_TO_SIGMA
from ioscan.simulate.independent import RenderedFrame, draw_scene, render_scene, write_product

SEED = 20261205
MATCH_PX = 2.0
ZONE_PX = 3.0
NEAR_LIMB_PX = 8.0
BRIGHT_ZONE_PX = 6.0
BRIGHT_SNR = 100.0
CR_ZONE_PX = 1.5
ISOLATED_PX = 4.0
IDEAL_FIXED = 5.0
IDEAL_FLOOR = 3.0
NEAR_KM = 100_000.0
SHIFTS_PX = (-1 / 3, 0.0, 1 / 3)
IGNORED = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT
FALSE_CLASSES = ("cosmic_ray", "bright_source", "limb", "near_limb", "edge", "on_disk", "off_disk")
FALSE_KINDS = (
    "cosmic_ray_remnant",
    "saturated_wing",
    "bright_wing",
    "split_of_source",
    "mislocated",
    "noise_peak",
    "edge_background",
    "limb_background",
    "terminator_background",
    "column_artefact",
    "disk_background",
    "sky_background",
)
FALSE_FEATURES = (
    "band", "sample", "line", "mf_snr", "fit_snr", "chi2_dof", "spike_dchi2", "spike_dchi2_measured",
    "noise_snr", "cr_px", "saturated_px", "saturated_column_px", "bright_px", "source_px", "source_snr_ideal",
    "source_found", "edge_px", "limb_px", "gain_step_px", "on_disk", "terminator_px",
)  # fmt: skip
SAT_RING_PX = 12.0
SPLIT_PX = 4.0
NOISE_PEAK_SNR = 4.0
#: a false detection this close (px) to the terminator (on the disk, where the true sunlit image falls below
#: TERMINATOR_LIT of its disk's 99th percentile beside pixels above it) is the terminator's misfit
TERMINATOR_PX = 3.0
TERMINATOR_LIT = 0.1
MISS_BINS_PX = (-1.0, 1.5, 3.0, 5.0, 8.0, 20.0, 1e9)
ISSUE_11 = {
    "night": {"completeness_snr_ge7": 1.00, "completeness_snr_5_7": 0.42, "false_per_frame": 0.30},
    "day": {"completeness_snr_ge7": 0.77, "completeness_snr_5_7": 0.21, "false_per_frame": 3.5},
    "ideal": {"completeness_snr_ge7": 0.996, "completeness_snr_5_7": 0.69, "false_per_frame": 0.017},
}
TARGETS = {"false_per_frame_max": 0.05, "completeness_snr_ge7_min": 0.95, "completeness_snr_5_7_min": 0.40}


# ------------------------------------------------------------------------------------------------ frames


def in_memory_frame(rendered: RenderedFrame):
    """The Frame a reader would build from the product (no geometry, no saturation level)."""
    from ioscan.records import BandImage, Frame

    bands = {
        name: BandImage(
            band=name,
            data=b.image,
            unit="W m-2 sr-1",
            wavelength_um={"L": 3.455, "M": 4.78}[name],
            bandwidth_um={"L": 0.28, "M": 0.4975}[name],
            line_offset=b.line_offset,
        )
        for name, b in rendered.bands.items()
    }
    p = rendered.params
    return Frame(
        "JIR_IMG_RDR_INDEPENDENT", "JIRAM", "JUNO", p.start_time_utc, p.exposure_s, bands, mode=p.mode
    )


def start_time(i: int) -> str:
    """A distinct exposure start per frame (product IDs are unique)."""
    t = pd.Timestamp("2023-03-01T00:00:00") + pd.Timedelta(seconds=97 * i)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000")


# ------------------------------------------------------------------------------------------ ideal filter


def _template(psf, dx: float, dy: float) -> np.ndarray:
    _, _, st = psf.stamp(dx, dy)
    return st


def ideal_candidates(rendered: RenderedFrame, band: str) -> pd.DataFrame:
    """Peaks (sample, line in product lines, snr ≥ IDEAL_FLOOR) of the oracle matched filter of one band."""
    b = rendered.bands[band]
    psf = rendered.params.psf
    w = 1.0 / b.sigma**2
    sat = rendered.saturation_w_m2_sr
    w[b.image >= sat - 1e-6 * abs(sat)] = 0.0
    crs = rendered.cosmic_rays[rendered.cosmic_rays["band"] == band]
    w[crs["line"].to_numpy() - b.line_offset, crs["sample"].to_numpy()] = 0.0
    resid_w = (b.image - b.background) * w
    best = np.full(b.image.shape, -np.inf)
    shift_s = np.zeros(b.image.shape)
    shift_l = np.zeros(b.image.shape)
    for dy in SHIFTS_PX:
        for dx in SHIFTS_PX:
            p = _template(psf, dx, dy)
            num = ndimage.correlate(resid_w, p, mode="constant")
            den = ndimage.correlate(w, p**2, mode="constant")
            snr = np.where(den > 0, num / np.sqrt(np.maximum(den, 1e-300)), 0.0)
            better = snr > best
            best[better], shift_s[better], shift_l[better] = snr[better], dx, dy
    peaks = (best == ndimage.maximum_filter(best, size=3, mode="nearest")) & (best >= IDEAL_FLOOR)
    ii, jj = np.nonzero(peaks)
    return pd.DataFrame(
        {"sample": jj + shift_s[ii, jj], "line": ii + b.line_offset + shift_l[ii, jj], "snr": best[ii, jj]}
    )


# -------------------------------------------------------------------------------------------------- scoring


def match(det_xy: np.ndarray, truth_xy: np.ndarray) -> np.ndarray:
    """Truth index matched to each detection (−1: none), one to one within MATCH_PX, least total distance."""
    out = np.full(len(det_xy), -1)
    if len(det_xy) == 0 or len(truth_xy) == 0:
        return out
    d = np.hypot(det_xy[:, None, 0] - truth_xy[None, :, 0], det_xy[:, None, 1] - truth_xy[None, :, 1])
    cost = np.where(d <= MATCH_PX, d, 1e6)
    rows, cols = linear_sum_assignment(cost)
    ok = cost[rows, cols] <= MATCH_PX
    out[rows[ok]] = cols[ok]
    return out


def zone_maps(rendered: RenderedFrame, band: str) -> dict[str, np.ndarray]:
    """Distance maps (px) to the limb, to cosmic-ray pixels, to bright hot spots; the on-disk mask."""
    b = rendered.bands[band]
    shape = b.image.shape
    limb = b.limb_mask
    crs = rendered.cosmic_rays[rendered.cosmic_rays["band"] == band]
    cr = np.zeros(shape, bool)
    cr[crs["line"].to_numpy() - b.line_offset, crs["sample"].to_numpy()] = True
    t = rendered.truth[rendered.truth["band"] == band]
    bright = t[t["saturated"] | (t["snr_ideal"] >= BRIGHT_SNR)]
    br = np.zeros(shape, bool)
    br[
        np.clip(np.rint(bright["line"]).astype(int) - b.line_offset, 0, shape[0] - 1),
        np.clip(np.rint(bright["sample"]).astype(int), 0, shape[1] - 1),
    ] = True

    def dist(mask: np.ndarray) -> np.ndarray:
        return ndimage.distance_transform_edt(~mask) if mask.any() else np.full(shape, np.inf)

    return {
        "limb": dist(limb),
        "cr": dist(cr),
        "bright": dist(br),
        "disk": b.on_disk_fraction >= 0.5,
        "terminator": dist(terminator_mask(b)),
    }


def terminator_mask(b) -> np.ndarray:
    """Pixels of a band on the terminator: whole-disk pixels where the true (PSF-blurred) sunlit image is lit
    (≥ TERMINATOR_LIT × its 99th percentile over the disk) beside a whole-disk pixel that is not."""
    disk = b.on_disk_fraction >= 0.99
    if not disk.any() or not np.any(b.sunlit[disk] > 0):
        return np.zeros(disk.shape, bool)
    lit = b.sunlit >= TERMINATOR_LIT * np.percentile(b.sunlit[disk], 99)
    return disk & lit & ndimage.binary_dilation(disk & ~lit, structure=np.ones((3, 3), bool))


def false_class(zones: dict[str, np.ndarray], line_px: float, sample_px: float) -> str:
    """Where a false detection sits (band-image pixel coordinates); see the module docstring."""
    nl, ns = zones["disk"].shape
    i = int(np.clip(round(line_px), 0, nl - 1))
    j = int(np.clip(round(sample_px), 0, ns - 1))
    if zones["cr"][i, j] <= CR_ZONE_PX:
        return "cosmic_ray"
    if zones["bright"][i, j] <= BRIGHT_ZONE_PX:
        return "bright_source"
    if zones["limb"][i, j] <= ZONE_PX:
        return "limb"
    if zones["limb"][i, j] <= NEAR_LIMB_PX:
        return "near_limb"
    if min(line_px, sample_px, nl - 1 - line_px, ns - 1 - sample_px) <= ZONE_PX:
        return "edge"
    return "on_disk" if zones["disk"][i, j] else "off_disk"


def noise_snr_map(rendered: RenderedFrame, band: str) -> np.ndarray:
    """The oracle's S/N map of the frame's noise alone: image − true background − the true hot spots (pixel-
    integrated PSFs, column gains left out: ≤ 2 %), matched-filtered with the true PSF and noise, best of the
    sub-pixel shifts; cosmic-ray and saturated pixels weigh 0 as in :func:`ideal_candidates`."""
    b = rendered.bands[band]
    psf = rendered.params.psf
    t = rendered.truth[rendered.truth["band"] == band]
    model = np.zeros(b.image.shape)
    psf.add_sources(model, t["sample"], t["line"], t["flux_w_m2_sr"], line_offset=b.line_offset)
    w = 1.0 / b.sigma**2
    sat = rendered.saturation_w_m2_sr
    w[b.image >= sat - 1e-6 * abs(sat)] = 0.0
    crs = rendered.cosmic_rays[rendered.cosmic_rays["band"] == band]
    w[crs["line"].to_numpy() - b.line_offset, crs["sample"].to_numpy()] = 0.0
    resid_w = (b.image - b.background - model) * w
    best = np.full(b.image.shape, -np.inf)
    for dy in SHIFTS_PX:
        for dx in SHIFTS_PX:
            p = _template(psf, dx, dy)
            num = ndimage.correlate(resid_w, p, mode="constant")
            den = ndimage.correlate(w, p**2, mode="constant")
            best = np.maximum(best, np.where(den > 0, num / np.sqrt(np.maximum(den, 1e-300)), 0.0))
    return best


def false_kind(f: dict) -> str:
    """What a false detection is, from the renderer's truth (features of :func:`false_features`), first that
    applies: ``cosmic_ray_remnant`` (≤ CR_ZONE_PX from a hit pixel), ``saturated_wing`` (≤ SAT_RING_PX from a
    saturated hot spot, or in its column ± 1 px), ``bright_wing`` (≤ BRIGHT_ZONE_PX from a hot spot of S/N ≥
    BRIGHT_SNR), ``split_of_source`` (≤ SPLIT_PX from a hot spot of ideal S/N ≥ 3 that another detection
    matched), ``mislocated`` (≤ SPLIT_PX from such a hot spot that nothing matched: found, but placed beyond
    MATCH_PX), ``noise_peak`` (the oracle's noise-only S/N within 1 px ≥ NOISE_PEAK_SNR: the frame's own noise
    made the peak), then, where the data hold no such peak (the background estimate made it):
    ``edge_background`` (≤ ZONE_PX from the frame edge), ``limb_background`` (≤ NEAR_LIMB_PX from the limb),
    ``terminator_background`` (≤ TERMINATOR_PX from the terminator, :func:`terminator_mask`),
    ``column_artefact`` (≤ 1 px from a gain-step boundary), ``disk_background`` / ``sky_background``."""
    if f["cr_px"] <= CR_ZONE_PX:
        return "cosmic_ray_remnant"
    if f["saturated_px"] <= SAT_RING_PX or f["saturated_column_px"] <= 1.0:
        return "saturated_wing"
    if f["bright_px"] <= BRIGHT_ZONE_PX:
        return "bright_wing"
    if f["source_px"] <= SPLIT_PX and f["source_snr_ideal"] >= 3.0:
        return "split_of_source" if f["source_found"] else "mislocated"
    if f["noise_snr"] >= NOISE_PEAK_SNR:
        return "noise_peak"
    if f["edge_px"] <= ZONE_PX:
        return "edge_background"
    if f["limb_px"] <= NEAR_LIMB_PX:
        return "limb_background"
    if f.get("terminator_px", np.inf) <= TERMINATOR_PX:
        return "terminator_background"
    if f["gain_step_px"] <= 1.0:
        return "column_artefact"
    return "disk_background" if f["on_disk"] else "sky_background"


def false_features(
    rendered: RenderedFrame, band: str, zones: dict, noise: np.ndarray, found: np.ndarray, d: pd.Series
) -> dict:
    """The truth around one false detection ``d`` (a row of :func:`detections_of`), for :func:`false_kind`."""
    b = rendered.bands[band]
    nl, ns = b.image.shape
    ln, sm = float(d["line"]) - b.line_offset, float(d["sample"])
    i, j = int(np.clip(round(ln), 0, nl - 1)), int(np.clip(round(sm), 0, ns - 1))
    t = rendered.truth[rendered.truth["band"] == band]
    dist = np.hypot(t["sample"].to_numpy() - sm, t["line"].to_numpy() - b.line_offset - ln)
    sat = t["saturated"].to_numpy(bool)
    k = int(np.argmin(dist)) if len(t) else -1
    step = rendered.params.detector.gain_step
    return {
        "band": band,
        "sample": round(sm, 2),
        "line": round(float(d["line"]), 2),
        "mf_snr": round(float(d["mf_snr"]), 2),
        "fit_snr": round(float(d["snr"]), 2),
        "chi2_dof": round(float(d["chi2_dof"]), 2),
        "spike_dchi2": round(float(d.get("spike_dchi2", np.nan)), 2),
        "spike_dchi2_measured": round(float(d.get("spike_dchi2_measured", np.nan)), 2),
        "noise_snr": round(float(noise[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2].max()), 2),
        "cr_px": round(float(zones["cr"][i, j]), 2),
        "saturated_px": round(float(dist[sat].min()), 2) if sat.any() else np.inf,
        "saturated_column_px": round(float(np.abs(t["sample"].to_numpy()[sat] - sm).min()), 2)
        if sat.any()
        else np.inf,
        "bright_px": round(float(zones["bright"][i, j]), 2),
        "source_px": round(float(dist[k]), 2) if k >= 0 else np.inf,
        "source_snr_ideal": round(float(t["snr_ideal"].iloc[k]), 2) if k >= 0 else 0.0,
        "source_found": bool(found[k]) if k >= 0 else False,
        "edge_px": round(min(ln, sm, nl - 1 - ln, ns - 1 - sm), 2),
        "limb_px": round(float(zones["limb"][i, j]), 2),
        "gain_step_px": round(float(min(abs(sm - step[0] + 0.5), abs(sm - step[1] + 0.5))), 2)
        if step is not None
        else np.inf,
        "on_disk": bool(zones["disk"][i, j]),
        "terminator_px": round(float(zones["terminator"][i, j]), 2),
    }


def score_band(
    rendered: RenderedFrame, band: str, det: pd.DataFrame
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """(found flag per truth row of the band, the false detections — where they sit, ``where``, what they are,
    ``kind``, :func:`false_features`, and whether flagged OFF_DISK, ``off_disk_flag`` —, flagged-as-cosmic-ray
    flag per truth row: not found, but a COSMIC_RAY detection matches it, found flag per truth row counting
    only detections the tracker keeps: not flagged OFF_DISK) of detections (:func:`detections_of`)."""
    t = rendered.truth[rendered.truth["band"] == band]
    cr = det["cosmic_ray"].to_numpy(bool) if "cosmic_ray" in det else np.zeros(len(det), bool)
    m = match(det.loc[~cr, ["sample", "line"]].to_numpy(float), t[["sample", "line"]].to_numpy(float))
    found = np.zeros(len(t), bool)
    found[m[m >= 0]] = True
    false = det[~cr][m < 0]
    off_disk = (det.loc[~cr, "flags"].to_numpy(int) & int(DetectionFlag.OFF_DISK)) != 0
    found_kept = np.zeros(len(t), bool)  # found by a detection the tracker keeps (not flagged OFF_DISK)
    found_kept[m[(m >= 0) & ~off_disk]] = True
    mc = match(det.loc[cr, ["sample", "line"]].to_numpy(float), t[["sample", "line"]].to_numpy(float))
    flagged_cr = np.zeros(len(t), bool)
    flagged_cr[mc[mc >= 0]] = True
    flagged_cr &= ~found
    zones = zone_maps(rendered, band)
    off = rendered.bands[band].line_offset
    rows = []
    if len(false):
        noise = noise_snr_map(rendered, band)
        for _, d in false.iterrows():
            f = false_features(rendered, band, zones, noise, found, d)
            f["where"] = false_class(zones, float(d["line"]) - off, float(d["sample"]))
            f["kind"] = false_kind(f)
            f["off_disk_flag"] = bool(int(d["flags"]) & int(DetectionFlag.OFF_DISK))
            rows.append(f)
    false_rows = pd.DataFrame(rows, columns=[*FALSE_FEATURES, "where", "kind", "off_disk_flag"])
    return found, false_rows, flagged_cr, found_kept


def limb_distance_px(rendered: RenderedFrame, band: str) -> np.ndarray:
    """Distance from each true hot spot of a band to the nearest pixel the limb crosses, pixels."""
    t = rendered.truth[rendered.truth["band"] == band]
    d = zone_maps(rendered, band)["limb"]
    i = np.clip(
        np.rint(t["line"].to_numpy()).astype(int) - rendered.bands[band].line_offset, 0, d.shape[0] - 1
    )
    j = np.clip(np.rint(t["sample"].to_numpy()).astype(int), 0, d.shape[1] - 1)
    return d[i, j]


def miss_causes(rendered: RenderedFrame, band: str, t: pd.DataFrame, result, config) -> dict[str, list]:
    """Why each true hot spot of a band (rows ``t``, with ``found``) was missed (``miss``; "" when found), and
    ioscan's S/N map at it (3 × 3 maximum, ``snr_map``), its local scale (``scale_map``), the background
    option chosen there (``option``: (h0, h1, degree)) and whether the frame's PSF was measured
    (``psf_measured``), from a result kept with its band models. First that applies: ``vetted_cosmic_ray`` /
    ``vetted_<test>`` (a detection within MATCH_PX flagged COSMIC_RAY, or ARTEFACT by the test named in
    ``extra["artefact_test"]``),
    ``merged`` (the nearest detection within SPLIT_PX matched another hot spot), ``mislocated`` (it matched
    none: placed beyond MATCH_PX), ``not_searched`` (the pixel is not usable: the limb band, masked),
    ``below_threshold`` (the S/N map there is below the threshold), ``peak_lost`` (the map passes but no
    detection came of it: deblended into a neighbour, or dropped after the fits)."""
    threshold = (config or DetectConfig()).threshold_snr
    off = rendered.bands[band].line_offset
    dets = [d for d in result.detections if d.band == band]
    dxy = np.array([[d.sample, d.line] for d in dets], float).reshape(-1, 2)
    clean = np.array([not (d.flags & IGNORED) for d in dets], bool)
    txy = t[["sample", "line"]].to_numpy(float)
    m = match(dxy[clean], txy)  # the catalogue-worthy detections' matches, as in score_band
    matched_other = np.zeros(len(dets), bool)
    matched_other[np.flatnonzero(clean)[m >= 0]] = True
    br = result.bands.get(band)
    model, (l0, s0) = (br.model, br.offset) if br is not None and br.model is not None else (None, (0, 0))
    miss, snr_map, scale_map, option = [], [], [], []
    psf_measured = any("PSF measured" in m for m in (br.messages if br is not None else []))
    for k, (x, y) in enumerate(txy):
        li, sj = int(round(y - off)) - l0, int(round(x)) - s0
        inside = model is not None and 0 <= li < model.snr.shape[0] and 0 <= sj < model.snr.shape[1]
        box = (slice(max(li - 1, 0), li + 2), slice(max(sj - 1, 0), sj + 2))
        snr_map.append(float(np.max(model.snr[box])) if inside else np.nan)
        scale_map.append(float(model.scale[li, sj]) if inside else np.nan)
        option.append(str(model.annuli[int(model.choice[li, sj])]) if inside else "")
        if t["found"].iloc[k]:
            miss.append("")
            continue
        d = np.hypot(dxy[:, 0] - x, dxy[:, 1] - y) if len(dets) else np.zeros(0)
        near = np.flatnonzero(d <= MATCH_PX)
        flagged = [j for j in near[np.argsort(d[near])] if dets[j].flags & IGNORED]
        close = np.flatnonzero((d <= SPLIT_PX) & clean)
        if flagged:
            det = dets[flagged[0]]
            cause = (
                "vetted_cosmic_ray"
                if det.flags & DetectionFlag.COSMIC_RAY
                else f"vetted_{det.extra.get('artefact_test', 'artefact')}"
            )
        elif close.size:
            j = close[np.argmin(d[close])]
            cause = "merged" if matched_other[j] else "mislocated"
        elif not inside or not model.usable[li, sj]:
            cause = "not_searched"
        elif snr_map[-1] < threshold:
            cause = "below_threshold"
        else:
            cause = "peak_lost"
        miss.append(cause)
    return {
        "miss": miss,
        "snr_map": snr_map,
        "scale_map": scale_map,
        "option": option,
        "psf_measured": [psf_measured] * len(t),
        "psf_sigma_used": [psf_used(br, band).core_sigma_px] * len(t),
        "psf_elongation_used": [psf_used(br, band).elongation] * len(t),
        **snr_decomposition(rendered, band, t, br),
    }


#: the columns of :func:`snr_decomposition`
DECOMPOSITION = (
    "sigma_est_over_true", "option_efficiency", "psf_match", "scale_map", "signal_white_over_ideal",
    "bias_over_ideal", "white_over_ideal", "snr_map_over_ideal", "scale_source_free", "scale_noise_only",
    "scale_ground_only", "scale_plain_kernel", "scale_block", "edge_px",
)  # fmt: skip
#: half-size (px) of the window around a hot spot over which the decomposition's scales are taken (the
#: detection's 3 × 3 blocks of 8 px)
SCALE_HALF_PX = 12
#: … leaving out the pixels within this many px of an outlier the detection replaced (its fill and the
#: source's wings reach the residual through the annulus and the filter)
OUTLIER_REACH_PX = 6
_PSF_USED = re.compile(r"core σ ([0-9.]+) px, elongation ([0-9.]+) used")


def psf_used(br, band: str) -> PsfModel:
    """The PSF detection used on a band: the instrument's model, or its core as measured on the frame (read
    from the band's message)."""
    model = DetectConfig().psf_for(band, "JIRAM", {"L": 3.455, "M": 4.78}[band])
    for m in br.messages if br is not None else []:
        hit = _PSF_USED.search(m)
        if hit:
            core = model.sigmas_px.index(model.core_sigma_px)
            sigmas = list(model.sigmas_px)
            sigmas[core] = float(hit.group(1))
            return PsfModel(model.weights, tuple(sigmas), elongation=float(hit.group(2)))
    return model


def snr_decomposition(rendered: RenderedFrame, band: str, t: pd.DataFrame, br) -> dict[str, list]:
    """Where each hot spot's S/N map falls short of the ideal filter's (issue 11 part 2), at the pixel
    nearest the truth, for the background option chosen there and the pixel-centred filter phase:

    * ``sigma_est_over_true``: detection's white-noise σ ÷ the renderer's true per-pixel σ (3 × 3 medians);
    * ``option_efficiency``: the option's expected white-noise S/N ÷ the ideal for the PSF detection used
      (:func:`ioscan.detect.background.efficiency`: the background kernel's noise and the part of the
      source it absorbs);
    * ``psf_match``: the same for the true PSF (σ 0.8 px, as elongated as rendered) through the filter of the
      PSF used, ÷ ``option_efficiency`` (the PSF model's mismatch);
    * ``scale_map``: the local scale the white-noise S/N is divided by;
    * ``signal_white_over_ideal``: the noise-free source alone (all the band's hot spots, rendered with the
      renderer's PSF) through the option's kernel and the filter, ÷ the detection's
      white-noise denominator, ÷ ideal S/N (≈ option_efficiency × psf_match ÷ sigma_est_over_true, less the
      phase);
    * ``bias_over_ideal``: what the background error adds there (filtered residual − filtered true source
      − filtered true noise: the true background − the detection's, less the kernel's share of the source),
      ÷ the white-noise denominator ÷ ideal S/N (negative: the background is too high);
    * ``white_over_ideal`` (S/N map × scale ÷ ideal) and ``snr_map_over_ideal`` at the same pixel;
    * ``scale_block``: the detection's block scale there before the limb, edge and limb-zone profiles raise
      it (``BandModel.scale_block``); ``edge_px``: the distance to the frame's edge;
    * the robust scale (1.4826 × median |·|) over the searched pixels within SCALE_HALF_PX of it, in the same
      white-noise units, of the filtered residual without the true hot spots (``scale_source_free``: what
      the detection's ``scale_map`` would be without sources in it; the pixels within OUTLIER_REACH_PX of an
      outlier the detection replaced are left out: its scale leaves out only the core filter's reach, and
      the difference of the two is what the replaced pixels leave around them), of the true noise alone
      (``scale_noise_only``: ≈ σ_true ÷ σ_est) and of the noise-free ground through the kernel
      (``scale_ground_only``: texture, shading and column patterns the background leaves), and of the
      image without the true hot spots through the option's kernel alone, without the detection's outlier
      fill, regions or limb profile (``scale_plain_kernel``).

    Where a term cannot be had (no model, pixel off the crop or not searched) it is NaN."""
    n = len(t)
    out = {k: [np.nan] * n for k in DECOMPOSITION}
    model = br.model if br is not None else None
    if model is None or n == 0:
        return out
    (l0, s0), rb = br.offset, rendered.bands[band]
    psf = psf_used(br, band)
    rp = rendered.params.psf
    true_psf = PsfModel((1.0,), (float(np.sqrt(rp.sigma_sample_px * rp.sigma_line_px)),), rp.elongation)
    nl, ns = model.snr.shape
    crop = (slice(l0, l0 + nl), slice(s0, s0 + ns))
    src = np.zeros(rb.image.shape)
    tb = rendered.truth[rendered.truth["band"] == band]
    rp.add_sources(src, tb["sample"], tb["line"] - rb.line_offset, tb["flux_w_m2_sr"])
    src = src[crop]  # (the renderer's column gains, percents, left out: they go to ``noise``)
    true_bg = rb.background[crop]
    noise = rb.image[crop].astype(np.float64) - true_bg - src
    e = psf.elongation
    sig = psf.core_sigma_px
    kl, ks = kernel1d(sig * np.sqrt(e)), kernel1d(sig / np.sqrt(e))

    def filt(a: np.ndarray) -> np.ndarray:
        return ndimage.correlate1d(ndimage.correlate1d(a, kl, 0, mode="constant"), ks, 1, mode="constant")

    vu = np.where(model.usable, model.sigma_white.astype(np.float64) ** 2, 0.0)
    den0 = np.sqrt(
        np.maximum(
            ndimage.correlate1d(
                ndimage.correlate1d(vu, kl**2, 0, mode="constant"), ks**2, 1, mode="constant"
            ),
            0,
        )
    )
    per_option = {}
    for k, (h0, h1, deg) in enumerate(model.annuli):
        if not (model.choice == k).any():
            continue
        gain = _noise_gain(sig, h0, h1, 0.0, 0.0, deg, e)
        den = den0 * gain
        sk = src - correlate_kernel(src, h0, h1, deg)
        usable = model.usable
        f_res = filt(np.where(usable, model.residuals[k], 0.0))
        f_sig = filt(np.where(usable, sk, 0.0))
        f_noise = filt(np.where(usable, noise, 0.0))
        f_noise_k = filt(np.where(usable, noise - correlate_kernel(noise, h0, h1, deg), 0.0))
        ground = true_bg - correlate_kernel(true_bg, h0, h1, deg)
        f_ground = filt(np.where(usable, ground, 0.0))
        xs = rb.image[crop].astype(np.float64) - src
        f_plain = filt(np.where(usable, xs - correlate_kernel(xs, h0, h1, deg), 0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            per_option[k] = (
                f_sig / den,
                (f_res - f_sig - f_noise) / den,
                gain,
                (f_res - f_sig) / den,
                f_noise_k / den,
                f_ground / den,
                f_plain / den,
            )
    reach = ndimage.binary_dilation(model.outliers, np.ones((2 * OUTLIER_REACH_PX + 1,) * 2, bool))
    off = rb.line_offset
    sw_med = ndimage.median_filter(model.sigma_white, 3, mode="nearest")
    st_med = ndimage.median_filter(rb.sigma[crop], 3, mode="nearest")
    for r, (x, y, ideal) in enumerate(t[["sample", "line", "snr_ideal"]].to_numpy(float)):
        li, sj = int(round(y - off)) - l0, int(round(x)) - s0
        if not (0 <= li < nl and 0 <= sj < ns) or not model.usable[li, sj]:
            continue
        k = int(model.choice[li, sj])
        h0, h1, deg = model.annuli[k]
        eff = efficiency(psf, h0, h1, None, deg)
        out["sigma_est_over_true"][r] = float(sw_med[li, sj] / st_med[li, sj])
        out["option_efficiency"][r] = eff
        out["psf_match"][r] = efficiency(true_psf, h0, h1, sig, deg) / eff if e == 1.0 else np.nan
        out["scale_map"][r] = float(model.scale[li, sj])
        if model.scale_block is not None:
            out["scale_block"][r] = float(model.scale_block[li, sj])
        out["edge_px"][r] = float(
            min(y - off, rb.image.shape[0] - 1 - (y - off), x, rb.image.shape[1] - 1 - x)
        )
        if k in per_option:
            out["signal_white_over_ideal"][r] = float(per_option[k][0][li, sj]) / ideal
            out["bias_over_ideal"][r] = float(per_option[k][1][li, sj]) / ideal
            w = (
                slice(max(li - SCALE_HALF_PX, 0), li + SCALE_HALF_PX + 1),
                slice(max(sj - SCALE_HALF_PX, 0), sj + SCALE_HALF_PX + 1),
            )
            # without the pixels within OUTLIER_REACH_PX of an outlier the detection replaced (bright sources,
            # cosmic rays)
            here = model.usable[w] & ~reach[w] & np.isfinite(per_option[k][3][w])
            if model.limb_distance_px is not None:  # the pixels as far from the limb, on the same side
                dl = model.limb_distance_px
                d0 = float(dl[li, sj])
                here &= (np.sign(dl[w]) == np.sign(d0)) & (np.abs(dl[w]) >= min(abs(d0), NEAR_LIMB_PX))
            if here.sum() >= 50:
                names = ("scale_source_free", "scale_noise_only", "scale_ground_only", "scale_plain_kernel")
                for col, a in zip(names, per_option[k][3:], strict=True):
                    out[col][r] = float(MAD_TO_SIGMA * np.median(np.abs(a[w][here])))
        out["white_over_ideal"][r] = float(model.snr[li, sj] * model.scale[li, sj]) / ideal
        out["snr_map_over_ideal"][r] = float(model.snr[li, sj]) / ideal
    return out


def miss_table(truth: pd.DataFrame, min_snr: float = 7.0) -> dict:
    """Misses of isolated, unsaturated hot spots of ideal S/N ≥ ``min_snr`` by cause (:func:`miss_causes`)
    and by distance to the limb (px bins), counts; with the sources per bin, the fraction found and the
    median S/N map ÷ ideal S/N of the ones below threshold."""
    sel = truth[
        (truth["neighbour_px"] >= ISOLATED_PX) & (truth["snr_ideal"] >= min_snr) & ~truth["saturated"]
    ]
    out: dict = {}
    bins = pd.cut(sel["limb_px"], MISS_BINS_PX)
    for b, g in sel.groupby(bins, observed=True):
        key = f"{b.left:g}_to_{b.right:g}_px" if b.right < 1e8 else f"gt_{b.left:g}_px"
        missed = g[~g["found"]]
        below = missed[missed["miss"] == "below_threshold"]
        pm = g["psf_measured"].astype(bool)  # object dtype once pooled with frames of the other side
        out[key] = {
            "sources": int(len(g)),
            "found": round(float(g["found"].mean()), 4),
            "misses": {k: int(v) for k, v in missed["miss"].value_counts().items()},
            "below_threshold_snr_map_over_ideal_median": round(
                float((below["snr_map"] / below["snr_ideal"]).median()), 3
            )
            if len(below)
            else None,
            "below_threshold_scale_median": round(float(below["scale_map"].median()), 3)
            if len(below)
            else None,
            "found_psf_measured_vs_not": [
                _frac(g.loc[pm, "found"]),
                _frac(g.loc[~pm, "found"]),
            ],
            "background_option_all": {k: int(v) for k, v in g["option"].value_counts().items()},
            "background_option_below_threshold": {
                k: int(v) for k, v in below["option"].value_counts().items()
            },
        }
    return out


def decomposition_table(truth: pd.DataFrame, min_snr: float = 5.0) -> dict:
    """Medians of :func:`snr_decomposition`'s terms over isolated, unsaturated hot spots of ideal S/N ≥
    ``min_snr`` whose pixel is searched, found and missed, within NEAR_LIMB_PX of the limb, between that and
    20 px, and beyond."""
    sel = truth[
        (truth["neighbour_px"] >= ISOLATED_PX) & (truth["snr_ideal"] >= min_snr) & ~truth["saturated"]
    ]
    sel = sel[np.isfinite(sel["snr_map_over_ideal"].astype(float))]
    out: dict = {}
    lp = sel["limb_px"]
    zones = (("beyond_20px", lp > 20.0), ("8_to_20px", (lp > NEAR_LIMB_PX) & (lp <= 20.0)))
    for where, near in (("within_8px", lp <= NEAR_LIMB_PX), *zones):
        for state, found in (("found", True), ("missed", False)):
            g = sel[near & (sel["found"] == found)]
            row: dict = {"n": int(len(g))}
            for c in DECOMPOSITION:
                v = g[c].astype(float)
                v = v[np.isfinite(v)]
                row[c] = round(float(v.median()), 3) if len(v) else None
            out[f"{where}_{state}"] = row
    return out


# ---------------------------------------------------------------------------------------------- summaries


def _frac(found: pd.Series) -> float | None:
    return round(float(found.mean()), 4) if len(found) else None


def summarise(
    truth: pd.DataFrame,
    false: pd.DataFrame,
    n_frames: int,
    col: str,
    flagged_col: str | None = None,
    kept_col: str | None = None,
) -> dict:
    """Completeness by S/N bin and false rates of one method on one side (``col``: the found column;
    ``flagged_col``: the column of true hot spots lost to the COSMIC_RAY flag, reported at S/N ≥ 7;
    ``kept_col``: the found column counting only detections the tracker keeps, :func:`_tracked_view`).

    Completeness counts isolated hot spots (no other within ISOLATED_PX); close-pair members are reported
    apart.
    """
    iso = truth[truth["neighbour_px"] >= ISOLATED_PX]
    snr = iso["snr_ideal"]
    ge7 = iso[snr >= 7]
    pairs = truth[(truth["neighbour_px"] < ISOLATED_PX) & (truth["snr_ideal"] >= 7)]
    where = false["where"].value_counts() if len(false) else pd.Series(dtype=int)
    return {
        "frames": n_frames,
        "sources_snr_ge7": int(len(ge7)),
        "sources_snr_5_7": int(((snr >= 5) & (snr < 7)).sum()),
        "completeness_snr_ge7": _frac(ge7[col]),
        "completeness_snr_5_7": _frac(iso.loc[(snr >= 5) & (snr < 7), col]),
        "completeness_snr_3_5": _frac(iso.loc[(snr >= 3) & (snr < 5), col]),
        "completeness_snr_ge7_saturated": _frac(ge7.loc[ge7["saturated"], col]),
        "completeness_snr_ge7_emission_ge80": _frac(ge7.loc[ge7["emission_deg"] >= 80, col]),
        "completeness_snr_ge7_within_8px_of_limb": _frac(ge7.loc[ge7["limb_px"] <= NEAR_LIMB_PX, col]),
        "completeness_snr_ge7_beyond_8px_of_limb": _frac(ge7.loc[ge7["limb_px"] > NEAR_LIMB_PX, col]),
        "close_pair_members_snr_ge7": int(len(pairs)),
        "completeness_snr_ge7_close_pair_members": _frac(pairs[col]),
        "false_per_frame": round(len(false) / max(n_frames, 1), 4),
        **({"flagged_cosmic_ray_snr_ge7": _frac(ge7[flagged_col])} if flagged_col is not None else {}),
        "false_where_per_frame": {
            k: round(int(where.get(k, 0)) / max(n_frames, 1), 4) for k in FALSE_CLASSES
        },
        **({"false_kind_per_frame": _kinds(false, n_frames)} if "kind" in false else {}),
        **(_tracked_view(iso[kept_col], snr, false, n_frames) if kept_col is not None else {}),
    }


def _tracked_view(found_kept: pd.Series, snr: pd.Series, false: pd.DataFrame, n_frames: int) -> dict:
    """Completeness and false rate as the tracker sees them: detections flagged OFF_DISK (which tracking
    and the catalogue leave out, ``track.config.DEFAULT_EXCLUDED_FLAGS``) neither find nor count as false."""
    kept_false = false[~false["off_disk_flag"].astype(bool)] if "off_disk_flag" in false else false
    return {
        "tracked_view": {
            "completeness_snr_ge7": _frac(found_kept[snr >= 7]),
            "completeness_snr_5_7": _frac(found_kept[(snr >= 5) & (snr < 7)]),
            "false_per_frame": round(len(kept_false) / max(n_frames, 1), 4),
        }
    }


def _kinds(false: pd.DataFrame, n_frames: int) -> dict:
    """False detections per frame by what they are (:func:`false_kind`), with the counts."""
    kinds = false["kind"].value_counts() if len(false) else pd.Series(dtype=int)
    return {
        k: [round(int(kinds.get(k, 0)) / max(n_frames, 1), 4), int(kinds.get(k, 0))]
        for k in FALSE_KINDS
        if kinds.get(k, 0)
    }


def ideal_at(truth: pd.DataFrame, ideal: pd.DataFrame, threshold: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Found flags (aligned with ``truth``) and false detections of the ideal filter at a threshold."""
    found = np.zeros(len(truth), bool)
    false = []
    for fid, cand in ideal[ideal["snr"] >= threshold].groupby("frame"):
        t_idx = np.flatnonzero(truth["frame"].to_numpy() == fid)
        for band, c in cand.groupby("band"):
            tb = t_idx[truth["band"].to_numpy()[t_idx] == band]
            m = match(
                c[["sample", "line"]].to_numpy(float), truth.iloc[tb][["sample", "line"]].to_numpy(float)
            )
            found[tb[m[m >= 0]]] = True
            false.append(c[m < 0])
    return found, (pd.concat(false) if false else ideal.iloc[:0])


# ------------------------------------------------------------------------------------------------------ run


def detections_of(
    frame, config=None, keep: list | None = None, backplanes: dict | None = None
) -> tuple[pd.DataFrame, float]:
    """ioscan's catalogue-worthy detections (band, sample, line, snr) of a frame, and the time (ms);
    ``config``: detection settings (default: the defaults); ``keep``: a list to append the whole result to
    (the band models kept: for :func:`miss_causes`); ``backplanes``: per band, the geometry given (else
    none)."""
    t0 = time.perf_counter()
    result = detect_frame(frame, backplanes, config=config, keep_models=keep is not None)
    ms = 1e3 * (time.perf_counter() - t0)
    if keep is not None:
        keep.append(result)
    rows = [
        (
            d.band,
            d.sample,
            d.line,
            d.snr,
            bool(d.flags & DetectionFlag.COSMIC_RAY),
            float(d.extra.get("mf_snr", np.nan)),
            float(d.extra.get("chi2_dof", np.nan)),
            int(d.flags),
            float(d.extra.get("spike_dchi2", np.nan)),
            float(d.extra.get("spike_dchi2_measured", np.nan)),
        )
        for d in result.detections
        if not (d.flags & IGNORED) or d.flags & DetectionFlag.COSMIC_RAY
    ]
    cols = ["band", "sample", "line", "snr", "cosmic_ray", "mf_snr", "chi2_dof", "flags", "spike_dchi2"]
    cols.append("spike_dchi2_measured")  # NaN unless detect.spike_measured_core measured a core there
    return pd.DataFrame(rows, columns=cols), ms


#: what :func:`vetted_by_test` keeps of each flagged detection: its matched-filter and fit S/N, χ²/dof, limb
#: distance (px, the detector's), and the statistics the vetting tests stored (``extra``; NaN where a test did
#: not look at it)
VETTED_FEATURES = (
    "mf_snr", "fit_snr", "chi2_dof", "limb_distance_px", "spike_dchi2", "limb_ridge_psf_gain",
    "limb_point_snr", "ridge_fraction", "along_limb_fraction", "along_limb_clutter",
    "along_limb_side_fraction", "edge_limb_step_ratio", "edge_plateau_fraction",
)  # fmt: skip


def _vetted_features(d) -> dict:
    """:data:`VETTED_FEATURES` of one detection (rounded; NaN where absent)."""
    extra = {**d.extra, "fit_snr": d.snr}
    out = {}
    for key in VETTED_FEATURES:
        v = extra.get(key)
        out[key] = round(float(v), 3) if isinstance(v, int | float) and v is not None else float("nan")
    return out


def vetted_by_test(rendered: RenderedFrame, band: str, result) -> list[dict]:
    """The detections of a band flagged ARTEFACT or COSMIC_RAY, one row each: the test that flagged it
    (``extra["artefact_test"]``, ``cosmic_ray`` for COSMIC_RAY), whether it lies within MATCH_PX of a true hot
    spot (``true``; nearest first, not one to one: a flag on a hot spot's own detection or on a split of it),
    that hot spot's ideal S/N (``snr_ideal``, 0 when false) and whether it is isolated (none other within
    ISOLATED_PX), and the detection's :data:`VETTED_FEATURES`."""
    t = rendered.truth[rendered.truth["band"] == band]
    txy = t[["sample", "line"]].to_numpy(float)
    rows = []
    for d in result.detections:
        if d.band != band or not d.flags & IGNORED:
            continue
        dist = np.hypot(txy[:, 0] - d.sample, txy[:, 1] - d.line) if len(txy) else np.zeros(0)
        k = int(np.argmin(dist)) if dist.size else -1
        true = bool(k >= 0 and dist[k] <= MATCH_PX)
        snr = float(t["snr_ideal"].iloc[k]) if true else 0.0
        others = np.hypot(txy[:, 0] - txy[k, 0], txy[:, 1] - txy[k, 1]) if true else np.zeros(0)
        isolated = bool(true and np.sum(others <= ISOLATED_PX) <= 1)
        test = (
            "cosmic_ray"
            if d.flags & DetectionFlag.COSMIC_RAY
            else str(d.extra.get("artefact_test", "artefact"))
        )
        rows.append(
            {
                "test": test, "true": true, "snr_ideal": round(snr, 2), "isolated": isolated,
                "sample": round(d.sample, 2), "line": round(d.line, 2), **_vetted_features(d),
            }
        )  # fmt: skip
    return rows


def vetted_table(rows: pd.DataFrame) -> dict:
    """Per test: detections flagged on false and on true positions, the true ones of ideal S/N ≥ 7 and 5–7."""
    out = {}
    for test, g in rows.groupby("test"):
        tr = g[g["true"]]
        out[str(test)] = {
            "false": int((~g["true"]).sum()),
            "true": int(len(tr)),
            "true_snr_ge7": int((tr["snr_ideal"] >= 7).sum()),
            "true_snr_5_7": int(((tr["snr_ideal"] >= 5) & (tr["snr_ideal"] < 7)).sum()),
        }
    return out


def vetted_true_list(rows: pd.DataFrame) -> list[dict]:
    """The flagged detections on isolated true hot spots of ideal S/N ≥ 5, with their features (JSON-ready:
    NaN as None): what each test throws away, to compare with its false ones' statistics."""
    sel = rows[rows["true"] & rows["isolated"] & (rows["snr_ideal"] >= 5)]
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in sel.to_dict("records")
    ]


def vetted_false_medians(rows: pd.DataFrame) -> dict:
    """Per test, the median of each of :data:`VETTED_FEATURES` over the detections it flagged on false
    positions (None where none is finite)."""
    out = {}
    for test, g in rows[~rows["true"]].groupby("test"):
        med = {}
        for key in VETTED_FEATURES:
            v = g[key].to_numpy(float)
            med[key] = round(float(np.nanmedian(v)), 3) if np.isfinite(v).any() else None
        out[str(test)] = med
    return out


#: ``--near-limb``: catalogue-worthy detections this close (px) to a pixel the renderer's limb crosses are
#: listed, true and false alike, with :func:`near_limb_features`
NEAR_LIMB_FEATURE_PX = 5.0
#: half-size (px) of the residual stamp those features read around a detection
NEAR_LIMB_STAMP_PX = 3
#: the extras the vetting tests store, kept with each near-limb detection (NaN where a test did not look)
NEAR_LIMB_EXTRAS = (
    "local_fit_snr", "limb_ridge_psf_gain", "limb_point_snr", "ridge_fraction", "along_limb_fraction",
    "along_limb_clutter", "along_limb_side_fraction",
)  # fmt: skip


def _amplitude_snr(columns: list[np.ndarray], values: np.ndarray) -> float:
    """The first column's amplitude ÷ its error in a unit-weight least-squares fit (NaN if singular)."""
    a = np.stack(columns, axis=1)
    try:
        cov = np.linalg.inv(a.T @ a)
    except np.linalg.LinAlgError:
        return float("nan")
    coef = cov @ (a.T @ values)
    return float(coef[0] / np.sqrt(cov[0, 0])) if cov[0, 0] > 0 else float("nan")


def _stamp_shape(r: np.ndarray, ty: np.ndarray, tx: np.ndarray) -> tuple[float, float]:
    """RMS extent (px) along the limb's tangent and across it of the residual stamp's positive part (weights
    max(r, 0); offsets (ty, tx) from the peak already projected: ``ty`` along, ``tx`` across)."""
    w = np.maximum(r, 0.0)
    if not w.sum() > 0:
        return float("nan"), float("nan")
    return float(np.sqrt((w * ty**2).sum() / w.sum())), float(np.sqrt((w * tx**2).sum() / w.sum()))


def near_limb_features(
    data: np.ndarray, model, offset: tuple[int, int], line_offset: int, psf: PsfModel, det
) -> dict:
    """Shape features of one detection near the limb, read on its residual (data − background, white-noise σ)
    in a (2 :data:`NEAR_LIMB_STAMP_PX` + 1)² stamp (usable pixels): the PSF amplitude's S/N fitted with a
    constant (``stamp_snr``), with the background's derivative across the limb added (the limb profile
    shifted by a fraction of a pixel: ``shift_snr_ratio`` = its S/N ÷ ``stamp_snr``), with its second
    derivative too (the profile widened: ``shift_width_snr_ratio``), and the positive residual's RMS extent
    along the limb ÷ across it (``along_across_extent``); NaN where the band has no limb distance."""
    nan = float("nan")
    out = {"stamp_snr": nan, "shift_snr_ratio": nan, "shift_width_snr_ratio": nan, "along_across_extent": nan}
    dist = model.limb_distance_px
    if dist is None:
        return out
    h = NEAR_LIMB_STAMP_PX
    bg, sw = model.background, model.sigma_white
    i = int(round(det.line - line_offset)) - offset[0]
    j = int(round(det.sample)) - offset[1]
    nl, ns = bg.shape
    if not (h + 1 <= i < nl - h - 1 and h + 1 <= j < ns - h - 1):
        return out
    win = (slice(i - h, i + h + 1), slice(j - h, j + h + 1))
    wide = (slice(i - h - 1, i + h + 2), slice(j - h - 1, j + h + 2))
    l0, s0 = offset
    r = (data[l0 + i - h : l0 + i + h + 1, s0 + j - h : s0 + j + h + 1] - bg[win]) / sw[win]
    gy, gx = np.gradient(np.asarray(dist[wide], float))
    norm = float(np.hypot(gy[h + 1, h + 1], gx[h + 1, h + 1]))
    if not norm > 0:
        return out
    ny, nx = gy[h + 1, h + 1] / norm, gx[h + 1, h + 1] / norm  # across the limb (inwards)
    by, bx = np.gradient(bg[wide] / sw[wide])
    d1 = (by * ny + bx * nx)[1:-1, 1:-1]  # ∂(bg/σ)/∂n
    byy, byx = np.gradient(by * ny + bx * nx)
    d2 = (byy * ny + byx * nx)[1:-1, 1:-1]
    ys, xs = np.mgrid[-h : h + 1, -h : h + 1].astype(float)
    p = psf.stamp_values(
        (xs[None, :1, :] + j + s0), (ys[None, :, :1] + i + l0), np.array([det.sample]),
        np.array([det.line - line_offset]),
    )[0]  # fmt: skip
    ok = model.usable[win] & np.isfinite(r) & np.isfinite(d1) & np.isfinite(d2)
    if ok.sum() < 12:
        return out
    one = np.ones(ok.sum())
    base = _amplitude_snr([p[ok], one], r[ok])
    ty = ys * (-nx) + xs * ny  # along the limb
    tx = ys * ny + xs * nx  # across
    along, across = _stamp_shape(r, ty, tx)
    out.update(
        stamp_snr=base,
        shift_snr_ratio=_amplitude_snr([p[ok], one, d1[ok]], r[ok]) / base,
        shift_width_snr_ratio=_amplitude_snr([p[ok], one, d1[ok], d2[ok]], r[ok]) / base,
        along_across_extent=along / across if across > 0 else nan,
    )
    return out


def near_limb_rows(rendered: RenderedFrame, band: str, result, frame) -> list[dict]:
    """Every catalogue-worthy detection of a band (neither COSMIC_RAY nor ARTEFACT) within
    :data:`NEAR_LIMB_FEATURE_PX` of the renderer's limb: whether it matches a true hot spot (one to one, as
    the scoring), that hot spot's ideal S/N and isolation, else what it is (:func:`false_kind`), with its S/N,
    fit ÷ matched-filter S/N, χ²/dof (and ÷ (1 + (0.05 S/N)²)), the spike test's χ² advantage, the vetting
    tests' stored statistics (:data:`NEAR_LIMB_EXTRAS`) and :func:`near_limb_features`."""
    br = result.bands.get(band)
    if br is None or br.model is None:
        return []
    b = rendered.bands[band]
    dets = [d for d in br.detections if d.band == band and not d.flags & IGNORED]
    zones = zone_maps(rendered, band)
    t = rendered.truth[rendered.truth["band"] == band]
    txy = t[["sample", "line"]].to_numpy(float)
    m = match(np.array([[d.sample, d.line] for d in dets], float).reshape(-1, 2), txy)
    found = np.zeros(len(t), bool)
    found[m[m >= 0]] = True
    psf = psf_used(br, band)
    data = frame.bands[band].data.astype(float)
    noise = None
    rows = []
    nl, ns = b.image.shape
    for d, k in zip(dets, m, strict=True):
        i = int(np.clip(round(d.line - b.line_offset), 0, nl - 1))
        jj = int(np.clip(round(d.sample), 0, ns - 1))
        if zones["limb"][i, jj] > NEAR_LIMB_FEATURE_PX:
            continue
        mf = float(d.extra.get("mf_snr", np.nan))
        chi2 = float(d.extra.get("chi2_dof", np.nan))
        row = {
            "band": band, "sample": round(d.sample, 2), "line": round(d.line, 2), "true": bool(k >= 0),
            "snr_ideal": round(float(t["snr_ideal"].iloc[k]), 2) if k >= 0 else 0.0,
            "isolated": bool(k >= 0 and np.sum(np.hypot(*(txy - txy[k]).T) <= ISOLATED_PX) <= 1),
            "limb_px": round(float(zones["limb"][i, jj]), 2),
            "edge_px": round(min(d.line - b.line_offset, d.sample, nl - 1 - (d.line - b.line_offset),
                                 ns - 1 - d.sample), 2),
            "mf_snr": round(mf, 2), "fit_snr": round(d.snr, 2), "fit_over_mf": round(d.snr / mf, 3),
            "chi2_dof": round(chi2, 2), "chi2_scaled": round(chi2 / (1.0 + (0.05 * mf) ** 2), 3),
            "spike_dchi2": round(float(d.extra.get("spike_dchi2", np.nan)), 2),
            **{key: round(float(d.extra.get(key, np.nan)), 3) for key in NEAR_LIMB_EXTRAS},
            **{key: round(v, 3) for key, v in near_limb_features(data, br.model, br.offset, b.line_offset,
                                                                  psf, d).items()},
        }  # fmt: skip
        if k < 0:
            if noise is None:
                noise = noise_snr_map(rendered, band)
            row["kind"] = false_kind(false_features(rendered, band, zones, noise, found, pd.Series({
                "line": d.line, "sample": d.sample, "mf_snr": mf, "snr": d.snr, "chi2_dof": chi2,
            })))  # fmt: skip
        else:
            row["kind"] = "true"
        rows.append(row)
    return rows


#: with ``--geometry``, the pointing error detection is told (px): the backplanes are the renderer's exact
#: geometry, as a limb-registered JIRAM frame's are within a few tenths of a pixel
GEOMETRY_POINTING_PX = 0.1


def scene_of(args, rng: np.random.Generator, i: int):
    """The scene of frame ``i`` (even frames requested on the day side, odd ones on the night side)."""
    return draw_scene(
        rng,
        kind="day" if i % 2 == 0 else "night",
        mode=args.mode,
        psf_width_jitter=args.psf_jitter,
        elongation=args.elongation,
        start_time_utc=start_time(i),
    )


def one_frame(args, rng: np.random.Generator, i: int, tmp: Path) -> dict:
    """Render, (write and read,) detect and score frame ``i``; also the ideal filter's candidates."""
    t0 = time.perf_counter()
    params = scene_of(args, rng, i)
    rendered = render_scene(params)
    t1 = time.perf_counter()
    if args.in_memory:
        frame = in_memory_frame(rendered)
    else:
        lbl = write_product(rendered, tmp)
        frame = read_product(lbl)
        if not args.keep_dir:
            lbl.unlink()
            lbl.with_suffix(".IMG").unlink()
    t2 = time.perf_counter()
    kept: list | None = (
        [] if args.misses or getattr(args, "vetted", False) or getattr(args, "near_limb", False) else None
    )
    backplanes, config = None, args.detect_config
    if getattr(args, "geometry", False):  # the renderer's own geometry given, exact (a JIRAM frame's SPICE)
        from dataclasses import replace

        from ioscan.simulate.independent_backplanes import truth_backplanes

        backplanes = {b: truth_backplanes(params.view, b) for b in frame.bands}
        config = replace(config or DetectConfig(), pointing_error_px=GEOMETRY_POINTING_PX)
    dets, ms_detect = detections_of(frame, config, kept, backplanes)
    side = rendered.illumination
    out: dict = {"truth": [], "false": [], "ideal": []}
    for band in rendered.bands:
        found, fd, flagged_cr, found_kept = score_band(rendered, band, dets[dets["band"] == band])
        t = rendered.truth[rendered.truth["band"] == band].assign(
            found=found, found_kept=found_kept, flagged_cosmic_ray=flagged_cr, frame=i, side=side
        )
        t = t.assign(range_km=params.view.range_km, limb_px=limb_distance_px(rendered, band))
        if getattr(args, "by_image_limb", False):
            t = t.assign(**image_limb_status(rendered, band))
        if kept and args.misses:
            t = t.assign(**miss_causes(rendered, band, t, kept[0], args.detect_config))
        if kept and getattr(args, "vetted", False):
            out.setdefault("vetted", []).extend(
                dict(r, frame=i, side=side) for r in vetted_by_test(rendered, band, kept[0])
            )
        if kept and getattr(args, "near_limb", False):
            out.setdefault("near_limb", []).extend(
                dict(r, frame=i, side=side) for r in near_limb_rows(rendered, band, kept[0], frame)
            )
        out["truth"].append(t)
        out["false"].append(fd.assign(frame=i, side=side))
    t4 = time.perf_counter()
    for band in rendered.bands:
        c = ideal_candidates(rendered, band).assign(frame=i, band=band, side=side)
        zones, off = zone_maps(rendered, band), rendered.bands[band].line_offset
        c["where"] = [false_class(zones, ln - off, s) for s, ln in zip(c["sample"], c["line"], strict=True)]
        out["ideal"].append(c)
    t5 = time.perf_counter()
    out["frame"] = {"frame": i, "side": side, "range_km": params.view.range_km}
    if kept:
        out["frame"]["disk_model"] = disk_model_use(kept[0])
    out["ms"] = {"render": 1e3 * (t1 - t0), "write_read": 1e3 * (t2 - t1), "detect": ms_detect}
    out["ms"]["ideal"] = 1e3 * (t5 - t4)
    return out


def disk_model_use(result) -> str:
    """Whether the sunlit disk's model (``detect.disk_model``) was used on a frame: "used" (a band's fit
    trusted), "not_trusted" (fitted, not used) or "none" (off, or no sharp limb seen)."""
    msgs = [m for br in result.bands.values() for m in br.messages]
    if any("disk model subtracted" in m for m in msgs):
        return "used"
    return "not_trusted" if any("disk model does not follow" in m for m in msgs) else "none"


def run(args) -> dict:
    """Run the benchmark; the report (see :func:`report`)."""
    rng = np.random.default_rng(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_generalise_") as scratch:
        tmp = Path(args.keep_dir) if args.keep_dir else Path(scratch)
        for i in range(args.frames):
            if args.side != "both" and (i % 2 == 0) != (args.side == "day"):
                scene_of(args, rng, i)  # drawn all the same: the random sequence stays that of both sides
                continue
            results.append(one_frame(args, rng, i, tmp))
    truth = pd.concat([t for r in results for t in r["truth"]], ignore_index=True)
    false = pd.concat([f for r in results for f in r["false"]], ignore_index=True)
    ideal = pd.concat([c for r in results for c in r["ideal"]], ignore_index=True)
    fr = pd.DataFrame([r["frame"] for r in results])
    ms = {k: [r["ms"][k] for r in results] for k in results[0]["ms"]} if results else {}
    vetted = pd.DataFrame(
        [v for r in results for v in r.get("vetted", [])],
        columns=[
            "test",
            "true",
            "snr_ideal",
            "isolated",
            "sample",
            "line",
            *VETTED_FEATURES,
            "frame",
            "side",
        ],
    )
    near = pd.DataFrame([v for r in results for v in r.get("near_limb", [])])
    if getattr(args, "dump", None):
        dump = Path(args.dump)
        dump.mkdir(parents=True, exist_ok=True)
        truth.to_pickle(dump / "truth.pkl")
        false.to_pickle(dump / "false.pkl")
        fr.to_pickle(dump / "frames.pkl")
        near.to_pickle(dump / "near_limb.pkl")
    out = report(args, truth, false, ideal, fr, ms, vetted)
    if getattr(args, "near_limb", False):
        out["near_limb_detections"] = (
            {
                side: [
                    {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                    for r in near[near["frame"].isin(ids)].to_dict("records")
                ]
                for side, ids in _sides(fr)
            }
            if len(near)
            else {}
        )
    return out


def _sides(fr: pd.DataFrame):
    for side in ("night", "day"):
        yield side, set(fr.loc[fr["side"] == side, "frame"])


def report(args, truth, false, ideal, fr, ms, vetted: pd.DataFrame | None = None) -> dict:
    out: dict = {"ioscan": {}, "ideal_fixed_5": {}, "ideal_same_false_rate": {}, "ioscan_by_range": {}}
    for side, ids in _sides(fr):
        t = truth[truth["frame"].isin(ids)].reset_index(drop=True)
        f = false[false["frame"].isin(ids)]
        n = len(ids)
        out["ioscan"][side] = summarise(t, f, n, "found", "flagged_cosmic_ray", "found_kept")
        for rname, sel in (("near", fr["range_km"] < NEAR_KM), ("far", fr["range_km"] >= NEAR_KM)):
            rid = ids & set(fr.loc[sel, "frame"])
            tr = t[t["frame"].isin(rid)]
            s = summarise(tr, f[f["frame"].isin(rid)], len(rid), "found")
            out["ioscan_by_range"][f"{side}_{rname}"] = {
                k: s[k] for k in ("frames", "completeness_snr_ge7", "completeness_snr_5_7", "false_per_frame")
            }
        cand = ideal[ideal["frame"].isin(ids)]
        found5, false5 = ideal_at(t, cand, IDEAL_FIXED)
        out["ideal_fixed_5"][side] = summarise(t.assign(found=found5), false5, n, "found")
        out["ideal_fixed_5"][side]["threshold"] = IDEAL_FIXED
        target = out["ioscan"][side]["false_per_frame"]
        for thr in np.arange(IDEAL_FLOOR, 12.0001, 0.05):
            found_t, false_t = ideal_at(t, cand, float(thr))
            if len(false_t) / max(n, 1) <= target:
                break
        out["ideal_same_false_rate"][side] = summarise(t.assign(found=found_t), false_t, n, "found")
        out["ideal_same_false_rate"][side]["threshold"] = round(float(thr), 2)
        if "disk_model" in fr:  # the disk model's use, and completeness on the frames it was used on
            use = fr.loc[fr["frame"].isin(ids), ["frame", "disk_model"]]
            used = set(use.loc[use["disk_model"] == "used", "frame"])
            tu = t[t["frame"].isin(used)]
            out.setdefault("disk_model_frames", {})[side] = {
                **{k: int(v) for k, v in use["disk_model"].value_counts().items()},
                "completeness_snr_ge7_where_used": summarise(
                    tu, f[f["frame"].isin(used)], len(used), "found"
                )["completeness_snr_ge7"]
                if len(used)
                else None,
            }
        if getattr(args, "by_image_limb", False):
            out.setdefault("completeness_snr_ge7_by_image_limb", {})[side] = image_limb_table(t)
        if args.misses:
            out.setdefault("misses_snr_ge7_by_limb_px", {})[side] = miss_table(t)
            out.setdefault("snr_decomposition_snr_ge5", {})[side] = decomposition_table(t)
        if vetted is not None and getattr(args, "vetted", False):
            mine = vetted[vetted["frame"].isin(ids)]
            out.setdefault("vetted_by_test", {})[side] = vetted_table(mine)
            out.setdefault("vetted_true", {})[side] = vetted_true_list(mine)
            out.setdefault("vetted_false_medians", {})[side] = vetted_false_medians(mine)
        if args.list_false:
            cols = ["frame", *FALSE_FEATURES, "kind", "off_disk_flag"]
            out.setdefault("false_detections", {})[side] = [
                {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                for r in f[cols].to_dict("records")
            ]
    med = {k: round(float(np.median(v)), 1) for k, v in ms.items() if v}
    return {
        "frames": {
            "n": int(len(fr)),
            "night": int((fr["side"] == "night").sum()),
            "day": int((fr["side"] == "day").sum()),
            "near_lt_100000_km": int((fr["range_km"] < NEAR_KM).sum()),
            "seed": args.seed,
            "mode": {"I2": "I2 (M band, 128 x 432)", "I1": "I1 (L + M, 256 x 432)"}[args.mode],
            "psf": f"Gaussian sigma 0.8 px x U(1 +- {args.psf_jitter}), elongation {args.elongation}",
            "via_pds3_products": not args.in_memory,
            "detect_settings": list(args.set),
            "hot_spots": int(len(truth)),
        },
        "scenes": "ioscan.simulate.independent (not the project's simulator); detect_frame "
        + ("given the renderer's exact geometry" if getattr(args, "geometry", False) else "with no geometry"),
        "ioscan": out["ioscan"],
        "ideal_fixed_5": out["ideal_fixed_5"],
        "ideal_same_false_rate": out["ideal_same_false_rate"],
        "ioscan_by_range": out["ioscan_by_range"],
        **({"disk_model_frames": out["disk_model_frames"]} if "disk_model_frames" in out else {}),
        **(
            {"completeness_snr_ge7_by_image_limb": out.get("completeness_snr_ge7_by_image_limb", {})}
            if getattr(args, "by_image_limb", False)
            else {}
        ),
        **({"misses_snr_ge7_by_limb_px": out.get("misses_snr_ge7_by_limb_px", {})} if args.misses else {}),
        **({"snr_decomposition_snr_ge5": out.get("snr_decomposition_snr_ge5", {})} if args.misses else {}),
        **({"false_detections": out.get("false_detections", {})} if args.list_false else {}),
        **(
            {k: out.get(k, {}) for k in ("vetted_by_test", "vetted_true", "vetted_false_medians")}
            if getattr(args, "vetted", False)
            else {}
        ),
        "issue_11_reference": ISSUE_11,
        "targets": TARGETS,
        "ms_per_frame_median": med,
    }


# ------------------------------------------------------------------------------------- disk-model gate

#: limb-distance bins (px, from the renderer's limb pixels) of the disk model's gate
GATE_BINS_PX = (0.0, 1.5, 3.0, 5.0, 8.0, 20.0, np.inf)
#: pixels this close (px) to a cosmic-ray hit or a hot spot of ideal S/N ≥ GATE_SOURCE_SNR are left out of
#: the gate's statistics (the model is to leave those to the detection)
GATE_EXCLUDE_PX = 4.0
GATE_SOURCE_SNR = 5.0


def disk_model_residuals(rendered: RenderedFrame, band: str, **fit_kw) -> pd.DataFrame | None:
    """The disk model (:func:`ioscan.detect.disk_model.fit_disk_model`) fitted to a band's NOISY image from
    the limb circle the detection finds in it, against the renderer's noise-free background: one row per
    pixel (``limb_px``: distance to the true limb's pixels, ``inside``, ``z``: (model − truth) / true σ),
    cosmic-ray and hot-spot surroundings left out; None when no limb is seen."""
    from ioscan.detect.disk_model import fit_disk_model
    from ioscan.detect.limb import find_limb

    b = rendered.bands[band]
    image = b.image.astype(np.float64)
    sat = rendered.saturation_w_m2_sr
    saturated = b.image >= sat - 1e-6 * abs(sat)
    circle = find_limb(b.image, 0.8, saturated)
    if circle is None:
        return None
    t0 = time.process_time()
    fit = fit_disk_model(
        image, circle.center_sample, circle.center_line, circle.radius_px, mask=saturated, **fit_kw
    )
    cpu_s = time.process_time() - t0
    zones = zone_maps(rendered, band)
    t = rendered.truth[rendered.truth["band"] == band]
    t = t[t["snr_ideal"] >= GATE_SOURCE_SNR]
    near = np.zeros(image.shape, bool)
    near[
        np.clip(np.rint(t["line"]).astype(int) - b.line_offset, 0, image.shape[0] - 1),
        np.clip(np.rint(t["sample"]).astype(int), 0, image.shape[1] - 1),
    ] = True
    dn = ndimage.distance_transform_edt(~near) if near.any() else np.full(image.shape, np.inf)
    keep = (zones["cr"] > GATE_EXCLUDE_PX) & (dn > GATE_EXCLUDE_PX) & ~saturated
    z = (fit.model - b.background) / b.sigma
    return pd.DataFrame(
        {
            "limb_px": zones["limb"][keep],
            "inside": zones["disk"][keep],
            "z": z[keep],
            "cpu_s": cpu_s,
            "radius_px": fit.radius_px,
            "blur_sigma_px": fit.blur_sigma_px,
            "chi2_dof": fit.chi2_dof,
            "limb_chi2": fit.limb_chi2,
            "limb_clipped": fit.limb_clipped_fraction,
            "trusted": fit.trusted(),
        }
    )


def disk_model_gate(args, **fit_kw) -> dict:
    """The disk model's residual against the truth per limb-distance bin, inside and outside the disk, over
    the sunlit frames of a run: median |z| and rms z (z = (model − true background) / true σ)."""
    rng = np.random.default_rng(args.seed)
    rows, per_frame = [], []
    for i in range(args.frames):
        params = scene_of(args, rng, i)
        if i % 2:
            continue
        rendered = render_scene(params)
        if rendered.illumination != "day":
            continue
        for band in rendered.bands:
            r = disk_model_residuals(rendered, band, **fit_kw)
            if r is None:
                continue
            rows.append(r.assign(frame=i))
            per_frame.append(
                {
                    "frame": i,
                    "cpu_s": round(float(r["cpu_s"].iloc[0]), 2),
                    "radius_px": round(float(r["radius_px"].iloc[0]), 1),
                    "blur_sigma_px": round(float(r["blur_sigma_px"].iloc[0]), 3),
                    "chi2_dof": round(float(r["chi2_dof"].iloc[0]), 2),
                    "limb_chi2": round(float(r["limb_chi2"].iloc[0]), 2),
                    "limb_clipped": round(float(r["limb_clipped"].iloc[0]), 3),
                    "trusted": bool(r["trusted"].iloc[0]),
                    "rms_z_within_8px": round(float(np.sqrt(np.mean(r.loc[r["limb_px"] <= 8, "z"] ** 2))), 2),
                }
            )
    df = pd.concat(rows, ignore_index=True)
    out: dict = {"frames": len(per_frame), "fit": {k: str(v) for k, v in fit_kw.items()}}
    bins = pd.cut(df["limb_px"], GATE_BINS_PX, include_lowest=True)
    for (b, inside), g in df.groupby([bins, df["inside"]], observed=True):
        key = f"{'in' if inside else 'out'}_{b.left:g}_to_{b.right:g}_px"
        z = g["z"].to_numpy()
        out[key] = {
            "n": int(len(z)),
            "median_abs_z": round(float(np.median(np.abs(z))), 3),
            "rms_z": round(float(np.sqrt(np.mean(z**2))), 3),
            "median_z": round(float(np.median(z)), 3),
        }
    out["cpu_s_median"] = round(float(np.median([f["cpu_s"] for f in per_frame])), 2)
    out["per_frame"] = per_frame
    return out


# ------------------------------------------------------------------------------------ the image's limb circle

#: a limb circle this far (px) from the true one in radius or centre is wrong
LIMB_ERROR_PX = 2.0


def true_limb_circle(rendered: RenderedFrame, band: str) -> tuple[float, float, float] | None:
    """The true disk's centre (sample, band line) and the radius of its outline in the frame, px: the centre
    from the renderer's view; the radius the median over the pixels the limb crosses of their distance from
    it plus (covered fraction − ½) (a pixel half covered straddles the outline); None without limb pixels."""
    b = rendered.bands[band]
    v = rendered.params.view
    cx, cy = v.center_sample_px, v.center_line_px - b.line_offset
    ii, jj = np.nonzero(b.limb_mask)
    if ii.size == 0:
        return None
    rho = np.hypot(jj - cx, ii - cy) + (b.on_disk_fraction[ii, jj] - 0.5)
    return float(cx), float(cy), float(np.median(rho))


def limb_error_row(
    rendered: RenderedFrame, band: str, psf_sigma_px: float = 0.8, model: bool = False
) -> dict:
    """The limb circle :func:`ioscan.detect.limb.find_limb` sees in a band and the disk model fitted from it
    against the true disk: centre and radius errors (px), the largest error of the circle's limb distance
    at the true limb's pixels within the arc it saw (px), trusted or not (``Limb.trusted``:
    ``region.decides_off_disk`` with the bright pixels beyond it; with ``model``, the disk model's
    ``DiskModelFit.trusted`` and errors), soft or not, and what the frame holds."""
    from ioscan.detect.disk_model import fit_disk_model
    from ioscan.detect.limb import find_limb, known_zone
    from ioscan.detect.region import bright_beyond_circle_px, bright_over_sky, decides_off_disk

    b = rendered.bands[band]
    sat = rendered.saturation_w_m2_sr
    saturated = b.image >= sat - 1e-6 * abs(sat)
    truth = true_limb_circle(rendered, band)
    t = rendered.truth[rendered.truth["band"] == band]
    row: dict = {
        "band": band,
        "true_radius_px": None if truth is None else round(truth[2], 1),
        "limb_pixels": int(b.limb_mask.sum()),
        "disk_fraction_in_frame": round(float(np.mean(b.on_disk_fraction >= 0.5)), 3),
        "saturated_px": int(saturated.sum()),
        "max_snr_ideal": round(float(t["snr_ideal"].max()), 0) if len(t) else 0.0,
        "found": False,
    }
    circle = find_limb(b.image, psf_sigma_px, saturated)
    if circle is None:
        return row
    d = circle.distance_px(b.image.shape)
    beyond = bright_beyond_circle_px(bright_over_sky(b.image, d), d)  # as region.locate_limb counts them
    seen = known_zone(circle, b.image.shape, margin_px=0.0) & b.limb_mask
    row.update(
        found=True,
        radius_px=round(circle.radius_px, 2),
        arc_px=round(circle.arc_px, 1),
        n_points=circle.n_points,
        rms_px=round(circle.rms_px, 3),
        width_px=round(float(np.median(circle.points.width_px)), 2),
        soft=circle.soft,
        trusted=bool(decides_off_disk(circle, beyond)),
        bright_beyond_px=beyond,
        beside_soft=circle.beside_soft,
        limb_offset_max_px=round(float(np.max(np.abs(d[seen]))), 2) if seen.any() else None,
    )
    row.update(off_disk_zone_errors(circle, d, b.on_disk_fraction > 0.0, psf_sigma_px, beyond))
    if truth is not None:
        row["d_radius_px"] = round(circle.radius_px - truth[2], 2)
        row["d_centre_px"] = round(
            float(np.hypot(circle.center_sample - truth[0], circle.center_line - truth[1])), 2
        )
        row["wrong"] = bool(abs(row["d_radius_px"]) > LIMB_ERROR_PX or row["d_centre_px"] > LIMB_ERROR_PX)
    else:
        row["wrong"] = True
    if model and rendered.illumination == "day":
        fit = fit_disk_model(
            b.image.astype(np.float64), circle.center_sample, circle.center_line, circle.radius_px,
            float(np.hypot(psf_sigma_px, np.sqrt(1 / 12))), mask=saturated,
        )  # fmt: skip
        row["model_trusted"] = bool(fit.trusted())
        if truth is not None:
            row["model_d_radius_px"] = round(fit.radius_px - truth[2], 2)
            row["model_d_centre_px"] = round(
                float(np.hypot(fit.center_sample - truth[0], fit.center_line - truth[1])), 2
            )
    return row


def off_disk_zone_errors(
    circle,
    distance_px: np.ndarray,
    true_disk: np.ndarray,
    psf_sigma_px: float,
    bright_beyond_px: int = 0,
) -> dict[str, int]:
    """True-disk pixels (any coverage) a circle's OFF_DISK zone takes (detection's default near-limb distance
    2σ + 1): before (``zone_disk_px_before``: the known zone of a circle trusted by its fit alone), now
    (``zone_disk_px``: ``region.off_disk_zone`` as detection makes it, ``bright_beyond_px`` the image's
    bright pixels beyond the circle, ``region.bright_beyond_circle_px``) and its far part alone
    (``far_disk_px``: ``region.far_off_disk``, sharp circles), and the pixels each zone holds
    (``zone_px_before``, ``zone_px``, ``far_px``)."""
    from ioscan.detect.limb import known_zone
    from ioscan.detect.region import Limb, decides_off_disk, far_off_disk, off_disk_zone

    near = 2 * psf_sigma_px + 1
    known = known_zone(circle, distance_px.shape)
    before = known & bool(decides_off_disk(circle)) & (distance_px < -near)
    trusted = bool(decides_off_disk(circle, bright_beyond_px))
    limb = Limb(
        distance_px,
        False,
        None,
        0.0,
        circle=circle,
        known=known,
        trusted=trusted,
        bright_beyond_px=bright_beyond_px,
    )
    now = off_disk_zone(limb, distance_px.shape, near) & (distance_px < -near)
    far = far_off_disk(circle, distance_px, near) if not circle.soft else np.zeros_like(before)
    return {
        "zone_px_before": int(before.sum()),
        "zone_px": int(now.sum()),
        "far_px": int(far.sum()),
        "zone_disk_px_before": int((before & true_disk).sum()),
        "zone_disk_px": int((now & true_disk).sum()),
        "far_disk_px": int((far & true_disk).sum()),
    }


#: true disk radius bins (px) of :func:`image_limb_table`
DISK_RADIUS_BINS_PX = (0.0, 40.0, 100.0, 200.0, np.inf)


def image_limb_status(rendered: RenderedFrame, band: str) -> dict[str, object]:
    """Per band, what limb the detection sees in the image, as :func:`limb_error_row` finds it with the
    instrument model's PSF core (the σ detection gives :func:`ioscan.detect.limb.find_limb`): ``image_limb``
    "none" (no circle), "right" (radius and centre within LIMB_ERROR_PX of the true disk's), "wrong_trusted"
    (off, and trusted to decide OFF_DISK) or "wrong_untrusted"; and the true disk's radius (px, NaN without a
    limb in the band)."""
    row = limb_error_row(rendered, band, psf_sigma_px=psf_used(None, band).core_sigma_px)
    if not row["found"]:
        status = "none"
    elif not row.get("wrong", True):
        status = "right"
    else:
        status = "wrong_trusted" if row.get("trusted") else "wrong_untrusted"
    radius = row["true_radius_px"]
    return {"image_limb": status, "disk_radius_px": np.nan if radius is None else float(radius)}


def image_limb_table(truth: pd.DataFrame) -> dict:
    """Completeness at S/N ≥ 7 (isolated hot spots) within and beyond NEAR_LIMB_PX of the limb, by what limb
    the image shows (:func:`image_limb_status`) and, for a right circle, by the true disk's radius: where the
    day side's misses sit (issue 11). Each cell [sources, completeness]."""
    iso = truth[(truth["neighbour_px"] >= ISOLATED_PX) & (truth["snr_ideal"] >= 7)]
    near = iso["limb_px"].abs() <= NEAR_LIMB_PX

    def cells(sel: pd.Series) -> dict:
        return {
            "frames": int(iso.loc[sel, "frame"].nunique()),
            "within_8px": [int((sel & near).sum()), _frac(iso.loc[sel & near, "found"])],
            "beyond_8px": [int((sel & ~near).sum()), _frac(iso.loc[sel & ~near, "found"])],
        }

    out = {k: cells(iso["image_limb"] == k) for k in ("none", "right", "wrong_trusted", "wrong_untrusted")}
    right = iso["image_limb"] == "right"
    edges = DISK_RADIUS_BINS_PX
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = right & (iso["disk_radius_px"] >= lo) & (iso["disk_radius_px"] < hi)
        out[f"right_disk_radius_{lo:.0f}_{hi:.0f}_px"] = cells(sel)
    return out


def limb_errors(args) -> dict:
    """:func:`limb_error_row` over the frames of a run (rendered only, no detection), and per side the
    frames with a limb circle whose radius or centre is more than LIMB_ERROR_PX off (``wrong``; a short
    arc's circle may be so and still lie on the limb it saw) and those whose limb distance is more than
    LIMB_ERROR_PX off on the true limb within the arc seen (``misplaced``), trusted or not."""
    rng = np.random.default_rng(args.seed)
    rows = []
    for i in range(args.frames):
        params = scene_of(args, rng, i)
        if args.side != "both" and (i % 2 == 0) != (args.side == "day"):
            continue
        rendered = render_scene(params)
        for band in rendered.bands:
            row = limb_error_row(rendered, band, model=args.limb_errors_model)
            rows.append(dict(row, frame=i, side=rendered.illumination))
    df = pd.DataFrame(rows)
    for col in ("wrong", "trusted", "limb_offset_max_px"):  # (no limb found in any frame: no such column)
        if col not in df:
            df[col] = np.nan
    out: dict = {}
    for side, g in df.groupby("side"):
        f = g[g["found"]]
        s = {"frames": int(len(g)), "limb_found": int(len(f))}
        if len(f):
            wrong = f["wrong"].astype(bool)
            tr = f["trusted"].astype(bool)
            mis = f["limb_offset_max_px"].fillna(0.0) > LIMB_ERROR_PX
            s.update(
                wrong=int(wrong.sum()),
                wrong_fraction_of_found=round(float(wrong.mean()), 3),
                wrong_trusted=int((wrong & tr).sum()),
                wrong_not_trusted=int((wrong & ~tr).sum()),
                misplaced=int(mis.sum()),
                misplaced_trusted=int((mis & tr).sum()),
                right_trusted=int((~wrong & tr).sum()),
            )
            for col in ("zone_px", "zone_disk_px", "far_px", "far_disk_px"):
                for suffix in ("", "_before") if col.startswith("zone") else ("",):
                    v = f[col + suffix].fillna(0)
                    s[col + suffix] = int(v.sum())
                    if "disk" in col:
                        s[f"frames_{col}{suffix}"] = int((v > 0).sum())
            if "model_trusted" in f:
                mt = f["model_trusted"].eq(True)
                s.update(
                    wrong_model_trusted=int((wrong & mt).sum()),
                    misplaced_model_trusted=int((mis & mt).sum()),
                    right_model_trusted=int((~wrong & mt).sum()),
                )
        out[side] = s
    out["frames_found"] = {
        side: sorted(int(i) for i in g.loc[g["found"], "frame"]) for side, g in df.groupby("side")
    }
    out["wrong_frames"] = [
        {k: v for k, v in r.items() if not (isinstance(v, float) and np.isnan(v))}
        for r in df[df["found"] & df["wrong"].eq(True)].to_dict("records")
    ]
    if "zone_disk_px" in df:  # circles whose OFF_DISK zone takes true-disk pixels, now or before
        hit = df["found"] & (df["zone_disk_px"].fillna(0).gt(0) | df["zone_disk_px_before"].fillna(0).gt(0))
        keys = ("frame", "side", "arc_px", "soft", "trusted", "beside_soft", "width_px", "d_radius_px")
        out["zone_disk_frames"] = [
            {k: r[k] for k in (*keys, "zone_disk_px_before", "zone_disk_px", "far_disk_px")}
            for r in df[hit].to_dict("records")
        ]
    return out


#: limb-distance bins (px, d > 0 on the disk) of :func:`limb_zone_scale`
ZONE_BINS_PX = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0, 20.0, 1e9)
#: pixels this close (px) to a true hot spot are left out of the zone's scatter and structure
ZONE_SOURCE_PX = 5.0


def limb_zone_scale_rows(rendered: RenderedFrame, band: str, config: DetectConfig | None) -> list[dict]:
    """Per limb-distance bin (:data:`ZONE_BINS_PX`, the detection's corrected limb distance) of one band: the
    detection's local scale (median of ``BandModel.scale``), the robust scatter (1.4826 × median |·|) of its
    white-noise S/N (``snr × scale``) and of its S/N, and the rms of the background's structure in units of
    the true pixel noise (image − background − true noise − true hot spots: what the background model
    leaves), the pixels within :data:`ZONE_SOURCE_PX` of a true hot spot and those not searched left out."""
    res = detect_frame(in_memory_frame(rendered), config=config, keep_models=True)
    br = res.bands.get(band)
    if br is None or br.model is None or br.model.limb_distance_px is None:
        return []
    m, (l0, s0) = br.model, br.offset
    nl, ns = m.snr.shape
    crop = (slice(l0, l0 + nl), slice(s0, s0 + ns))
    rb = rendered.bands[band]
    tb = rendered.truth[rendered.truth["band"] == band]
    src = np.zeros(rb.image.shape)
    rendered.params.psf.add_sources(src, tb["sample"], tb["line"] - rb.line_offset, tb["flux_w_m2_sr"])
    near = np.zeros(rb.image.shape, bool)
    li = np.clip(np.rint(tb["line"].to_numpy() - rb.line_offset).astype(int), 0, near.shape[0] - 1)
    near[li, np.clip(np.rint(tb["sample"].to_numpy()).astype(int), 0, near.shape[1] - 1)] = True
    r = int(np.ceil(ZONE_SOURCE_PX))
    near = ndimage.binary_dilation(near, np.ones((2 * r + 1,) * 2, bool))
    noise = rb.image - rb.background - src
    structure = (rb.image[crop] - m.background - noise[crop] - src[crop]) / rb.sigma[crop]
    white = m.snr * m.scale
    d = m.limb_distance_px
    ok = m.usable & ~near[crop] & np.isfinite(structure)
    rows = []
    for lo, hi in zip(ZONE_BINS_PX[:-1], ZONE_BINS_PX[1:], strict=True):
        sel = ok & (d >= lo) & (d < hi)
        if sel.sum() < 30:
            continue
        rows.append(
            {
                "bin": f"{lo:g}_to_{hi:g}_px" if hi < 1e8 else f"gt_{lo:g}_px",
                "pixels": int(sel.sum()),
                "scale": float(np.median(m.scale[sel])),
                "white_scatter": float(MAD_TO_SIGMA * np.median(np.abs(white[sel]))),
                "snr_scatter": float(MAD_TO_SIGMA * np.median(np.abs(m.snr[sel]))),
                "structure_rms": float(np.sqrt(np.mean(structure[sel] ** 2))),
            }
        )
    return rows


def limb_zone_scale(args) -> dict:
    """:func:`limb_zone_scale_rows` over the sunlit frames whose image limb is right (:func:`limb_error_row`:
    a circle found, its limb distance within LIMB_ERROR_PX of the true limb's where it saw it), medians over
    frames per bin; ``frames``: those used."""
    rng = np.random.default_rng(args.seed)
    rows, used = [], []
    for i in range(args.frames):
        params = scene_of(args, rng, i)
        if i % 2 == 1:
            continue
        rendered = render_scene(params)
        for band in rendered.bands:
            le = limb_error_row(rendered, band)
            off = le.get("limb_offset_max_px")
            if not le["found"] or off is None or off > LIMB_ERROR_PX:
                continue
            got = limb_zone_scale_rows(rendered, band, args.detect_config)
            rows += [dict(r, frame=i) for r in got]
            used += [i] if got else []
    df = pd.DataFrame(rows)
    out: dict = {"frames": sorted(set(used))}
    if len(df):
        cols = ["scale", "white_scatter", "snr_scatter", "structure_rms"]
        med = df.groupby("bin", sort=False)[cols].median().round(3)
        out["median_over_frames"] = {b: r.to_dict() for b, r in med.iterrows()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=500, help="frames to render (half day, half night)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--mode", choices=("I2", "I1"), default="I2", help="I2: M band; I1: L + M (bands pooled)")
    ap.add_argument("--psf-jitter", type=float, default=0.0, help="PSF σ scaled by U(1 − f, 1 + f)")
    ap.add_argument("--elongation", type=float, default=1.0, help="σ_line / σ_sample (along track)")
    ap.add_argument(
        "--side", choices=("both", "day", "night"), default="both", help="frames requested on this side only"
    )
    ap.add_argument("--in-memory", action="store_true", help="skip writing/reading PDS3 products")
    ap.add_argument(
        "--geometry",
        action="store_true",
        help="give detection the renderer's own geometry as backplanes (as a JIRAM frame's SPICE geometry)",
    )
    ap.add_argument(
        "--misses", action="store_true", help="why the hot spots of S/N ≥ 7 were missed, by limb distance"
    )
    ap.add_argument(
        "--list-false", action="store_true", help="list every false detection with its features and kind"
    )
    ap.add_argument(
        "--by-image-limb",
        action="store_true",
        help="completeness at S/N ≥ 7 by the image's limb circle (none / right / wrong) and disk radius",
    )
    ap.add_argument(
        "--dump", default=None, help="write the truth, false-detection and frame tables here (pickles)"
    )
    ap.add_argument("--keep-dir", default=None, help="write the products here and keep them")
    ap.add_argument(
        "--vetted",
        action="store_true",
        help="detections each misfit test flagged ARTEFACT, on false positions and on true hot spots",
    )
    ap.add_argument(
        "--near-limb",
        action="store_true",
        help="every catalogue-worthy detection within 5 px of the true limb, true and false, with features",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="detect.KEY=VALUE",
        help="a detection setting, as ioscan's --set (e.g. detect.psf_elongation=false)",
    )
    ap.add_argument(
        "--disk-model-gate",
        action="store_true",
        help="instead: the disk model's residual against the truth by limb distance, sunlit frames",
    )
    ap.add_argument(
        "--limb-errors",
        action="store_true",
        help="instead: the image's limb circle (find_limb, the disk model) against the true disk, per frame",
    )
    ap.add_argument(
        "--limb-errors-model",
        action="store_true",
        help="with --limb-errors: the disk model fitted too (slow)",
    )
    ap.add_argument(
        "--limb-zone-scale",
        action="store_true",
        help="instead: per limb-distance bin on right-limb sunlit frames, the scale, scatter and structure",
    )
    args = ap.parse_args()
    if args.limb_zone_scale:
        from ioscan.settings import Settings

        args.detect_config = Settings.load(None, args.set).detect if args.set else None
        print(json.dumps(limb_zone_scale(args)))
        return
    if args.limb_errors:
        print(json.dumps(limb_errors(args)))
        return
    if args.disk_model_gate:
        print(json.dumps(disk_model_gate(args)))
        return
    from ioscan.settings import Settings

    args.detect_config = Settings.load(None, args.set).detect if args.set else None
    t0 = time.time()
    out = run(args)
    out["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
