"""Where day-side detection loses S/N: ioscan's S/N map at each true hot spot against the ideal matched
filter's, by distance to the limb; prints one JSON object.

Frames: the day-side frames of ``bench_generalise.py`` (the same random sequence and seed: even frame numbers,
those the independent renderer calls sunlit), detected as there (no geometry, default settings) with the
band model kept. For every isolated (no other within 4 px), unsaturated hot spot of ideal matched-filter
S/N ≥ 7 (the renderer's ``snr_ideal``: true PSF, true per-pixel noise) the calibrated S/N map of
``detect_frame`` (``BandModel.snr``) is read at its 3 × 3 maximum around the true position, with the
local scale there (``BandModel.scale``: the noise's excess over white noise that the S/N is divided by)
and whether the pixel is searched at all (``usable``: the bright limb band is not). Per bin of the distance
to the true limb (px): the median of S/N ÷ ideal S/N, of the scale, of S/N × scale ÷ ideal (what white
noise alone would leave: the background kernel's noise and the PSF model's mismatch), the usable fraction,
and the fraction whose S/N map passes the detection threshold at the true place (before the fits, flags and
matching of the catalogue: an upper bound of what ``bench_generalise`` finds).

Usage: ``python benchmarks/bench_dayside_loss.py [--frames N] [--seed S]`` (N frames of the sequence, about
half of them sunlit; default 120; ~1 min on one core).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from bench_generalise import SEED, in_memory_frame, limb_distance_px, start_time
from ioscan.detect import DetectConfig, detect_frame
from ioscan.simulate.independent import draw_scene, render_scene

BINS_PX = (-1.0, 1.5, 3.0, 5.0, 8.0, 20.0, 1e9)
ISOLATED_PX = 4.0
MIN_SNR = 7.0


def sources_of(frame_no: int, rendered) -> list[dict]:
    """One row per isolated unsaturated hot spot (ideal S/N ≥ 7) of the M band: the S/N map read at it."""
    threshold = DetectConfig().threshold_snr
    res = detect_frame(in_memory_frame(rendered), keep_models=True)
    br = res.bands.get("M")
    if br is None or br.model is None:
        return []
    m, (l0, s0) = br.model, br.offset
    band = rendered.bands["M"]
    t = rendered.truth[rendered.truth["band"] == "M"]
    limb = limb_distance_px(rendered, "M")
    rows = []
    for (_, row), lpx in zip(t.iterrows(), limb, strict=True):
        if row["saturated"] or row["neighbour_px"] < ISOLATED_PX or row["snr_ideal"] < MIN_SNR:
            continue
        li = int(round(row["line"] - band.line_offset)) - l0
        sj = int(round(row["sample"])) - s0
        if not (0 <= li < m.snr.shape[0] and 0 <= sj < m.snr.shape[1]):
            continue
        box = (slice(max(li - 1, 0), li + 2), slice(max(sj - 1, 0), sj + 2))
        snr = float(np.max(m.snr[box]))
        rows.append(
            {
                "frame": frame_no,
                "limb_px": float(lpx),
                "ratio": snr / float(row["snr_ideal"]),
                "scale": float(m.scale[li, sj]),
                "usable": bool(m.usable[li, sj]),
                "passes": snr >= threshold,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=120, help="frames of the sequence (even ones: day side)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    t0 = time.time()
    rng = np.random.default_rng(args.seed)
    rows, n_day = [], 0
    for i in range(args.frames):
        params = draw_scene(rng, kind="day" if i % 2 == 0 else "night", start_time_utc=start_time(i))
        if i % 2:
            continue
        rendered = render_scene(params)
        if rendered.illumination != "day":
            continue
        n_day += 1
        rows.extend(sources_of(i, rendered))
    df = pd.DataFrame(rows)
    out: dict = {"day_frames": n_day, "seed": args.seed, "sources": int(len(df)), "by_limb_distance_px": {}}
    if len(df):
        df["white_ratio"] = df["ratio"] * df["scale"]
        df["bin"] = pd.cut(df["limb_px"], BINS_PX)
        for b, g in df.groupby("bin", observed=True):
            key = (
                f"le_{b.right:g}"
                if b.left < 0
                else f"gt_{b.left:g}"
                if b.right > 1e8
                else f"{b.left:g}_to_{b.right:g}"
            )
            out["by_limb_distance_px"][key] = {
                "n": int(len(g)),
                "snr_over_ideal_median": round(float(g["ratio"].median()), 3),
                "scale_median": round(float(g["scale"].median()), 3),
                "white_snr_over_ideal_median": round(float(g["white_ratio"].median()), 3),
                "usable_fraction": round(float(g["usable"].mean()), 3),
                "snr_map_passes_threshold": round(float(g["passes"].mean()), 3),
            }
    out["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
