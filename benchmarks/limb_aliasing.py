"""The independent renderer's limb aliasing at ioscan's false limb detections (issue 11, "limbmisfit").

The renderer (``ioscan.simulate.independent.render``) samples the disk at ``supersample`` × ``supersample``
points per pixel (3 in ``bench_generalise``), blurs that sub-grid with the PSF and bins it: Io's hard edge is
drawn as a staircase of ⅓-px steps. Where the limb's slope beats with the sub-grid, the drawn limb lies up to
1/6 px out or in over a few pixels of arc, and at a sunlit step of ~100 white-noise σ that is a PSF-wide
blob of several σ per pixel, alternating in sign along the limb: the shape of a point source, in the noiseless
scene itself (the truth's ``background``). A detector integrates the sky continuously: real frames have no
such blobs.

For the given frames of a ``bench_generalise`` seed (day frames are the even ones), this renders each frame
at the benchmark's sub-grid and at a finer one (same scene, same noise draw), runs ioscan on both and lists,
per tracked false detection (as ``bench_generalise``'s tracked view: not ARTEFACT or OFF_DISK; no true hot
spot within ``MATCH_PX``) within ``NEAR_LIMB_PX`` of the true limb: the aliasing at it (the coarse minus the
fine noiseless scene, in true σ: its peak within 1 px and its oracle matched-filter S/N with the true PSF,
as ``ideal_candidates`` reads the data) and whether a tracked false detection is within ``MATCH_PX`` on each
rendering (those of the finer rendering alone are listed too). Also the tracked false and found counts of
both renderings over those frames (all kinds), and the rendering's CPU time at each sub-grid.

    PYTHONPATH=src python benchmarks/limb_aliasing.py --seed 47 --frames 168,220,224,234 [--fine 9]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from types import SimpleNamespace

import numpy as np
from scipy import ndimage

from bench_generalise import (
    MATCH_PX,
    NEAR_LIMB_PX,
    SEED,
    _template,
    detections_of,
    in_memory_frame,
    scene_of,
    score_band,
)
from ioscan.simulate.independent import render_scene

#: the benchmark's sub-grid (``SceneParams.supersample``'s default)
COARSE = 3


def aliasing_snr(
    rendered_coarse, rendered_fine, band: str, sample: float, line: float
) -> tuple[float, float]:
    """(peak |coarse − fine| ÷ σ within 1 px, oracle matched-filter S/N of coarse − fine) at one position."""
    b3, b9 = rendered_coarse.bands[band], rendered_fine.bands[band]
    diff = (b3.background - b9.background) / b3.sigma
    i, j = int(round(line - b3.line_offset)), int(round(sample))
    nl, ns = diff.shape
    box = diff[max(i - 1, 0) : min(i + 2, nl), max(j - 1, 0) : min(j + 2, ns)]
    peak = float(box.flat[np.argmax(np.abs(box))]) if box.size else 0.0
    p = _template(rendered_coarse.params.psf, 0.0, 0.0)
    w = 1.0 / b3.sigma**2
    num = ndimage.correlate((b3.background - b9.background) * w, p, mode="constant")
    den = ndimage.correlate(w, p**2, mode="constant")
    mf = num / np.sqrt(np.maximum(den, 1e-300))
    mbox = mf[max(i - 1, 0) : min(i + 2, nl), max(j - 1, 0) : min(j + 2, ns)]
    return round(peak, 2), round(float(mbox.max()) if mbox.size else 0.0, 2)


def tracked_false(rendered, dets) -> list[dict]:
    """The tracked false detections of a rendered frame (rows of ``score_band``'s false table, not flagged
    OFF_DISK; ``detections_of`` left out ARTEFACT), then per band ``{"_found": n}``, the true hot spots found
    by a detection the tracker keeps."""
    out = []
    for band in rendered.bands:
        _, fd, _, found_kept = score_band(rendered, band, dets[dets["band"] == band])
        out.extend(r for r in fd.to_dict("records") if not r["off_disk_flag"])
        out.append({"_found": int(found_kept.sum())})
    return out


def run(args) -> dict:
    """Render, detect and compare the chosen frames at both sub-grids."""
    frames = sorted(int(f) for f in args.frames.split(","))
    scene_args = SimpleNamespace(mode="I2", psf_jitter=0.0, elongation=1.0)
    rng = np.random.default_rng(args.seed)
    rows, totals = [], {"coarse": {"false": 0, "found": 0}, "fine": {"false": 0, "found": 0}}
    cpu = {"coarse": 0.0, "fine": 0.0}
    for i in range(max(frames) + 1):
        params = scene_of(scene_args, rng, i)
        if i not in frames:
            continue
        rendered, per = {}, {}
        for name, ss in (("coarse", COARSE), ("fine", args.fine)):
            t0 = time.process_time()
            rendered[name] = render_scene(dataclasses.replace(params, supersample=ss))
            cpu[name] += time.process_time() - t0
            dets, _ = detections_of(in_memory_frame(rendered[name]))
            fl = tracked_false(rendered[name], dets)
            per[name] = [r for r in fl if "_found" not in r]
            totals[name]["false"] += len(per[name])
            totals[name]["found"] += sum(r.get("_found", 0) for r in fl)
        for have, other in (("coarse", "fine"), ("fine", "coarse")):
            for r in per[have]:
                if r["limb_px"] > NEAR_LIMB_PX:
                    continue
                near = [
                    f
                    for f in per[other]
                    if f["band"] == r["band"]
                    and np.hypot(f["sample"] - r["sample"], f["line"] - r["line"]) <= MATCH_PX
                ]
                if have == "fine" and near:
                    continue  # listed with the coarse rendering's
                b = r["band"]
                peak, mf = aliasing_snr(rendered["coarse"], rendered["fine"], b, r["sample"], r["line"])
                rows.append(
                    {
                        "frame": i, "band": b, "sample": r["sample"], "line": r["line"],
                        "mf_snr": r["mf_snr"], "limb_px": r["limb_px"], "kind": r["kind"],
                        "aliasing_peak_sigma": peak, "aliasing_mf_snr": mf,
                        f"false_at_supersample_{COARSE}": have == "coarse" or bool(near),
                        f"false_at_supersample_{args.fine}": have == "fine" or bool(near),
                    }
                )  # fmt: skip
    return {
        "seed": args.seed,
        "frames": frames,
        "supersample": {"coarse": COARSE, "fine": args.fine},
        "tracked_totals": totals,
        "render_cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "limb_false": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--frames", required=True, help="comma-separated frame indices (day frames are even)")
    ap.add_argument("--fine", type=int, default=9, help="the finer sub-grid, points per pixel and axis")
    print(json.dumps(run(ap.parse_args()), indent=1))


if __name__ == "__main__":
    main()
