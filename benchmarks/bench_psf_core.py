"""Fluxes on renderer frames without geometry, where a limb is seen: the core measured for the fluxes alone
(:mod:`ioscan.detect.photometry_psf`), why it is not measured, and the flux pulls on that path.

Frames of :mod:`ioscan.simulate.independent` (true Gaussian core σ 0.8 px; JIRAM's model 0.6 px) are
detected as a reader would give them — no geometry, no saturation level (``bench_generalise.in_memory_frame``)
— twice in one process: with the near-limb rule of :func:`ioscan.detect.photometry_psf.core_estimate`
("after") and without it ("before": ``near_limb_min_snr=None``, the rule of 2026-12-07). Per frame (band M):
the core each rule measures (σ against the truth 0.8 px), both rules' estimates side by side where the old
one measures (``agree_*``), and why each bright true hot spot (S/N_ideal ≥ ``--reason-snr``,
unsaturated) was not a candidate of the old rule (``reasons``: within 6 px of the limb, no local maximum in
the 3 × 3-median high-pass, not isolated, frame edge; ``candidate``: a candidate the fit or the count then
left out); ``frames_not_called``: the path did not run (no limb circle in the image, or detection measured
and used the core itself).
Per matched isolated unsaturated true hot spot (M band, within 1.5 px, COSMIC_RAY/ARTEFACT/SATURATED left
out): flux ÷ truth − 1 and the pull (net_radiance_sum − true flux) / net_radiance_sum_err by bin of ideal
S/N, median and robust std (1.4826 × MAD). The error bars are the random errors only: the JIRAM prior's
20 % PSF-scale systematic is in the measurement's systematic error (``instruments/jiram.py``), not in
``net_radiance_sum_err``. Decisions (positions, S/N, flags) must be identical between the two runs.

Usage: ``python benchmarks/bench_psf_core.py [--side day|night] [--frames 150] [--seed 23]
[--reason-snr 100]``; prints a summary and one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import functools
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
from ioscan.robust import median_or_nan  # noqa: E402
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


def robust(v: np.ndarray) -> tuple[float, float]:
    if v.size == 0:
        return float("nan"), float("nan")
    med = float(np.median(v))
    return med, float(1.4826 * np.median(np.abs(v - med)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", default="day", choices=("day", "night"))
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--reason-snr", type=float, default=100.0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    captured: dict[str, tuple] = {}
    original = band_module.measured_core

    def capture(near):
        def wrapped(data, sat_mask, limb, psf, elongation, band, messages):
            if near:
                captured[band] = (data, sat_mask, limb)
            kw = {} if near else {"near_limb_min_snr": None}
            return original(data, sat_mask, limb, psf, elongation, band, messages, **kw)

        return functools.wraps(original)(wrapped)

    frames, rows, all_same = [], [], True
    for i in range(args.frames):
        rendered = render_scene(draw_scene(rng, kind=args.side))
        frame = in_memory_frame(rendered)
        captured.clear()
        band_module.measured_core = capture(True)
        after = detect_frame(frame)
        band_module.measured_core = capture(False)
        before = detect_frame(frame)
        band_module.measured_core = original
        same = [(d.sample, d.line, d.snr, d.flags) for d in after.detections] == [
            (d.sample, d.line, d.snr, d.flags) for d in before.detections
        ]
        all_same &= same
        b = rendered.bands["M"]
        t = rendered.truth[(rendered.truth["band"] == "M") & ~rendered.truth["saturated"]]
        fr = {"i": i, "same": same, "called": "M" in captured}
        if "M" in captured:
            data, sat, limb = captured["M"]
            old, _ = core_estimate(data, sat, limb.distance_px, None)
            new_only = pe.measure_psf(data, sat, limb.distance_px, near_limb_min_snr=pe.NEAR_LIMB_MIN_SNR)
            new, near = core_estimate(data, sat, limb.distance_px, pe.NEAR_LIMB_MIN_SNR)
            fr["old_sigma"] = None if old is None else old.sigma_px
            fr["new_sigma"] = None if new is None else new.sigma_px
            fr["near"] = near
            fr["new_rule_alone_sigma"] = (
                None
                if new_only is None or not (new_only.n_sources >= 2 or new_only.max_snr >= 100)
                else new_only.sigma_px
            )
            bright = t[t["snr_ideal"] >= args.reason_snr]
            fr["reasons"] = reasons(data, sat, limb, bright, b.line_offset) if old is None else []
        frames.append(fr)
        ti = t[t["neighbour_px"] >= 4]
        dets = [[d for d in res.detections if d.band == "M" and not d.flags & BAD] for res in (after, before)]
        if not dets[0] or not len(ti):
            continue
        mt = match(np.array([(d.sample, d.line) for d in dets[0]]), ti[["sample", "line"]].to_numpy(float))
        for k, j in enumerate(mt):
            if j < 0:
                continue
            tr = ti.iloc[j]
            f = float(tr.flux_w_m2_sr)
            a, o = dets[0][k], dets[1][k]
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
    new_frames = [f for f in called if f["old_sigma"] is None and f["new_sigma"] is not None]
    new = np.array([f["new_sigma"] for f in new_frames])
    agree = np.array(
        [f["new_rule_alone_sigma"] / f["old_sigma"] - 1 for f in called
         if f["old_sigma"] is not None and f["new_rule_alone_sigma"] is not None]
    )  # fmt: skip
    reasons_count: dict[str, int] = {}
    for f in called:
        for r in f["reasons"]:
            reasons_count[r] = reasons_count.get(r, 0) + 1
    frame_reason: dict[str, int] = {}
    for f in called:
        if f["old_sigma"] is None and f["reasons"]:
            r = "limb<=6px" if "limb<=6px" in f["reasons"] else sorted(f["reasons"])[0]
            frame_reason[r] = frame_reason.get(r, 0) + 1

    def pct(v):
        return [round(float(x), 3) for x in np.percentile(v, [5, 50, 95])] if v.size else None

    out = {
        "side": args.side,
        "frames": args.frames,
        "seed": args.seed,
        "decisions_identical_all_frames": bool(all_same),
        "frames_path_ran": len(called),
        "frames_not_called": len(frames) - len(called),
        "frames_core_old_rule": int(old.size),
        "frames_core_new_only": int(new.size),
        "old_sigma_p5_50_95": pct(old),
        "new_frames_sigma_p5_50_95": pct(new),
        "new_frames_beyond_10pct": int(np.sum(np.abs(new / TRUE_SIGMA_PX - 1) > 0.1)),
        "new_frames_index_sigma": [[f["i"], round(f["new_sigma"], 3)] for f in new_frames],
        "agree_new_rule_vs_old_p5_50_95": pct(agree),
        "agree_max_abs": round(float(np.max(np.abs(agree))), 4) if agree.size else None,
        f"reasons_snr{int(args.reason_snr)}_sources_on_frames_without_core": reasons_count,
        "frames_without_core_by_reason": frame_reason,
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
        fresh = [x for x in s if x["corrected_after"] and not x["corrected_before"]]
        if fresh:  # corrected only with the near-limb rule: their flux ÷ truth − 1 before → after
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
