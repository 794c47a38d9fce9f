"""Study: where the limb fit's time goes on bench_scan's campaign, per phase and per kind of fit (issue 15).

The limb fit's calls of :func:`ioscan.geometry.navigate.register_on_limb` are captured on the campaign
``bench_scan.py`` profiles (seed 5, 4 orbits × 16 frames: every band's image, predicted backplanes and
arguments), then replayed ``--rounds`` times as ``navigate._register_limb`` chooses (every band to its coarse
step, the strongest refined first, a weaker band only while no good registration is in), in CPU time of this
thread (BLAS one thread). Per frame: the limb fit's CPU (median over rounds); per phase (ms per frame of the
campaign): the predicted limb from the backplanes (``model``), the image prepared (``prepare``: hot spots
filled, smoothed, noise statistics), the coarse correlation (``coarse``), the refinement (``refine``, with
its edge profiles ``measure_edges`` inside it). Per kind of fit (each band's call): how many, and their
mean CPU by phase — no limb in view, the coarse step failed (correlation SNR below its threshold), refined
and failed, refined and registered, not refined (a stronger band registered) — by disk size (radius
< 40 px, 40–400, ≥ 400) and by frames with one or two bands. The registrations' offsets against the
simulator's applied pointing error (median, 90 %, pulls) say what the replay registered.

Whether unused work can be predicted: the calls of each kind by their coarse correlation's SNR
(``by_coarse_snr``, and the SNR range of the registered and of the failed refinements), and the
counterfactual "prepare a band only while no good registration is in" (``lazy_second_band``: the frames whose
band it would change, their offsets' errors against the applied pointing, and the CPU it would save).
``--close-flybys N`` replays ``bench_navigation``'s N close-flyby sequences instead of the campaign;
``--limbfit-seeds 1,2,...`` the campaign frames of ``bench_limbfit.py --campaign-only --seeds ...`` (each
band's call a frame of its own).

``--against REV`` (a git revision) compares the limb fit as it was at REV with the current one on the
captured calls instead: every call started by both, every started band refined by both (not only those
navigation refines), ``--rounds`` times alternately (which goes first alternates), in CPU time of this thread.
It reports every call whose result differs (any :class:`LimbFit` field, the reason's text included, or the
coarse step's SNR) and, per outcome of the refinement (registered, failed in its first pass — no limb
signal, only the terminator —, failed on scatter, on span, on arc, other), the calls and their refinement's
CPU (ms per frame, the median over rounds of each call, summed) for REV and for the current code.

    PYTHONPATH=src python benchmarks/limbfit_phases.py [--rounds 3] [--quick] [--seed 5] [--close-flybys 12]
        [--limbfit-seeds 1,2,3,4,5,6] [--against main]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CLOCK = time.thread_time
PHASES = {"model": "_model_from_backplanes", "prepare": "_prepare", "coarse": "_coarse_shift"}
INNER = {"measure_edges": "_measure_edges"}


def frame_calls(frame, nav) -> list:
    """The limb-fit calls ``register_on_limb`` makes on ``frame`` with the navigation ``nav`` (registered
    in place): (band name, (image, predicted backplanes, keyword arguments)) per band it starts."""
    from ioscan.geometry import limbfit
    from ioscan.geometry.navigate import register_on_limb

    calls: list = []
    start = limbfit.start_limb_fit

    def spy(image, predicted, **kw):
        calls.append((image.copy(), predicted, kw))
        return start(image, predicted, **kw)

    limbfit.start_limb_fit = spy
    try:
        register_on_limb(frame, nav)
    finally:
        limbfit.start_limb_fit = start
    return list(zip(list(frame.bands)[: len(calls)], calls, strict=True))


def capture(
    orbits: int, frames_per_orbit: int, seed: int, out: Path, close_flybys: int = 0
) -> tuple[list[dict], dict]:
    """Each frame's limb-fit calls (:func:`frame_calls`) on the campaign ``bench_scan.py`` profiles, and
    the simulator's applied pointing errors ((product, band) → (sample, line) px)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_scan
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame
    from ioscan.simulate.campaign import simulate_campaign

    if close_flybys:  # bench_navigation's close-flyby sequences (five frames each) instead
        from ioscan.simulate.close_flybys import simulate_close_flybys

        camp = simulate_close_flybys(out / "close", n_sequences=close_flybys, seed=seed, workers=2)
        products = sorted((out / "close" / "jiram").rglob("*.LBL"))
    else:
        camp = simulate_campaign(
            out / "campaign",
            orbits=orbits,
            seed=seed,
            frames_per_orbit=frames_per_orbit,
            ground_nights=0,
            workers=2,
        )
        products = sorted((out / "campaign" / "jiram").rglob("*.LBL"))
    frames = []
    for path in products:
        frame = read_product(path)
        nav = navigate_frame(frame, kernels=camp.metakernel, register=False)
        frames.append({"product": frame.product_id, "calls": frame_calls(frame, nav)})
    return frames, bench_scan._pointing_truth(products)


def capture_limbfit_campaigns(seeds: list[int]) -> list[dict]:
    """The limb-fit calls of ``bench_limbfit.py``'s campaign rows (orbits 5/43/57/58 × 5 frames per seed),
    each band's call a frame of its own (``product``: seed and call number)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_limbfit

    frames: list[dict] = []

    def capture_call(fn, image, predicted, *, times, against, diffs, **kw):
        from ioscan.geometry import limbfit

        frames.append(
            {"product": f"seed{seed}:{len(frames)}", "calls": [("band", (image.copy(), predicted, kw))]}
        )
        times.append(0.0)
        return getattr(limbfit, fn)(image, predicted, **kw)

    timed = bench_limbfit.timed
    bench_limbfit.timed = capture_call
    try:
        for seed in seeds:
            bench_limbfit.campaign_case(seed=seed)
    finally:
        bench_limbfit.timed = timed
    return frames


def _outcome(fit) -> str:
    """A refinement's outcome: registered, or the failure's kind (its reason's first words)."""
    if fit.ok:
        return "registered"
    reason = fit.reason or ""
    if reason.startswith(("no limb", "only the terminator")):
        return "failed_first_pass"
    for key, kind in (
        ("scatter", "failed_scatter"),
        ("span only", "failed_span"),
        ("arc too short", "failed_arc"),
    ):
        if key in reason:
            return kind
    return "failed_other"


def _same_fit(a, b) -> bool:
    """Every field of two :class:`LimbFit` equal (NaN equal to NaN)."""
    import numpy as np

    for k in vars(a):
        x, y = getattr(a, k), getattr(b, k)
        if isinstance(x, str) or x is None or isinstance(x, bool):
            if x != y:
                return False
        elif not np.array_equal(np.asarray(x, dtype=float), np.asarray(y, dtype=float), equal_nan=True):
            return False
    return True


def against(frames: list[dict], rev: str, rounds: int) -> dict:
    """The limb fit at git revision ``rev`` against the current one on the captured calls (see the module
    docstring): differing calls, and per outcome the calls and their refinement's CPU (ms per frame)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_limbfit
    from ioscan.geometry import limbfit

    old = bench_limbfit.limbfit_at(rev)
    mods = (old, limbfit)
    calls = [(f["product"], name, c) for f in frames for name, c in f["calls"]]
    for _, _, (image, predicted, kw) in calls[:4]:  # compiled kernels and caches warm
        for mod in mods:
            coarse = mod.start_limb_fit(image, predicted, **kw)
            coarse.refine()
    differing, kinds = [], {}
    for i, (product, name, (image, predicted, kw)) in enumerate(calls):
        coarse = [mod.start_limb_fit(image, predicted, **kw) for mod in mods]
        if not (
            (coarse[0].failed is None) == (coarse[1].failed is None)
            and (coarse[0].snr == coarse[1].snr or (math.isnan(coarse[0].snr) and math.isnan(coarse[1].snr)))
        ):
            differing.append({"call": f"{product}:{name}", "coarse": [coarse[0].snr, coarse[1].snr]})
            continue
        if coarse[0].failed is not None:
            if not _same_fit(coarse[0].failed, coarse[1].failed):
                differing.append({"call": f"{product}:{name}", "coarse_failed": True})
            continue
        times: list[list[float]] = [[], []]
        fits = [None, None]
        for r in range(rounds):
            for j in (0, 1) if (i + r) % 2 else (1, 0):
                t0 = CLOCK()
                fits[j] = coarse[j].refine()
                times[j].append(CLOCK() - t0)
        if not _same_fit(*fits):
            differing.append(
                {
                    "call": f"{product}:{name}",
                    "reasons": [fits[0].reason, fits[1].reason],
                    "ok": [f.ok for f in fits],
                }
            )
        row = kinds.setdefault(_outcome(fits[0]), {"calls": 0, "rev_ms": 0.0, "current_ms": 0.0})
        row["calls"] += 1
        row["rev_ms"] += 1e3 * statistics.median(times[0])
        row["current_ms"] += 1e3 * statistics.median(times[1])
    n = len(frames)
    return {
        "against": rev,
        "calls": len(calls),
        "refined": sum(k["calls"] for k in kinds.values()),
        "differing": differing,
        "refine_ms_per_frame_by_outcome": {
            k: {"calls": v["calls"], rev: round(v["rev_ms"] / n, 3), "current": round(v["current_ms"] / n, 3)}
            for k, v in sorted(kinds.items())
        },
        "refine_ms_per_frame": {
            rev: round(sum(v["rev_ms"] for v in kinds.values()) / n, 3),
            "current": round(sum(v["current_ms"] for v in kinds.values()) / n, 3),
        },
    }


class _Phases:
    """CPU time of the limb fit's phases (module functions wrapped while ``with`` is active)."""

    def __init__(self, module) -> None:
        self.module, self.acc, self.saved = module, {}, {}

    def __enter__(self):
        for label, name in {**PHASES, **INNER}.items():
            fn = getattr(self.module, name)
            self.saved[name] = fn
            setattr(self.module, name, self._wrap(label, fn))
        return self

    def __exit__(self, *exc):
        for name, fn in self.saved.items():
            setattr(self.module, name, fn)

    def _wrap(self, label, fn):
        def timed(*args, **kwargs):
            t0 = CLOCK()
            try:
                return fn(*args, **kwargs)
            finally:
                self.acc[label] = self.acc.get(label, 0.0) + CLOCK() - t0

        return timed


def _register(limbfit, frame: dict, phases: _Phases) -> tuple[list[dict], tuple | None]:
    """``navigate._register_limb``'s choice on one frame's captured calls: each call's kind and phase times
    (ms), and the registration (band, fit) or None."""
    from ioscan.geometry.navigate import SECOND_BAND_ERR_PX, SECOND_BAND_SNR_RATIO

    rows, started = [], []
    for name, (image, predicted, kw) in frame["calls"]:
        phases.acc.clear()
        t0 = CLOCK()
        coarse = limbfit.start_limb_fit(image, predicted, **kw)
        row = {"band": name, "start": 1e3 * (CLOCK() - t0), **{k: 1e3 * v for k, v in phases.acc.items()}}
        row["radius"] = _radius(limbfit, image, predicted, kw)
        row["coarse_snr"] = float(coarse.snr)
        if coarse.failed is not None:
            in_view = "no limb in view" not in coarse.failed.reason
            row["kind"] = "coarse_failed" if in_view else "no_limb_in_view"
        else:
            row["kind"] = "not_refined"
            started.append((coarse, name, row))
        rows.append(row)
    started.sort(key=lambda c: -c[0].snr)
    best = None
    for coarse, name, row in started:
        weak = coarse.snr < SECOND_BAND_SNR_RATIO * started[0][0].snr
        if best is not None and best[0] <= SECOND_BAND_ERR_PX and weak:
            break
        phases.acc.clear()
        t0 = CLOCK()
        fit = coarse.refine()
        row["refine"] = 1e3 * (CLOCK() - t0)
        row["measure_edges"] = 1e3 * phases.acc.get("measure_edges", 0.0)
        row["kind"] = "registered" if fit.ok else "refine_failed"
        row["points"] = int(fit.n_limb_points)
        if fit.ok and (best is None or max(fit.offset_err_px) < best[0]):
            best = (max(fit.offset_err_px), name, fit)
    return rows, None if best is None else best[1:]


_RADII: dict = {}


def _radius(limbfit, image, predicted, kw) -> float:
    """The predicted disk's radius (px), made once per call (outside the timed phases)."""
    key = id(image)
    if key not in _RADII:
        model = limbfit._model_from_backplanes(predicted, crop=(image.shape, kw["max_shift_px"]))
        _RADII[key] = float(model.radius)
    return _RADII[key]


SNR_BINS = ("no limb", "<6", "6-20", "20-100", "100-1000", ">=1000")
KINDS = ("no_limb_in_view", "coarse_failed", "refine_failed", "registered", "not_refined")


def _snr_bin(snr: float) -> str:
    """The coarse correlation SNR's bin (:data:`SNR_BINS`)."""
    if math.isnan(snr):
        return SNR_BINS[0]
    return SNR_BINS[1 + sum(snr >= edge for edge in (6, 20, 100, 1000))]


def _lazy_second_band(frame: dict, rows: list[dict], chosen) -> dict:
    """The counterfactual "prepare a band only while no good registration is in": bands started in frame
    order, each refined at once, the rest skipped from the first registration whose worse 1σ is ≤
    ``SECOND_BAND_ERR_PX`` (the smaller error kept otherwise). Every started band is refined here (untimed)
    to know its outcome. Returns the band it registers, whether that is navigation's, and the CPU it would
    save (the skipped bands' start and refinement as timed in the replay, ms)."""
    from ioscan.geometry import limbfit
    from ioscan.geometry.navigate import SECOND_BAND_ERR_PX

    best, saved = None, 0.0
    for k, ((name, (image, predicted, kw)), row) in enumerate(zip(frame["calls"], rows, strict=True)):
        if best is not None and best[0] <= SECOND_BAND_ERR_PX:
            saved += sum(r["start"] + r.get("refine", 0.0) for r in rows[k:])
            break
        if row["kind"] in ("coarse_failed", "no_limb_in_view"):
            continue
        fit = limbfit.start_limb_fit(image, predicted, **kw).refine()
        if fit.ok and (best is None or max(fit.offset_err_px) < best[0]):
            best = (max(fit.offset_err_px), name, fit)
    lazy = None if best is None else best[1]
    return {
        "band": lazy,
        "same": lazy == (None if chosen is None else chosen[0]),
        "saved_ms": saved,
        "fit": None if best is None else best[2],
    }


def _size(radius: float) -> str:
    return "r<40" if radius < 40 else ("r40-400" if radius < 400 else "r>=400")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="2 orbits of 8 frames")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--close-flybys", type=int, default=0, help="N close-flyby sequences instead")
    ap.add_argument(
        "--limbfit-seeds", help="bench_limbfit's campaign frames of these seeds instead (1,2,...)"
    )
    ap.add_argument("--against", help="git revision whose limb fit is compared with the current one")
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    import numpy as np

    from ioscan.geometry import limbfit

    orbits, per_orbit = (2, 8) if args.quick else (4, 16)
    if args.limbfit_seeds:
        frames, truth = capture_limbfit_campaigns([int(s) for s in args.limbfit_seeds.split(",")]), {}
    else:
        with tempfile.TemporaryDirectory(prefix="ioscan_limbfit_phases_") as tmp:
            frames, truth = capture(orbits, per_orbit, args.seed, Path(tmp), args.close_flybys)
    if args.against:
        out = {
            "benchmark": "limbfit_phases",
            "frames": len(frames),
            "rounds": args.rounds,
            "clock": "thread CPU",
        }
        print(json.dumps(out | against(frames, args.against, args.rounds), indent=1))
        return
    for frame in frames:  # the disks' radii, outside the timed calls
        for _, (image, predicted, kw) in frame["calls"]:
            _radius(limbfit, image, predicted, kw)
    with _Phases(limbfit) as phases:
        for frame in frames[:4]:  # compiled kernels and caches warm
            _register(limbfit, frame, phases)
        totals = np.zeros((args.rounds, len(frames)))
        per_call: list[list[dict]] = []
        registered: list = []
        for r in range(args.rounds):
            for i, frame in enumerate(frames):
                t0 = CLOCK()
                rows, reg = _register(limbfit, frame, phases)
                totals[r, i] = 1e3 * (CLOCK() - t0)
                if r == 0:
                    per_call.append(rows)
                    registered.append(reg)
                else:  # phase times: the median over rounds is taken below from these sums
                    for row, old in zip(rows, per_call[i], strict=True):
                        for k, v in row.items():
                            if isinstance(v, float) and k != "radius":
                                old.setdefault("_" + k, [old.get(k, 0.0)]).append(v)
    for rows in per_call:  # each call's phase times: the median over rounds
        for row in rows:
            for k in [k for k in row if k.startswith("_")]:
                row[k[1:]] = statistics.median(row.pop(k))
    per_frame = np.median(totals, axis=0)
    n = len(frames)
    calls = [row for rows in per_call for row in rows]
    labels = ("model", "prepare", "coarse", "refine", "measure_edges")
    out = {
        "benchmark": "limbfit_phases",
        "frames": n,
        "calls": len(calls),
        "rounds": args.rounds,
        "clock": "thread CPU",
        "limb_fit_ms_per_frame": {
            "median": round(float(np.median(per_frame)), 2),
            "mean": round(float(per_frame.mean()), 2),
            "p90": round(float(np.percentile(per_frame, 90)), 2),
        },
        "phase_ms_per_frame": {k: round(sum(c.get(k, 0.0) for c in calls) / n, 2) for k in labels},
    }

    def kinds(key) -> dict:
        groups: dict[str, list[dict]] = {}
        for c in calls:
            groups.setdefault(key(c), []).append(c)
        return {
            g: {
                "calls": len(cs),
                "ms_per_frame": round(sum(c["start"] + c.get("refine", 0.0) for c in cs) / n, 2),
            }
            | {f"{k}_ms_mean": round(statistics.fmean(c.get(k, 0.0) for c in cs), 2) for k in labels}
            for g, cs in sorted(groups.items())
        }

    out["by_kind"] = kinds(lambda c: c["kind"])
    out["by_disk_size"] = kinds(lambda c: _size(c["radius"]))
    # a predictor of a refinement that fails: the coarse correlation's SNR of each refined call's outcome
    bins = [b for b in SNR_BINS if any(_snr_bin(c["coarse_snr"]) == b for c in calls)]
    out["by_coarse_snr"] = {
        b: {
            k: n_k
            for k in KINDS
            if (n_k := sum(_snr_bin(c["coarse_snr"]) == b and c["kind"] == k for c in calls))
        }
        for b in bins
    }
    for kind in ("registered", "refine_failed"):
        snrs = [c["coarse_snr"] for c in calls if c["kind"] == kind]
        if snrs:
            out[f"coarse_snr_range_{kind}"] = [round(min(snrs), 1), round(max(snrs), 1)]
    lazy = [
        _lazy_second_band(f, rows, reg) for f, rows, reg in zip(frames, per_call, registered, strict=True)
    ]
    out["lazy_second_band"] = {
        "frames_band_changed": [f["product"] for f, lz in zip(frames, lazy, strict=True) if not lz["same"]],
        "saved_ms_per_frame": round(sum(lz["saved_ms"] for lz in lazy) / n, 2),
        "changed_err_px_vs_truth": [],  # per changed frame: (navigation's, lazy's) offset error
    }
    for f, lz, reg in zip(frames, lazy, registered, strict=True):
        if not lz["same"]:
            pair = []
            for band, fit in ((None, None) if reg is None else reg, (lz["band"], lz["fit"])):
                t = truth.get((f["product"], band))
                off = None if fit is None else (fit.offset_sample_px, fit.offset_line_px)
                pair.append(
                    None if t is None or off is None else round(float(np.hypot(*np.subtract(off, t))), 3)
                )
            out["lazy_second_band"]["changed_err_px_vs_truth"].append(pair)
    band_count = {id(row): len(rows) for rows in per_call for row in rows}
    out["by_bands_in_frame"] = kinds(lambda c: f"{band_count[id(c)]} band(s)")
    errs = []
    for frame, reg in zip(frames, registered, strict=True):
        if reg is not None and (frame["product"], reg[0]) in truth:
            fit = reg[1]
            d = np.subtract((fit.offset_sample_px, fit.offset_line_px), truth[(frame["product"], reg[0])])
            errs.append((*d, *(d / np.asarray(fit.offset_err_px))))
    if errs:
        e = np.array(errs)
        err = np.hypot(e[:, 0], e[:, 1])
        out["registered"] = len(e)
        out["offset_err_px_median"] = round(float(np.median(err)), 3)
        out["offset_err_px_p90"] = round(float(np.percentile(err, 90)), 3)
        out["offset_pull_std_of_fit_err"] = e[:, 2:].std(axis=0).round(2).tolist()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
