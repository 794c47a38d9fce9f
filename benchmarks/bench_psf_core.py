"""Fluxes on renderer frames without geometry, where a limb is seen: the core measured for the fluxes alone
(:mod:`ioscan.detect.photometry_psf`), why it is not measured, and the flux pulls on that path.

Frames of :mod:`ioscan.simulate.independent` (true Gaussian core σ 0.8 px; JIRAM's model 0.6 px) are
detected as a reader would give them — no geometry, no saturation level (``bench_generalise.in_memory_frame``)
— twice in one process: with the width the isolated detections share where no single source measures the
core (:func:`ioscan.detect.photometry_psf.stacked_core`, "after") and without it ("before": the single-source
rules of :func:`ioscan.detect.photometry_psf.core_estimate` alone, away from the limb and near it). Per frame
(band M): the core the single sources measure (σ against the truth 0.8 px; ``single_sources_*``), the stacked
width where they measure none (``stack_frames``: σ, its stated error, the agreement χ², sources, accepted,
used; ``stacked_*``: the accepted ones against the truth), and why each bright true hot spot
(S/N_ideal ≥ ``--reason-snr``, unsaturated) was not a candidate of the single-source rule away from the limb
(``reasons``: within 6 px of the limb, no local maximum in the 3 × 3-median high-pass, not isolated, frame
edge; ``candidate``: a candidate the fit or the count then left out); ``frames_not_called``: the path did not
run (no limb circle in the image, or detection measured and used the core itself).
Per matched isolated unsaturated true hot spot (M band, within 1.5 px, COSMIC_RAY/ARTEFACT/SATURATED left
out): flux ÷ truth − 1 (all, the corrected and the uncorrected detections) and the pull (net_radiance_sum −
true flux) / net_radiance_sum_err by bin of ideal S/N, median and robust std (1.4826 × MAD). The error bars
are the random errors only: the JIRAM prior's 20 % PSF-scale systematic is in the measurement's systematic
error (``instruments/jiram.py``), not in ``net_radiance_sum_err``. Decisions (positions, S/N, flags) must be
identical between the two runs.

Usage: ``python benchmarks/bench_psf_core.py [--side day|night] [--frames 150] [--seed 23]
[--reason-snr 100]``; prints a summary and one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ioscan.detect.band as band_module  # noqa: E402
from bench_generalise import in_memory_frame, match  # noqa: E402
from ioscan.detect import DetectionFlag, detect_frame  # noqa: E402
from ioscan.detect import psf_estimate as pe  # noqa: E402
from ioscan.detect.fit_kernels import local_maxima  # noqa: E402
from ioscan.detect.limb import median3, pixel_noise_map  # noqa: E402
from ioscan.detect.photometry_psf import core_estimate  # noqa: E402
from ioscan.detect.psf_stack import stacked_width  # noqa: E402
from ioscan.robust import (
    mad_sigma,  # noqa: E402
    median_or_nan,  # noqa: E402
)
from ioscan.simulate.independent import draw_scene, render_scene  # noqa: E402

TRUE_SIGMA_PX = 0.8
BINS = ((5, 10), (10, 30), (30, 100), (100, np.inf), (5, np.inf))
BAD = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT | DetectionFlag.SATURATED


def reasons(data, sat, limb, truth, line_offset) -> list[str]:
    """Why each bright true hot spot was not a candidate of the old rule (see the module docstring)."""
    valid = np.isfinite(data) if sat is None else np.isfinite(data) & ~sat
    x = np.where(valid, data, np.float32(median_or_nan(data[valid]))).astype(np.float32)
    m = median3(x)
    z = (m - pe._box_mean_nearest(m, 11)) / pixel_noise_map(x)
    ci, cj, lm = local_maxima(np.ascontiguousarray(z), z.dtype.type(pe.PEAK_SIGMA / 3))
    maxima = np.zeros(z.shape, bool)
    maxima[ci[lm], cj[lm]] = True
    nl, ns = z.shape
    di, dj = pe._isolation_offsets()
    out = []
    for li, sj in zip(
        np.rint(truth["line"].to_numpy() - line_offset).astype(int),
        np.rint(truth["sample"].to_numpy()).astype(int),
        strict=True,
    ):
        if not (0 <= li < nl and 0 <= sj < ns):
            out.append("outside")
            continue
        win = (slice(max(li - 1, 0), li + 2), slice(max(sj - 1, 0), sj + 2))
        zz = np.where(maxima[win], z[win], -np.inf)
        if not np.isfinite(zz.max()) or zz.max() <= pe.PEAK_SIGMA:
            out.append("no_local_max")
            continue
        a, c = np.unravel_index(np.argmax(zz), zz.shape)
        pi, pj = win[0].start + a, win[1].start + c
        dl = np.nan_to_num(limb.distance_px[pi, pj], nan=0.0) if limb.distance_px is not None else np.inf
        L, S = np.clip(pi + di, 0, nl - 1), np.clip(pj + dj, 0, ns - 1)
        inside = (pi + di >= 0) & (pi + di < nl) & (pj + dj >= 0) & (pj + dj < ns)
        nbz = np.where(inside & maxima[L, S], z[L, S], -np.inf)
        h = pe.HALF_PX
        if abs(dl) <= pe.PSF_LIMB_CLEARANCE_PX:
            out.append("limb<=6px")
        elif nbz.max() > pe.ISOLATION_FRACTION * z[pi, pj]:
            out.append("not_isolated")
        elif not (h + 1 <= pj <= ns - h - 2 and h + 1 <= pi <= nl - h - 2):
            out.append("frame_edge")
        else:
            out.append("candidate")
    return out


def matched_pairs(new, old, truth) -> list[tuple]:
    """(truth row, ``new``'s detection, ``old``'s) for the true hot spots of ``truth`` (a DataFrame) that
    ``new``'s catalogue-worthy M-band detections match; ``old`` (the same frame detected with the same
    decisions) gives its detection in the same place of its list."""
    dets = [[d for d in res.detections if d.band == "M" and not d.flags & BAD] for res in (new, old)]
    if not dets[0] or not len(truth):
        return []
    mt = match(np.array([(d.sample, d.line) for d in dets[0]]), truth[["sample", "line"]].to_numpy(float))
    return [(truth.iloc[j], dets[0][k], dets[1][k]) for k, j in enumerate(mt) if j >= 0]


def robust(v) -> tuple[float, float]:
    """(median, robust σ: :func:`ioscan.robust.mad_sigma`) of ``v``; NaNs for an empty one."""
    v = np.asarray(v, float)
    return (float(np.median(v)), mad_sigma(v)) if v.size else (float("nan"), float("nan"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", default="day", choices=("day", "night"))
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--reason-snr", type=float, default=100.0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    captured: dict[str, tuple] = {}
    stacked: dict[str, tuple] = {}
    original, original_stack = band_module.measured_core, band_module.stacked_core

    def capture(data, sat_mask, limb, psf, elongation, band, messages):
        captured[band] = (data, sat_mask, limb)
        return original(data, sat_mask, limb, psf, elongation, band, messages)

    def capture_stack(data, sat_mask, limb, psf, detections, line_offset, band, messages):
        out = original_stack(data, sat_mask, limb, psf, detections, line_offset, band, messages)
        bad = BAD
        x = np.array([d.sample for d in detections], float)
        y = np.array([d.line - line_offset for d in detections], float)
        snr = np.array([d.snr for d in detections], float)
        cand = np.array([not d.flags & bad for d in detections], bool)
        stacked[band] = (stacked_width(data, sat_mask, limb.distance_px, x, y, snr, cand), out)
        return out

    def no_stack(*a, **k):
        return None

    frames, rows, all_same = [], [], True
    for i in range(args.frames):
        rendered = render_scene(draw_scene(rng, kind=args.side))
        frame = in_memory_frame(rendered)
        captured.clear()
        stacked.clear()
        band_module.measured_core = capture
        band_module.stacked_core = capture_stack
        after = detect_frame(frame)
        band_module.measured_core = original
        band_module.stacked_core = no_stack
        before = detect_frame(frame)
        band_module.stacked_core = original_stack
        same = [(d.sample, d.line, d.snr, d.flags) for d in after.detections] == [
            (d.sample, d.line, d.snr, d.flags) for d in before.detections
        ]
        all_same &= same
        b = rendered.bands["M"]
        t = rendered.truth[(rendered.truth["band"] == "M") & ~rendered.truth["saturated"]]
        fr = {"i": i, "same": same, "called": "M" in captured}
        if "M" in captured:
            data, sat, limb = captured["M"]
            old, near = core_estimate(data, sat, limb.distance_px, pe.NEAR_LIMB_MIN_SNR)
            fr["old_sigma"] = None if old is None else old.sigma_px
            fr["near"] = near
            sw, used = stacked.get("M", (None, None))
            fr["stack"] = (
                None
                if sw is None
                else {
                    "sigma": round(sw.sigma_px, 4),
                    "rel_err": round(sw.rel_err, 4),
                    "agree_chi2": round(sw.agree_chi2, 2),
                    "n": sw.n_sources,
                    "accepted": bool(sw.accepted),
                    "used": used is not None,
                }
            )
            bright = t[t["snr_ideal"] >= args.reason_snr]
            fr["reasons"] = reasons(data, sat, limb, bright, b.line_offset) if old is None else []
        frames.append(fr)
        ti = t[t["neighbour_px"] >= 4]
        for tr, a, o in matched_pairs(after, before, ti):
            f = float(tr.flux_w_m2_sr)
            rows.append(
                {
                    "i": i,
                    "snr": float(tr.snr_ideal),
                    "rel_after": a.net_radiance_sum / f - 1,
                    "rel_before": o.net_radiance_sum / f - 1,
                    "pull_after": (a.net_radiance_sum - f) / a.net_radiance_sum_err,
                    "pull_before": (o.net_radiance_sum - f) / o.net_radiance_sum_err,
                    "corrected_after": "flux_model_psf" in a.extra,
                    "corrected_before": "flux_model_psf" in o.extra,
                }
            )
    out = summarise(args, frames, rows, all_same)
    print(json.dumps(out))


def summarise(args, frames, rows, all_same) -> dict:
    called = [f for f in frames if f["called"]]
    old = np.array([f["old_sigma"] for f in called if f["old_sigma"] is not None])
    stack = [f for f in called if f["old_sigma"] is None and f.get("stack") is not None]
    acc = np.array([f["stack"]["sigma"] for f in stack if f["stack"]["accepted"]])
    reasons_count: dict[str, int] = {}
    for f in called:
        for r in f["reasons"]:
            reasons_count[r] = reasons_count.get(r, 0) + 1

    def pct(v):
        return [round(float(x), 3) for x in np.percentile(v, [5, 50, 95])] if v.size else None

    def err(v):
        e = np.abs(v / TRUE_SIGMA_PX - 1)
        return (
            {"median": round(float(np.median(e)), 3), "p90": round(float(np.percentile(e, 90)), 3)}
            if v.size
            else None
        )

    out = {
        "side": args.side,
        "frames": args.frames,
        "seed": args.seed,
        "decisions_identical_all_frames": bool(all_same),
        "frames_path_ran": len(called),
        "frames_not_called": len(frames) - len(called),
        "frames_core_single_sources": int(old.size),
        "single_sources_sigma_p5_50_95": pct(old),
        "single_sources_abs_err": err(old),
        "frames_stack_tried": len(stack),
        "frames_core_stacked": int(acc.size),
        "frames_core_stacked_used": int(sum(f["stack"]["used"] for f in stack)),
        "stacked_sigma_p5_50_95": pct(acc),
        "stacked_abs_err": err(acc),
        "stacked_beyond_10pct": int(np.sum(np.abs(acc / TRUE_SIGMA_PX - 1) > 0.1)),
        "stack_frames": [[f["i"], f["stack"]] for f in stack],
        f"reasons_snr{int(args.reason_snr)}_sources_on_frames_without_core": reasons_count,
        "bins": {},
    }
    r = rows
    for lo, hi in BINS:
        s = [x for x in r if lo <= x["snr"] < hi]
        if not s:
            continue
        key = f"{lo}-{hi}"
        d = {"n": len(s)}
        for when in ("before", "after"):
            rel = np.array([x[f"rel_{when}"] for x in s])
            pull = np.array([x[f"pull_{when}"] for x in s])
            d[when] = {
                "corrected": int(sum(x[f"corrected_{when}"] for x in s)),
                "rel_median": round(float(np.median(rel)), 3),
                "pull_median_robust_std": [round(v, 2) for v in robust(pull)],
            }
        for when in ("before", "after"):  # flux ÷ truth − 1 of the corrected and the uncorrected detections
            for kind, flag in (("corrected", True), ("uncorrected", False)):
                v = [x[f"rel_{when}"] for x in s if x[f"corrected_{when}"] is flag]
                d[when][f"rel_median_{kind}"] = round(float(np.median(v)), 3) if v else None
        fresh = [x for x in s if x["corrected_after"] and not x["corrected_before"]]
        if fresh:  # corrected only with the stacked width: their flux ÷ truth − 1 before → after
            d["newly_corrected"] = {
                "n": len(fresh),
                "rel_median_before": round(float(np.median([x["rel_before"] for x in fresh])), 3),
                "rel_median_after": round(float(np.median([x["rel_after"] for x in fresh])), 3),
            }
        out["bins"][key] = d
        print(
            f"S/N {key}: n {len(s)} | corrected {d['before']['corrected']} -> {d['after']['corrected']} | "
            f"flux/truth-1 {d['before']['rel_median']:+.3f} -> {d['after']['rel_median']:+.3f} | "
            f"pull med, rstd {d['before']['pull_median_robust_std']} -> "
            f"{d['after']['pull_median_robust_std']}",
            file=sys.stderr,
        )
    return out


if __name__ == "__main__":
    main()
