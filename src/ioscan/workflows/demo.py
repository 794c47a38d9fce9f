"""``make demo``: simulate a small Juno campaign, scan it on Dask into SQLite, track, export, summarise and
write the report.

Everything goes into one folder: ``campaign/`` (kernels, PDS3 RDRs, FITS, truth), ``ioscan.db`` (the
catalogue), ``exports/`` (CSV, Parquet, GeoJSON), ``summary.json`` and ``report/`` (``ioscan report``).
Re-running reuses what is there: the simulator is deterministic, so the same products have the same checksums
and the scan skips them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd


class DemoDisplay(Protocol):
    """What the demo shows as it goes (the CLI passes a rich console display; the default shows nothing)."""

    def stage(self, title: str) -> None: ...
    def note(self, text: str) -> None: ...
    def scan_progress(self) -> Callable | None: ...
    def scan_summary(self, summary) -> None: ...
    def track_summary(self, summary) -> None: ...
    def brightest(self, hotspots: pd.DataFrame, maxima: pd.Series) -> None: ...
    def events(self, events: pd.DataFrame) -> None: ...
    def evaluation(self, ev) -> None: ...
    def registration(self, table: pd.DataFrame) -> None: ...


class SilentDisplay:
    """A :class:`DemoDisplay` that shows nothing."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def _lightcurve_max(detections: pd.DataFrame, band: str = "M") -> pd.Series:
    """Each hot spot's highest measured (not lower-limit) spectral intensity in ``band``."""
    from ioscan.records import DetectionFlag

    lower = (detections["flags"].fillna(0).astype(int) & int(DetectionFlag.LOWER_LIMIT)) != 0
    sel = detections[(detections["band"] == band) & detections["hotspot_id"].notna() & ~lower]
    return sel.groupby("hotspot_id")["spectral_intensity_gw_um_sr"].max().dropna()


def _registration_summary(table: pd.DataFrame) -> dict:
    """The close-flyby frames' registration in numbers (for ``summary.json``)."""
    if table.empty:
        return {}
    return {
        "frames": int(len(table)),
        "by_method": {str(k): int(v) for k, v in table["method"].value_counts().items()},
        "max_offset_error_registered_px": _num(table["offset_error_vs_truth_px"].max()),
        "median_position_err_km": _num(table["median_position_err_km"].median()),
        "median_stated_position_err_km": _num(table["median_stated_err_km"].median()),
    }


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 2)


def run_demo(
    out: Path,
    *,
    orbits: int = 4,
    seed: int = 1,
    workers: int = 2,
    display: DemoDisplay | None = None,
    settings=None,
    frames_per_orbit: int = 5,
    ground_nights: int = 2,
    ground_pixels: int = 512,
    close_sequences: int = 1,
) -> dict:
    """Run the whole job and return the summary (also written to ``out/summary.json``)."""
    from ioscan.catalog.export import export
    from ioscan.catalog.store import open_store
    from ioscan.settings import Settings
    from ioscan.simulate.campaign import simulate_campaign
    from ioscan.workflows.evaluate import evaluate, registration_table
    from ioscan.workflows.scan import scan
    from ioscan.workflows.track import track_catalog

    show = display or SilentDisplay()
    settings = settings or Settings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    t0 = time.perf_counter()
    show.stage(
        f"1. simulating {orbits} Juno orbits, {close_sequences} close-flyby sequence(s) and {ground_nights} "
        "ground-based nights"
    )
    camp = simulate_campaign(
        out / "campaign",
        orbits=orbits,
        seed=seed,
        frames_per_orbit=frames_per_orbit,
        ground_nights=ground_nights,
        ground_pixels=ground_pixels,
        workers=max(workers, 1),
        close_sequences=close_sequences,
    )
    show.note(f"{camp.n_jiram} JIRAM PDS3 frames, {camp.n_ground} FITS frames, kernels {camp.metakernel}")
    timings["simulate_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    show.stage("2. scanning (Dask LocalCluster)" if workers > 0 else "2. scanning")
    with open_store(out / "ioscan.db") as store:
        summary = scan(
            [out / "campaign"],
            store=store,
            kernels=camp.metakernel,
            workers=workers,
            settings=settings,
            progress=show.scan_progress(),
        )
        show.scan_summary(summary)
        timings["scan_s"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        show.stage("3. tracking, cross-identification, events")
        tracked = track_catalog(store, settings.track)
        show.track_summary(tracked)
        timings["track_s"] = time.perf_counter() - t2

        show.stage("4. exports")
        exports = out / "exports"
        exports.mkdir(exist_ok=True)
        for what in ("hotspots", "detections", "lightcurves", "temperatures"):
            for fmt, suffix in (("csv", "csv"), ("parquet", "parquet"), ("geojson", "geojson")):
                if what == "lightcurves" and fmt == "geojson":
                    continue
                export(store, what, fmt, exports / f"{what}.{suffix}", force=True)  # the demo's own files
        show.note(f"exports in {exports}")

        show.stage("5. summary")
        hotspots = store.hotspots_frame()
        detections = store.detections_frame()
        show.brightest(hotspots, _lightcurve_max(detections))
        show.events(store.events_frame())
        truth = pd.read_csv(camp.truth_csv)
        ev = evaluate(store, truth)
        show.evaluation(ev)
        registration = registration_table(store, pd.read_csv(camp.frames_csv), truth)
        show.registration(registration)

        t3 = time.perf_counter()
        show.stage("6. report (maps, mosaics, statistics with significance, tidal patterns, time series)")
        from ioscan.workflows.report import write_report

        rep = write_report(store, out / "report", settings=settings, progress=show.note)
        show.note(f"report: {rep.html}, {rep.pdf}, {rep.summary_json}")
        timings["report_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    result = {
        "folder": str(out.resolve()),
        "database": str((out / "ioscan.db").resolve()),
        "n_jiram_frames": camp.n_jiram,
        "n_ground_frames": camp.n_ground,
        "n_detections": int(len(detections)),
        "n_hotspots": int(len(hotspots)),
        "events": tracked.events,
        "completeness_by_snr": ev.completeness_by_snr,
        "false_detections_per_frame": ev.false_detections_per_frame,
        "adjusted_rand_index": ev.adjusted_rand_index,
        "true_hotspots_with_3_detections_recovered": [ev.n_true_with_3_recovered, ev.n_true_with_3],
        "cross_ids_right": [ev.n_crossid_right, ev.n_crossid_checked],
        "close_flyby_registration": _registration_summary(registration),
        "report": str(rep.html.resolve()),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    (out / "summary.json").write_text(
        json.dumps(result, indent=2, default=lambda x: None if x is np.nan else x)
    )
    show.note(f"[bold]done in {timings['total_s']:.0f} s[/bold]; catalogue, exports and summary in {out}")
    return result
