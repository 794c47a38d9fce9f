"""The PSF halo's weight measured for the fluxes (:func:`ioscan.detect.photometry_psf.measured_halo`): flux
÷ truth − 1 and flux pulls on the independent renderer's frames without geometry, with and without it.

The renderer draws a pure Gaussian PSF (σ 0.8 px); the JIRAM model is a core plus a 4 % halo of σ 2.5 px.
Where detection measures the core (the night side) the halo stays in the fits and a fitted amplitude puts
~3 % of the flux into a halo that is not there. Frames of :mod:`ioscan.simulate.independent` are detected as
a reader would give them (``bench_generalise.in_memory_frame``) twice in one process: as now ("new") and
with ``band.measured_halo`` returning None ("old"). Per matched isolated unsaturated true hot spot (M band,
within 1.5 px, COSMIC_RAY / ARTEFACT / SATURATED left out): flux ÷ truth − 1 (median) and the pull
(net_radiance_sum − true flux) / net_radiance_sum_err (median, robust std 1.4826 × MAD) by bin of ideal S/N;
how many frames measured the halo; whether every decision (band, position, S/N, flags) is identical.

Usage: ``python benchmarks/bench_psf_halo.py [--side night|day] [--frames 60] [--seed 23]``; prints the
halo messages and a summary, one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ioscan.detect.band as band_module  # noqa: E402
from bench_generalise import in_memory_frame  # noqa: E402
from bench_psf_core import matched_pairs, robust  # noqa: E402
from ioscan.detect import detect_frame  # noqa: E402
from ioscan.simulate.independent import draw_scene, render_scene  # noqa: E402

BINS = ((5, 10), (10, 30), (30, 100), (100, np.inf), (1000, np.inf))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", default="night", choices=("day", "night"))
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=23)
    args = ap.parse_args()
    original = band_module.measured_halo
    rng = np.random.default_rng(args.seed)
    rows, n_halo, all_same = [], 0, True
    for i in range(args.frames):
        rendered = render_scene(draw_scene(rng, kind=args.side))
        frame = in_memory_frame(rendered)
        t = rendered.truth[(rendered.truth["band"] == "M") & ~rendered.truth["saturated"]]
        ti = t[t["neighbour_px"] >= 4]
        new = detect_frame(frame)
        band_module.measured_halo = lambda *a, **k: None
        try:
            old = detect_frame(frame)
        finally:
            band_module.measured_halo = original
        msgs = [m for m in new.messages if "halo" in m]
        if msgs:
            n_halo += 1
            print(i, msgs[0], file=sys.stderr)
        key = [(d.band, d.sample, d.line, d.snr, d.flags) for d in new.detections]
        all_same &= key == [(d.band, d.sample, d.line, d.snr, d.flags) for d in old.detections]
        for tr, dn, do in matched_pairs(new, old, ti):
            f = float(tr.flux_w_m2_sr)
            row = {"i": i, "snr": float(tr.snr_ideal), "halo": bool(msgs)}
            for when, d in (("new", dn), ("old", do)):
                row[f"rel_{when}"] = d.net_radiance_sum / f - 1
                row[f"pull_{when}"] = (d.net_radiance_sum - f) / d.net_radiance_sum_err
            rows.append(row)
    out = {
        "side": args.side,
        "frames": args.frames,
        "seed": args.seed,
        "frames_halo_measured": n_halo,
        "decisions_identical_all_frames": bool(all_same),
        "bins": {},
    }
    for lo, hi in BINS:
        s = [r for r in rows if lo <= r["snr"] < hi]
        if not s:
            continue
        d = {"n": len(s), "on_halo_frames": int(sum(r["halo"] for r in s))}
        for when in ("old", "new"):
            d[when] = {
                "rel_median": round(float(np.median([r[f"rel_{when}"] for r in s])), 4),
                "pull_median_robust_std": [round(v, 2) for v in robust([r[f"pull_{when}"] for r in s])],
            }
        out["bins"][f"{lo}-{hi}"] = d
        print(
            f"S/N {lo}-{hi}: n {len(s)} ({d['on_halo_frames']} on frames measuring the halo) | flux/truth-1 "
            f"{d['old']['rel_median']:+.4f} -> {d['new']['rel_median']:+.4f} | pull med, rstd "
            f"{d['old']['pull_median_robust_std']} -> {d['new']['pull_median_robust_std']}",
            file=sys.stderr,
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
