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

Controlled case first (``white_noise``, not the renderer's: no limb, no texture): unit white noise with a
grid of isolated point sources (Gaussian core σ 0.6 / 0.8 / 1.0 / 1.2 px, random sub-pixel position, ideal
matched-filter S/N 20 computed from the PSF itself, 32 px apart), plain and on a smooth gradient with
curvature (30 σ across the frame); per width the median S/N found ÷ 20 at the sources (3 × 3 maximum) and the
median local scale there, 2 seeds. ``--white-only`` prints only that.

Usage: ``python benchmarks/bench_dayside_loss.py [--frames N] [--seed S] [--white-only]`` (N frames of the
sequence, about half of them sunlit; default 120; ~1 min on one core).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from bench_generalise import SEED, in_memory_frame, limb_distance_px, start_time
from ioscan.detect import DetectConfig, detect_frame
from ioscan.detect.background import estimate_background
from ioscan.detect.psf import PsfModel
from ioscan.simulate.independent import draw_scene, render_scene

WHITE_SIGMAS_PX = (0.6, 0.8, 1.0, 1.2)
WHITE_SNR = 20.0
BINS_PX = (-1.0, 1.5, 3.0, 5.0, 8.0, 20.0, 1e9)
ISOLATED_PX = 4.0
MIN_SNR = 7.0


def sources_of(frame_no: int, rendered, config: DetectConfig | None = None) -> list[dict]:
    """One row per isolated unsaturated hot spot (ideal S/N ≥ 7) of the M band: the S/N map read at it."""
    threshold = (config or DetectConfig()).threshold_snr
    res = detect_frame(in_memory_frame(rendered), config=config, keep_models=True)
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


def white_noise_case(
    sigma_px: float,
    seed: int,
    gradient_sigma: float = 0.0,
    n: int = 256,
    spacing: int = 32,
    config: DetectConfig | None = None,
):
    """(median S/N found ÷ ideal, median scale at the sources) on unit white noise with isolated sources."""
    rng = np.random.default_rng(seed)
    psf = PsfModel.gaussian(sigma_px)
    img = rng.normal(0.0, 1.0, (n, n))
    if gradient_sigma:
        yy, xx = np.mgrid[0:n, 0:n] / n
        img += gradient_sigma * (xx + 0.5 * yy**2 + 0.3 * np.sin(6.0 * xx))
    r = 8
    o = np.arange(-r, r + 1, dtype=float)
    pos = []
    for i in range(spacing // 2, n - spacing // 2 + 1, spacing):
        for j in range(spacing // 2, n - spacing // 2 + 1, spacing):
            y, x = i + rng.uniform(-0.5, 0.5), j + rng.uniform(-0.5, 0.5)
            p = psf.stamps((j + o)[None, None, :], (i + o)[None, :, None], np.array([x]), np.array([y]))[0][0]
            img[i - r : i + r + 1, j - r : j + r + 1] += WHITE_SNR / np.sqrt(np.sum(p**2)) * p
            pos.append((i, j))
    cfg = config or DetectConfig()
    m = estimate_background(
        img,
        psf=psf,
        source_ring_mask=cfg.source_ring_mask,
    )
    found = [float(np.max(m.snr[i - 1 : i + 2, j - 1 : j + 2])) / WHITE_SNR for i, j in pos]
    return float(np.median(found)), float(np.median([m.scale[i, j] for i, j in pos]))


def white_noise_table(config: DetectConfig | None = None) -> dict:
    """Per PSF width (and with a smooth gradient): S/N found ÷ ideal and the scale at the sources."""
    out = {}
    for grad in (0.0, 30.0):
        for s in WHITE_SIGMAS_PX:
            res = [white_noise_case(s, seed, grad, config=config) for seed in (1, 2)]
            out[f"{'gradient' if grad else 'flat'}_sigma_{s:g}"] = {
                "snr_over_ideal": round(float(np.mean([a for a, _ in res])), 3),
                "scale_at_sources": round(float(np.mean([b for _, b in res])), 3),
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=120, help="frames of the sequence (even ones: day side)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--white-only", action="store_true", help="only the white-noise table")
    ap.add_argument("--no-white", action="store_true", help="skip the white-noise table")
    ap.add_argument(
        "--set", action="append", default=[], metavar="detect.KEY=VALUE", help="a detection setting"
    )
    args = ap.parse_args()
    from ioscan.settings import Settings

    config = Settings.load(None, args.set).detect if args.set else None
    t0 = time.time()
    white = {} if args.no_white else white_noise_table(config)
    if args.white_only:
        print(json.dumps({"white_noise": white, "wall_s": round(time.time() - t0, 1)}))
        return
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
        rows.extend(sources_of(i, rendered, config))
    df = pd.DataFrame(rows)
    out: dict = {
        "white_noise": white,
        "day_frames": n_day,
        "seed": args.seed,
        "sources": int(len(df)),
        "by_limb_distance_px": {},
    }
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
