"""Limb-fit accuracy and speed on synthetic JIRAM-like and Keck-like frames; prints one JSON object.

For each scenario: 3 true pointing offsets × 8 noise realisations. Reports the error against truth
(observed − predicted centre offset, px), the mean reported 1σ, the pull std (error / 1σ) and the median
time per frame (ms, single process).

    python benchmarks/bench_limbfit.py [--against REV] [--seeds 1,2,3,4,5] [--campaign-only]

``--seeds`` runs the campaign scenario for each seed (orbits 5/43/57/58 × 5 frames); every campaign row
counts its confident wrong registrations (> 3 px or > 5σ from the applied pointing) with the error's median
and 90 % and the pulls' rms, and the pulls against the 1σ navigation propagates (the fit's ×
``navigate.LIMB_ERROR_SCALE`` and the pixel floor, ``pull_rms_as_navigated``, split at disks of 1,000 px) with
the scale that would make them rms 1 (``unit_pull_error_scale``, a 68 % bootstrap interval over bands; wrong
registrations > 3 px off left out and counted); ``--campaign-only`` runs only those (a seed sweep) and sums
them up.

With ``--against REV`` (a git revision) the limb-fit module as it was at REV runs on every frame too,
alternating with the current one (which goes first alternates, so both see the same machine): each scenario
adds its median ms (``median_ms_against``), the ratio of the medians and the largest difference of the two
offsets (``max_offset_diff_px``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.instruments.jiram import IFOV_RAD, PIXEL_AXES
from ioscan.robust import mad_sigma
from ioscan.simulate.limb_scene import (
    add_point_sources,
    io_center_px,
    jiram_band_geometry,
    render_io,
    rotate_pointing,
    scene_geometry,
)

OFFSETS = [(-120.0, 3.0), (85.0, -5.0), (-140.0, -2.0)]
N_NOISE = 8
#: the synthetic scenes shift the disk far along the samples (the fitter does not care which axis is along
#: track): searched like this; the campaign frames use JIRAM's registry prior (along the lines)
ALONG_SAMPLES = dict(max_shift_px=(200.0, 20.0), prior_sigma_px=(None, 3.0))
REPO = Path(__file__).resolve().parents[1]
#: the limb-fit module at ``--against REV`` (None: time the current one only)
AGAINST = None


def limbfit_at(rev: str):
    """The limb-fit module as it was at git revision ``rev``, imported under its own name."""
    src = subprocess.run(
        ["git", "show", f"{rev}:src/ioscan/geometry/limbfit.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    name = f"limbfit_at_{rev.replace('/', '_').replace('~', '_').replace('^', '_')}"
    path = Path(tempfile.mkdtemp(prefix="ioscan_bench_")) / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


_calls = [0]


def timed(fn: str, *args, times: list, against: list, diffs: list, **kwargs):
    """Run the current ``limbfit.<fn>`` (timed into ``times``) and, with ``--against``, the old one (into
    ``against``; the order alternates from call to call); the current result."""
    from ioscan.geometry import limbfit

    runs = [(limbfit, times)] + ([(AGAINST, against)] if AGAINST is not None else [])
    _calls[0] += 1
    out = {}
    for mod, acc in runs if _calls[0] % 2 else runs[::-1]:
        t0 = time.perf_counter()
        out[mod is limbfit] = getattr(mod, fn)(*args, **kwargs)
        acc.append(time.perf_counter() - t0)
    if AGAINST is not None:
        new, old = out[True], out[False]
        d = 0.0 if new.ok == old.ok else float("inf")
        for a, b in ((new.offset_sample_px, old.offset_sample_px), (new.offset_line_px, old.offset_line_px)):
            if not (np.isnan(a) and np.isnan(b)):
                d = max(d, abs(a - b) if np.isfinite(a - b) else float("inf"))
        diffs.append(d)
    return out[True]


def jiram_case(name, *, range_km=150_000.0, phase_deg=30.0, night=0.0, center=(216.0, 64.0), use_bp=False):
    errs, sigs, times, fails = [], [], [], []
    tk = dict(times=times, against=[], diffs=[])
    rng = np.random.default_rng(0)
    for ds, dl in OFFSETS:
        geom, cam, pose = jiram_band_geometry(range_km=range_km, phase_deg=phase_deg, center=center)
        true_pose = rotate_pointing(cam, pose, -ds * IFOV_RAD, dl * IFOV_RAD)
        clean = render_io(cam, true_pose, psf_sigma_px=1.0, night_level=night)
        c = io_center_px(cam, true_pose)
        r = 1821.0 / (range_km * IFOV_RAD)
        spots = [(c[0] - 0.3 * r, c[1] + 0.2 * r), (c[0] + 0.6 * r, c[1] - 0.8 * r)]
        clean = add_point_sources(clean, spots, [5.0, 5.0], 1.0)
        truth = np.subtract(c, io_center_px(cam, pose))
        predicted = backplanes_from_label(geom, 432, 128, axes=PIXEL_AXES) if use_bp else (cam, pose)
        for _ in range(N_NOISE):
            img = clean + rng.normal(0, 0.02, clean.shape)
            fit = timed("register_frame", img, predicted, **ALONG_SAMPLES, **tk)
            if not fit.ok:
                fails.append(fit.reason)
                continue
            errs.append([fit.offset_sample_px - truth[0], fit.offset_line_px - truth[1]])
            sigs.append(fit.offset_err_px)
    return summary(name, errs, sigs, times, fails, tk)


def keck_case(name, model_free: bool):
    errs, sigs, times, fails = [], [], [], []
    tk = dict(times=times, against=[], diffs=[])
    rng = np.random.default_rng(1)
    range_km, ifov, psf = 6.3e8, 0.009942 / 206264.806, 3.4
    for k, (cs, cl) in enumerate([(131.3, 122.8), (120.6, 135.1), (140.2, 118.4)]):
        geom, cam, pose = scene_geometry(
            range_km=range_km,
            ifov_rad=ifov,
            n_samples=256,
            n_lines=256,
            center_sample=cs,
            center_line=cl,
            phase_deg=8.0,
            sun_azimuth_deg=30.0 + 100 * k,
        )
        clean = render_io(cam, pose, psf_sigma_px=psf, supersample=3)
        c = io_center_px(cam, pose)
        clean = add_point_sources(clean, [(c[0] + 20, c[1] - 10), (c[0] - 40, c[1] + 30)], [2.0, 1.0], psf)
        guess = type(geom)(**{**geom.__dict__, "disk_center_sample": 128.0, "disk_center_line": 128.0})
        bp = backplanes_from_label(guess, 256, 256)
        r_px = 1821.0 / (range_km * ifov)
        for _ in range(N_NOISE):
            img = clean + rng.normal(0, 0.01, clean.shape)
            if model_free:
                fit = timed(
                    "fit_disk_center",
                    img,
                    r_px * 1.1,
                    psf_sigma_px=psf,
                    reference_center=(128.0, 128.0),
                    **tk,
                )
            else:
                fit = timed("register_frame", img, bp, psf_sigma_px=psf, max_shift_px=(20, 20), **tk)
            if not fit.ok:
                fails.append(fit.reason)
                continue
            errs.append([fit.offset_sample_px - (c[0] - 128.0), fit.offset_line_px - (c[1] - 128.0)])
            sigs.append(fit.offset_err_px)
    return summary(name, errs, sigs, times, fails, tk)


def against_fields(tk: dict) -> dict:
    """With ``--against``: the old module's median ms, new/old, the largest offset difference (px)."""
    if not tk["against"]:
        return {}
    return {
        "median_ms_against": round(1e3 * float(np.median(tk["against"])), 2),
        "ratio_to_against": round(float(np.median(tk["times"]) / np.median(tk["against"])), 3),
        "max_offset_diff_px": float(max(tk["diffs"])),
    }


def summary(name, errs, sigs, times, fails, tk):
    e = np.array(errs).reshape(-1, 2)
    s = np.array(sigs).reshape(-1, 2)
    out = {
        "scenario": name,
        "n_ok": len(e),
        "n_failed": len(fails),
        "median_ms": 1e3 * float(np.median(times)),
        **against_fields(tk),
    }
    if len(e):
        out.update(
            {
                "mean_err_px": e.mean(axis=0).round(4).tolist(),
                "rms_err_px": np.sqrt((e**2).mean(axis=0)).round(4).tolist(),
                "max_abs_err_px": np.abs(e).max(axis=0).round(4).tolist(),
                "mean_sigma_px": s.mean(axis=0).round(4).tolist(),
                "pull_std": (e / s).std(axis=0).round(2).tolist(),
            }
        )
    if fails:
        out["fail_reasons"] = sorted(set(fails))
    return out


def campaign_case(orbits=(5, 43, 57, 58), seed: int = 1, frames_per_orbit: int = 5) -> dict:
    """Frames of the campaign simulator (Minnaert surface, hot spots, streaks, cosmic rays, noise), predicted
    from the recorded attitude; truth = the applied pointing error per band. One row per band."""
    from ioscan.geometry.pose import backplanes_from_pose
    from ioscan.instruments import get_instrument
    from ioscan.simulate import campaign as sim
    from ioscan.simulate import ephemeris as eph
    from ioscan.simulate.render_jiram import jiram_band_camera

    prior = get_instrument("JIRAM").pointing
    cam = jiram_band_camera()
    rows, pulls, times = [], [], []
    tk = dict(times=times, against=[], diffs=[])
    for plan in sim.plan_campaign(list(orbits), seed=seed, frames_per_orbit=frames_per_orbit):
        frame = sim.simulate_frame(plan, population_seed=seed)
        sun = eph.sun_position_body(plan.time_utc)
        for band, render in frame.bands.items():
            bp = backplanes_from_pose(cam, sim.band_pose(plan, band, sim.recorded_jiram_to_body(plan), sun))
            truth = [frame.frame_row[f"{band}_pointing_error_{a}_px"] for a in ("sample", "line")]
            fit = timed(
                "register_frame",
                render.image,
                bp,
                psf_sigma_px=0.7,
                max_shift_px=prior.search_px(),
                prior_sigma_px=prior.limb_prior_px(),
                **tk,
            )
            row = {
                "product_id": plan.product_id,
                "band": band,
                "ok": fit.ok,
                "truth_px": np.round(truth, 2).tolist(),
            }
            if fit.ok:
                d = np.array([fit.offset_sample_px, fit.offset_line_px]) - truth
                pulls.append(d / np.array(fit.offset_err_px))
                row.update(
                    {
                        "disk_px": round(2 * fit.radius_px, 1),
                        "n_edges": fit.n_limb_points,
                        "err_px": d.round(3).tolist(),
                        "sigma_px": np.round(fit.offset_err_px, 3).tolist(),
                        "corr": round(float(fit.offset_corr), 3),
                    }
                )
            else:
                row["reason"] = fit.reason
            rows.append(row)
    p = np.array(pulls).reshape(-1, 2)
    return {
        "scenario": "simulated_campaign",
        "seed": seed,
        "n_bands": len(rows),
        "n_ok": len(p),
        "pull_std": p.std(axis=0).round(2).tolist() if len(p) else None,
        **wrong_fields(rows),
        "median_ms": round(1e3 * float(np.median(times)), 1),
        "max_ms": round(1e3 * float(np.max(times)), 1),
        **against_fields(tk),
        "frames": rows,
    }


def wrong_fields(rows: list[dict]) -> dict:
    """Confident wrong registrations and the error spread of the registered bands: how many lie > 3 px or
    > 5σ (either axis) from the applied pointing, the median and 90 % of the error's length (px), the pulls'
    rms per axis."""
    ok = [r for r in rows if r["ok"]]
    if not ok:
        return {}
    e = np.array([r["err_px"] for r in ok])
    pull = e / np.array([r["sigma_px"] for r in ok])
    mag = np.hypot(e[:, 0], e[:, 1])
    return {
        "n_off_3px": int((np.abs(e) > 3).any(axis=1).sum()),
        "n_off_5sigma": int((np.abs(pull) > 5).any(axis=1).sum()),
        "median_err_px": round(float(np.median(mag)), 3),
        "p90_err_px": round(float(np.percentile(mag, 90)), 3),
        "pull_rms": np.sqrt((pull**2).mean(axis=0)).round(2).tolist(),
        **pull_by_edges(pull, np.array([r["n_edges"] for r in ok])),
        **error_scale_fields(ok),
    }


def unit_pull_scale(e: np.ndarray, sigma: np.ndarray, floor2_px2: np.ndarray) -> float:
    """The scale s that makes the pulls e / √((s·σ)² + floor²) of rms 1 (bisection; s in 0.1–10)."""
    lo, hi = 0.1, 10.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        rms = np.sqrt(np.mean(e**2 / ((mid * sigma) ** 2 + floor2_px2)))
        lo, hi = (mid, hi) if rms > 1 else (lo, mid)
    return 0.5 * (lo + hi)


def error_scale_fields(rows: list[dict], n_boot: int = 1000) -> dict:
    """The registered bands' offsets against the applied pointing over the 1σ navigation propagates
    (``navigate.limb_offset_cov_px``: the fit's × ``LIMB_ERROR_SCALE``, ``PointingPrior.limb_floor_px``):
    the pulls' rms and robust std per axis, the rms split at disks of 1,000 px; and the scale of the fit's 1σ
    that would give them rms 1, with its 68 % bootstrap interval over bands (what ``LIMB_ERROR_SCALE``
    is measured from, with the close flybys of ``bench_navigation``). Wrong registrations (> 3 px off) are
    left out and counted: a scale cannot describe them."""
    from ioscan.geometry.navigate import LIMB_ERROR_SCALE, limb_offset_cov_px
    from ioscan.instruments import get_instrument

    floor = get_instrument("JIRAM").pointing.limb_floor_px
    wrong = [r for r in rows if max(abs(v) for v in r["err_px"]) > 3.0]
    rows = [r for r in rows if max(abs(v) for v in r["err_px"]) <= 3.0]
    e = np.array([r["err_px"] for r in rows])
    sig = np.array([r["sigma_px"] for r in rows])
    stated = np.sqrt(
        np.array([np.diag(limb_offset_cov_px(r["sigma_px"], r["corr"], floor, r["disk_px"])) for r in rows])
    )
    floor2 = np.full(e.shape, floor**2)
    big = np.array([r["disk_px"] >= 1000 for r in rows])
    pull = e / stated
    s = unit_pull_scale(e.ravel(), sig.ravel(), floor2.ravel())
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(e), (n_boot, len(e)))
    boot = [unit_pull_scale(e[i].ravel(), sig[i].ravel(), floor2[i].ravel()) for i in idx]
    out = {
        "applied_limb_error_scale": LIMB_ERROR_SCALE,
        "left_out_over_3px": len(wrong),
        "pull_rms_as_navigated": np.sqrt((pull**2).mean(axis=0)).round(2).tolist(),
        "pull_robust_std_as_navigated": [round(float(mad_sigma(pull[:, k])), 2) for k in range(2)],
        "unit_pull_error_scale": round(s, 3),
        "unit_pull_error_scale_68": np.percentile(boot, [16, 84]).round(3).tolist(),
    }
    for name, m in (("disks_lt_1000px", ~big), ("disks_ge_1000px", big)):
        if m.any():
            out[f"pull_rms_as_navigated_{name}"] = {
                "n": int(m.sum()),
                "rms": np.sqrt((pull[m] ** 2).mean(axis=0)).round(2).tolist(),
            }
    return out


def pull_by_edges(pull: np.ndarray, n_edges: np.ndarray, bounds=(0, 50, 100, 150, 1_000_000)) -> dict:
    """The pulls' rms per axis in bins of the fit's number of limb edges (does the stated error shrink
    faster with n than the real one?): ``{"pull_rms_by_edges": {"0-50": {"n": .., "rms": [..]}, ...}}``."""
    out = {}
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        m = (n_edges >= lo) & (n_edges < hi)
        if m.any():
            key = f"{lo}-{hi}" if hi < 1_000_000 else f">={lo}"
            out[key] = {"n": int(m.sum()), "rms": np.sqrt((pull[m] ** 2).mean(axis=0)).round(2).tolist()}
    return {"pull_rms_by_edges": out}


def main() -> None:
    global AGAINST
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", help="git revision whose limb fit runs alternately on the same frames")
    ap.add_argument(
        "--seeds", default="1", help="campaign seeds, comma-separated (each: orbits 5/43/57/58 × 5 frames)"
    )
    ap.add_argument("--campaign-only", action="store_true", help="only the campaign rows (a seed sweep)")
    args = ap.parse_args()
    AGAINST = limbfit_at(args.against) if args.against else None
    campaigns = [campaign_case(seed=int(s)) for s in args.seeds.split(",")]
    if args.campaign_only:
        rows = [f for c in campaigns for f in c["frames"]]
        out = {"benchmark": "limbfit", "seeds": args.seeds, "n_bands": len(rows), **wrong_fields(rows)}
        out["n_ok"] = sum(r["ok"] for r in rows)
        out["results"] = [{k: v for k, v in c.items() if k != "frames"} for c in campaigns]
        print(json.dumps(out))
        return
    results = [
        jiram_case("jiram_full_disk_phase30_pose"),
        jiram_case("jiram_full_disk_phase30_backplanes", use_bp=True),
        jiram_case("jiram_crescent_phase120_L", phase_deg=120.0),
        jiram_case("jiram_crescent_phase120_M_thermal", phase_deg=120.0, night=0.2),
        jiram_case("jiram_partial_180px_disk_cut", range_km=85_000.0, center=(250.0, 64.0), phase_deg=25.0),
        keck_case("keck_model_based_label", model_free=False),
        keck_case("keck_model_free", model_free=True),
        *campaigns,
    ]
    out = {"benchmark": "limbfit", "noise_per_frame": N_NOISE * len(OFFSETS), "results": results}
    if args.against:
        out["against"] = args.against
    print(json.dumps(out))


if __name__ == "__main__":
    main()
