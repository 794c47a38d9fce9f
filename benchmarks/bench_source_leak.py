"""What the background puts under a bright source on sunlit ground, traced by step; prints one JSON object.

Frames: sunlit L-band frames of the project's simulator surface (``SurfaceModel``: albedo texture, Minnaert
shading, its PSF, its detector noise), seen at ``--ranges`` km with label geometry (the shading template and
the sunlit path of detection in use), hot spots left out. Single sources are injected with the simulator's
PSF (``jiram_psf``: its truth, not detection's model) on a grid 24 px apart, ≥ 10 px inside the limb, at
matched-filter S/N ``--snr`` against the ground's noise; the image without them shares the noise draw, so
the difference of the two backgrounds is what the sources put there.

Per S/N and setting (``detect.keep_source_pixels`` off = the code before, on):

* ``flux_rel``: the fitted flux (``detect_band``, default settings otherwise) ÷ the injected − 1: median,
  mean, std, and the pulls' std (flux error of the fit; ``pull_std_with_fill``: with detection's outlier-fill
  error ``extra["fill_flux_err"]`` in quadrature, measurement's background-fill term, and its rms as a
  fraction of the flux, ``fill_err_rel_rms``);
* ``leak``: Σ over the 5 × 5 stamp of (background with the source − without) ÷ flux, at the option chosen
  at the source, split into the source's own term (its light through the fill and annulus, which the
  effective PSF models: ``model``) and the ground's term (the outlier fill's mask around the source changes
  what the ground feeds the annulus), with the hole's size (outlier pixels within 6 px).
* ``stages`` (``--trace``): the leak's median with the shading normalisation off, the limb split off (one
  region), and on a flat field of the same level (no texture): which step first puts ground under it.

``--timing R``: detection's CPU time with the setting on ÷ off on the frames with their sources (S/N 30–3,000
mixed), R interleaved rounds (median of the per-frame ratios).

Usage: ``python benchmarks/bench_source_leak.py [--ranges 100000,200000] [--snr 30,300,1000,3000] [--trace]
[--timing R]`` (~20 s).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ioscan.detect.background import (
    _fill,
    correlate_kernel,
    estimate_background,
)
from ioscan.detect.band import _background_args, detect_band
from ioscan.detect.config import DetectConfig
from ioscan.detect.psf import PsfModel
from ioscan.detect.region import locate_limb

STAMP_HALF_PX = 2
SPACING_PX = 24
MIN_LIMB_PX = 10.0


def sunlit_frame(range_km: float, seed: int, sun_lon_w_deg: float = 215.0):
    """A sunlit L frame of the simulator's surface (:mod:`ioscan.simulate.sunlit_ground`): image, noiseless
    ground, backplanes, PSF, detector, exposure (s)."""
    from ioscan.simulate.sunlit_ground import sunlit_ground_frame

    f = sunlit_ground_frame(range_km, seed, sun_lon_w_deg)
    return f.image, f.ground, f.backplanes, f.psf, f.detector, f.exposure_s


def _band(img: np.ndarray):
    from ioscan.records import BandImage

    return BandImage(
        band="L", data=img.astype(np.float32), unit="W/(m^2*sr)", wavelength_um=3.455, bandwidth_um=0.28
    )


def one_case(range_km: float, seed: int, snr: float, trace: bool) -> dict:
    img0, surf, bp, spsf, det, exposure = sunlit_frame(range_km, seed)
    rng = np.random.default_rng(seed)
    d = np.asarray(bp["limb_distance_px"])
    inc = np.asarray(bp["incidence_deg"])
    pos = [
        (ln + rng.uniform(-0.5, 0.5), s + rng.uniform(-0.5, 0.5))
        for ln in range(12, 128 - 11, SPACING_PX)
        for s in range(20, 432 - 19, SPACING_PX)
        if d[ln, s] > MIN_LIMB_PX and inc[ln, s] < 80.0
    ]
    if not pos:
        return {}
    yx = np.array(pos)
    li, sj = np.rint(yx[:, 0]).astype(int), np.rint(yx[:, 1]).astype(int)
    sigma = det.noise_sigma_w_m2_sr("L", exposure, np.maximum(surf[li, sj], 0.0))
    unit = np.zeros((41, 41))
    spsf.add_point_sources(unit, [20.0], [20.0], [1.0])
    flux = snr * sigma / np.sqrt(np.sum(unit**2))
    src = np.zeros_like(surf)
    spsf.add_point_sources(src, yx[:, 1], yx[:, 0], flux)
    img1 = img0 + src
    model_psf = PsfModel(spsf.weights, spsf.sigmas_px)
    out: dict = {"range_km": range_km, "seed": seed, "snr": snr, "n": len(pos)}
    for name, keep in (("filled", False), ("kept", True)):
        cfg = DetectConfig(keep_source_pixels=keep, estimate_psf=False)
        res = detect_band(_band(img1), bp, instrument="JIRAM", config=cfg)
        got = np.full(len(pos), np.nan)
        pull = np.full(len(pos), np.nan)
        pull_fill = np.full(len(pos), np.nan)  # with the outlier fill's error (measurement's background term)
        fill_rel = np.full(len(pos), np.nan)
        for det_ in res.detections:
            dist = np.hypot(yx[:, 1] - det_.sample, yx[:, 0] - det_.line)
            i = int(np.argmin(dist))
            if dist[i] < 1.5:
                got[i] = det_.net_radiance_sum / flux[i] - 1.0
                pull[i] = (det_.net_radiance_sum - flux[i]) / det_.net_radiance_sum_err
                fill = float(np.nan_to_num(det_.extra.get("fill_flux_err", 0.0)))
                pull_fill[i] = (det_.net_radiance_sum - flux[i]) / np.hypot(det_.net_radiance_sum_err, fill)
                fill_rel[i] = fill / flux[i]
        ok = np.isfinite(got)
        out[name] = {
            "found": int(ok.sum()),
            "flux_rel_median": round(float(np.median(got[ok])), 4) if ok.any() else None,
            "flux_rel_mean": round(float(np.mean(got[ok])), 4) if ok.any() else None,
            "flux_rel_std": round(float(np.std(got[ok])), 4) if ok.any() else None,
            "pull_std": round(float(np.std(pull[ok])), 2) if ok.any() else None,
            "pull_std_with_fill": round(float(np.std(pull_fill[ok])), 2) if ok.any() else None,
            "fill_err_rel_rms": round(float(np.sqrt(np.nanmean(fill_rel[ok] ** 2))), 4) if ok.any() else None,
        }
    out["leak"] = leak_terms(img0, img1, surf, src, bp, model_psf, yx, flux, trace)
    return out


def _model_of(img: np.ndarray, bp, psf: PsfModel, variant: str):
    cfg = DetectConfig()
    x = img.astype(np.float32)
    limb = locate_limb(_band(x), x, bp, psf.core_sigma_px, cfg, None, psf)
    args = _background_args(x, limb, None, (slice(None), slice(None)), psf, cfg)
    if variant in ("no_shading", "one_region"):
        args["shading"] = None
    if variant == "one_region":
        args.update(limb_distance_px=None, sunlit=None)
    return estimate_background(x, **args)


def leak_terms(img0, img1, surf, src, bp, psf, yx, flux, trace: bool) -> dict:
    """Per source, Σ_stamp (bg with − bg without) ÷ flux, and its two terms (see the module docstring)."""
    r = STAMP_HALF_PX
    out: dict = {}
    variants = ("default", "no_shading", "one_region") if trace else ("default",)
    for variant in variants:
        m0, m1 = _model_of(img0, bp, psf, variant), _model_of(img1, bp, psf, variant)
        tot, own, ground, holes = [], [], [], []
        for (y, x), f in zip(yx, flux, strict=True):
            li, sj = int(round(y)), int(round(x))
            st = (slice(li - r, li + r + 1), slice(sj - r, sj + r + 1))
            h0, h1, deg = m1.annuli[int(m1.choice[li, sj])]
            c1 = m1.clean
            fill_src = _fill(src.astype(np.float64), c1, h1 + 2)
            own_k = correlate_kernel(fill_src, h0, h1, deg)
            tot.append(float(np.sum(m1.background[st] - m0.background[st]) / f))
            own.append(float(np.sum(own_k[st]) / f))
            ground.append(tot[-1] - own[-1])
            holes.append(int((~c1[li - 6 : li + 7, sj - 6 : sj + 7]).sum()))
        out[variant] = {
            "total_median": round(float(np.median(tot)), 4),
            "model_median": round(float(np.median(own)), 4),
            "ground_median": round(float(np.median(ground)), 4),
            "ground_std": round(float(np.std(ground)), 4),
            "hole_px_median": float(np.median(holes)),
        }
    if trace:  # flat field of the same level: the ground term vanishes
        level = float(np.median(surf[np.asarray(bp["limb_distance_px"]) > MIN_LIMB_PX]))
        flat = np.full(surf.shape, level)
        m = estimate_background((flat + src).astype(np.float32), psf=psf)
        h0, h1, deg = m.annuli[0]
        fill_src = _fill(src.astype(np.float64), m.clean, h1 + 2)
        own_k = correlate_kernel(fill_src, h0, h1, deg)
        diffs = []
        for (y, x), f in zip(yx, flux, strict=True):
            li, sj = int(round(y)), int(round(x))
            st = (slice(li - r, li + r + 1), slice(sj - r, sj + r + 1))
            diffs.append(float(np.sum(m.background[st] - level - own_k[st]) / f))
        out["flat_field_ground_max_abs"] = float(np.max(np.abs(diffs)))
    return out


def timing(ranges: list[float], seeds: list[int], rounds: int) -> dict:
    """CPU time of ``detect_band`` with ``keep_source_pixels`` on ÷ off, interleaved, per frame."""
    frames = []
    for rk in ranges:
        for seed in seeds:
            img0, surf, bp, spsf, det, exposure = sunlit_frame(rk, seed)
            rng = np.random.default_rng(seed)
            d = np.asarray(bp["limb_distance_px"])
            on = np.argwhere((d > MIN_LIMB_PX) & (np.asarray(bp["incidence_deg"]) < 80.0))
            pick = on[rng.choice(len(on), size=min(15, len(on)), replace=False)]
            src = np.zeros_like(surf)
            sig = det.noise_sigma_w_m2_sr("L", exposure, np.maximum(surf[pick[:, 0], pick[:, 1]], 0.0))
            snr = np.exp(rng.uniform(np.log(30.0), np.log(3000.0), len(pick)))
            spsf.add_point_sources(src, pick[:, 1] + 0.3, pick[:, 0] - 0.2, snr * sig / 0.45)
            frames.append((_band(img0 + src), bp))
    ratios = []
    for band, bp in frames:
        t = {False: [], True: []}
        for _ in range(rounds):
            for keep in (False, True):
                cfg = DetectConfig(keep_source_pixels=keep)
                c0 = time.process_time()
                detect_band(band, bp, instrument="JIRAM", config=cfg)
                t[keep].append(time.process_time() - c0)
        ratios.append(float(np.median(t[True]) / np.median(t[False])))
    return {
        "frames": len(frames),
        "rounds": rounds,
        "cpu_on_over_off_median": round(float(np.median(ratios)), 3),
        "cpu_on_over_off_per_frame": [round(r, 3) for r in ratios],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ranges", default="100000,200000", help="comma-separated ranges, km")
    ap.add_argument("--snr", default="30,300,1000,3000", help="comma-separated matched-filter S/N")
    ap.add_argument("--seeds", default="3,4", help="surface seeds")
    ap.add_argument("--trace", action="store_true", help="the leak with shading / limb split off, flat field")
    ap.add_argument("--timing", type=int, default=0, help="interleaved rounds of the CPU-time ratio")
    args = ap.parse_args()
    t0 = time.time()
    if args.timing:
        ranges = [float(v) for v in args.ranges.split(",")]
        seeds = [int(v) for v in args.seeds.split(",")]
        print(
            json.dumps({"timing": timing(ranges, seeds, args.timing), "wall_s": round(time.time() - t0, 1)})
        )
        return
    cases = []
    for rk in (float(v) for v in args.ranges.split(",")):
        for seed in (int(v) for v in args.seeds.split(",")):
            for snr in (float(v) for v in args.snr.split(",")):
                c = one_case(rk, seed, snr, args.trace)
                if c:
                    cases.append(c)
    summary = {}
    for snr in sorted({c["snr"] for c in cases}):
        sel = [c for c in cases if c["snr"] == snr]
        summary[f"snr_{snr:g}"] = {
            name: {
                k: round(float(np.median([c[name][k] for c in sel if c[name][k] is not None])), 4)
                for k in (
                    "flux_rel_median",
                    "flux_rel_std",
                    "pull_std",
                    "pull_std_with_fill",
                    "fill_err_rel_rms",
                )
            }
            for name in ("filled", "kept")
        } | {
            "leak_total": round(float(np.median([c["leak"]["default"]["total_median"] for c in sel])), 4),
            "leak_model": round(float(np.median([c["leak"]["default"]["model_median"] for c in sel])), 4),
            "hole_px": float(np.median([c["leak"]["default"]["hole_px_median"] for c in sel])),
        }
    print(json.dumps({"cases": cases, "summary": summary, "wall_s": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
