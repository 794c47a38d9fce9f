"""Benchmark: the scan end to end, stage by stage, the writer, and its scaling on Dask (issue 15).

1. Stage profile, in one process, per frame (median ms): identify (``product_identity``, which a scan
   does before it claims a product), read (ioscan's reader), SPICE backplanes (navigation
   without registration), limb fit (``register_on_limb`` on that navigation, as a scan registers a frame on
   the geometry already computed), detection, registration on known hot spots (frames the limb did not
   register, and the second detection of those it registers; ``hot_spot_matching``, inside it and not counted
   again in the total: ``register_on_hot_spots`` alone, the matcher and the re-pointing), measurement (with
   the pointing draws, as a scan does), records, store. A real scan also processes again the frames no
   registration reached, with the detections of registered frames of their orbit (chaining): an in-process
   scan of the same campaign gives that second processing per frame of the campaign (``chain_retries_mean``,
   CPU of the scanning thread; ``chain_finish_mean``: the measurement of held frames no retry reached,
   deferred until chaining has run; ``first_processing_mean_from_scan``: the first processing, held frames
   not measured), and ``total_with_chain_mean`` (the profile's mean total plus it) stands beside
   the whole scan's time per frame in the same clock (``scan_in_process_ms_per_frame``). The peer is pdr
   reading the same product (``pdr.read(label)["IMAGE"]``). With ``--against REV`` the limb fit as it was at
   git revision REV registers every frame too, alternating with the current one (``limb_fit_against``: its ms
   per frame; ``limb_fit_max_offset_diff_px``: how far the two registrations' offsets differ).
2. The single writer, per frame (median ms over the same frames, fresh SQLite catalogues): one transaction per
   product (``add_product``, what a scan did before) against the batches a Dask scan writes
   (``add_products``, :data:`~ioscan.workflows.scan.WRITE_BATCH_MAX` products per transaction), from the
   records and from rows made beforehand as a Dask scan's workers now send them
   (``add_products_rows_made_ms_per_frame``, :func:`ioscan.catalog.store.product_rows`); and the claim of one
   product against a block of them.
3. Whole scans into fresh catalogues: in process, 1 worker and 2 workers, ``--repeats`` times each, the
   three interleaved so that every round sees the same machine. Per scan: wall time, start-up (the cluster
   started and its workers prepared: ``ScanSummary.cluster_start_s``), steady rate (frames/s once started),
   CPU seconds per frame of the calling process (the writer, and the scheduler, which runs in it) and of the
   workers (both with their start-up), each worker's peak RSS, the workers' busy fraction once the first
   result is in (``worker_busy_fraction_steady``: their CPU over their wall time; 1.0 never idle) and the
   calling process's CPU per frame by part (``main_cpu_ms_per_frame_by_part``, from
   ``ScanSummary.main_cpu_s``: identify, claims, dask, store, chain, progress, other, and
   ``other_threads``: the scheduler and the client's communication). The 2-worker speedup is the median
   over rounds of the ratio within a round, whole scans and steady rates. On a machine other jobs share,
   read the CPU figures (busy fractions, ``speedup_bound_from_cpu_per_frame``) rather than the wall ratio.
4. What the machine gives right now: a CPU-bound probe run in 1 process, then in 2 at once, before and after
   each round's 1- and 2-worker scans (``probe_2_over_1_per_round``, the smaller of the two: 2.0 on two
   idle cores, less when other jobs share them), so that a speedup measured on a shared machine can be read
   against what 2 processes could get at all; ``speedup_bound_from_cpu_per_frame`` is what two free cores
   would give from the steady CPU per frame measured (1 worker has a core while the writer uses the other;
   2 workers share both with the writer). ``speedup_2_workers_over_1_of_probe``: each round's speedup over
   its probe (1.0: the 2 workers got all that 2 processes could get then). ``writer_core_share_2_workers``:
   the fraction of one core the calling process (the single writer, and the scheduler) uses while 2 workers
   run steadily (its CPU per frame × frames per second): well below 1, the writer is not what limits them.
5. A worker's start-up, CPU seconds by step in fresh interpreters (``worker_start_cpu_s``, median of
   ``--repeats``): Python and Dask, the task function's modules, the worker plugin's setup (the pipeline's
   imports, kernels, anchor table), the first product and a second one (the first's extra is lazy imports and
   caches); ``compiled_from_source`` says ioscan's modules were compiled at every start
   (PYTHONDONTWRITEBYTECODE set: ~0.2 s an installed package does not pay).
6. The catalogues of the last round's three scans compared (``stored_columns_across_modes``): every stored
   column of observations, frames and detections, bookkeeping (row ids, run) left out, in process against
   1 and 2 workers: the number of values that differ per table, and ``identical``. Each scan also reports
   the time its cluster took to close (``close_s``).

7. ``--stages-against REV``: the stage profile (CPU clock) of the current code and of git revision REV (a
   detached worktree), each in a fresh process on the same simulated campaign, alternating for ``--rounds``
   rounds (which goes first alternates too), and each one's worker start-up (``worker_start_cpu_s``): per
   stage, each round's ratio current ÷ REV and their median (``ratio_median``: < 1 is faster). On a shared
   machine this is the figure to quote, not a single run's milliseconds. The means too
   (``stage_ms_per_frame_mean``, ``mean_ratio_median``: a few expensive frames, hot-spot registration's,
   move them), with each child's in-process scan of the campaign (chaining included:
   ``scan_in_process_ms_per_frame``, ``chain_retries_mean``, ``total_with_chain_mean``).
   ``detect_step_ms_per_frame``: the same per step of detection (below), each label's median over rounds
   and the median ratio.
   ``detections_identical_frames``: on how many frames (of ``frames``) every field of every final detection
   (after the second detection where there is one), the status and the messages equal ``REV``'s bit for bit
   (the fewest over rounds).

The stage profile's ``detect_step_ms_per_frame``: detection as the scan calls it (told the geometry and the
pointing error), per named step of ``detect_band`` (each step's own CPU or wall time, a step inside another
counted once), in ms per frame of the campaign (the steps' total over all frames; ``frames``: how many ran
it), for the first detection (the ``detect`` stage) and the second one after registration on hot spots
(inside ``register_hot_spots``; not where the first stands, ``process.first_detection_stands``); ``other``
is what no named step took. Its ``tail``: why the total's median
exceeds the sum of the stages' medians (:func:`_tail`: each stage's 90th percentile, mean without the first
frame, and excess over its median on the slower half of the frames).

8. ``fresh_cluster_2_workers``: a scan's own 2-worker LocalCluster started in fresh interpreters, its workers
   started by Dask's ``spawn`` and by ``forkserver`` (what :mod:`ioscan.workflows.cluster` uses: forked from
   a server that preloaded the pipeline), alternating: start wall time, CPU of every process started
   (workers and server), a worker's CPU once prepared, for its first and second product, its RSS and PSS.
   Within one process, a scan after the first forks its workers from the server the first started (their
   start-up is then ~0.3 s); ``--cold-workers`` stops that server after each scan, so that every scan pays
   what ``ioscan scan`` pays. ``--scans-only``: the scans (3) alone.

    python benchmarks/bench_scan.py [--orbits 4] [--frames-per-orbit 16] [--repeats 3] [--against REV]
        [--profile-only] [--clock wall|cpu] [--quick] [--stages-against REV [--rounds 3]]
        [--scans-only] [--cold-workers]

Targets (issue 15): scan per frame ≤ 20× the pdr read; ≥ 25 frames/s per core on JIRAM I1 frames; 2 workers
≥ 1.8× one worker (median of ≥ 3 runs); ≤ 1 GB per worker.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path


def _med(values) -> float:
    return round(statistics.median(values), 2) if values else float("nan")


def _stage_profile(
    products: list[Path], metakernel: Path, out: Path, against=None, digests: list | None = None
) -> tuple[dict, list]:
    """Median ms per frame of each stage, in this process; and each product's records (for the writer).
    ``against``: an older limb-fit module, run alternately with the current one on every frame. Also the
    limb registrations' offsets against the simulator's applied pointing error (``limb_offset_*``).
    ``digests``: a list that gets each frame's :func:`_detections_digest` (its final detections)."""
    import numpy as np
    import pdr

    from ioscan.catalog.store import open_store
    from ioscan.formats import product_identity, read_product
    from ioscan.geometry.navigate import navigate_frame, register_on_hot_spots, register_on_limb
    from ioscan.measure import measure_frame
    from ioscan.measure.positions import PointingSamples
    from ioscan.settings import Settings
    from ioscan.workflows import process
    from ioscan.workflows.process import _anchors, _band_summaries, _observation

    # the first detection kept where detecting again would give it (process._finish; older revisions: none)
    stands = getattr(process, "first_detection_stands", None)
    # the detection settings a navigated frame is told (process.detection_config; older revisions: the error)
    told_config = getattr(process, "detection_config", None)
    reach_of = getattr(process, "pointing_reach_px", None)

    settings = Settings()
    names = (
        "pdr_read", "identify", "read", "backplanes", "limb_fit", "detect", "register_hot_spots", "measure",
        "records", "store", "total", "hot_spot_matching",
    )  # fmt: skip
    anchors = _anchors(settings.navigate.anchors)
    stages: dict[str, list[float]] = {k: [] for k in names}
    limb_against: list[float] = []
    offset_diff: list[float] = []
    records = []
    limb_err: list[tuple[float, float, float, float]] = []  # (d_sample, d_line) px and their pulls
    truth = _pointing_truth(products)
    navigate_frame(read_product(products[0]), kernels=metakernel, register=False)  # kernels loaded once
    with open_store(out / "profile.db") as store, _DetectSteps() as steps:
        for path in products:
            lap = _Laps()
            pdr.read(str(path))["IMAGE"]
            lap("pdr_read")
            product_identity(path)  # as a scan does before it claims a product
            lap("identify")
            frame = read_product(path)
            lap("read")
            nav = navigate_frame(frame, kernels=metakernel, register=False)
            lap("backplanes")
            old_first = len(records) % 2  # the older fit first on every other frame
            if against is not None and old_first:
                other = _limb_fit_with(against, frame, metakernel, limb_against)
                lap.restart()
            register_on_limb(frame, nav)
            lap("limb_fit")
            band = getattr(nav, "limb_band", None)
            if nav.method == "limb" and band is not None and (frame.product_id, band) in truth:
                d = np.subtract(nav.offset_px, truth[(frame.product_id, band)])
                limb_err.append((*d, *(d / np.array(nav.offset_err_px))))
                lap.restart()
            if against is not None:
                if not old_first:
                    other = _limb_fit_with(against, frame, metakernel, limb_against)
                    lap.restart()
                offset_diff.append(_offset_diff(nav, other))

            # as process_product: detection told the pointing error, registration on known hot spots for
            # frames the limb did not register (then detection again), the pointing draws in measurement
            def told(nav):
                if told_config is not None:
                    return told_config(settings, nav)
                return dataclasses.replace(settings.detect, pointing_error_px=nav.detection_error_px)

            found = steps.detect("first", frame, nav.backplanes or None, config=told(nav))
            lap("detect")
            matching_ms = 0.0  # register_on_hot_spots alone (the stage holds the second detection too)
            if nav.views and not nav.registered:
                told_first = nav.detection_error_px
                before = (nav.backplanes, reach_of(nav)) if reach_of is not None else None
                t_match = CLOCK()
                register_on_hot_spots(frame, nav, found.detections, anchors, settings.navigate)
                matching_ms = 1e3 * (CLOCK() - t_match)
                again = (told_first,) if before is None else (told_first, before)
                if nav.registered and stands is not None and stands(frame, nav, *again):
                    found = process._detect_again(frame, nav, settings, found, *again)  # no search
                elif nav.registered:
                    found = steps.detect("second", frame, nav.backplanes or None, config=told(nav))
            lap("register_hot_spots")
            pointing = None
            if nav.offset_samples_px is not None and nav.views:
                draws, ground = nav.offset_samples_px, nav.ground_err_km
                pointing = {b: PointingSamples(v, draws, ground) for b, v in nav.views.items()}
            measure_frame(
                frame,
                found,
                nav.backplanes or None,
                config=settings.measure,
                pointing_error_px=nav.pointing_error_px,
                pointing=pointing,
            )
            lap("measure")
            obs = _observation(path, frame, nav, found)
            bands = _band_summaries(frame, nav, found, settings)
            lap("records")
            store.add_observation(obs, bands, found.detections)
            lap("store")
            records.append((obs, bands, found.detections))
            if digests is not None:
                digests.append(_detections_digest(found))
            for stage, v in lap.ms.items():
                stages[stage].append(v)
            stages["hot_spot_matching"].append(matching_ms)
            stages["total"].append(sum(v for k, v in lap.ms.items() if k != "pdr_read"))
    med = {k: _med(v) for k, v in stages.items()}
    med["total_over_pdr_read"] = round(med["total"] / med["pdr_read"], 1)
    med["frames_per_s_one_core"] = round(1e3 / med["total"], 2)
    outside = [t - d for t, d in zip(stages["total"], stages["detect"], strict=True)]
    med["outside_detect"] = _med(outside)
    med["outside_detect_over_pdr_read"] = round(med["outside_detect"] / med["pdr_read"], 1)
    med["mean"] = {k: round(statistics.fmean(v), 2) for k, v in stages.items() if v}
    med["total_mean"] = round(statistics.fmean(stages["total"]), 2)
    med["outside_detect_mean"] = round(statistics.fmean(outside), 2)
    # what the whole would be with detection at issue 15's ~30 ms (≤ 3× SEP), the rest as measured
    med["projected_over_pdr_read_detect_30ms"] = round((med["outside_detect"] + 30.0) / med["pdr_read"], 1)
    med["limb_fit_over_pdr_read"] = round(med["limb_fit"] / med["pdr_read"], 1)
    med["detect_step_ms_per_frame"] = steps.summary(len(products))
    med["tail"] = _tail(stages)
    if limb_err:  # registration offsets against the simulator's applied pointing error, in the band fitted
        e = np.array(limb_err)
        err = np.hypot(e[:, 0], e[:, 1])
        med["limb_registered"] = len(e)
        med["limb_offset_err_px_median"] = round(float(np.median(err)), 3)
        med["limb_offset_err_px_p90"] = round(float(np.percentile(err, 90)), 3)
        med["limb_offset_err_px_max"] = round(float(err.max()), 3)
        med["limb_offset_pull_std"] = e[:, 2:].std(axis=0).round(2).tolist()
    if against is not None:
        med["limb_fit_against"] = _med([1e3 * v for v in limb_against])
        med["limb_fit_ratio_to_against"] = round(med["limb_fit"] / med["limb_fit_against"], 3)
        med["limb_fit_mean_ms"] = round(statistics.fmean(stages["limb_fit"]), 2)
        med["limb_fit_against_mean_ms"] = round(1e3 * statistics.fmean(limb_against), 2)
        med["limb_fit_max_offset_diff_px"] = max(offset_diff)
    return med, records


def _tail(stages: dict[str, list[float]]) -> dict:
    """Where the per-frame tail is: the total's median less the sum of the stages' medians
    (``total_median_minus_sum_of_medians``), each stage's 90th percentile and mean without the first frame
    (``p90``, ``mean_after_first``: the first pays the compiled kernels' loading), and over the frames whose
    total is above its median, each stage's mean excess over its own median (``excess_over_median_slow_half``:
    which stages make the slow frames slow; they sum to those frames' mean excess)."""
    import numpy as np

    parts = [k for k in stages if k not in ("pdr_read", "total", "hot_spot_matching") and stages[k]]
    total = np.array(stages["total"])
    slow = total > np.median(total)
    return {
        "total_median_minus_sum_of_medians": round(
            float(np.median(total)) - sum(float(np.median(stages[k])) for k in parts), 2
        ),
        "p90": {k: round(float(np.percentile(stages[k], 90)), 2) for k in parts},
        "mean_after_first": {k: round(float(np.mean(stages[k][1:])), 2) for k in parts},
        "excess_over_median_slow_half": {
            k: round(float(np.mean(np.array(stages[k])[slow]) - np.median(stages[k])), 2) for k in parts
        },
    }


def _detections_digest(found) -> str:
    """SHA-256 of a frame's final detections (after measurement): every field of every detection (``repr``:
    floats to the last bit, NaN and the sign of zero included), the status, per-band statuses, noise and
    messages."""
    import hashlib

    what = (found.detections, found.status, found.band_status, found.noise, found.messages)
    return hashlib.sha256(repr(what).encode()).hexdigest()


def _add_chaining(profile: dict, folder: Path, metakernel: Path, out: Path) -> None:
    """The chaining's second processing (frames no registration reached, processed again with the
    detections of registered frames of their orbit) per frame of the campaign, from an in-process scan in
    the profile's clock (``ScanSummary.main_cpu_s``: ``process`` first processing, ``process_chain`` the
    retries; in CPU seconds of the scanning thread), and the whole scan's time per frame beside the
    profile's total with it (``total_with_chain_mean`` ≈ ``scan_in_process_ms_per_frame``)."""
    from ioscan.catalog.store import open_store
    from ioscan.workflows.scan import scan

    db = out / "profile_scan.db"
    t0 = CLOCK()
    with open_store(db) as store:
        summary = scan([folder], store=store, kernels=metakernel, workers=0)
    whole = CLOCK() - t0
    n = max(summary.n_processed, 1)
    parts = summary.main_cpu_s
    profile["chain_retries_mean"] = round(1e3 * parts.get("process_chain", 0.0) / n, 2)
    profile["first_processing_mean_from_scan"] = round(1e3 * parts.get("process", 0.0) / n, 2)
    # held frames no retry reached, measured once chaining has run (process_product's defer_held)
    profile["chain_finish_mean"] = round(1e3 * parts.get("process_finish", 0.0) / n, 2)
    profile["total_with_chain_mean"] = round(profile["total_mean"] + profile["chain_retries_mean"], 2)
    profile["scan_in_process_ms_per_frame"] = round(1e3 * whole / n, 2)
    profile["scan_in_process_main_cpu_ms_per_frame_by_part"] = {
        k: round(1e3 * v / n, 2) for k, v in parts.items()
    }


def _pointing_truth(products: list[Path]) -> dict:
    """(product ID, band) → the simulator's applied pointing error (sample, line) px, from the campaign's
    ``truth/frames.csv`` (empty when there is none)."""
    import numpy as np
    import pandas as pd

    path = products[0].parents[2] / "truth" / "frames.csv" if products else None
    if path is None or not path.is_file():
        return {}
    out = {}
    for row in pd.read_csv(path).itertuples(index=False):
        for band in ("L", "M"):
            s, ln = (
                getattr(row, f"{band}_pointing_error_sample_px"),
                getattr(row, f"{band}_pointing_error_line_px"),
            )
            if np.isfinite(s) and np.isfinite(ln):
                out[(row.product_id, band)] = (float(s), float(ln))
    return out


#: detection's named steps as ``detect_band`` and its first pass call them (names in
#: :mod:`ioscan.detect.band`'s namespace), timed by :class:`_DetectSteps`
DETECT_STEPS = (
    "mask_pixels", "laplacian_noise", "remove_column_streaks", "locate_limb", "_measure_psf",
    "shading_template", "sunlit_mask", "fit_limb_model", "_background_args", "estimate_background",
    "find_peaks", "_local_fit", "_faint_peaks", "merge_peaks", "fit_sources", "recentre_saturated",
    "spike_threshold", "spike_dchi2", "search_again", "spike_thresholds", "_local_fit_snr", "fill_flux_err",
    "source_flags", "clipped_cores", "flag_bright_source_artefacts", "flag_limb_ridges",
    "_flag_background_misfits", "flag_unconfirmed", "flag_local_fit_unconfirmed", "flag_edge_unconfirmed",
)  # fmt: skip


class _DetectSteps:
    """Each named step's own time (:data:`CLOCK`; a step called inside another counts for itself only) while
    ``with`` is active, per detection (``first``: the scan's detection; ``second``: the detection again
    after registration on hot spots); the steps are wrapped in :mod:`ioscan.detect.band`'s namespace and
    restored on exit. ``detect_frame``: each call's whole time (``other`` is what no named step took)."""

    def __init__(self) -> None:
        self.ms: dict[str, dict[str, list[float]]] = {"first": {}, "second": {}}
        self.kind = "first"
        self._now: dict[str, float] = {}
        self._stack: list[float] = []  # time the steps running inside the current one took

    def _wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            self._stack.append(0.0)
            t0 = CLOCK()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = CLOCK() - t0
                inner = self._stack.pop()
                self._now[name] = self._now.get(name, 0.0) + spent - inner
                if self._stack:
                    self._stack[-1] += spent

        return timed

    def __enter__(self):
        from ioscan.detect import band

        self._saved = [(n, getattr(band, n)) for n in DETECT_STEPS if hasattr(band, n)]
        for name, fn in self._saved:
            setattr(band, name, self._wrap(name, fn))
        return self

    def __exit__(self, *exc):
        from ioscan.detect import band

        for name, fn in self._saved:
            setattr(band, name, fn)

    def detect(self, kind: str, *args, **kwargs):
        """``detect_frame(*args, **kwargs)``, its steps' times kept as one frame's of ``kind``."""
        from ioscan.detect import detect_frame

        self._now = {}
        t0 = CLOCK()
        found = detect_frame(*args, **kwargs)
        whole = CLOCK() - t0
        self._now["other"] = whole - sum(self._now.values())
        self._now["detect_frame"] = whole
        for name, v in self._now.items():
            self.ms[kind].setdefault(name, []).append(1e3 * v)
        return found

    def summary(self, n_frames: int) -> dict:
        """Per step: its mean ms per frame of the campaign (a step's total over ``n_frames``; what the
        stage's mean adds up from), over the first detection and the second (after registration on hot
        spots) apart, and how many frames each ran on."""
        out: dict = {}
        for kind, steps in self.ms.items():
            if not steps:
                continue
            means = {k: round(sum(v) / n_frames, 2) for k, v in steps.items()}
            order = sorted((k for k in means if k != "detect_frame"), key=lambda k: -means[k])
            out[kind] = {
                "frames": len(steps["detect_frame"]),
                "detect_frame": means["detect_frame"],
                **{k: means[k] for k in order if means[k] >= 0.01},
            }
        return out


class _Laps:
    """ms of consecutive stages: ``lap(name)`` ends one; ``restart()`` leaves out what ran since the last.
    ``clock``: :data:`CLOCK` (wall time by default; ``--clock cpu``: the CPU time of this thread, which
    other jobs on a shared machine disturb less; BLAS and OpenMP are then held to one thread, as Dask's
    workers hold them, so that no helper thread's work is left out)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self.t = CLOCK()

    def __call__(self, stage: str) -> None:
        now = CLOCK()
        self.ms[stage], self.t = 1e3 * (now - self.t), now

    def restart(self) -> None:
        self.t = CLOCK()


CLOCK = time.perf_counter


def _limb_fit_with(module, frame, metakernel: Path, seconds: list):
    """A fresh navigation of ``frame`` registered by ``register_on_limb`` with ``module``'s limb fit (the
    seconds that took appended to ``seconds``)."""
    from ioscan.geometry import limbfit
    from ioscan.geometry.navigate import navigate_frame, register_on_limb

    nav = navigate_frame(frame, kernels=metakernel, register=False)
    current = limbfit.start_limb_fit
    if hasattr(module, "start_limb_fit"):
        limbfit.start_limb_fit = module.start_limb_fit
    else:  # a revision before the coarse step was separate: every band fitted whole

        def whole(*args, **kw):
            return limbfit.CoarseLimb.done(module.register_frame(*args, **kw))

        limbfit.start_limb_fit = whole
    try:
        t0 = CLOCK()  # the profile's clock (``--clock cpu``: CPU time, as the current fit's stage)
        register_on_limb(frame, nav)
        seconds.append(CLOCK() - t0)
    finally:
        limbfit.start_limb_fit = current
    return nav


def _offset_diff(a, b) -> float:
    """Largest difference (px) of two navigations' limb offsets: 0 if neither registered, inf if one only."""
    if a.registered != b.registered:
        return float("inf")
    if not a.registered:
        return 0.0
    return float(max(abs(x - y) for x, y in zip(a.offset_px, b.offset_px, strict=True)))


def _writer(records: list, out: Path, repeats: int) -> dict:
    """ms per product of the writer: one transaction each vs batches; claims one by one vs in a block."""
    from ioscan.catalog.claims import Claims
    from ioscan.catalog.products import product_key
    from ioscan.catalog.store import open_store, product_rows
    from ioscan.workflows.scan import CLAIM_BLOCK, WRITE_BATCH_MAX

    def fresh(name: str):
        db = out / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        return open_store(db)

    keys = [(product_key(o.product_id, None, o.checksum_sha256),) for o, _, _ in records]
    n = len(records)
    made = [product_rows(*r) for r in records]  # as a Dask scan's workers send them
    res: dict[str, list[float]] = {
        "single": [], "batched": [], "rows": [], "claim_single": [], "claim_block": []
    }  # fmt: skip
    for _ in range(repeats):
        with fresh("single") as store:
            t0 = time.perf_counter()
            for obs, bands, dets in records:
                store.add_product(obs, bands, dets)
            res["single"].append(1e3 * (time.perf_counter() - t0) / n)
        with fresh("batched") as store:
            t0 = time.perf_counter()
            for i in range(0, n, WRITE_BATCH_MAX):
                store.add_products(records[i : i + WRITE_BATCH_MAX])
            res["batched"].append(1e3 * (time.perf_counter() - t0) / n)
        with fresh("rows") as store:
            t0 = time.perf_counter()
            for i in range(0, n, WRITE_BATCH_MAX):
                store.add_products(made[i : i + WRITE_BATCH_MAX])
            res["rows"].append(1e3 * (time.perf_counter() - t0) / n)
        with fresh("claims") as store:
            claims = Claims(store, store.start_run("scan", {}))
            t0 = time.perf_counter()
            for (key,) in keys:
                claims.claim(key)
            res["claim_single"].append(1e3 * (time.perf_counter() - t0) / n)
            claims.release_all()
            t0 = time.perf_counter()
            for i in range(0, n, CLAIM_BLOCK):
                claims.claim_many([(k, None, None) for (k,) in keys[i : i + CLAIM_BLOCK]])
            res["claim_block"].append(1e3 * (time.perf_counter() - t0) / n)
    return {
        "add_product_ms_per_frame": _med(res["single"]),
        "add_products_ms_per_frame": _med(res["batched"]),
        "add_products_rows_made_ms_per_frame": _med(res["rows"]),
        "batch_size": WRITE_BATCH_MAX,
        "claim_ms_per_frame": _med(res["claim_single"]),
        "claim_many_ms_per_frame": _med(res["claim_block"]),
        "claim_block": CLAIM_BLOCK,
    }


class _CpuWatch:
    """CPU seconds of this process and of its (recursive) children while a scan runs (children sampled every
    0.2 s: their last sample before they exit; listed once a second, as listing them reads every process of
    the machine, CPU this process would otherwise count as the scan's)."""

    def __enter__(self):
        import psutil

        self.me = psutil.Process()
        self.children: dict[int, float] = {}
        # children alive before the scan (a forkserver kept from an earlier scan): only their CPU from now
        self.before: dict[int, float] = {}
        for ch in self.me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                self.before[ch.pid] = ch.cpu_times().user + ch.cpu_times().system
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        t = self.me.cpu_times()
        self.start = t.user + t.system
        self._thread.start()
        return self

    def _watch(self) -> None:
        import psutil

        kids: list = []
        listed = 0.0
        while not self._stop.is_set():
            if time.monotonic() - listed > 1.0:  # listing children scans every process: once a second
                kids, listed = self.me.children(recursive=True), time.monotonic()
            for ch in kids:
                try:
                    t = ch.cpu_times()
                    self.children[ch.pid] = t.user + t.system - self.before.get(ch.pid, 0.0)
                except psutil.Error:
                    pass
            self._stop.wait(0.2)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        t = self.me.cpu_times()
        self.main_s = t.user + t.system - self.start
        self.children_s = sum(self.children.values())


#: ``--cold-workers``: the forkserver a scan's LocalCluster forks its workers from is stopped after every
#: scan, so that each scan pays its imports, as ``ioscan scan`` (one scan per process) does
COLD_WORKERS = False


def _stop_forkserver() -> None:
    """Stop this process's multiprocessing forkserver, if one runs (the next scan starts a new one)."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


def _scan_once(folder: Path, metakernel: Path, db: Path, workers: int) -> dict:
    """One scan into a fresh catalogue: wall, start-up, steady rate, CPU per frame (whole scan, and once the
    first results are stored: the steady state), worker peak RSS."""
    from ioscan.catalog.store import open_store
    from ioscan.workflows.scan import scan

    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    mark: dict = {}
    t0 = time.perf_counter()
    with _CpuWatch() as cpu, open_store(db) as store:

        def progress(done, total, res):
            if res is not None and not mark:
                t = cpu.me.cpu_times()
                mark.update(main=t.user + t.system, children=sum(cpu.children.values()), done=done)
                mark["t"] = time.perf_counter() - t0
            if res is not None:
                mark["last_done"] = done
                mark["last_t"] = time.perf_counter() - t0
                mark["last_children"] = sum(cpu.children.values())  # sampled every 0.2 s

        summary = scan([folder], store=store, kernels=metakernel, workers=workers, progress=progress)
    wall = time.perf_counter() - t0
    if COLD_WORKERS:
        _stop_forkserver()
    n = summary.n_processed
    rss = list(summary.worker_peak_rss_mb.values())
    later = max(n - mark.get("done", 0), 1)
    end_main = cpu.start + cpu.main_s
    return {
        "seconds": wall,
        "n": n,
        "startup_s": summary.cluster_start_s,
        "close_s": summary.cluster_close_s,
        "steady_fps": n / (wall - summary.cluster_start_s),
        "main_cpu_ms_per_frame": 1e3 * cpu.main_s / max(n, 1),
        "worker_cpu_ms_per_frame": 1e3 * cpu.children_s / max(n, 1),
        "main_cpu_ms_per_frame_steady": 1e3 * (end_main - mark.get("main", cpu.start)) / later,
        "worker_cpu_ms_per_frame_steady": 1e3 * (cpu.children_s - mark.get("children", 0.0)) / later,
        "worker_peak_rss_mb": max(rss) if rss else None,
        # the workers' CPU over their wall time once the first result is in (1.0: never idle), and the
        # calling process's CPU per frame by part (ScanSummary.main_cpu_s)
        "worker_busy_fraction_steady": (mark.get("last_children", 0.0) - mark.get("children", 0.0))
        / max(workers, 1)
        / max(mark.get("last_t", wall) - mark.get("t", 0.0), 1e-9)
        if workers
        else None,
        "main_cpu_ms_per_frame_by_part": {k: 1e3 * v / max(n, 1) for k, v in summary.main_cpu_s.items()},
    }


#: per-run columns left out when catalogues are compared: row ids, run and storage bookkeeping
_BOOKKEEPING = {"id", "observation_id", "run_id", "import_id", "hotspot_id", "superseded_by_id"}


def _stored(db: Path) -> dict:
    """The stored observations, frames and detections of a catalogue, bookkeeping left out, in a fixed
    order (product, band, position)."""
    from ioscan.catalog.store import open_store

    with open_store(db, create=False) as store:
        tables = {
            "observations": store.observations_frame(include_superseded=True),
            "frames": store.frames_frame(include_superseded=True),
            "detections": store.detections_frame(include_superseded=True),
        }
    return stored_tables(tables)


def stored_tables(tables: dict) -> dict:
    """Observations, frames and detections tables as read from a catalogue, bookkeeping left out, the frames
    given their product ID, each in a fixed order (product, band, position)."""
    product = dict(zip(tables["observations"]["id"], tables["observations"]["product_id"], strict=True))
    tables["frames"]["product_id"] = tables["frames"]["observation_id"].map(product)
    out = {}
    for name, df in tables.items():
        df = df.drop(columns=[c for c in df.columns if c in _BOOKKEEPING])
        keys = [c for c in ("product_id", "band", "sample", "line") if c in df.columns]
        out[name] = df.sort_values(keys).reset_index(drop=True)
    return out


def _same_catalogues(dbs: dict[str, Path]) -> dict:
    """Whether every stored column is identical between the catalogues ``dbs`` (label → path), against
    the first: per table, the number of values that differ (0 everywhere: identical)."""
    labels = list(dbs)
    ref = _stored(dbs[labels[0]])
    out: dict = {"reference": labels[0]}
    for label in labels[1:]:
        other = _stored(dbs[label])
        diff = {}
        for name, a in ref.items():
            b = other[name]
            if a.shape != b.shape or list(a.columns) != list(b.columns):
                diff[name] = f"shape {a.shape} vs {b.shape}"
                continue
            same = (a == b) | (a.isna() & b.isna())
            diff[name] = int((~same).to_numpy().sum())
        out[label] = diff
    out["identical"] = all(all(v == 0 for v in d.values()) for k, d in out.items() if k in labels[1:])
    out["rows"] = {name: len(df) for name, df in ref.items()}
    return out


def _spin(seconds: float) -> int:
    """A CPU-bound loop: iterations done in ``seconds``."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        sum(i * i for i in range(2000))
        n += 1
    return n


#: what a scan's Dask worker does before its second product, CPU s by step, in a fresh interpreter (the
#: worker process's own work, without the cluster's messages): Python and Dask's import, unpickling the task
#: function (ioscan.workflows.cluster and process), the worker plugin's setup (the pipeline's imports,
#: kernels, anchor table), a task's settings, the first product (lazy imports and caches included) and a
#: second one (what every later product costs)
_WORKER_START = r"""
import json, pickle, sys, time
clock = time.process_time
c = [clock()]
import distributed  # noqa: F401
c.append(clock())
from ioscan.workflows.cluster import ScanWorkerPlugin, run_products
c.append(clock())
ScanWorkerPlugin(sys.argv[1], "shipped").setup()
c.append(clock())
settings = pickle.loads(bytes.fromhex(sys.argv[2]))
c.append(clock())
run_products([sys.argv[3]], sys.argv[1], settings)
c.append(clock())
run_products([sys.argv[4]], sys.argv[1], settings)
c.append(clock())
names = ("python_and_dask", "task_function", "plugin_setup", "settings", "first_product", "second_product")
out = {k: round(b - a, 3) for k, a, b in zip(names, c, c[1:])}
out["compiled_from_source"] = bool(sys.dont_write_bytecode)
print(json.dumps(out))
"""


def _worker_start(metakernel: Path, products: list[Path], repeats: int, env: dict | None = None) -> dict:
    """Median CPU seconds of each step of a worker's start (:data:`_WORKER_START`), ``repeats`` fresh
    processes; ``before_second_product_s``: their sum up to the first product done (the start-up a scan
    pays once per worker, ``first_product`` less ``second_product`` being the first product's extra).
    ``compiled_from_source``: PYTHONDONTWRITEBYTECODE was set, so ioscan's modules were compiled at every
    start (~0.2 s of CPU that an installed package does not pay)."""
    import pickle
    import subprocess
    import sys

    from ioscan.settings import Settings
    from ioscan.workflows.process import ProductSettings

    blob = pickle.dumps(ProductSettings.of(Settings())).hex()
    cmd = [sys.executable, "-c", _WORKER_START, str(metakernel), blob, str(products[0]), str(products[1])]
    runs = []
    for _ in range(repeats):
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    steps = [k for k in runs[0] if k != "compiled_from_source"]
    out: dict = {k: round(statistics.median(r[k] for r in runs), 3) for k in steps}
    out["before_second_product_s"] = round(statistics.median(sum(r[k] for k in steps[:-1]) for r in runs), 3)
    out["compiled_from_source"] = runs[0]["compiled_from_source"]
    return out


#: a scan's own 2-worker LocalCluster started in a fresh interpreter (as ``ioscan scan`` starts it), workers
#: started by ``sys.argv[1]`` (Dask's ``spawn``, or ``forkserver`` from a server that preloaded the pipeline):
#: the start's wall time, the CPU of every process it started (workers, and the forkserver with its
#: imports), and per worker its CPU when prepared (plugin done), for a first and a second product, its RSS
#: and PSS (forked pages shared with the server count once in the PSS), MB
_FRESH_CLUSTER = r"""
import json, sys, time
import psutil

def facts():
    import time
    m = psutil.Process().memory_full_info()
    return {"cpu": time.process_time(), "rss": m.rss / 2**20, "pss": getattr(m, "pss", m.rss) / 2**20}

def timed(paths, kernels, settings):
    import time
    from ioscan.workflows.cluster import run_products
    t = time.process_time()
    run_products(paths, kernels, settings)
    return time.process_time() - t

if __name__ == "__main__":
    from ioscan.settings import Settings
    from ioscan.workflows import cluster
    from ioscan.workflows.process import ProductSettings
    cluster.WORKER_START_METHOD = sys.argv[1]
    kernels, paths = sys.argv[2], sys.argv[3:]
    settings = ProductSettings.of(Settings())
    t0 = time.perf_counter()
    with cluster.dask_client(None, 2, kernels, "shipped") as client:
        start_s = time.perf_counter() - t0
        ready = client.run(facts)
        workers = list(ready)
        first = [client.submit(timed, [p], kernels, settings, workers=[w], pure=False)
                 for w, p in zip(workers, paths)]
        first = client.gather(first)
        second = client.gather([client.submit(timed, [p], kernels, settings, workers=[w], pure=False)
                                for w, p in zip(workers, paths[2:])])
        done = client.run(facts)
        kids = psutil.Process().children(recursive=True)
        cpu = sum(k.cpu_times().user + k.cpu_times().system for k in kids)
    print(json.dumps({
        "start_s": start_s, "descendants_cpu_s": cpu,
        "prepared_cpu_s": max(r["cpu"] for r in ready.values()),
        "first_product_cpu_s": max(first), "second_product_cpu_s": max(second),
        "rss_mb": max(r["rss"] for r in done.values()), "pss_mb": max(r["pss"] for r in done.values()),
    }))
"""


def _fresh_cluster(metakernel: Path, products: list[Path], repeats: int) -> dict:
    """:data:`_FRESH_CLUSTER` with ``spawn`` and ``forkserver`` alternating, ``repeats`` fresh interpreters
    each: per method the median of each figure (the descendants' CPU read before the cluster closes)."""
    import subprocess
    import sys

    paths = [str(p) for p in products[:4]]
    runs: dict[str, list[dict]] = {"spawn": [], "forkserver": []}
    for r in range(repeats):
        for method in list(runs) if r % 2 == 0 else list(runs)[::-1]:
            cmd = [sys.executable, "-c", _FRESH_CLUSTER, method, str(metakernel), *paths]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs[method].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {m: {k: round(statistics.median(x[k] for x in rs), 3) for k in rs[0]} for m, rs in runs.items()}


def _probe(seconds: float = 1.0) -> float:
    """Throughput of 2 CPU-bound processes at once over 1 alone (2.0 on two idle cores)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_spin, [0.05, 0.05])  # started
        one = pool.apply(_spin, (seconds,))
        two = sum(pool.map(_spin, [seconds, seconds]))
    return two / one


#: the stages ``--stages-against`` compares (``outside_detect``: the whole less detection, per frame)
_COMPARED = (
    "pdr_read", "identify", "read", "backplanes", "limb_fit", "detect", "measure", "records", "store",
    "total", "outside_detect",
)  # fmt: skip


def _stage_child(campaign: Path) -> None:
    """``--stage-child``: the stage profile (CPU clock, BLAS one thread) of the ioscan on ``PYTHONPATH`` on a
    campaign simulated before; prints its medians and means as JSON (no chaining scan, no writer)."""
    metakernel = campaign / "kernels" / "ioscan.tm"
    products = sorted((campaign / "jiram").rglob("*.LBL"))
    out = Path(tempfile.mkdtemp(prefix="ioscan_bench_scan_child_"))
    try:
        digests: list[str] = []
        med, _ = _stage_profile(products, metakernel, out, digests=digests)
        _add_chaining(med, campaign / "jiram", metakernel, out)
        print(
            json.dumps(
                {
                    "median": {k: med[k] for k in _COMPARED},
                    "mean": med["mean"],
                    **_child_means(med),
                    "steps": med["detect_step_ms_per_frame"],
                    "digests": digests,
                }
            )
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


#: what a ``--stage-child`` reports beside its medians: means, and the in-process scan (chaining included)
_CHILD_MEANS = (
    "outside_detect_mean",
    "chain_retries_mean",
    "chain_finish_mean",
    "first_processing_mean_from_scan",
    "total_with_chain_mean",
    "scan_in_process_ms_per_frame",
)


def _child_means(profile: dict) -> dict:
    """The figures of :data:`_CHILD_MEANS` from a stage profile with its chaining scan (``_add_chaining``)."""
    return {k: profile[k] for k in _CHILD_MEANS}


def _means_against(runs: dict[str, list], rev: str) -> dict:
    """Per stage the mean ms per frame of each run (the stage profile's means, and :data:`_CHILD_MEANS`), and
    each round's ratio current ÷ ``rev`` with their median (< 1 is faster): a few expensive frames move the
    means, which a user waits for, more than the medians."""
    stages = list(runs["current"][0]["mean"])
    table = {k: {label: [r["mean"][k] for r in rs] for label, rs in runs.items()} for k in stages}
    table |= {k: {label: [r[k] for r in rs] for label, rs in runs.items()} for k in _CHILD_MEANS}
    ratios = {
        k: [round(a / b, 3) for a, b in zip(v["current"], v[rev], strict=True)]
        for k, v in table.items()
        if all(b > 0 for b in v[rev])
    }
    return {
        "stage_ms_per_frame_mean": table,
        "mean_ratio_per_round": ratios,
        "mean_ratio_median": {k: round(statistics.median(v), 3) for k, v in ratios.items()},
    }


def _steps_against(runs: dict[str, list], rev: str) -> dict:
    """Per detection (first, second) and step: each label's median over rounds of its mean ms per frame,
    and the median of the rounds' ratios current ÷ ``rev`` (steps of 0.05 ms or more)."""
    out: dict = {}
    for kind in ("first", "second"):
        per = {label: [r["steps"].get(kind, {}) for r in rs] for label, rs in runs.items()}
        names = [k for k in per["current"][0] if k != "frames"] if per["current"][0] else []
        names += [k for k in (per[rev][0] if per[rev] else {}) if k not in names and k != "frames"]
        rows = {}
        for name in names:
            cur = [s.get(name, 0.0) for s in per["current"]]
            old = [s.get(name, 0.0) for s in per[rev]]
            if max(statistics.median(cur), statistics.median(old)) < 0.05:
                continue
            ratio = [a / b for a, b in zip(cur, old, strict=True) if b > 0]
            rows[name] = {
                "current": _med(cur),
                rev: _med(old),
                "ratio_median": round(statistics.median(ratio), 3) if ratio else None,
            }
        if rows:
            out[kind] = rows
    return out


def _stages_against(rev: str, rounds: int, campaign: Path, out: Path) -> dict:
    """The current code's and ``rev``'s stage profiles and worker start-ups, alternating (see module
    docstring, 7)."""
    import subprocess
    import sys

    here = Path(__file__).resolve().parents[1]
    tree = out / "against"
    subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", str(tree), rev], check=True,
                   capture_output=True)  # fmt: skip
    trees = {"current": here, rev: tree}
    products = sorted((campaign / "jiram").rglob("*.LBL"))
    metakernel = campaign / "kernels" / "ioscan.tm"
    try:
        envs = {k: {**os.environ, "PYTHONPATH": str(t / "src")} for k, t in trees.items()}

        def child(label):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--stage-child", str(campaign)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=envs[label],
                                  cwd=trees[label])  # fmt: skip
            return json.loads(done.stdout.strip().splitlines()[-1])

        for label in trees:  # warm-up (a compiled kernel's first build, the OS's file cache): not counted
            _worker_start(metakernel, products, 1, envs[label])
        runs: dict[str, list] = {k: [] for k in trees}
        starts: dict[str, list] = {k: [] for k in trees}
        for r in range(rounds):
            for label in list(trees) if r % 2 == 0 else list(trees)[::-1]:
                runs[label].append(child(label))
                starts[label].append(_worker_start(metakernel, products, 1, envs[label]))
        ratios = {
            k: [
                round(a["median"][k] / b["median"][k], 3)
                for a, b in zip(runs["current"], runs[rev], strict=True)
            ]
            for k in _COMPARED
            if all(b["median"][k] > 0 for b in runs[rev])
        }
        return {
            "against": rev,
            "rounds": rounds,
            "stage_ms_per_frame_median": {
                k: {label: [r["median"][k] for r in rs] for label, rs in runs.items()} for k in _COMPARED
            },
            "ratio_per_round": ratios,
            "ratio_median": {k: round(statistics.median(v), 3) for k, v in ratios.items()},
            **_means_against(runs, rev),
            "detect_step_ms_per_frame": _steps_against(runs, rev),
            # every frame's final detections (every field, bit for bit) the same as ``rev``'s, in every round
            "detections_identical_frames": min(
                sum(a == b for a, b in zip(x["digests"], y["digests"], strict=True))
                for x, y in zip(runs["current"], runs[rev], strict=True)
            ),
            "worker_start_cpu_s": {
                label: {
                    k: [w[k] for w in ws]
                    for k in (
                        "python_and_dask",
                        "task_function",
                        "plugin_setup",
                        "first_product",
                        "second_product",
                        "before_second_product_s",
                    )
                }
                for label, ws in starts.items()
            },  # fmt: skip
        }
    finally:
        subprocess.run(
            ["git", "-C", str(here), "worktree", "remove", "--force", str(tree)], capture_output=True
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orbits", type=int, default=4)
    ap.add_argument("--frames-per-orbit", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--against", help="git revision whose limb fit registers every frame too (stage profile)")
    ap.add_argument(
        "--profile-only", action="store_true", help="the stage profile only (no writer, no scans)"
    )
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="the stage profile's clock")
    ap.add_argument("--quick", action="store_true", help="2 orbits of 8 frames (a minute or so)")
    ap.add_argument(
        "--stages-against", metavar="REV", help="stage profiles alternating with git revision REV"
    )
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --stages-against")
    ap.add_argument("--stage-child", metavar="CAMPAIGN", help=argparse.SUPPRESS)
    ap.add_argument(
        "--cold-workers",
        action="store_true",
        help="stop the workers' forkserver after every scan (each scan pays its imports, as `ioscan scan`)",
    )
    ap.add_argument(
        "--scans-only", action="store_true", help="no stage profile, writer nor worker start-up: the scans"
    )
    args = ap.parse_args()
    global COLD_WORKERS
    COLD_WORKERS = args.cold_workers
    if args.quick:
        args.orbits, args.frames_per_orbit = 2, 8
    global CLOCK
    if args.clock == "cpu":
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"  # before numpy is imported (the imports below are inside functions)
        CLOCK = time.thread_time
    if args.stage_child:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"
        CLOCK = time.thread_time
        _stage_child(Path(args.stage_child))
        return

    from ioscan.simulate.campaign import simulate_campaign

    out = Path(tempfile.mkdtemp(prefix="ioscan_bench_scan_"))
    try:
        camp = simulate_campaign(
            out / "campaign",
            orbits=args.orbits,
            seed=args.seed,
            frames_per_orbit=args.frames_per_orbit,
            ground_nights=0,
            workers=2,
        )
        jiram = out / "campaign" / "jiram"
        products = sorted(jiram.rglob("*.LBL"))
        if args.stages_against:
            res = _stages_against(args.stages_against, args.rounds, out / "campaign", out)
            print(json.dumps({"benchmark": "scan_stages_against", "frames": len(products), **res}))
            return
        against = None
        if args.against:
            from bench_limbfit import limbfit_at

            against = limbfit_at(args.against)
        if args.scans_only:
            profile, records = {}, []
        else:
            profile, records = _stage_profile(products, camp.metakernel, out, against)
            _add_chaining(profile, jiram, camp.metakernel, out)
        if args.profile_only:
            head = {"benchmark": "scan", "frames": len(products), "clock": args.clock}
            print(json.dumps({**head, "stage_ms_per_frame_median": profile}))
            return  # (the folder ``out`` is removed below: a dict named ``out`` here left it behind)
        writer, worker_start, fresh_cluster = {}, {}, {}
        if not args.scans_only:
            writer = _writer(records, out, args.repeats)
            worker_start = _worker_start(camp.metakernel, products, args.repeats)
            fresh_cluster = _fresh_cluster(camp.metakernel, products, args.repeats)
        modes = (("workers_1", 1), ("workers_2", 2), ("in_process", 0))
        runs: dict[str, list[dict]] = {k: [] for k, _ in modes}
        probes = []
        for _ in range(args.repeats):
            before = _probe()
            for label, workers in modes[:2]:
                runs[label].append(_scan_once(jiram, camp.metakernel, out / f"scan_{label}.db", workers))
            probes.append(min(before, _probe()))  # what 2 processes got around the 1- and 2-worker scans
            runs["in_process"].append(_scan_once(jiram, camp.metakernel, out / "scan_in_process.db", 0))
        same = _same_catalogues({label: out / f"scan_{label}.db" for label in ("in_process", *runs)})
        keys = (
            "main_cpu_ms_per_frame",
            "worker_cpu_ms_per_frame",
            "main_cpu_ms_per_frame_steady",
            "worker_cpu_ms_per_frame_steady",
        )
        scans = {
            label: {
                "seconds": [round(r["seconds"], 2) for r in rs],
                "frames_per_s": round(len(products) / statistics.median(r["seconds"] for r in rs), 2),
                "steady_frames_per_s": _med([r["steady_fps"] for r in rs]),
                "startup_s": _med([r["startup_s"] for r in rs]),
                "close_s": _med([r["close_s"] for r in rs]),
                **{k: _med([r[k] for r in rs]) for k in keys},
                "worker_peak_rss_mb": max((r["worker_peak_rss_mb"] or 0.0) for r in rs) or None,
                "worker_busy_fraction_steady": _med(
                    [r["worker_busy_fraction_steady"] for r in rs if r["worker_busy_fraction_steady"]]
                ),
                "main_cpu_ms_per_frame_by_part": {
                    k: _med([r["main_cpu_ms_per_frame_by_part"].get(k, 0.0) for r in rs])
                    for k in rs[0]["main_cpu_ms_per_frame_by_part"]
                },
            }
            for label, rs in runs.items()
        }
        w1, w2, inp = runs["workers_1"], runs["workers_2"], runs["in_process"]
        ratio = [b["n"] / b["seconds"] / (a["n"] / a["seconds"]) for a, b in zip(w1, w2, strict=True)]
        steady = [b["steady_fps"] / a["steady_fps"] for a, b in zip(w1, w2, strict=True)]
        free = [r for r, p in zip(ratio, probes, strict=True) if p >= 1.8]
        # on two free cores: 1 worker has a core to itself while the writer uses the other; 2 workers share
        # both cores with the writer (steady CPU per frame, measured)
        c1 = scans["workers_1"]["worker_cpu_ms_per_frame_steady"]
        c2 = scans["workers_2"]["worker_cpu_ms_per_frame_steady"]
        m2 = scans["workers_2"]["main_cpu_ms_per_frame_steady"]
        result = {
            "benchmark": "scan",
            "frames": len(products),
            "clock": args.clock,
            "stage_ms_per_frame_median": profile,
            "writer": writer,
            "worker_start_cpu_s": worker_start,
            "fresh_cluster_2_workers": fresh_cluster,
            "scans": scans,
            "stored_columns_across_modes": same,
            "speedup_2_workers_over_1": _med(ratio),
            "speedup_2_workers_over_1_per_round": [round(r, 2) for r in ratio],
            "speedup_2_workers_over_1_steady": _med(steady),
            "probe_2_over_1_per_round": [round(p, 2) for p in probes],
            "speedup_2_workers_over_1_in_rounds_with_two_free_cores": _med(free) if free else None,
            "speedup_bound_from_cpu_per_frame": round(2.0 * c1 / (c2 + m2), 2) if c2 + m2 > 0 else None,
            "speedup_2_workers_over_1_of_probe": _med([r / p for r, p in zip(ratio, probes, strict=True)]),
            "writer_core_share_2_workers": round(m2 * scans["workers_2"]["steady_frames_per_s"] / 1e3, 3),
            "workers_1_over_in_process": _med(
                [b["n"] / b["seconds"] / (a["n"] / a["seconds"]) for a, b in zip(inp, w1, strict=True)]
            ),
            "targets": {
                "total_over_pdr_read_max": 20,
                "frames_per_s_one_core_min": 25,
                "speedup_2_workers_over_1_min": 1.8,
                "worker_peak_rss_mb_max": 1024,
            },
        }
        print(json.dumps(result))
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
