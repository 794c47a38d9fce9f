"""Benchmark: a scan's measure, records and store stages per frame, the current code against a git revision
(issue 15), and whether the two store the same catalogue.

Each run is a fresh process with the ioscan of one source tree on ``PYTHONPATH`` (the current one, and
``REV`` checked out in a detached worktree), on the same simulated campaign (4 orbits of 16 JIRAM frames,
seed 5). A run reads, navigates, registers and detects every frame as the scan does (not timed), then times
on the thread's CPU clock (BLAS one thread), ``--repeats`` times on fresh copies of the detections:
``measure`` (:func:`ioscan.measure.measure_frame` with the pointing draws), ``records``
(``process._observation`` and ``process._band_summaries``), ``store`` (``Store.add_observation``, one
transaction per product, as bench_scan's stage profile and an in-process scan store), and beside them
``rows`` (:func:`ioscan.catalog.rows.product_rows`, what a Dask scan's workers make) and ``store_batch``
(``Store.add_products`` of those rows in batches of 8, what a Dask scan's writer does). Runs alternate
(current, REV; then REV, current; ...) for ``--rounds`` rounds; per stage the mean ms per frame of each
run, each round's ratio current ÷ REV and their median (< 1 is faster).

Every run's first repeat writes its own catalogues (SQLite file, and with ``--pg URL`` a fresh PostgreSQL
schema, dropped afterwards, by both paths): they are compared column by column between the current code and
REV (bench_scan's ``_same_catalogues``: every stored column of observations, frames and detections,
bookkeeping left out).

    python benchmarks/bench_rows.py [--against main] [--rounds 5] [--repeats 3]
        [--pg postgresql:///ioscan_test?host=/var/run/postgresql] [--campaign DIR] [--profile]

``--profile``: a cProfile of the three stages (current code only), the 25 costliest functions by own time.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

STAGES = ("measure", "records", "store", "rows", "store_batch")
BATCH = 8


def _campaign(folder: Path) -> Path:
    from ioscan.simulate.campaign import simulate_campaign

    if not (folder / "kernels" / "ioscan.tm").exists():
        simulate_campaign(folder, orbits=4, seed=5, frames_per_orbit=16, ground_nights=0, workers=2)
    return folder


def _inputs(campaign: Path):
    """Every frame of the campaign up to measurement, as bench_scan's stage profile makes it: (path, frame,
    navigation, detections, pointing draws)."""
    from ioscan.detect import detect_frame
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame, register_on_hot_spots, register_on_limb
    from ioscan.measure.positions import PointingSamples
    from ioscan.settings import Settings
    from ioscan.workflows import process
    from ioscan.workflows.process import _anchors

    settings = Settings()
    anchors = _anchors(settings.navigate.anchors)
    metakernel = campaign / "kernels" / "ioscan.tm"
    stands = getattr(process, "first_detection_stands", None)
    for path in sorted((campaign / "jiram").rglob("*.LBL")):
        frame = read_product(path)
        nav = navigate_frame(frame, kernels=metakernel, register=False)
        register_on_limb(frame, nav)

        def told(nav):
            return dataclasses.replace(settings.detect, pointing_error_px=nav.detection_error_px)

        found = detect_frame(frame, nav.backplanes or None, config=told(nav))
        if nav.views and not nav.registered:
            told_first = nav.detection_error_px
            register_on_hot_spots(frame, nav, found.detections, anchors, settings.navigate)
            if nav.registered and stands is not None and stands(frame, nav, told_first):
                found = process._detect_again(frame, nav, settings, found, told_first)
            elif nav.registered:
                found = detect_frame(frame, nav.backplanes or None, config=told(nav))
        pointing = None
        if nav.offset_samples_px is not None and nav.views:
            draws, ground = nav.offset_samples_px, nav.ground_err_km
            pointing = {b: PointingSamples(v, draws, ground) for b, v in nav.views.items()}
        yield path, frame, nav, found, pointing, settings


def _pg_schema(base: str):
    """(url, drop) of a fresh schema on the PostgreSQL server ``base``."""
    from urllib.parse import quote

    import psycopg

    schema = f"bench_rows_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(base, autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"

    def drop():
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()

    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", drop


def _child(campaign: Path, out: Path, repeats: int, pg: str | None, profile: bool) -> dict:
    """One run (see the module docstring): ms per frame of each stage, summed over the campaign and
    averaged over the repeats; the first repeat's catalogues written to ``out``."""
    from ioscan.catalog.rows import product_rows
    from ioscan.catalog.store import open_store
    from ioscan.measure import measure_frame
    from ioscan.workflows.process import _band_summaries, _observation

    clock = time.thread_time
    out.mkdir(parents=True, exist_ok=True)
    urls = {f"sqlite_{r}": f"sqlite:///{out / f'r{r}.db'}" for r in range(repeats)}
    urls |= {f"batch_{r}": f"sqlite:///{out / f'b{r}.db'}" for r in range(repeats)}
    drops = []
    if pg:
        for kind in ("sqlite_0", "batch_0"):
            url, drop = _pg_schema(pg)
            urls["pg_" + kind] = url
            drops.append(drop)
    stores = {k: open_store(u) for k, u in urls.items()}
    spent = {k: 0.0 for k in STAGES}
    pending: list[list] = [[] for _ in range(repeats)]
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    n = 0
    try:
        for path, frame, nav, found, pointing, settings in _inputs(campaign):
            n += 1
            copies = [copy.deepcopy(found) for _ in range(repeats)]
            for r, fd in enumerate(copies):
                if prof:
                    prof.enable()
                t0 = clock()
                measure_frame(frame, fd, nav.backplanes or None, config=settings.measure,
                              pointing_error_px=nav.pointing_error_px, pointing=pointing)  # fmt: skip
                t1 = clock()
                obs = _observation(path, frame, nav, fd)
                bands = _band_summaries(frame, nav, fd, settings)
                t2 = clock()
                stores[f"sqlite_{r}"].add_observation(obs, bands, fd.detections)
                t3 = clock()
                rows = product_rows(obs, bands, fd.detections)
                t4 = clock()
                pending[r].append(rows)
                if len(pending[r]) == BATCH:
                    stores[f"batch_{r}"].add_products(pending[r], run_id=None)
                    pending[r] = []
                t5 = clock()
                if prof:
                    prof.disable()
                for k, v in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                    spent[k] += v
                if r == 0 and pg:
                    stores["pg_sqlite_0"].add_observation(obs, bands, fd.detections)
                    stores["pg_batch_0"].add_products([rows], run_id=None)
        for r in range(repeats):
            if pending[r]:
                t0 = clock()
                stores[f"batch_{r}"].add_products(pending[r], run_id=None)
                spent["store_batch"] += clock() - t0
        if pg:  # the PostgreSQL catalogues as SQLite files, to compare them the same way
            for kind in ("sqlite_0", "batch_0"):
                _copy_catalogue(stores["pg_" + kind], out / f"pg_{kind}.db")
    finally:
        for s in stores.values():
            s.close()
        for drop in drops:
            drop()
    result = {"frames": n, "ms_per_frame": {k: 1e3 * v / (n * repeats) for k, v in spent.items()}}
    if prof:
        result["profile_tottime_ms_per_frame"] = profile_rows(prof, n * repeats, 25)
    return result


def profile_rows(prof, per: int, most: int) -> list:
    """The ``most`` functions of a cProfile ``prof`` with the highest own time: [file:line:function, own ms,
    calls, cumulative ms], the times per one of ``per`` (frames × repeats)."""
    import pstats

    stats = pstats.Stats(prof)
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:most]
    return [
        [f"{Path(f).name}:{line}:{fn}", round(1e3 * tt / per, 4), nc, round(1e3 * ct / per, 4)]
        for (f, line, fn), (_cc, nc, tt, ct, _callers) in rows
    ]


def _copy_catalogue(store, target: Path) -> None:
    """The stored observations, frames and detections of ``store`` as pickled DataFrames (``target``)."""
    import pickle

    tables = {
        "observations": store.observations_frame(include_superseded=True),
        "frames": store.frames_frame(include_superseded=True),
        "detections": store.detections_frame(include_superseded=True),
    }
    target.with_suffix(".pkl").write_bytes(pickle.dumps(tables))


def _stored_tables(tables: dict) -> dict:
    """bench_scan's ``_stored`` on tables already read."""
    from bench_scan import stored_tables

    return stored_tables(tables)


def _differences(a: dict, b: dict) -> dict:
    diff = {}
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape or list(x.columns) != list(y.columns):
            diff[name] = f"shape {x.shape} vs {y.shape}"
            continue
        same = (x == y) | (x.isna() & y.isna())
        diff[name] = int((~same).to_numpy().sum())
    return diff


def _compare(dirs: dict[str, Path], rev: str) -> dict:
    """Every stored column of each catalogue of the current run against ``rev``'s (0 everywhere: the same)."""
    import pickle

    from bench_scan import _stored

    out = {}
    for kind in ("r0", "b0", "pg_sqlite_0", "pg_batch_0"):
        paths = {k: d / f"{kind}.db" for k, d in dirs.items()}
        pkls = {k: d / f"{kind}.pkl" for k, d in dirs.items()}
        if all(p.exists() for p in paths.values()):
            a, b = (_stored(paths[k]) for k in ("current", rev))
        elif all(p.exists() for p in pkls.values()):
            a, b = (_stored_tables(pickle.loads(pkls[k].read_bytes())) for k in ("current", rev))
        else:
            continue
        out[kind] = _differences(a, b) | {"rows": {k: len(v) for k, v in a.items()}}
    # the two write paths of the current code against each other
    out["r0_vs_b0_current"] = _differences(
        _stored(dirs["current"] / "r0.db"), _stored(dirs["current"] / "b0.db")
    )
    out["identical"] = all(
        all(v == 0 for k, v in d.items() if k != "rows") for d in out.values() if isinstance(d, dict)
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", default="main")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pg", default=None)
    ap.add_argument("--campaign", type=Path, default=None)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("CAMPAIGN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    if args.child:
        res = _child(Path(args.child[0]), Path(args.child[1]), args.repeats, args.pg, args.profile)
        print(json.dumps(res))
        return
    work = Path(tempfile.mkdtemp(prefix="ioscan_bench_rows_"))
    campaign = _campaign(args.campaign or work / "campaign")
    if args.profile:
        print(json.dumps(_child(campaign, work / "profile", args.repeats, None, True), indent=1))
        shutil.rmtree(work, ignore_errors=True)
        return
    here = Path(__file__).resolve().parents[1]
    tree = work / "against"
    subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", str(tree), args.against],
                   check=True, capture_output=True)  # fmt: skip
    trees = {"current": here, args.against: tree}
    runs: dict[str, list] = {k: [] for k in trees}
    try:
        for r in range(args.rounds):
            for label in list(trees) if r % 2 == 0 else list(trees)[::-1]:
                dest = work / f"{label.replace('/', '_')}_{r}"
                cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(campaign), str(dest),
                       "--repeats", str(args.repeats)]  # fmt: skip
                if args.pg and r == 0:
                    cmd += ["--pg", args.pg]
                env = {**os.environ, "PYTHONPATH": f"{trees[label] / 'src'}{os.pathsep}{here / 'benchmarks'}"}
                done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=trees[label])
                if done.returncode:
                    sys.exit(done.stderr)
                runs[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
        dirs = {label: work / f"{label.replace('/', '_')}_0" for label in trees}
        same = _compare(dirs, args.against)
        table = {
            k: {label: [round(x["ms_per_frame"][k], 3) for x in rs] for label, rs in runs.items()}
            for k in STAGES
        }
        ratios = {
            k: [round(a / b, 3) for a, b in zip(v["current"], v[args.against], strict=True)]
            for k, v in table.items()
        }
        three = ("measure", "records", "store")
        for label in trees:
            table.setdefault("measure_records_store", {})[label] = [
                round(sum(x["ms_per_frame"][k] for k in three), 3) for x in runs[label]
            ]
        print(
            json.dumps(
                {
                    "benchmark": "rows",
                    "against": args.against,
                    "rounds": args.rounds,
                    "repeats": args.repeats,
                    "frames": runs["current"][0]["frames"],
                    "ms_per_frame": table,
                    "median_ms_per_frame": {
                        k: {label: round(statistics.median(v), 3) for label, v in row.items()}
                        for k, row in table.items()
                    },
                    "ratio_per_round": ratios,
                    "ratio_median": {k: round(statistics.median(v), 3) for k, v in ratios.items()},
                    "stored_catalogues": same,
                }
            )
        )
    finally:
        subprocess.run(
            ["git", "-C", str(here), "worktree", "remove", "--force", str(tree)], capture_output=True
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
