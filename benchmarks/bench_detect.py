"""Hot-spot detection benchmark: ioscan vs SEP vs photutils vs the ideal matched filter, at equal false rate.

Frames come from the project's simulator (:mod:`ioscan.simulate`): Io's surface (reflected sunlight with the
albedo pattern and dark paterae, Minnaert limb, terminator) from ``surface_radiance_image`` convolved with the
simulator's PSF, hot spots added with ``GaussianMixturePsf.add_point_sources`` at known fluxes (matched-filter
SNR drawn log-uniformly in 2.5–30, on the disk at emission < 80°), then the simulator's detector model
(JIRAM ``apply_detector``: down-track column reflections, cosmic rays, shot + read noise, full-well clip; AO:
sky + photon + read noise as ``render_ao`` does). The noiseless surface is rendered once per configuration and
cached; every frame gets new hot spots, noise and cosmic rays.

Configurations: JIRAM I1 (L+M bands, 432×128 each = one 432×256 frame) day/night × near (60 000 km)/far
(250 000 km), and 1024×1024 Keck/NIRC2-like Lp frames day/night.

A hot spot's SNR is the matched-filter SNR √Σ(noiseless spot pixels)² / σ (per-pixel noise at its
background). Each method runs once at a low threshold; every detection carries a score (ioscan: its
calibrated matched-filter S/N; SEP and photutils: the peak of their own background-subtracted, PSF-core
matched-filtered S/N image over the object's segment; ideal: the S/N peak). Per method and instrument, ONE
threshold is chosen: the lowest with ≤ 0.05 false detections per frame over all frames of that instrument
(all configurations pooled); completeness and false rates are then reported per configuration at that
threshold. A detection is true within 1.5 px (JIRAM) / 3 px (AO) of an injected spot (each spot matched
once); everything else in the search region is false (cosmic rays, limb, albedo, noise), except detections
ioscan flags COSMIC_RAY or ARTEFACT (kept in its database but never hot spots: not catalogue entries, neither
found nor false). All methods get the same search mask (limb distance > −margin) and PSF knowledge.

Peers: SEP 1.4 (``sep.Background`` 16 px boxes, 3×3 filter; ``sep.extract`` with per-pixel rms, PSF-core
matched filter, minarea 1, deblend_cont 0.005; ``sep_no_deblend``: deblend_cont 1) and photutils 3.0
(``Background2D`` 16 px, 3×3, MedianBackground; PSF-core matched-filter S/N; ``detect_sources`` npixels 2 +
``deblend_sources``). Neither rejects cosmic rays, so JIRAM also has, clearly labelled:
``sep_plus_ioscan_cr_flags`` / ``photutils_plus_ioscan_cr_flags`` (the peer's detections minus those within
1.5 px of a detection ioscan flags COSMIC_RAY or ARTEFACT — ioscan's flagging lent to the peer) and
``sep_oracle_cr_mask`` (SEP with the TRUE cosmic-ray pixels masked: information no real method has). What a
user of SEP or photutils would do about cosmic rays is also run: ``sep_lacosmic_objlim*`` /
``photutils_lacosmic_objlim*`` mask the pixels astroscrappy 1.3 (L.A.Cosmic; image in electrons, the
detector's read noise, saturated-star protection off, Gaussian PSF of the core FWHM, the image mirrored 8 px
beyond its edges, where L.A.Cosmic otherwise misses hits) flags, dilated by 1 px, with its default object
limit 5 and with 15 (spares sharp sources more); their time includes astroscrappy's.

On sunlit frames the surface's albedo texture at the PSF scale raises the matched-filter noise (the
``texture_noise_excess_median`` row, from the calibrated local scale on a frame of the surface alone);
``ioscan_completeness_vs_snr_with_clutter`` bins ioscan's completeness (at its pooled threshold) by the S/N
against photon noise and that clutter together (true S/N ÷ the excess at each hot spot).

Close pairs (``jiram.close_pairs``): JIRAM frames (night near/far, day near) with 6 pairs per band — a bright
hot spot (SNR 50–1,000) and a faint one (SNR 4–30) 2–8 px from it — each method at its threshold from the
main run; completeness of the faint members per separation bin, with ioscan's second pass
(:mod:`ioscan.detect.second_pass`) on and off and the ideal filter told the bright members.

Surfaces are rendered on a frame padded by 12 px and cropped, so the frame edges see the surface beyond them.

Speed (issue 15: detection ≤ 3× bare SEP per frame): on every JIRAM frame ioscan's ``detect_frame`` and SEP
(``sep.Background`` + ``sep.extract``, as above) run one after the other, the order alternating from frame to
frame so that both see the same machine load; ``detect_speed_vs_sep`` gives the median of the per-frame
ratios (and the ratio of the medians). With ``--against REV`` the detection package as it was at git
revision REV (``benchmarks/against.py``) runs on every frame too, in turn with the other two: its time, its
ratio to SEP, new ÷ old, and on how many frames the two gave bit-identical detections.
``detect_step_profile``: each named step's share of ``detect_frame``'s time under cProfile on the first 3
frames of each JIRAM configuration (background, limb, PSF measurement, photometry, …: where to look next);
with ``--against``, ``detect_step_cpu_vs_against``: each step's CPU time in the current and the old
``detect_frame`` run alternately on those frames, and new ÷ old per step.

``numba_kernels_start``: the compiled background loops (:mod:`ioscan.detect.background_kernels`) in
fresh processes sharing an empty ``NUMBA_CACHE_DIR``: the first compiles every kernel (cold cache), the next
ones load them (warm cache); CPU seconds of ``import numba``, of importing the kernels and of the first call
of every kernel (``warm_up``), each process alone.

Usage: ``python benchmarks/bench_detect.py [jiram_frames_per_config] [ao_frames_per_config] [--against REV]``
(defaults 50 and 8; ``5 0`` is a quick speed check). Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy import ndimage

from against import config_for
from ioscan.detect import DetectConfig, detect_frame
from ioscan.detect.psf import PsfModel, kernel1d
from ioscan.geometry.label_provider import backplanes_from_label, camera_from_label, pose_from_label
from ioscan.instruments import jiram, nirc2
from ioscan.radiometry.bands import band_response
from ioscan.records import BandImage, DetectionFlag, Frame, LabelGeometry
from ioscan.simulate.psf import ao_psf, jiram_psf
from ioscan.simulate.render_ao import AoDetector
from ioscan.simulate.render_jiram import JiramDetector, apply_detector
from ioscan.simulate.scene import SurfaceModel, surface_radiance_image

SEED = 20240601
FALSE_RATE = 0.05
BINS = [(3, 5), (5, 7), (7, 10), (10, 1e9)]
SURFACE = SurfaceModel(seed=3, contrast=0.35, dark_spots=((10, 210, 4.0), (-20, 240, 6.0), (30, 190, 3.0)))
#: pointing error the detector is told (the scenes' geometry is exact; 0.25 px is the pipeline's floor for a
#: limb-registered frame); the search region of every method is the disk plus 3 PSF σ plus this
POINTING_ERROR_PX = 0.25
PAD = 12  # surface rendered on a padded frame (simulator's zero-padded convolution darkens edges)
METHODS = ("ioscan", "sep", "photutils", "ideal")
JIRAM_METHODS = (
    *METHODS,
    "sep_no_deblend",
    "sep_plus_ioscan_cr_flags",
    "photutils_plus_ioscan_cr_flags",
    "sep_oracle_cr_mask",
)
#: astroscrappy's object limit (contrast of a cosmic ray over the fine structure around it): the default 5 and
#: a higher value that spares sharp point sources more (JIRAM's core FWHM is 1.4 px), both reported
LACOSMIC_OBJLIM = (5.0, 15.0)


def _geom(range_km, sub_lon, sun_lon, centre, scale):
    return LabelGeometry(
        sub_observer_lat_deg=5.0,
        sub_observer_lon_w_deg=sub_lon,
        sub_solar_lat_deg=0.0,
        sub_solar_lon_w_deg=sun_lon,
        range_km=range_km,
        north_pa_deg=15.0,
        pixel_scale_km=scale,
        disk_center_sample=centre[0],
        disk_center_line=centre[1],
    )


def _surface(resp, g, ns, nl, psf, scale=1.0):
    """Noiseless surface radiance, PSF-convolved on a padded frame and cropped (edge workaround)."""
    gp = _geom(
        g.range_km,
        g.sub_observer_lon_w_deg,
        g.sub_solar_lon_w_deg,
        (g.disk_center_sample + PAD, g.disk_center_line + PAD),
        g.pixel_scale_km,
    )
    img = surface_radiance_image(
        resp, camera_from_label(gp, ns + 2 * PAD, nl + 2 * PAD), pose_from_label(gp), SURFACE
    )
    return psf.convolve(img)[PAD:-PAD, PAD:-PAD] / scale


def _inject(rng, bp, n, sigma_of_bg, surface, psf, edge_px, min_sep_px):
    """Hot spots on the visible disk (emission < 80°, ≥ 1 px inside the limb), log-uniform SNR 2.5–30.

    Returns the truth table (sample, line, flux, snr) and the noiseless image of the spots."""
    ok = bp.on_disk & (bp["emission_deg"] < 80) & (bp["limb_distance_px"] > 1.0)
    nl, ns = ok.shape
    ok[:edge_px] = ok[-edge_px:] = False
    ok[:, :edge_px] = ok[:, -edge_px:] = False
    ii, jj = np.nonzero(ok)
    s, ln = [], []
    for k in rng.permutation(ii.size)[: 20 * n]:
        x, y = jj[k] + rng.uniform(-0.5, 0.5), ii[k] + rng.uniform(-0.5, 0.5)
        if all(np.hypot(x - a, y - b) >= min_sep_px for a, b in zip(s, ln, strict=True)):
            s.append(x)
            ln.append(y)
        if len(s) == n:
            break
    s, ln = np.array(s), np.array(ln)
    img = np.zeros((nl, ns))
    if s.size == 0:
        return pd.DataFrame(columns=["sample", "line", "flux", "snr"]), img
    snr = np.exp(rng.uniform(np.log(2.5), np.log(30.0), s.size))
    _, _, patches = psf.patches(s, ln)
    psq = np.sum(patches**2, axis=(1, 2))
    sig = sigma_of_bg(surface[np.rint(ln).astype(int), np.rint(s).astype(int)])
    flux = snr * sig / np.sqrt(psq)
    psf.add_point_sources(img, s, ln, flux)
    return pd.DataFrame({"sample": s, "line": ln, "flux": flux, "snr": snr}), img


# ---------------------------------------------------------------------------------------------- methods
def _bands(images, meta, instrument):
    unit = "W m-2 sr-1" if instrument == "JIRAM" else "W m-2 sr-1 um-1"
    bands = {}
    for name, img in images.items():
        wl, bw, sat, off = meta[name]
        bands[name] = BandImage(name, img, unit, wl, bw, saturation=sat, line_offset=off)
    return bands


def run_ioscan(images, bps, meta, instrument, cfg, keep_result=False):
    """ioscan's detections per band as (sample, line, score, flux, flagged) and the seconds detect_frame took
    (with ``keep_result``: the records and the FrameDetections)."""
    frame = Frame("bench", instrument, "X", "2024-01-01T00:00:00", 1.0, _bands(images, meta, instrument))
    t0 = time.perf_counter()
    res = detect_frame(frame, bps, config=cfg)
    dt = time.perf_counter() - t0
    out = {name: [] for name in images}
    for d in res.detections:
        off = meta[d.band][3]
        out[d.band].append(
            (
                d.sample,
                d.line - off,
                d.extra["mf_snr"],
                d.net_radiance_sum,
                bool(d.flags & (DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT)),
            )
        )
    return ((out, res) if keep_result else out), dt


def _core_kernel(core_sigma):
    k = kernel1d(core_sigma)
    return np.outer(k, k).astype(np.float32)


def _peak_scores(snr, labels, n, mask):
    """Per segment 1..n: (x, y) centroid of its positive S/N and its S/N peak (the detection score)."""
    idx = np.arange(1, n + 1)
    pos = np.where(mask, 0.0, np.clip(snr, 0.0, None))
    cy_cx = ndimage.center_of_mass(pos, labels, idx)
    peak = ndimage.maximum(np.where(mask, -np.inf, snr), labels, idx)
    at = ndimage.maximum_position(np.where(mask, -np.inf, snr), labels, idx)
    out = []
    for c, p, a in zip(cy_cx, peak, at, strict=True):
        y, x = (c[0], c[1]) if np.all(np.isfinite(c)) else (a[0], a[1])
        out.append((float(x), float(y), float(p)))
    return out


def run_sep(images, masks, core_sigma, box, minarea, deblend_cont=0.005):
    """SEP 1.4: sep.Background (box ``box``, 3×3 median filter) on the masked image; sep.extract on the
    background-subtracted image with the per-pixel background rms as error, the PSF core as matched filter,
    ``minarea`` pixels, deblending at ``deblend_cont``. Score: the object's matched-filter S/N peak."""
    import sep

    kern = _core_kernel(core_sigma)
    knorm = float(np.sqrt(np.sum(kern.astype(float) ** 2)))
    out, found = {}, {}
    t0 = time.perf_counter()
    for name, img in images.items():
        data = np.ascontiguousarray(img, dtype=np.float32)
        mask = masks[name]
        bkg = sep.Background(data, mask=mask, bw=box, bh=box, fw=3, fh=3)
        # masked pixels set to the background: SEP's filter would otherwise spread them into their neighbours
        sub = np.where(mask, np.float32(0.0), data - bkg.back())
        rms = bkg.rms()
        objs, seg = sep.extract(
            sub,
            2.0,
            err=rms,
            mask=mask,
            minarea=minarea,
            filter_kernel=kern,
            filter_type="matched",
            deblend_nthresh=32,
            deblend_cont=deblend_cont,
            clean=False,
            segmentation_map=True,
        )
        found[name] = (objs, seg, sub, rms)
    dt = time.perf_counter() - t0
    for name, (objs, seg, sub, rms) in found.items():  # scores (not timed)
        sub = np.where(masks[name], 0.0, sub.astype(float))  # masked pixels do not feed the score
        snr = ndimage.correlate(sub, kern.astype(float), mode="constant") / (rms * knorm)
        with np.errstate(invalid="ignore", divide="ignore"):
            sc = _peak_scores(snr, seg, len(objs), masks[name])
        out[name] = [
            (float(o["x"]), float(o["y"]), s[2], float(o["flux"]), False)
            for o, s in zip(objs, sc, strict=True)
        ]
    return out, dt


def run_photutils(images, masks, core_sigma, box):
    """photutils 3.0: Background2D (box ``box``, 3×3 filter, MedianBackground), the image correlated with the
    PSF core and divided by the background rms × ‖kernel‖ (matched-filter S/N), detect_sources (npixels=2)
    + deblend_sources. Score: the segment's S/N peak; position: its S/N-weighted centroid."""
    from photutils.background import Background2D, MedianBackground
    from photutils.segmentation import deblend_sources, detect_sources

    kern = _core_kernel(core_sigma).astype(float)
    ksq = float(np.sqrt(np.sum(kern**2)))
    out = {}
    t0 = time.perf_counter()
    for name, img in images.items():
        mask = masks[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bkg = Background2D(
                img, (box, box), filter_size=(3, 3), mask=mask, bkg_estimator=MedianBackground()
            )
            sub = np.where(mask, 0.0, img - bkg.background)
            snr = ndimage.correlate(sub, kern, mode="constant") / (bkg.background_rms * ksq)
            snr[mask] = 0
            seg = detect_sources(snr, 2.0, npixels=2, mask=mask)
            if seg is not None:
                seg = deblend_sources(snr, seg, npixels=2, nlevels=32, contrast=0.005, progress_bar=False)
        rows = []
        if seg is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                scores = _peak_scores(snr, seg.data, int(seg.data.max()), mask)
            for x, y, p in scores:
                rows.append((x, y, p, 0.0, False))
        out[name] = rows
    return out, time.perf_counter() - t0


def lacosmic_masks(images, masks, gains, read_noise_e, psf_fwhm_px, objlim):
    """astroscrappy 1.3 (L.A.Cosmic): cosmic-ray masks of every band, the image given in electrons (gain),
    the detector's read noise, a Gaussian PSF of the frame's FWHM. Returns (masks, seconds)."""
    import astroscrappy

    out = {}
    t0 = time.perf_counter()
    pad = 8  # L.A.Cosmic misses hits on the outermost lines: the image is mirrored beyond its edges first
    for name, img in images.items():
        crm, _ = astroscrappy.detect_cosmics(
            np.ascontiguousarray(np.pad(img, pad, mode="reflect"), dtype=np.float32),
            inmask=np.pad(masks[name], pad, mode="reflect"),
            sigclip=4.5,
            sigfrac=0.3,
            objlim=objlim,
            gain=gains[name],
            readnoise=read_noise_e,
            # saturated-star protection off: with the detector's full well it let bright hits through
            # (S/N > 2,000 left on night frames); the injected hot spots never saturate
            satlevel=1e30,
            niter=2,
            psfmodel="gauss",
            psffwhm=psf_fwhm_px,
            psfsize=7,
            sepmed=True,
        )
        out[name] = masks[name] | ndimage.binary_dilation(crm[pad:-pad, pad:-pad])
    return out, time.perf_counter() - t0


def with_ioscan_cr_flags(rows, ios_rows, radius=1.5):
    """A peer's detections minus those within ``radius`` px of an ioscan detection flagged COSMIC_RAY or
    ARTEFACT: the peer helped by ioscan's flagging (a separately labelled row, not the peer as it is)."""
    crs = [(d[0], d[1]) for d in ios_rows if d[4]]
    if not crs:
        return rows
    c = np.array(crs)
    return [r for r in rows if np.min(np.hypot(c[:, 0] - r[0], c[:, 1] - r[1])) > radius]


def _separable_mf2(var, psf):
    """Σ P²·var around every pixel (P² of a mixture is a sum of separable products)."""
    out = np.zeros_like(var)
    ks = [kernel1d(s) for s in psf.sigmas_px]
    for i, wi in enumerate(psf.weights):
        for j, wj in enumerate(psf.weights):
            a, b = ks[i], ks[j]
            n = max(a.size, b.size)
            a = np.pad(a, (n - a.size) // 2)
            b = np.pad(b, (n - b.size) // 2)
            k = a * b
            out += (
                wi
                * wj
                * ndimage.correlate1d(
                    ndimage.correlate1d(var, k, axis=0, mode="constant"), k, axis=1, mode="constant"
                )
            )
    return out


def run_ideal(resid, sigma, mask, psf, box):
    """Known PSF, background and noise, no artefacts: S = Σ P r / √(Σ P² σ²); local maxima in the mask."""
    sl = box
    r, s2, m = resid[sl], sigma[sl] ** 2, mask[sl]
    snr = PsfModel(psf.weights, psf.sigmas_px).correlate(r) / np.sqrt(_separable_mf2(s2, psf))
    snr[m] = -np.inf
    mx = ndimage.maximum_filter(snr, 3)
    ly, sx = np.nonzero((snr == mx) & (snr > 2.0))
    l0, s0 = sl[0].start, sl[1].start
    return [(float(x + s0), float(y + l0), float(snr[y, x]), 0.0, False) for y, x in zip(ly, sx, strict=True)]


def _box_of(mask_keep, pad):
    rows = np.flatnonzero(mask_keep.any(axis=1))
    cols = np.flatnonzero(mask_keep.any(axis=0))
    nl, ns = mask_keep.shape
    return (
        slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, nl)),
        slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, ns)),
    )


# ---------------------------------------------------------------------------------------------- scoring
def match(dets, truth, radius):
    """Per detection: index of the matched truth or −1 (each truth matched once, highest score first)."""
    idx = np.full(len(dets), -1)
    if not len(dets) or not len(truth):
        return idx
    used = set()
    ts, tl = truth["sample"].to_numpy(), truth["line"].to_numpy()
    for i in np.argsort([-d[2] for d in dets]):
        d = np.hypot(ts - dets[i][0], tl - dets[i][1])
        for j in np.argsort(d):
            if d[j] > radius:
                break
            if j not in used:
                used.add(j)
                idx[i] = j
                break
    return idx


def threshold_for(records, n_frames):
    """Lowest score threshold with ≤ FALSE_RATE false detections per frame over ``records``."""
    false = []
    for dets, truth, radius, _ in records:
        for d, j in zip(dets, match(dets, truth, radius), strict=True):
            if j < 0 and not d[4]:
                false.append(d[2])
    allowed = int(np.floor(FALSE_RATE * n_frames))
    sf = np.sort(false)[::-1]
    return float(np.nextafter(sf[allowed], np.inf)) if len(sf) > allowed else 0.0


def evaluate(records, thr):
    """Completeness per SNR bin, false detections per frame, position and flux errors at threshold ``thr``."""
    n_false, frames = 0, set()
    found_all, snr_all, pos_err, flux_err = [], [], [], []
    for dets, truth, radius, frame_id in records:
        frames.add(frame_id)
        m = match([d for d in dets if d[2] >= thr and not d[4]], truth, radius)
        kept = [d for d in dets if d[2] >= thr and not d[4]]
        found = np.zeros(len(truth), bool)
        for d, j in zip(kept, m, strict=True):
            if j < 0:
                n_false += 1
                continue
            found[j] = True
            pos_err.append(np.hypot(d[0] - truth["sample"].iloc[j], d[1] - truth["line"].iloc[j]))
            if d[3] != 0:
                flux_err.append(abs(d[3] / truth["flux"].iloc[j] - 1))
        found_all.extend(found)
        snr_all.extend(truth["snr"].to_numpy())
    found_all, snr_all = np.array(found_all, bool), np.array(snr_all)
    comp = {}
    for lo, hi in BINS:
        sel = (snr_all >= lo) & (snr_all < hi)
        key = f"{lo}-{hi}" if hi < 1e8 else f">={lo}"
        comp[key] = round(float(found_all[sel].mean()), 3) if sel.any() else None
    return {
        "false_per_frame": round(n_false / max(len(frames), 1), 3),
        "n_frames": len(frames),
        "completeness": comp,
        "median_position_error_px": round(float(np.median(pos_err)), 3) if pos_err else None,
        "median_flux_error_pct": round(100 * float(np.median(flux_err)), 1) if flux_err else None,
    }


def clutter_completeness(records, thr) -> dict:
    """Completeness per bin of the S/N against photon noise and surface clutter together (the true S/N ÷ the
    texture excess at each hot spot), per configuration, at threshold ``thr``: on sunlit frames whose albedo
    has structure at the PSF scale, what a detector can be asked for."""
    out = {}
    for cfg in sorted({r[3][0] for r in records}):
        found_all, snr_all = [], []
        for dets, truth, radius, frame_id in records:
            if frame_id[0] != cfg or "snr_with_clutter" not in truth:
                continue
            kept = [d for d in dets if d[2] >= thr and not d[4]]
            m = match(kept, truth, radius)
            found = np.zeros(len(truth), bool)
            found[m[m >= 0]] = True
            found_all.extend(found)
            snr_all.extend(truth["snr_with_clutter"].to_numpy())
        found_all, snr_all = np.array(found_all, bool), np.array(snr_all)
        comp = {}
        for lo, hi in BINS:
            sel = (snr_all >= lo) & (snr_all < hi)
            key = f"{lo}-{hi}" if hi < 1e8 else f">={lo}"
            comp[key] = round(float(found_all[sel].mean()), 3) if sel.any() else None
            comp[f"n_{key}"] = int(sel.sum())
        out[cfg] = comp
    return out


def summarise(recs, n_frames):
    """Threshold per method (all configurations of an instrument pooled), metrics pooled and per config.

    Each configuration also gets, for context only, ``own_threshold`` (the lowest threshold with ≤ 0.05 false
    detections per frame in that configuration alone, i.e. tuned on its truth) and the completeness there."""
    out = {}
    for m, rows in recs.items():
        thr = threshold_for(rows, n_frames)
        res = {"threshold": round(thr, 2), "all": evaluate(rows, thr)}
        for cfg in sorted({r[3][0] for r in rows}):
            sub = [r for r in rows if r[3][0] == cfg]
            res[cfg] = evaluate(sub, thr)
            own = threshold_for(sub, len({r[3] for r in sub}))
            res[cfg]["own_threshold"] = round(own, 2)
            res[cfg]["completeness_at_own_threshold"] = evaluate(sub, own)["completeness"]
        out[m] = res
    return out


# ---------------------------------------------------------------------------------------------- scenes
JIRAM_CONFIGS = [  # name, range km, sub-solar lon °W, L-band disk centre (sample, line)
    ("day_near", 60000.0, 210.0, (216.0, 200.0)),
    ("day_far", 250000.0, 210.0, (216.0, 64.0)),
    ("night_near", 60000.0, 20.0, (216.0, 200.0)),
    ("night_far", 250000.0, 20.0, (216.0, 64.0)),
]


def texture_excess_map(band: BandImage, bp, instrument, cfg) -> np.ndarray | None:
    """Factor by which the texture (and limb) of the surface raises the matched-filter noise above the photon
    + read noise at every pixel (the calibrated local scale on a frame of the surface alone; 1 outside the
    analysed crop), or None."""
    from ioscan.detect import detect_band

    res = detect_band(band, bp, instrument=instrument, config=cfg, keep_model=True)
    if res.model is None:
        return None
    out = np.ones(bp.shape)
    l0, s0 = res.offset
    nl, ns = res.model.scale.shape
    out[l0 : l0 + nl, s0 : s0 + ns] = res.model.scale
    return out


def texture_excess(band: BandImage, bp, instrument, cfg):
    """Median of :func:`texture_excess_map` over the pixels where hot spots are injected: a hot spot of true
    SNR s appears at about s × the filter efficiency ÷ this."""
    m = texture_excess_map(band, bp, instrument, cfg)
    if m is None:
        return None
    ok = bp.on_disk & (bp["emission_deg"] < 80) & (bp["limb_distance_px"] > 1.0)
    return round(float(np.median(m[ok])), 2) if ok.any() else None


def _jiram_texture_excess(b, surf, bp, meta_b, det, exposure, cfg):
    """(median excess, excess map) of one band of a configuration."""
    img, _ = apply_detector(b, surf, exposure, det, np.random.default_rng(SEED + 1))  # own generator
    wl, bw, sat, _ = meta_b
    band = BandImage(b, img, "W m-2 sr-1", wl, bw, saturation=sat)
    m = texture_excess_map(band, bp, "JIRAM", cfg)
    ok = bp.on_disk & (bp["emission_deg"] < 80) & (bp["limb_distance_px"] > 1.0)
    med = round(float(np.median(m[ok])), 2) if m is not None and ok.any() else None
    return med, (np.ones(bp.shape) if m is None else m)


def _band_meta(det, exposure):
    """band → (centre µm, width µm, saturation, line offset in the I1 product) of JIRAM's L and M."""
    return {
        b: (
            jiram.BANDS[b].center_um,
            jiram.BANDS[b].bandwidth_um,
            det.saturation_w_m2_sr(b, exposure),
            0 if b == "L" else 128,
        )
        for b in ("L", "M")
    }


def _jiram_scene(name_range_sun_centre, psf, margin):
    """Backplanes, noiseless surface, search masks and their boxes of the two I1 bands of one configuration
    (the M band's disk centre 60 lines above the L band's)."""
    _, rng_km, sun_lon, centre = name_range_sun_centre
    scale = rng_km * jiram.IFOV_RAD
    geoms = {
        "L": _geom(rng_km, 200.0, sun_lon, centre, scale),
        "M": _geom(rng_km, 200.0, sun_lon, (centre[0], centre[1] - 60.0), scale),
    }
    bps = {b: backplanes_from_label(g, 432, 128) for b, g in geoms.items()}
    surf = {b: _surface(band_response("JIRAM", b), g, 432, 128, psf) for b, g in geoms.items()}
    masks = {b: ~(bps[b]["limb_distance_px"] > -margin) for b in bps}
    boxes = {b: _box_of(~masks[b], 8) for b in bps}
    return bps, surf, masks, boxes


def _hit_mask(hits, shape, mask):
    """``mask`` or the pixels of the detector's cosmic-ray hits (dilated by 1 px)."""
    crm = np.zeros(shape, bool)
    for ln, sm, _ in hits:
        crm[ln, sm] = True
    return mask | ndimage.binary_dilation(crm)


#: ``--against REV``: ioscan's detection package as it was at that git revision (None: not run)
AGAINST = None


def _against_records(images, bps, meta, cfg):
    """ioscan at ``--against REV`` on the same frame: (its detections as (band, fields), seconds)."""
    from importlib import import_module

    det = import_module(AGAINST.__name__ + ".detect")
    frame = Frame("bench", "JIRAM", "X", "2024-01-01T00:00:00", 1.0, _bands(images, meta, "JIRAM"))
    t0 = time.perf_counter()
    res = det.detect_frame(frame, bps, config=config_for(AGAINST, cfg))
    return res, time.perf_counter() - t0


def _fields(d) -> tuple:
    """What must not change between revisions: position, errors, flux, S/N, flags and the fit's numbers."""
    x = d.extra
    return (d.band, d.sample, d.line, d.sample_err_px, d.line_err_px, d.snr, d.net_radiance_sum,
            d.net_radiance_sum_err, d.background, d.peak, d.n_pixels, d.flags,
            x["mf_snr"], x["chi2_dof"], x["spike_dchi2"])  # fmt: skip


def timed_ioscan_and_sep(images, bps, meta, cfg, masks, core, timing, k):
    """ioscan's detect_frame and SEP on one frame, the order alternating from frame to frame (both see the
    same machine load), and with ``--against`` the old revision's detect_frame too (its time; whether its
    detections equal the current ones bit for bit). Returns (ioscan's records, SEP's)."""
    runs = ["ioscan", "sep"] + (["against"] if AGAINST is not None else [])
    runs = runs[k % len(runs) :] + runs[: k % len(runs)]
    got = {}
    for name in runs:
        if name == "ioscan":
            got[name], dt = run_ioscan(images, bps, meta, "JIRAM", cfg, keep_result=True)
        elif name == "sep":
            got[name], dt = run_sep(images, masks, core, 16, 1)
        else:
            got[name], dt = _against_records(images, bps, meta, cfg)
        timing[f"{name}_jiram"].append(dt)
    out, res = got["ioscan"]
    if AGAINST is not None:
        same = [repr(_fields(a)) for a in res.detections] == [
            repr(_fields(b)) for b in got["against"].detections
        ]  # repr: NaN equals NaN, and -0.0 is not 0.0
        timing["against_identical"].append(bool(same))
        timing["against_change_sigma"].append(_change_in_sigma(res.detections, got["against"].detections))
    return out, got["sep"]


def _change_in_sigma(new, old, radius_px: float = 0.5) -> tuple[float, float, int]:
    """The largest change of a detection's flux and of its position (sample or line) from ``old``'s, each
    over ``old``'s stated 1σ error, the detections paired in the same band within ``radius_px``; and how
    many of either had no partner."""
    worst_flux, worst_pos, unpaired = 0.0, 0.0, 0
    for band in {d.band for d in (*new, *old)}:
        a = [d for d in new if d.band == band]
        b = [d for d in old if d.band == band]
        used = set()
        for d in a:
            dist = [np.hypot(d.sample - e.sample, d.line - e.line) for e in b]
            k = int(np.argmin(dist)) if dist else -1
            if k < 0 or dist[k] > radius_px or k in used:
                unpaired += 1
                continue
            used.add(k)
            e = b[k]
            with np.errstate(invalid="ignore", divide="ignore"):
                df = abs(d.net_radiance_sum - e.net_radiance_sum) / e.net_radiance_sum_err
                dp = max(abs(d.sample - e.sample) / e.sample_err_px, abs(d.line - e.line) / e.line_err_px)
            worst_flux = max(worst_flux, float(np.nan_to_num(df)))
            worst_pos = max(worst_pos, float(np.nan_to_num(dp)))
        unpaired += len(b) - len(used)
    return worst_flux, worst_pos, unpaired


#: JIRAM frames kept for :func:`step_profile`: (configuration, images, backplanes, meta, settings), the first
#: few of each configuration
PROFILE_FRAMES: list = []
PROFILE_FRAMES_PER_CONFIG = 3
#: detection's named steps (functions called by ``detect_band`` and its first pass) in the profile
STEPS = (
    "mask_pixels", "remove_column_streaks", "laplacian_noise", "locate_limb", "_psf_in_use",
    "_background_args", "estimate_background", "find_peaks", "fit_sources", "place_saturated", "spike_test",
    "search_again", "source_flags", "fill_flux_err", "_flag_background_misfits",
)  # fmt: skip


def step_profile() -> dict:
    """Where ``detect_frame``'s time goes on the kept JIRAM frames (the first few of each configuration): each
    named step's share of the total under cProfile (its cumulative time as called by ``detect_band`` or its
    first pass; the profiler's overhead inflates many small calls, so these are shares, not timings)."""
    import cProfile
    import pstats

    frames = PROFILE_FRAMES
    if not frames:
        return {}
    pr = cProfile.Profile()
    pr.enable()
    for _, images, bps, meta, cfg in frames:
        detect_frame(Frame("bench", "JIRAM", "X", "2024-01-01T00:00:00", 1.0, _bands(images, meta, "JIRAM")),
                     bps, config=cfg)  # fmt: skip
    pr.disable()
    stats = pstats.Stats(pr).stats
    total = sum(v[3] for f, v in stats.items() if f[2] == "detect_frame")
    shares = dict.fromkeys(STEPS, 0.0)
    for (_, _, name), (_, _, _, _, callers) in stats.items():
        if name in shares:
            shares[name] += sum(c[3] for f, c in callers.items() if f[2] in ("detect_band", "_first_pass"))
    out = {k: round(v / total, 3) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}
    out["other"] = round(1.0 - sum(out.values()), 3)
    return {"frames": len(frames), "share_of_detect_frame": out}


#: steps timed old and new by :func:`step_cpu_vs_against`: functions ``detect_band`` and its first pass call
#: by module name (the steps that are closures inside ``detect_band`` are not reached)
CPU_STEPS = (
    "locate_limb", "_measure_psf", "estimate_background", "find_peaks", "fit_sources", "fill_flux_err",
    "remove_column_streaks", "laplacian_noise", "search_again",
)  # fmt: skip


def step_cpu_vs_against(rounds: int = 2) -> dict:
    """With ``--against``: each step's CPU time (``time.process_time``) in the current and the old
    ``detect_frame``, the two run alternately frame by frame on the kept JIRAM frames (``rounds`` times), and
    new ÷ old per step and for the whole of ``detect_frame`` (ratios that do not depend on the machine's
    load). The steps are wrapped in ``detect.band``'s namespace of each package and restored after."""
    if AGAINST is None or not PROFILE_FRAMES:
        return {}
    from importlib import import_module

    bands = {
        "new": import_module("ioscan.detect.band"),
        "old": import_module(AGAINST.__name__ + ".detect.band"),
    }
    runs = {"new": detect_frame, "old": import_module(AGAINST.__name__ + ".detect").detect_frame}
    spent = {w: dict.fromkeys(CPU_STEPS, 0.0) | {"detect_frame": 0.0} for w in runs}
    saved = []

    def timed(fn, which, name):
        def wrapper(*args, **kwargs):
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[which][name] += time.process_time() - t0

        return wrapper

    for which, mod in bands.items():
        for name in CPU_STEPS:
            if hasattr(mod, name):
                saved.append((mod, name, getattr(mod, name)))
                setattr(mod, name, timed(getattr(mod, name), which, name))
    try:
        k = 0
        for _ in range(rounds):
            for _, images, bps, meta, cfg in PROFILE_FRAMES:
                frame = Frame(
                    "bench", "JIRAM", "X", "2024-01-01T00:00:00", 1.0, _bands(images, meta, "JIRAM")
                )
                configs = {"new": cfg, "old": config_for(AGAINST, cfg)}
                for which in ("new", "old") if k % 2 else ("old", "new"):
                    t0 = time.process_time()
                    runs[which](frame, bps, config=configs[which])
                    spent[which]["detect_frame"] += time.process_time() - t0
                k += 1
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)
    n = rounds * len(PROFILE_FRAMES)
    out = {}
    for name, old in spent["old"].items():
        new = spent["new"][name]
        if old > 0 and new > 0:
            out[name] = {"old_ms": round(1e3 * old / n, 3), "new_ms": round(1e3 * new / n, 3),
                         "new_over_old": round(new / old, 3)}  # fmt: skip
    return {"frames": len(PROFILE_FRAMES), "rounds": rounds, "cpu_ms_per_frame": out}


def bench_jiram(rng, n_frames, timing):
    psf = jiram_psf()
    model = PsfModel(psf.weights, psf.sigmas_px)
    det = JiramDetector()
    exposure = 0.1
    cfg = DetectConfig(threshold_snr=4.0, pointing_error_px=POINTING_ERROR_PX)
    core = model.core_sigma_px
    margin = 3 * core + POINTING_ERROR_PX
    recs = {m: [] for m in JIRAM_METHODS}
    excess = {}
    for objlim in LACOSMIC_OBJLIM:
        recs[f"sep_lacosmic_objlim{objlim:g}"] = []
        recs[f"photutils_lacosmic_objlim{objlim:g}"] = []
    nfr = 0
    for config in JIRAM_CONFIGS:
        name = config[0]
        bps, surf, masks, boxes = _jiram_scene(config, psf, margin)
        ex = {  # own generator: the frames' random sequence is untouched
            b: _jiram_texture_excess(b, surf[b], bps[b], meta_b, det, exposure, cfg)
            for b, meta_b in _band_meta(det, exposure).items()
        }
        excess[name] = {b: v[0] for b, v in ex.items()}
        excess_maps = {b: v[1] for b, v in ex.items()}
        meta = _band_meta(det, exposure)
        for _ in range(n_frames):
            images, truths, resid_true, sig_maps, cr_masks = {}, {}, {}, {}, {}
            for b in bps:

                def sig_fn(bg, bb=b):
                    return det.noise_sigma_w_m2_sr(bb, exposure, np.maximum(bg, 0.0))

                truth, spots = _inject(rng, bps[b], 12, sig_fn, surf[b], psf, 4, 8.0)
                if len(truth):  # the S/N against photon noise and the surface's clutter together
                    at = excess_maps[b][
                        np.rint(truth["line"]).astype(int), np.rint(truth["sample"]).astype(int)
                    ]
                    truth["snr_with_clutter"] = truth["snr"] / at
                noiseless = surf[b] + spots
                images[b], hits = apply_detector(b, noiseless, exposure, det, rng)
                cr_masks[b] = _hit_mask(hits, noiseless.shape, masks[b])
                truths[b] = truth
                sig_maps[b] = det.noise_sigma_w_m2_sr(b, exposure, noiseless)
                resid_true[b] = spots + rng.standard_normal(spots.shape) * sig_maps[b]
            fid = (name, nfr)
            nfr += 1
            out, res_sep = timed_ioscan_and_sep(images, bps, meta, cfg, masks, core, timing, nfr)
            if sum(f[0] == name for f in PROFILE_FRAMES) < PROFILE_FRAMES_PER_CONFIG:
                PROFILE_FRAMES.append((name, images, bps, meta, cfg))
            res_sep_nd, _ = run_sep(images, masks, core, 16, 1, deblend_cont=1.0)
            res_sep_cr, _ = run_sep(images, cr_masks, core, 16, 1)
            res_phot, dt = run_photutils(images, masks, core, 16)
            timing["photutils_jiram"].append(dt)
            gains = {b: det.gain(b, exposure) for b in bps}
            lac = {}
            for objlim in LACOSMIC_OBJLIM:
                lac_masks, dt_lac = lacosmic_masks(
                    images, masks, gains, det.read_noise_e, 2.3548 * core, objlim
                )
                res_sl, dt = run_sep(images, lac_masks, core, 16, 1)
                timing[f"sep_lacosmic_{objlim:g}_jiram"].append(dt + dt_lac)
                res_pl, _ = run_photutils(images, lac_masks, core, 16)
                lac[objlim] = (res_sl, res_pl)
            for b in bps:
                recs["ioscan"].append((out[b], truths[b], 1.5, fid))
                recs["sep"].append((res_sep[b], truths[b], 1.5, fid))
                recs["photutils"].append((res_phot[b], truths[b], 1.5, fid))
                recs["sep_oracle_cr_mask"].append((res_sep_cr[b], truths[b], 1.5, fid))
                for objlim, (res_sl, res_pl) in lac.items():
                    recs[f"sep_lacosmic_objlim{objlim:g}"].append((res_sl[b], truths[b], 1.5, fid))
                    recs[f"photutils_lacosmic_objlim{objlim:g}"].append((res_pl[b], truths[b], 1.5, fid))
                recs["sep_no_deblend"].append((res_sep_nd[b], truths[b], 1.5, fid))
                recs["sep_plus_ioscan_cr_flags"].append(
                    (with_ioscan_cr_flags(res_sep[b], out[b]), truths[b], 1.5, fid)
                )
                recs["photutils_plus_ioscan_cr_flags"].append(
                    (with_ioscan_cr_flags(res_phot[b], out[b]), truths[b], 1.5, fid)
                )
                recs["ideal"].append(
                    (run_ideal(resid_true[b], sig_maps[b], masks[b], psf, boxes[b]), truths[b], 1.5, fid)
                )
    out = summarise(recs, nfr)
    out["texture_noise_excess_median"] = excess
    out["ioscan_completeness_vs_snr_with_clutter"] = clutter_completeness(
        recs["ioscan"], out["ioscan"]["threshold"]
    )
    return out, nfr


def bench_ao(rng, n_frames, timing):
    filt = "Lp"
    plate = nirc2.PLATE_SCALE_ARCSEC
    det = AoDetector()
    psf = ao_psf(
        nirc2.FILTERS[filt].center_um, plate, strehl=det.strehl[filt], halo_fwhm_arcsec=det.halo_fwhm_arcsec
    )
    model = PsfModel(psf.weights, psf.sigmas_px)
    cfg = DetectConfig(threshold_snr=4.0, psf=model, pointing_error_px=POINTING_ERROR_PX)
    core = model.core_sigma_px
    margin = 3 * core + POINTING_ERROR_PX
    recs = {m: [] for m in METHODS}
    excess = {}
    nfr = 0
    exposure = 30.0
    resp = band_response("NIRC2", filt)
    g_e = det.electrons_per_unit(filt, plate, exposure)
    sky = det.sky_spectral_radiance(filt)
    sat = det.full_well_e / g_e - sky
    n = 1024
    win = 264
    w0 = (n - win) // 2
    for name, sun_lon in (("day", 200.0), ("night", 20.0)):
        rng_km = 6.3e8
        scale = rng_km * plate / 206264.806
        g = _geom(rng_km, 200.0, sun_lon, ((n - 1) / 2, (n - 1) / 2), scale)
        bp = backplanes_from_label(g, n, n)
        surf = np.zeros((n, n))
        gw = _geom(rng_km, 200.0, sun_lon, ((win - 1) / 2, (win - 1) / 2), scale)
        surf[w0 : w0 + win, w0 : w0 + win] = _surface(resp, gw, win, win, psf, resp.bandwidth_um)
        mask = ~(bp["limb_distance_px"] > -margin)
        box = _box_of(~mask, 16)
        meta = {filt: (nirc2.FILTERS[filt].center_um, nirc2.FILTERS[filt].bandwidth_um, sat, 0)}
        e0 = (surf + sky) * g_e  # the surface alone, with its own generator: texture noise excess
        e0 = e0 + np.random.default_rng(SEED + 2).standard_normal(e0.shape) * np.sqrt(
            det.read_noise_e**2 + e0
        )
        img0 = (np.minimum(e0, det.full_well_e) / g_e - sky * (1 - det.residual_sky_fraction)).astype(
            np.float32
        )
        excess[name] = texture_excess(
            BandImage(filt, img0, "W m-2 sr-1 um-1", meta[filt][0], meta[filt][1], saturation=sat),
            bp,
            "NIRC2",
            cfg,
        )
        for _ in range(n_frames):

            def sig_fn(bg):
                return np.sqrt(det.read_noise_e**2 + (np.maximum(bg, 0) + sky) * g_e) / g_e

            truth, spots = _inject(rng, bp, 10, sig_fn, surf, psf, 40, 12.0)
            noiseless = surf + spots
            e = (noiseless + sky) * g_e
            sig = np.sqrt(det.read_noise_e**2 + e)
            e = np.minimum(e + rng.standard_normal(e.shape) * sig, det.full_well_e)
            img = (e / g_e - sky * (1 - det.residual_sky_fraction)).astype(np.float32)
            fid = (name, nfr)
            nfr += 1
            out, dt = run_ioscan({filt: img}, {filt: bp}, meta, "NIRC2", cfg)
            timing["ioscan_ao"].append(dt)
            recs["ioscan"].append((out[filt], truth, 3.0, fid))
            res, dt = run_sep({filt: img}, {filt: mask}, core, 32, 5)
            timing["sep_ao"].append(dt)
            recs["sep"].append((res[filt], truth, 3.0, fid))
            res, dt = run_photutils({filt: img}, {filt: mask}, core, 32)
            timing["photutils_ao"].append(dt)
            recs["photutils"].append((res[filt], truth, 3.0, fid))
            resid_true = spots + rng.standard_normal(spots.shape) * sig / g_e
            recs["ideal"].append((run_ideal(resid_true, sig / g_e, mask, psf, box), truth, 3.0, fid))
    out = summarise(recs, nfr)
    out["texture_noise_excess_median"] = excess
    out["ioscan_completeness_vs_snr_with_clutter"] = clutter_completeness(
        recs["ioscan"], out["ioscan"]["threshold"]
    )
    return out, nfr


# ---------------------------------------------------------------------------------------------- close pairs
#: faint-member separation bins (px) of the close-pair scenes
PAIR_SEPARATIONS = [(2, 3), (3, 4), (4, 6), (6, 8)]
PAIR_CONFIGS = ("night_near", "night_far", "day_near")


def _inject_pairs(rng, bp, n_pairs, sigma_of_bg, surface, psf):
    """Pairs on the disk (emission < 70°, ≥ 12 px inside the limb, pairs ≥ 24 px apart): a bright hot spot
    (SNR log-uniform 50–1,000) and a faint one (SNR 4–30) 2–8 px from it. Returns the truth (sample, line,
    flux, snr, role, separation_px), the noiseless image of all spots and that of the faint ones alone."""
    ok = bp.on_disk & (bp["emission_deg"] < 70) & (bp["limb_distance_px"] > 12.0)
    nl, ns = ok.shape
    ok[:12] = ok[-12:] = False
    ok[:, :12] = ok[:, -12:] = False
    ii, jj = np.nonzero(ok)
    rows = []
    for k in rng.permutation(ii.size)[: 50 * n_pairs]:
        x, y = jj[k] + rng.uniform(-0.5, 0.5), ii[k] + rng.uniform(-0.5, 0.5)
        if any(np.hypot(x - r[0], y - r[1]) < 24 for r in rows):
            continue
        sep, ang = rng.uniform(2.0, 8.0), rng.uniform(0, 2 * np.pi)
        xf, yf = x + sep * np.cos(ang), y + sep * np.sin(ang)
        if not ok[int(np.rint(yf)), int(np.rint(xf))]:
            continue
        rows.append((x, y, np.exp(rng.uniform(np.log(50), np.log(1000))), "bright", sep))
        rows.append((xf, yf, np.exp(rng.uniform(np.log(4), np.log(30))), "faint", sep))
        if len(rows) == 2 * n_pairs:
            break
    t = pd.DataFrame(rows, columns=["sample", "line", "snr", "role", "separation_px"])
    _, _, patches = psf.patches(t["sample"].to_numpy(), t["line"].to_numpy())
    psq = np.sum(patches**2, axis=(1, 2))
    sig = sigma_of_bg(surface[np.rint(t["line"]).astype(int), np.rint(t["sample"]).astype(int)])
    t["flux"] = t["snr"] * sig / np.sqrt(psq)
    spots, faint = np.zeros((nl, ns)), np.zeros((nl, ns))
    psf.add_point_sources(spots, t["sample"].to_numpy(), t["line"].to_numpy(), t["flux"].to_numpy())
    f = t[t["role"] == "faint"]
    psf.add_point_sources(faint, f["sample"].to_numpy(), f["line"].to_numpy(), f["flux"].to_numpy())
    return t, spots, faint


def evaluate_pairs(records, thr):
    """Completeness of the faint members (SNR ≥ 7, and 4–7) per separation bin, of the bright ones, and false
    detections per frame, at threshold ``thr``."""
    n_false, frames, found_all, truths = 0, set(), [], []
    for dets, truth, radius, frame_id in records:
        frames.add(frame_id)
        kept = [d for d in dets if d[2] >= thr and not d[4]]
        found = np.zeros(len(truth), bool)
        for j in match(kept, truth, radius):
            if j < 0:
                n_false += 1
            else:
                found[j] = True
        found_all.extend(found)
        truths.append(truth)
    t = pd.concat(truths, ignore_index=True)
    t["found"] = np.array(found_all, bool)
    faint, out = t[t["role"] == "faint"], {}
    for name, lo, hi in (("faint_snr_ge_7", 7, 1e9), ("faint_snr_4_7", 4, 7)):
        by_sep = {}
        for a, b in PAIR_SEPARATIONS:
            sel = faint["snr"].between(lo, hi, inclusive="left") & faint["separation_px"].between(
                a, b, inclusive="left"
            )
            by_sep[f"{a}-{b}"] = round(float(faint["found"][sel].mean()), 3) if sel.any() else None
        out[name + "_completeness_by_separation_px"] = by_sep
    bright = t["found"][t["role"] == "bright"]
    out["bright_completeness"] = round(float(bright.mean()), 3) if len(bright) else None
    out["false_per_frame"] = round(n_false / max(len(frames), 1), 3)
    return out


def bench_pairs(rng, n_frames, thresholds):
    """Close pairs on JIRAM I1 frames (night near/far, day near), 6 pairs per band, with the detector's
    cosmic rays: each method at its threshold from the main JIRAM run (so at ≤ 0.05 false detections per frame
    there). ``ioscan_single_pass`` is ioscan without its second pass; ``ideal_bright_known`` is the ideal
    matched filter with the bright members known (subtracted exactly), scored on the faint ones."""
    psf = jiram_psf()
    model = PsfModel(psf.weights, psf.sigmas_px)
    det = JiramDetector()
    exposure = 0.1
    core = model.core_sigma_px
    margin = 3 * core + POINTING_ERROR_PX
    cfgs = {
        "ioscan": DetectConfig(threshold_snr=4.0, pointing_error_px=POINTING_ERROR_PX),
        "ioscan_single_pass": DetectConfig(
            threshold_snr=4.0, pointing_error_px=POINTING_ERROR_PX, subtract_and_search=False
        ),
    }
    peers = ("sep", "photutils", "sep_oracle_cr_mask")
    recs = {m: [] for m in (*cfgs, *peers, "ideal_bright_known")}
    nfr = 0
    meta = _band_meta(det, exposure)
    for config in [c for c in JIRAM_CONFIGS if c[0] in PAIR_CONFIGS]:
        name = config[0]
        bps, surf, masks, boxes = _jiram_scene(config, psf, margin)
        for _ in range(n_frames):
            images, truths, ideal, cr_masks = {}, {}, {}, {}
            for b in bps:

                def sig_fn(bg, bb=b):
                    return det.noise_sigma_w_m2_sr(bb, exposure, np.maximum(bg, 0.0))

                truth, spots, faint = _inject_pairs(rng, bps[b], 6, sig_fn, surf[b], psf)
                noiseless = surf[b] + spots
                images[b], hits = apply_detector(b, noiseless, exposure, det, rng)
                cr_masks[b] = _hit_mask(hits, noiseless.shape, masks[b])
                truths[b] = truth
                sig = det.noise_sigma_w_m2_sr(b, exposure, noiseless)
                ideal[b] = run_ideal(
                    faint + rng.standard_normal(faint.shape) * sig, sig, masks[b], psf, boxes[b]
                )
            fid = (name, nfr)
            nfr += 1
            found = {m: run_ioscan(images, bps, meta, "JIRAM", c)[0] for m, c in cfgs.items()}
            found["sep"] = run_sep(images, masks, core, 16, 1)[0]
            found["photutils"] = run_photutils(images, masks, core, 16)[0]
            found["sep_oracle_cr_mask"] = run_sep(images, cr_masks, core, 16, 1)[0]
            for b in bps:
                faint_only = truths[b][truths[b]["role"] == "faint"].reset_index(drop=True)
                for m in (*cfgs, *peers):
                    recs[m].append((found[m][b], truths[b], 1.5, fid))
                recs["ideal_bright_known"].append((ideal[b], faint_only, 1.5, fid))
    out = {}
    for m, rows in recs.items():
        thr = thresholds[{"ioscan_single_pass": "ioscan", "ideal_bright_known": "ideal"}.get(m, m)]
        out[m] = {"threshold": thr, **evaluate_pairs(rows, thr)}
    return out, nfr


def _largest_change(changes: list) -> dict:
    """Over the frames: the largest flux and position change against ``--against`` in its 1σ errors, and the
    detections either had that the other had not (within 0.5 px)."""
    c = np.array(changes, float).reshape(-1, 3)
    top = c[:, :2].max(axis=0, initial=0.0)
    flux, pos = (round(float(v), 4) for v in top)
    return {"flux": flux, "position": pos, "unpaired": int(c[:, 2].sum())}


def speed_vs_sep(timing: dict) -> dict:
    """ioscan's detect_frame against bare SEP on the same JIRAM frames, run alternately (issue 15's target:
    ≤ 3×): the median of the per-frame ratios and the ratio of the medians; with ``--against``, the same for
    the old revision, new ÷ old, and how many frames gave bit-identical detections."""
    io, sep = np.array(timing["ioscan_jiram"]), np.array(timing["sep_jiram"])
    if not io.size:
        return {}
    out = {
        "ioscan_over_sep_jiram_median_of_ratios": round(float(np.median(io / sep)), 3),
        "ioscan_over_sep_jiram_ratio_of_medians": round(float(np.median(io) / np.median(sep)), 3),
        "target_max": 3.0,
    }
    if timing.get("against_jiram"):
        old = np.array(timing["against_jiram"])
        out.update(
            against=AGAINST.__name__.removeprefix("ioscan_at_"),
            against_ms_per_frame_median=round(1e3 * float(np.median(old)), 2),
            against_over_sep_jiram_median_of_ratios=round(float(np.median(old / sep)), 3),
            ioscan_over_against_median_of_ratios=round(float(np.median(io / old)), 3),
            frames_identical_to_against=f"{sum(timing['against_identical'])} of {old.size}",
            largest_change_vs_against_sigma=_largest_change(timing["against_change_sigma"]),
        )
    return out


#: what a fresh process runs for :func:`numba_kernels_start` (CPU seconds of each stage, one JSON line)
_START_SCRIPT = """
import json, time
c0 = time.process_time()
import numba
c1 = time.process_time()
from ioscan.detect import background_kernels
c2 = time.process_time()
background_kernels.warm_up()
c3 = time.process_time()
print(json.dumps({"import_numba_cpu_s": c1 - c0, "import_kernels_cpu_s": c2 - c1,
                  "first_calls_cpu_s": c3 - c2}))
"""


def numba_kernels_start(warm_runs: int = 2) -> dict:
    """The compiled background loops' start-up in fresh processes with their own empty numba cache
    (``NUMBA_CACHE_DIR``): the first process compiles (cold), the next ``warm_runs`` load from the cache
    (warm, their median). CPU seconds per stage."""
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    runs = []
    with tempfile.TemporaryDirectory(prefix="ioscan_numba_cache_") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=src)
        for _ in range(1 + warm_runs):
            out = subprocess.run(
                [sys.executable, "-c", _START_SCRIPT], env=env, capture_output=True, text=True, check=True
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = runs[0].keys()
    return {
        "cold_cache": {k: round(runs[0][k], 3) for k in keys},
        "warm_cache_median": {k: round(float(np.median([r[k] for r in runs[1:]])), 3) for k in keys},
    }


def _warm_up_kernels() -> None:
    """Compile or load the compiled background loops of the current package (and of ``--against``'s, where
    it has them) before anything is timed, so that no frame's time holds a compilation."""
    from importlib import import_module

    for pkg in ("ioscan",) + ((AGAINST.__name__,) if AGAINST is not None else ()):
        try:
            kernels = import_module(pkg + ".detect.background_kernels")
        except ImportError:  # a revision before the kernels
            continue
        kernels.warm_up()


def main() -> None:
    global AGAINST
    args = [a for a in sys.argv[1:] if not a.startswith("--against")]
    if any(a.startswith("--against") for a in sys.argv[1:]):
        from against import package_at

        i = sys.argv.index("--against") if "--against" in sys.argv else None
        rev = sys.argv[i + 1] if i is not None else sys.argv[-1].split("=", 1)[1]
        args = [a for a in args if a != rev]
        AGAINST = package_at(rev)
    _warm_up_kernels()
    n_jiram = int(args[0]) if len(args) > 0 else 50  # I1 frames (2 bands) per JIRAM configuration
    n_ao = int(args[1]) if len(args) > 1 else 8  # frames per AO configuration
    rng = np.random.default_rng(SEED)
    timing = {
        k: []
        for k in ("ioscan_jiram", "sep_jiram", "photutils_jiram", "ioscan_ao", "sep_ao", "photutils_ao")
        + (("against_jiram", "against_identical", "against_change_sigma") if AGAINST is not None else ())
    }
    timing.update({f"sep_lacosmic_{o:g}_jiram": [] for o in LACOSMIC_OBJLIM})
    t0 = time.time()
    jir, n_j = bench_jiram(rng, n_jiram, timing)
    thresholds = {
        m: jir[m]["threshold"] for m in ("ioscan", "sep", "photutils", "sep_oracle_cr_mask", "ideal")
    }
    jir["close_pairs"], n_pairs = bench_pairs(
        np.random.default_rng(SEED + 3), max(n_jiram // 2, 1), thresholds
    )
    ao, n_a = bench_ao(rng, n_ao, timing) if n_ao > 0 else ({}, 0)
    skip = ("against_identical", "against_change_sigma")
    ms = {k: round(1e3 * float(np.median(v)), 2) for k, v in timing.items() if v and k not in skip}
    out = {
        "frames": {
            "jiram_432x256": n_j,
            "jiram_bands": 2 * n_j,
            "jiram_close_pairs_432x256": n_pairs,
            "ao_1024x1024": n_a,
            "seed": SEED,
        },
        "scenes": "ioscan.simulate surface + PSF + detector; hot spots injected with the simulator PSF",
        "false_rate_target_per_frame": FALSE_RATE,
        "jiram": jir,
        "ao": ao,
        "ms_per_frame_median": ms,
        "detect_speed_vs_sep": speed_vs_sep(timing),
        "detect_step_profile": step_profile(),
        "detect_step_cpu_vs_against": step_cpu_vs_against(),
        "numba_kernels_start": numba_kernels_start(),
        "wall_s": round(time.time() - t0, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
