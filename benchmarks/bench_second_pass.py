"""Benchmark: the second pass, the misfit tests and the column streaks against git revision REV (issue 15).

Captures the calls of ``search_again``, ``_flag_background_misfits`` and ``remove_column_streaks`` that
``detect_frame`` makes on bench_scan's campaign (64 JIRAM frames, told the pointing error; or the detect_frame
calls pickled by ``--calls``, as /work/notes/prof's detprof.py makes them), then runs each step as it is
and as it was at REV (its four modules — second_pass, second_pass_kernels, misfits, columns — loaded from
``git show REV:...`` under other names), alternating call by call for ``--rounds`` rounds after one warm-up
round: CPU ms per frame of each, median over rounds, and whether every result is the same (detections'
flags and extras, the second pass's peaks and fits, the corrected image and columns; NaN equal to NaN).

    PYTHONPATH=src python benchmarks/bench_second_pass.py [--against main] [--rounds 5] [--calls PKL]
        [--capture PKL] [--breakdown]

``--breakdown``: where ``search_again`` goes instead (the current module alone, thread CPU, ``--rounds``
rounds after a warm-up, medians): its calls by outcome — no second background, new sources found, faint
neighbours unconfirmed, a background that found nothing — and within each the second background
(``estimate_background``), the fits (``fit_sources``: the new sources' and the refit beside them) and the
halo (``radial_profiles_kernel``), ms per frame, with the backgrounds' calls and pixels.

``--windows``: what one background on the union of a call's windows would save (issue 15, winbg): for each
second background ``search_again`` makes, its windows, their pixels, their bounding box and the crop, and
the pixels the subtraction changed by more than a tenth of the first pass's noise; and, where a call has
more than one window, ``estimate_background`` on the windows one by one (as now) against one call on their
bounding box with the pixels outside them masked, alternating, thread CPU, medians over ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.util
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("second_pass_kernels", "second_pass", "misfits", "columns")


def source_at(rev: str, name: str) -> str:
    """The text of ``ioscan/detect/<name>.py`` at git revision ``rev``."""
    show = ["git", "show", f"{rev}:src/ioscan/detect/{name}.py"]
    return subprocess.run(show, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def import_old(where: Path, names) -> dict:
    """The modules ``_old_<name>.py`` written in ``where`` imported under those names (``where`` put on the
    path first, so they import each other), by name."""
    sys.path.insert(0, str(where))
    out = {}
    for name in names:
        spec = importlib.util.spec_from_file_location(f"_old_{name}", where / f"_old_{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[f"_old_{name}"] = mod
        spec.loader.exec_module(mod)
        out[name] = mod
    return out


def load_old(rev: str, where: Path) -> dict:
    """The four modules as they were at ``rev``, importable side by side with the current ones."""
    for name in MODULES:
        text = source_at(rev, name)
        for other in MODULES:
            text = text.replace(f"ioscan.detect.{other} ", f"_old_{other} ").replace(
                f"ioscan.detect.{other}\n", f"_old_{other}\n"
            )
        path = where / f"_old_{name}.py"
        path.write_text(text)
    return import_old(where, MODULES)


def simulate_calls() -> list:
    """detect_frame's calls on bench_scan's campaign (64 JIRAM frames, the limb registration's pointing)."""
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame, register_on_limb
    from ioscan.settings import Settings
    from ioscan.simulate.campaign import simulate_campaign

    out = Path(tempfile.mkdtemp())
    camp = simulate_campaign(
        out / "campaign", orbits=4, seed=5, frames_per_orbit=16, ground_nights=0, workers=2
    )
    s, calls = Settings(), []
    for path in sorted((out / "campaign" / "jiram").rglob("*.LBL")):
        fr = read_product(path)
        nav = navigate_frame(fr, kernels=camp.metakernel, register=False)
        register_on_limb(fr, nav)
        calls.append(
            (
                fr,
                nav.backplanes or None,
                dataclasses.replace(s.detect, pointing_error_px=nav.detection_error_px),
            )
        )
    return calls


def capture(calls: list) -> dict:
    """The three steps' arguments (deep copies, as each was called) over ``detect_frame`` of ``calls``."""
    import ioscan.detect.band as band
    from ioscan.detect import detect_frame

    cap: dict = {"search_again": [], "misfits": [], "columns": []}
    names = {
        "search_again": "search_again",
        "_flag_background_misfits": "misfits",
        "remove_column_streaks": "columns",
    }
    orig = {k: getattr(band, k) for k in names}

    def wrap(name):
        def g(*a, **k):
            cap[names[name]].append(copy.deepcopy((a, k)))
            return orig[name](*a, **k)

        return g

    try:
        for name in names:
            setattr(band, name, wrap(name))
        for c in calls:
            detect_frame(*c[:2], config=c[2])
    finally:
        for name, f in orig.items():
            setattr(band, name, f)
    cap["n_frames"] = len(calls)
    return cap


def same(a, b) -> bool:
    """Equal, arrays and floats NaN-equal, dataclasses field by field."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a).__name__ == type(b).__name__ and all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return (
            a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    return a == b


def misfits_runner(mods: dict):
    """``band._flag_background_misfits`` with the misfit module ``mods['misfits']`` (its names in band, edge
    contrast and edge refit swapped in for the call); returns the detections' flags and extras."""
    import ioscan.detect.band as band
    import ioscan.detect.edge_contrast as ec
    import ioscan.detect.edge_refit as er

    mf = mods["misfits"]
    swaps = [
        (band, n)
        for n in (
            "flag_along_limb",
            "flag_along_limb_clutter",
            "flag_along_limb_sides",
            "flag_edge_limb_steps",
            "flag_edge_plateaus",
            "flag_ridges",
            "kept_band_maps",
            "limb_ridge_psf_gains",
        )
    ] + [
        (ec, "band_residual"),
        (ec, "unflagged_near_edge"),
        (er, "background_structures"),
        (er, "unflagged_near_edge"),
    ]

    def run(a, k):
        saved = [(m, n, getattr(m, n)) for m, n in swaps]
        for m, n in swaps:
            setattr(m, n, getattr(mf, n))
        try:
            band._flag_background_misfits(*a, **k)
        finally:
            for m, n, f in saved:
                setattr(m, n, f)
        out = a[0]
        return [(d.flags, d.extra) for d in out.detections], out.messages

    return run


def interleaved_steps(cap: dict, steps: list[str], rounds: int, against: str, call) -> dict:
    """Each step's captured calls ``cap[step]`` (``(args, kwargs)``; ``cap["n_frames"]`` frames) run by
    ``call(who, step, args, kwargs)`` as "new" and "old" in turn, call by call, for ``rounds`` rounds after a
    warm-up round (the first order alternating): process CPU ms per frame, median and mean over rounds, and
    whether every result is the same (:func:`same`, on the warm-up round)."""
    nf = cap["n_frames"]
    report: dict = {"frames": nf, "rounds": rounds, "against": against, "clock": "process CPU"}
    totals = {"new": np.zeros(rounds), "old": np.zeros(rounds)}
    for step in steps:
        ms = {"new": np.zeros(rounds + 1), "old": np.zeros(rounds + 1)}
        identical = True
        for r in range(rounds + 1):
            order = ("new", "old") if r % 2 else ("old", "new")
            for a, k in cap[step]:
                res = {}
                for who in order:
                    a2, k2 = copy.deepcopy((a, k))  # (a step may change its arguments: each run its own)
                    t = time.process_time()
                    res[who] = call(who, step, a2, k2)
                    ms[who][r] += time.process_time() - t
                if r == 0:
                    identical &= same(res["new"], res["old"])
        for who in ms:
            ms[who] = ms[who][1:] * 1000.0 / nf  # (round 0: the warm-up, not counted)
            totals[who] += ms[who]
        report[step] = {
            "calls": len(cap[step]),
            "ms_per_frame_new_median": float(np.median(ms["new"])),
            "ms_per_frame_old_median": float(np.median(ms["old"])),
            "ms_per_frame_new_mean": float(np.mean(ms["new"])),
            "ms_per_frame_old_mean": float(np.mean(ms["old"])),
            "ratio_median": float(np.median(ms["new"] / ms["old"])),
            "identical": bool(identical),
        }
        print(step, json.dumps(report[step]), flush=True)
    report["total_ms_per_frame_new_median"] = float(np.median(totals["new"]))
    report["total_ms_per_frame_old_median"] = float(np.median(totals["old"]))
    report["total_saved_ms_per_frame_median"] = float(np.median(totals["old"] - totals["new"]))
    return report


def breakdown(cap: dict, rounds: int) -> dict:
    """``search_again``'s captured calls run by the current module, timed by outcome and part (module
    docstring): ms per frame (thread CPU), medians over ``rounds`` rounds after a warm-up round."""
    import ioscan.detect.second_pass as sp

    parts = ("estimate_background", "fit_sources", "radial_profiles_kernel")
    orig = {name: getattr(sp, name) for name in parts}
    now: dict = {}

    def timed(name):
        def run(*a, **k):
            t = time.thread_time()
            out = orig[name](*a, **k)
            now[name] += time.thread_time() - t
            if name == "estimate_background":
                now["background_calls"] += 1
                now["background_px"] += a[0].size
            return out

        return run

    nf = cap["n_frames"]
    per_round = []
    try:
        for name in parts:
            setattr(sp, name, timed(name))
        for _ in range(rounds + 1):
            acc: dict = {}
            for a, k in cap["search_again"]:
                a2, k2 = copy.deepcopy((a, k))
                now.clear()
                now.update({name: 0.0 for name in parts}, background_calls=0, background_px=0)
                t = time.thread_time()
                res = sp.search_again(*a2, **k2)
                total = time.thread_time() - t
                if not now["background_calls"]:
                    kind = "no_background"
                elif res.n_new:
                    kind = "new_sources"
                elif res.unconfirmed.any():
                    kind = "unconfirmed"
                else:
                    kind = "nothing_found"
                row = acc.setdefault(kind, {"calls": 0, "total": 0.0, **{n: 0.0 for n in now}})
                row["calls"] += 1
                row["total"] += total
                for name, v in now.items():
                    row[name] += v
            per_round.append(acc)
    finally:
        for name, f in orig.items():
            setattr(sp, name, f)
    report: dict = {"frames": nf, "rounds": rounds, "clock": "thread CPU", "ms_per_frame": {}}
    for kind in per_round[-1]:
        rows = [r[kind] for r in per_round[1:]]
        out = {"calls": rows[0]["calls"]}
        for name in ("total", *parts):
            out[name] = float(np.median([r[name] for r in rows])) * 1000.0 / nf
        out["background_calls"] = rows[0]["background_calls"]
        out["background_px"] = rows[0]["background_px"]
        report["ms_per_frame"][kind] = out
    report["total_ms_per_frame"] = sum(v["total"] for v in report["ms_per_frame"].values())
    return report


def windows_study(cap: dict, rounds: int) -> dict:
    """``--windows`` (module docstring): the second backgrounds of ``search_again``'s captured calls, their
    windows against their bounding box, ms per frame (thread CPU) and pixels."""
    from scipy import ndimage

    import ioscan.detect.second_pass as sp

    made: list = []
    orig_windows, orig_whole = sp.background_in_windows, sp.estimate_background
    state: dict = {}

    def windows(image, wins, args):
        made.append({"image": image, "windows": list(wins), "args": args, **state})
        state["in_windows"] = True  # (its windows' own estimate_background calls are not recorded)
        try:
            return orig_windows(image, wins, args)
        finally:
            state["in_windows"] = False

    def whole(image, **args):
        if not state.get("in_windows"):
            made.append({"image": image, "windows": None, "args": args, **state})
        return orig_whole(image, **args)

    def second(sub, src, roles, fit, model, *a, **k):
        state.update(sub=np.asarray(sub, float), noise=model.noise, annuli=model.annuli, in_windows=False)
        return orig_second(sub, src, roles, fit, model, *a, **k)

    orig_second = sp.second_background
    try:
        sp.background_in_windows, sp.estimate_background, sp.second_background = windows, whole, second
        for a, k in cap["search_again"]:
            sp.search_again(*copy.deepcopy((a, k))[0], **copy.deepcopy(k))
    finally:
        sp.background_in_windows, sp.estimate_background = orig_windows, orig_whole
        sp.second_background = orig_second
    nf = cap["n_frames"]
    rows, t_apart, t_box = [], np.zeros(rounds), np.zeros(rounds)
    for m in made:
        image, wins = m["image"], m["windows"]
        changed = np.abs(image - m["sub"]) > 0.1 * m["noise"]
        # (and within a window's margin of a changed pixel: the background annulus, the filter twice and a
        # scale block, as second_background's windows reach past their zone)
        psf = m["args"]["psf"]
        sigma = psf.core_sigma_px
        block = int(m["args"].get("local_window_px") or max(8, int(round(4 * sigma))))
        reach = 2 * int(np.ceil(4 * sigma)) + block + max(h1 for _, h1, _ in m["annuli"])
        near = ndimage.maximum_filter(changed.view(np.uint8), 2 * reach + 1, mode="constant") > 0
        row = {"crop_px": image.size, "changed_px": int(changed.sum()), "changed_reach_px": int(near.sum())}
        if wins is None:
            rows.append(row)
            continue
        l0, l1 = int(min(w[0].start for w in wins)), int(max(w[0].stop for w in wins))
        s0, s1 = int(min(w[1].start for w in wins)), int(max(w[1].stop for w in wins))
        box = (slice(l0, l1), slice(s0, s1))
        row.update(
            windows=len(wins),
            windows_px=int(sum((w[0].stop - w[0].start) * (w[1].stop - w[1].start) for w in wins)),
            box_px=(l1 - l0) * (s1 - s0),
        )
        rows.append(row)
        if len(wins) < 2:
            continue
        outside = np.ones(image.shape, bool)
        for w in wins:
            outside[w] = False
        args = dict(m["args"])
        args["mask"] = outside if args.get("mask") is None else (args["mask"] | outside)
        # (the bounding box's arguments cropped as background_in_windows crops a window's)
        box_args = {
            key: (
                v[box]
                if isinstance(v, np.ndarray) and v.shape == image.shape
                else tuple(u[box] for u in v)
                if isinstance(v, tuple)
                else v.crop(box)
                if hasattr(v, "crop")
                else v
            )
            for key, v in args.items()
        }
        for r in range(rounds + 1):
            for who in ("apart", "box") if r % 2 else ("box", "apart"):
                t = time.thread_time()
                if who == "apart":
                    orig_windows(image, wins, copy.deepcopy(m["args"]))
                else:
                    orig_whole(image[box], **copy.deepcopy(box_args))
                if r:
                    (t_apart if who == "apart" else t_box)[r - 1] += time.thread_time() - t
    windowed = [r for r in rows if "windows" in r]
    return {
        "frames": nf,
        "rounds": rounds,
        "clock": "thread CPU",
        "backgrounds": len(rows),
        "whole_crop": {
            "calls": len(rows) - len(windowed),
            "crop_px": sum(r["crop_px"] for r in rows if "windows" not in r),
            "changed_px": sum(r["changed_px"] for r in rows if "windows" not in r),
            "changed_reach_px": sum(r["changed_reach_px"] for r in rows if "windows" not in r),
        },
        "windowed": {
            "calls": len(windowed),
            "windows": sum(r["windows"] for r in windowed),
            "windows_px": sum(r["windows_px"] for r in windowed),
            "box_px": sum(r["box_px"] for r in windowed),
            "crop_px": sum(r["crop_px"] for r in windowed),
            "changed_px": sum(r["changed_px"] for r in windowed),
            "changed_reach_px": sum(r["changed_reach_px"] for r in windowed),
        },
        "several_windows": {
            "calls": sum(r["windows"] > 1 for r in windowed),
            "ms_per_frame_apart_median": float(np.median(t_apart)) * 1000.0 / nf,
            "ms_per_frame_box_median": float(np.median(t_box)) * 1000.0 / nf,
        },
        "rows": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="main", help="git revision to compare with")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", help="pickled detect_frame calls (detprof.py's cache); default: simulate")
    ap.add_argument("--capture", help="pickle of the captured step calls: read if it exists, else written")
    ap.add_argument("--steps", default="search_again,misfits,columns")
    ap.add_argument("--breakdown", action="store_true", help="search_again by outcome and part, no REV")
    ap.add_argument("--windows", action="store_true", help="the windows against their bounding box, no REV")
    args = ap.parse_args()
    if args.capture and Path(args.capture).exists():
        cap = pickle.loads(Path(args.capture).read_bytes())
    else:
        calls = pickle.loads(Path(args.calls).read_bytes()) if args.calls else simulate_calls()
        cap = capture(calls)
        del calls
        if args.capture:
            Path(args.capture).write_bytes(pickle.dumps(cap))
    if args.breakdown:
        print(json.dumps(breakdown(cap, args.rounds), indent=1))
        return
    if args.windows:
        print(json.dumps(windows_study(cap, args.rounds), indent=1))
        return
    import ioscan.detect.columns as columns_new
    import ioscan.detect.misfits as misfits_new
    import ioscan.detect.second_pass as second_pass_new

    old = load_old(args.against, Path(tempfile.mkdtemp()))
    new = {"second_pass": second_pass_new, "misfits": misfits_new, "columns": columns_new}
    runners = {
        "search_again": {
            "new": lambda a, k: new["second_pass"].search_again(*a, **k),
            "old": lambda a, k: old["second_pass"].search_again(*a, **k),
        },
        "misfits": {"new": misfits_runner(new), "old": misfits_runner(old)},
        "columns": {
            "new": lambda a, k: new["columns"].remove_column_streaks(*a, **k),
            "old": lambda a, k: old["columns"].remove_column_streaks(*a, **k),
        },
    }
    call = lambda who, step, a, k: runners[step][who](a, k)  # noqa: E731
    print(
        json.dumps(interleaved_steps(cap, args.steps.split(","), args.rounds, args.against, call), indent=1)
    )


if __name__ == "__main__":
    main()
