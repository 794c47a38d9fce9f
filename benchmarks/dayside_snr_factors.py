"""Why ioscan's S/N on the sunlit disk is below the ideal (issue 11): its S/N map with one piece of truth
swapped in at a time, on the same hot spots; prints one JSON object.

Frames, hot spots and zones as ``bench_dayside_bound.py`` (sunlit frames of ``bench_generalise.py``, M band;
isolated, unsaturated hot spots of ideal S/N ≥ 5, by distance to the true limb: within 8 px, 8–20, beyond 20).
The map is ioscan's first-pass calibrated S/N (``BandModel.snr``, 3 × 3 maximum at the truth) ÷ the ideal
matched-filter S/N (the renderer's ``snr_ideal``). Variants (``VARIANTS``), each a run of ioscan's own
:func:`~ioscan.detect.background.estimate_background` with a hook (a copy of its source with three hook lines;
the search stops after the first-pass background, no fits):

- ``base``: as ioscan runs (default settings, no geometry).
- ``psf``: the renderer's true PSF (Gaussian σ 0.8 px) for the model's (0.6-px core + halo): matched
  filter, annuli, limb band, blocks (``DetectConfig.psf``).
- ``psf_filter``: the true PSF in the matched filter, the annuli still sized for the model's 0.6-px core.
- ``flat``: ioscan as it runs on the image less the true background (hot spots, cosmic rays and noise on
  0; no limb): the texture and shading gone, the background step's self-subtraction of the sources' wings
  and its noise gain kept.
- ``tight`` / ``flat_tight``: as ``base`` / ``flat`` with only the small annulus' option (1–3 px, quadratic)
  offered: ``flat_tight`` ÷ ``flat`` is that option's cost on white noise alone (self-subtraction of the
  PSF's wings, noise gain), ``tight`` ÷ ``flat_tight`` the texture it leaves.
- ``bg``: the true background (the noise-free render without hot spots) for the fitted one in every
  option; the background step's noise gain then 1 (a true background adds no noise). Scale estimated.
- ``sigma``: the true per-pixel white noise σ for the fitted one (the scale still estimated).
- ``calib``: the whole denominator from the truth: at each pixel, the S/N's noise is √(the true white noise
  filtered × gain)² + (the filtered texture residual's local mean square)) — the residual
  (true background − fitted) filtered like the data, its mean square over a 24 × 24 box (ioscan's 3 × 3
  blocks of 8 px) of usable, non-outlier pixels: the scale a perfect estimator of the residual's local
  power would give. Background and filter as ioscan's.
- ``bg_sigma``: the true background and the true σ (the scale estimated: ≥ 1 by construction).
- ``all``: the true PSF in the filter (annuli 0.6), the true background, the true σ, scale 1.

Also per frame ioscan's PSF measurement (:func:`ioscan.detect.band._measure_psf` as detection calls it:
whether it measured, σ sample × line, sources) and whether it was used; and per hot spot in ``base`` the
map's scale and estimated ÷ true white σ, medians by zone (``base_pieces``).

Candidate fixes (``FIXES``, realisable, by ``--variants``): ``merit_true`` (the per-pixel option choice's
efficiencies for the true PSF: what a measured core would change in the choice alone), ``small_plane`` /
``small_plane_14`` (a plane over the 1–3 / 1–4 px annulus offered too), ``quad_14`` / ``quad_25`` (a
quadratic over 1–4 / 2–5 px offered too), ``merit_true_small_plane``. Each also reports the map's own
completeness at ioscan's threshold and its false peaks per frame (``map_at_threshold``; before any vetting).

Results (``--frames 200``: 100 sunlit frames, default seed; 276 / 95 / 107 hot spots within 8 / 8–20 /
beyond 20 px; medians of S/N ÷ ideal in that order):

- ``base`` 0.397 / 0.618 / 0.713 (``bench_dayside_bound``'s figures, reproduced).
- The chain, each factor a ratio of the variants above: ``flat`` 0.929 / 0.955 / 0.938 (ioscan on white
  noise: the 0.6-px filter's shape, the wide plane chosen) × small annulus on white noise (``flat_tight`` ÷
  ``flat``) 0.850 / 0.844 / 0.869 × texture and limb left by the small annulus (``tight`` ÷
  ``flat_tight``, its scale) 0.509 / 0.762 / 0.842 × the wide option where chosen (``base`` ÷ ``tight``)
  0.988 / 1.006 / 1.04 = base. Beyond 20 px the two background factors are of a size (0.87, 0.84); at 8–20
  the texture left dominates (0.76); within 8 px the texture and the limb (0.51).
- One at a time (÷ base): true PSF everywhere 0.831 / 0.824 / 0.983 (its wider annuli follow the texture
  worse), true PSF in the filter only 0.984 / 1.021 / 1.046, true background 1.65 / 1.39 / 1.25, true white
  σ 1.001 / 1.002 / 1.002 (ioscan's σ is 5–8 % high at the hot spots, the scale takes it back), the truth's
  denominator (``calib``) 1.0 / 0.937 / 0.886, all the truth 2.05 / 1.52 / 1.41 (S/N 0.943 / 0.974 / 0.993).
- The scale does not over-count the texture: at the hot spots ioscan's scale is 1.85 / 1.20 / 1.06
  (medians), the texture residual's local rms puts it at 1.87 / 1.57 / 1.23.
- The small annulus' cost is partly the PSF's width: its white-noise efficiency
  (:func:`~ioscan.detect.background.efficiency`, 0.6-px filter) is 0.840 for the model PSF, 0.744 for the
  true σ 0.8 (wide plane 0.984 / 0.948; the filter alone 0.999 / 0.963); an unbiased joint PSF + quadratic
  fit over the same 7 × 7 window keeps only 0.695 of the true PSF's S/N.
- ioscan's PSF measurement: on 20 of 100 sunlit frames (σ 0.80 px median, 0.76–0.83, 2 sources median);
  the filter took it on 6 (no limb seen); elsewhere the model's core stays (``psf_filter_where_limb_seen``).
- Fixes (S/N ÷ ideal; map completeness at S/N ≥ 7; false peaks per frame): base 0.725, 2.97;
  ``merit_true`` identical (on the first frame 1.3 % of the usable pixels change option); ``quad_14``
  0.403 / 0.626 / 0.743, 0.715, 3.18; ``quad_25`` 0.398 / 0.623 / 0.737, 0.728, 3.06; ``small_plane``
  0.392 / 0.638 / 0.713, 0.728, 3.04; ``psf_filter`` 0.414 / 0.635 / 0.745 but 0.688, 2.91. None is worth
  an option.
- Held-out ``--seed 47`` (100 sunlit frames; 266 / 122 / 115 hot spots): base 0.387 / 0.611 / 0.682;
  ``flat`` 0.950 / 0.920 / 0.936 × small annulus on white noise 0.871 / 0.884 / 0.868 × texture and limb
  left 0.479 / 0.761 / 0.818 × wide option 0.977 / 0.987 / 1.027; true background 0.766 / 0.849 / 0.872
  (÷ base's medians 1.98 / 1.39 / 1.28); true σ 0.390 / 0.609 / 0.700; all the truth
  0.950 / 0.969 / 0.980; PSF measured on 24 of 100 frames (σ 0.805 median), the filter took it on 1;
  ``psf_filter`` 0.387 / 0.621 / 0.731, map completeness 0.711 → 0.735, false peaks 2.88 → 2.68 (the
  default seed's went the other way).

Usage: ``python benchmarks/dayside_snr_factors.py [--frames N] [--seed S] [--variants a,b,...]``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from contextlib import contextmanager, suppress

import numpy as np
import pandas as pd
from scipy import ndimage

from bench_dayside_bound import MIN_SNR, ZONES, score_map, sunlit_scenes, truth_rows, zone_of
from bench_generalise import SEED, zone_maps
from ioscan.detect import DetectConfig, detect_frame
from ioscan.detect import background as bgmod
from ioscan.detect import band as bandmod
from ioscan.detect.psf import PsfModel
from ioscan.records import BandImage, Frame

BAND = "M"
TRUE_SIGMA_PX = 0.8
MODEL_CORE_PX = 0.6
BOX_PX = 24
VARIANTS = (
    "base",
    "psf",
    "psf_filter",
    "flat",
    "tight",
    "flat_tight",
    "bg",
    "sigma",
    "calib",
    "bg_sigma",
    "all",
)
#: candidate fixes (``--variants``): the option choice told the true PSF; a small plane option; both
FIXES = ("merit_true", "small_plane", "merit_true_small_plane", "small_plane_14", "quad_14", "quad_25")

#: the hooks' state: the band's truth (full image) and what the variant swaps in
STATE: dict = {}


class FirstPassDoneError(Exception):
    """Raised by the hooked background once the first-pass model is made (the rest of detection skipped)."""


# ---------------------------------------------------------------------------------------- hooked background


def _hook_bg_sigma(bgs: list, sw: np.ndarray, var: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
    """The true background (every option) and/or the true white σ on the crop, as the variant asks."""
    sl = STATE["sl"]
    if STATE.get("true_bg"):
        t = STATE["background"][sl].astype(np.float32)
        bgs = [t for _ in bgs]
    if STATE.get("true_sigma"):
        sw = STATE["sigma"][sl].astype(np.float32)
        var = sw * sw
    STATE["fitted_bgs"] = bgs
    STATE["sw_used"] = sw
    return bgs, sw, var


def _local_mean_square(s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Mean of s² over the BOX_PX box around each pixel, over pixels ``m``."""
    num = ndimage.uniform_filter(np.where(m, s * s, 0.0), BOX_PX, mode="constant")
    den = ndimage.uniform_filter(m.astype(float), BOX_PX, mode="constant")
    return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)


def _hook_scale(best: dict, bgs: list, usable: np.ndarray, ok: np.ndarray, options: list, psf) -> None:
    """``calib``: the chosen option's scale such that the S/N's denominator is the truth's (module docstring);
    ``all``: scale 1."""
    if STATE.get("unit_scale"):
        best["scale"] = np.ones_like(best["scale"])
        return
    if not STATE.get("true_calib"):
        return
    sl = STATE["sl"]
    bg_true = STATE["background"][sl]
    var_true = np.where(usable, STATE["sigma"][sl] ** 2, 0.0).astype(np.float32)
    var_est = np.where(usable, STATE["sw_used"].astype(np.float64) ** 2, 0.0).astype(np.float32)
    sigma = psf.core_sigma_px
    new = best["scale"].copy()
    for k, (a0, a1, fs, deg) in enumerate(options):
        sel = best["choice"] == k
        if not sel.any():
            continue
        e_f = psf.elongation if fs == sigma else 1.0
        kern, kern_s, sq, sq_s = bgmod._phase_kernels(fs, e_f, bgmod._SHIFTS)
        g0 = bgmod._noise_gain(fs, a0, a1, 0.0, 0.0, deg, e_f)
        tex = np.where(usable, bg_true - bgs[k], 0.0).astype(np.float32)
        num_tex = bgmod._phase_filter(tex, kern, kern_s)[0].astype(np.float64)
        den_true = np.sqrt(np.maximum(bgmod._phase_filter(var_true, sq, sq_s)[0], 0.0)) * g0
        den_est = np.sqrt(np.maximum(bgmod._phase_filter(var_est, sq, sq_s)[0], 0.0)) * g0
        ms = _local_mean_square(num_tex, usable & ok)
        true_noise = np.sqrt(den_true.astype(np.float64) ** 2 + ms)
        s = np.where(den_est > 0, true_noise / np.maximum(den_est, 1e-30), 1.0)
        new[sel] = s[sel]
    STATE["calib_scale"] = new
    best["scale"] = new.astype(best["scale"].dtype)


def _patched_estimate_background():
    """A copy of ioscan's estimate_background with the hooks in (its source, three lines added)."""
    src = inspect.getsource(bgmod.estimate_background)
    anchors = [
        (
            "    x0 = x if all_valid else np.where(valid, x, fill0)\n    vu = ",
            "    bgs, sw, var = _hook_bg_sigma(bgs, sw, var)\n"
            "    x0 = x if all_valid else np.where(valid, x, fill0)\n    vu = ",
        ),
        (
            '    best["snr"] = np.where(usable, best.pop("top") / best["scale"], 0.0)\n',
            "    _hook_scale(best, bgs, usable, ok, options, psf)\n"
            '    best["snr"] = np.where(usable, best.pop("top") / best["scale"], 0.0)\n',
        ),
    ]
    for old, new in anchors:
        if src.count(old) != 1:
            raise RuntimeError(f"estimate_background changed; hook anchor not found once: {old[:40]!r}")
        src = src.replace(old, new)
    ns = dict(vars(bgmod))
    ns.update(_hook_bg_sigma=_hook_bg_sigma, _hook_scale=_hook_scale)
    if STATE.get("true_bg"):
        ns["_noise_gain"] = lambda *a, **k: 1.0
    if STATE.get("merit_psf") is not None:  # the option choice's efficiencies for another PSF
        merit_psf = STATE["merit_psf"]

        def efficiency(psf, h0, h1, filter_sigma_px=None, degree=2):
            fs = psf.core_sigma_px if filter_sigma_px is None else filter_sigma_px
            return bgmod.efficiency(merit_psf, h0, h1, fs, degree)

        ns["efficiency"] = efficiency
    if STATE.get("extra_options") or STATE.get("tight_only"):  # other background options offered per pixel

        def options(sigma_px, textured=False, annulus_sigma_px=None):
            out = bgmod.filter_options(sigma_px, textured, annulus_sigma_px)
            if STATE.get("tight_only"):
                return out[:1]
            return out + [(a0, a1, float(sigma_px), deg) for a0, a1, deg in STATE["extra_options"]]

        ns["filter_options"] = options
    exec(compile(src, bgmod.__file__, "exec"), ns)  # noqa: S102 - a study's hooked copy of ioscan's own code
    return ns["estimate_background"]


@contextmanager
def hooked(state: dict):
    """ioscan's band search with the hooked background; the first pass's model lands in STATE['model']."""
    STATE.clear()
    STATE.update(state)
    est = _patched_estimate_background()
    orig_est, orig_region, orig_measure = (
        bandmod.estimate_background,
        bandmod.search_region,
        bandmod._measure_psf,
    )

    def region(*a, **k):
        sl, search = orig_region(*a, **k)
        STATE["sl"] = sl
        return sl, search

    def estimate(sub, **kw):
        if STATE.get("annulus_sigma_px") is not None:
            kw["annulus_sigma_px"] = STATE["annulus_sigma_px"]
        STATE["model"] = est(sub, **kw)
        raise FirstPassDoneError

    def measure(*a, **k):
        r = orig_measure(*a, **k)
        STATE["psf_estimate"] = r
        return r

    def in_use(*a, **k):
        r = orig_in_use(*a, **k)
        STATE["psf_core_used_px"] = r[0].core_sigma_px
        return r

    orig_in_use = bandmod._psf_in_use
    names = ("estimate_background", "search_region", "_measure_psf", "_psf_in_use")
    for name, f in zip(names, (estimate, region, measure, in_use), strict=True):
        setattr(bandmod, name, f)
    try:
        yield
    finally:
        for name, f in zip(names, (orig_est, orig_region, orig_measure, orig_in_use), strict=True):
            setattr(bandmod, name, f)


def variant_state(name: str) -> tuple[dict, DetectConfig]:
    """(hook state, detection settings) of a variant."""
    true_psf = DetectConfig(psf={BAND: PsfModel.gaussian(TRUE_SIGMA_PX)})
    return {
        "base": ({}, DetectConfig()),
        "psf": ({}, true_psf),
        "psf_filter": ({"annulus_sigma_px": MODEL_CORE_PX}, true_psf),
        "flat": ({"flat": True}, DetectConfig()),
        "tight": ({"tight_only": True}, DetectConfig()),
        "flat_tight": ({"flat": True, "tight_only": True}, DetectConfig()),
        "bg": ({"true_bg": True}, DetectConfig()),
        "sigma": ({"true_sigma": True}, DetectConfig()),
        "calib": ({"true_calib": True}, DetectConfig()),
        "bg_sigma": ({"true_bg": True, "true_sigma": True}, DetectConfig()),
        "merit_true": ({"merit_psf": PsfModel.gaussian(TRUE_SIGMA_PX)}, DetectConfig()),
        "small_plane": ({"extra_options": [(1, 3, 1)]}, DetectConfig()),
        "small_plane_14": ({"extra_options": [(1, 4, 1)]}, DetectConfig()),
        "quad_14": ({"extra_options": [(1, 4, 2)]}, DetectConfig()),
        "quad_25": ({"extra_options": [(2, 5, 2)]}, DetectConfig()),
        "merit_true_small_plane": (
            {"merit_psf": PsfModel.gaussian(TRUE_SIGMA_PX), "extra_options": [(1, 3, 1)]},
            DetectConfig(),
        ),
        "all": ({"annulus_sigma_px": MODEL_CORE_PX, "true_bg": True, "true_sigma": True, "unit_scale": True},
                true_psf),
    }[name]  # fmt: skip


# ----------------------------------------------------------------------------------------------------- run


def m_frame(rendered, flat: bool = False) -> Frame:
    """The M band alone as a reader would build the frame (no geometry); ``flat``: its image less the true
    background (hot spots, cosmic rays and noise on 0)."""
    b = rendered.bands[BAND]
    data = (b.image - b.background).astype(b.image.dtype) if flat else b.image
    band = BandImage(band=BAND, data=data, unit="W m-2 sr-1", wavelength_um=4.78, bandwidth_um=0.4975,
                     line_offset=b.line_offset)  # fmt: skip
    p = rendered.params
    return Frame("JIR_IMG_RDR_INDEPENDENT", "JIRAM", "JUNO", p.start_time_utc, p.exposure_s, {BAND: band},
                 mode=p.mode)  # fmt: skip


def run_variant(rendered, name: str) -> dict:
    """The first-pass model of one variant: {'snr': full-image S/N map (NaN where unusable), 'model', ...}."""
    b = rendered.bands[BAND]
    state, cfg = variant_state(name)
    state = {**state, "background": b.background.astype(np.float64), "sigma": b.sigma.astype(np.float64)}
    with hooked(state), suppress(FirstPassDoneError):
        detect_frame(m_frame(rendered, flat=bool(state.get("flat"))), config=cfg)
    m, sl = STATE.get("model"), STATE.get("sl")
    out = np.full(b.image.shape, np.nan)
    if m is not None:
        out[sl] = np.where(m.usable, m.snr, np.nan)
    return {"snr": out, "model": m, "sl": sl, "psf_estimate": STATE.get("psf_estimate"),
            "psf_core_used_px": STATE.get("psf_core_used_px")}  # fmt: skip


def at_spots(a: np.ndarray, rendered) -> np.ndarray:
    """The full-image array's value at each true hot spot's nearest pixel."""
    b = rendered.bands[BAND]
    t = rendered.truth[rendered.truth["band"] == BAND]
    li = np.clip(np.rint(t["line"].to_numpy()).astype(int) - b.line_offset, 0, a.shape[0] - 1)
    sj = np.clip(np.rint(t["sample"].to_numpy()).astype(int), 0, a.shape[1] - 1)
    return a[li, sj]


def full(model_arr: np.ndarray, sl, shape) -> np.ndarray:
    out = np.full(shape, np.nan)
    out[sl] = model_arr
    return out


def one_frame(rendered, frame_no: int, variants: list[str]) -> tuple[pd.DataFrame, dict]:
    """Per-hot-spot rows (S/N ÷ ideal per variant; base's scale and σ ratio) and the frame's PSF estimate."""
    b = rendered.bands[BAND]
    zones = zone_maps(rendered, BAND)
    rows = truth_rows(rendered, frame_no)
    info: dict = {"frame": frame_no, "false": {}}
    for v in variants:
        r = run_variant(rendered, v)
        vals, found, false = score_map(r["snr"], rendered, DetectConfig().threshold_snr, zones)
        rows[v] = vals / rows["snr_ideal"]
        rows[f"found_{v}"] = found
        info["false"][v] = sum(false.values())
        if v == "base" and r["model"] is not None:
            m, sl = r["model"], r["sl"]
            rows["base_scale"] = at_spots(full(m.scale, sl, b.image.shape), rendered)
            rows["base_sigma_ratio"] = at_spots(full(m.sigma_white, sl, b.image.shape), rendered) / at_spots(
                b.sigma, rendered
            )
            rows["base_choice"] = at_spots(full(m.choice.astype(float), sl, b.image.shape), rendered)
            est = r["psf_estimate"]
            info["psf_estimate"] = None if est is None else psf_summary(est)
            info["core_used_px"] = r["psf_core_used_px"]
        if v == "calib" and "calib_scale" in STATE:
            rows["calib_scale"] = at_spots(full(STATE["calib_scale"], r["sl"], b.image.shape), rendered)
    return rows, info


def psf_summary(est) -> dict:
    """ioscan's PSF measurement of a frame: σ sample × line (px), sources, highest fitted S/N."""
    return {
        "sigma_sample_px": round(est.sigma_sample_px, 3),
        "sigma_line_px": round(est.sigma_line_px, 3),
        "n_sources": est.n_sources,
        "max_snr": round(est.max_snr, 1),
    }


def _r(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 3)


def report(rows: pd.DataFrame, infos: list[dict], variants: list[str], args) -> dict:
    sel = rows[rows["isolated"] & ~rows["saturated"] & (rows["snr_ideal"] >= MIN_SNR)].copy()
    sel["zone"] = zone_of(sel["limb_px"])
    by = {z: sel[sel["zone"] == z] for z in ZONES}
    out: dict = {
        "frames": {"sunlit": len(infos), "seed": args.seed},
        "hot_spots_studied": {z: len(by[z]) for z in ZONES},
        "snr_over_ideal_median": {v: {z: _r(by[z][v].median()) for z in ZONES} for v in variants},
    }
    ge7 = sel["snr_ideal"] >= 7
    out["map_at_threshold"] = {
        v: {
            "found_snr_ge7": _r(sel.loc[ge7, f"found_{v}"].mean()),
            "found_snr_5_7": _r(sel.loc[~ge7, f"found_{v}"].mean()),
            **{
                f"found_snr_ge7_{z}": _r(by[z].loc[by[z]["snr_ideal"] >= 7, f"found_{v}"].mean())
                for z in ZONES
            },  # fmt: skip
            "false_peaks_per_frame": _r(np.mean([i["false"][v] for i in infos])),
        }
        for v in variants
    }
    pieces = [c for c in ("base_scale", "base_sigma_ratio", "calib_scale") if c in sel]
    out["base_pieces_median"] = {c: {z: _r(by[z][c].median()) for z in ZONES} for c in pieces}
    if "base_choice" in sel:
        out["base_option_share"] = {
            z: {str(int(k)): _r(v) for k, v in by[z]["base_choice"].value_counts(normalize=True).items()}
            for z in ZONES
        }
    if "base" in variants:
        out["ratio_to_base_median"] = {
            v: {z: _r((by[z][v] / by[z]["base"]).median()) for z in ZONES} for v in variants if v != "base"
        }
    est = [i["psf_estimate"] for i in infos if i.get("psf_estimate")]
    geo = [np.sqrt(e["sigma_sample_px"] * e["sigma_line_px"]) for e in est]
    used = [i.get("core_used_px") for i in infos]
    out["psf_estimate"] = {
        "frames_measured": len(est),
        "frames": len(infos),
        "sigma_geo_mean_px_median_min_max": [_r(np.median(geo)), _r(min(geo)), _r(max(geo))] if geo else None,
        "n_sources_median": _r(np.median([e["n_sources"] for e in est])) if est else None,
        "frames_filter_core_not_model": sum(1 for c in used if c is not None and c != MODEL_CORE_PX),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=40, help="frames of the sequence (even ones: day side)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    variants = args.variants.split(",")
    t0 = time.time()
    all_rows, infos = [], []
    for i, rendered in sunlit_scenes(args.seed, args.frames):
        rows, info = one_frame(rendered, i, variants)
        all_rows.append(rows)
        infos.append(info)
    out = report(pd.concat(all_rows, ignore_index=True), infos, variants, args)
    out["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
