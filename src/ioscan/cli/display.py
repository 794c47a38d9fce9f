"""What the CLI shows: rich tables and progress for scanning, tracking, detection, light curves and the demo
(no stage prints by itself)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from ioscan.records import DetectionFlag


def print_scan_summary(console: Console, summary) -> None:
    """What a scan did: processed / skipped (already stored) / done by another scan / superseded / failed,
    the versions it put out of force, products left to another scan, and every failure with its reason (one
    line each, never wrapped, so they can be searched)."""
    table = Table(
        "found",
        "processed",
        "skipped (stored)",
        "stored by another scan",
        "superseded",
        "failed",
        "detections",
        "frames/s",
        title=f"scan ({summary.status}, {summary.elapsed_s:.1f} s)",
    )
    table.add_row(
        str(summary.n_found),
        str(summary.n_processed),
        str(summary.n_skipped),
        str(summary.n_done_elsewhere),
        str(len(summary.superseded)),
        str(summary.n_errors),
        str(summary.n_detections),
        f"{summary.frames_per_s:.2f}",
    )
    console.print(table)
    if summary.by_status:
        console.print("frame status: " + ", ".join(f"{k}={v}" for k, v in sorted(summary.by_status.items())))
    from rich.markup import escape

    lines = [
        *(
            f"[yellow]superseded[/yellow] {escape(old)} by {escape(new)} (kept; not tracked or exported)"
            for old, new in summary.superseded
        ),
        *(
            f"[yellow]same data[/yellow] {escape(path)} is stored as {escape(stored)}: not stored twice"
            for path, stored in summary.duplicates
        ),
        *(
            f"[cyan]left to another scan[/cyan] {escape(path)}: {escape(holder)} is working on it"
            for path, holder in summary.left_to_others
        ),
        *(f"note: {escape(note)}" for note in summary.notes),
        *(f"[red]failed[/red] {escape(path)}: {escape(err)}" for path, err in summary.errors),
    ]
    for line in lines:
        console.print(line, soft_wrap=True)


def print_track_summary(console: Console, summary) -> None:
    """Counts of a tracking run (full: over the whole catalogue; incremental: what changed)."""
    mode = getattr(summary, "mode", "full")
    full = mode == "full"
    table = Table(
        "detections used" if full else "new detections",
        "hot spots",
        "new hot spots",
        "hot spots changed",
        "cross-identified",
        "events" if full else "events (changed hot spots)",
        "colour temperatures (flagged)" if full else "colour temperatures (changed, flagged)",
        title=f"track ({mode})",
    )
    events = ", ".join(f"{k}={v}" for k, v in sorted(summary.events.items())) or "none"
    stored = getattr(summary, "n_detections_stored", None)
    used = str(summary.n_detections_used) + (f" of {stored}" if full and stored is not None else "")
    table.add_row(
        used,
        str(summary.n_hotspots),
        str(summary.n_new_hotspots),
        str(getattr(summary, "n_changed_hotspots", summary.n_hotspots)),
        str(summary.n_cross_ids),
        events,
        f"{summary.n_temperatures} ({summary.n_temperatures_flagged})",
    )
    console.print(table)
    if mode == "unchanged":
        console.print("nothing new since the last tracking run: the hot spots in force stay as they are")
    elif not full:
        console.print(
            "incremental: the new detections were associated with the hot spots in force; events and colour "
            "temperatures were recomputed for the hot spots that changed (ioscan track --full redoes all)"
        )
    if full and stored and stored > summary.n_detections_used:
        console.print(
            f"{stored - summary.n_detections_used} stored detections were not used: the tracking policy "
            "leaves out flagged ones (track.excluded_flags), imprecise ones (track.max_position_err_km), "
            "oblique ones (track.max_emission_deg) and any without a position or its error"
        )


def print_brightest(console: Console, hotspots, lightcurve_max, n: int = 10) -> None:
    """The ``n`` hot spots with the highest M-band spectral intensity measured (lower limits left out)."""
    table = Table(
        "hot spot",
        "name",
        "lat °N",
        "lon °W",
        "detections",
        "max unsaturated I_M (GW/µm/sr)",
        title=f"brightest {n} hot spots (M band, foreshortening-corrected)",
    )
    top = lightcurve_max.sort_values(ascending=False).head(n)
    hs = hotspots.set_index("hotspot_id")
    for hid, value in top.items():
        row = hs.loc[hid]
        table.add_row(
            str(hid),
            row["name"] if isinstance(row.get("name"), str) else "",
            f"{row['lat_deg']:.1f}",
            f"{row['lon_w_deg']:.1f}",
            str(int(row["n_detections"])),
            f"{value:.3g}",
        )
    console.print(table)


def print_evaluation(console: Console, ev) -> None:
    """Scores of the catalogue against the simulator's truth."""
    table = Table("measure", "value", title="against the simulator's truth")
    for key, (frac, n) in ev.completeness_by_snr.items():
        table.add_row(
            f"completeness, matched-filter SNR {key}", "-" if frac is None else f"{frac:.1%} of {n}"
        )
    table.add_row("true sources blended with a brighter one (not scored)", str(ev.n_confused))
    table.add_row("false detections per frame", f"{ev.false_detections_per_frame:.3f}")
    table.add_row("median position error (px)", f"{ev.median_position_err_px:.2f}")
    table.add_row("median |intensity error| (%)", f"{ev.median_flux_err_pct:.1f}")
    table.add_row("adjusted Rand index of tracking", f"{ev.adjusted_rand_index:.3f}")
    table.add_row(
        "true hot spots with ≥3 detections recovered", f"{ev.n_true_with_3_recovered} of {ev.n_true_with_3}"
    )
    table.add_row("cross-IDs right", f"{ev.n_crossid_right} of {ev.n_crossid_checked}")
    console.print(table)


def scan_progress(console: Console):
    """A rich progress bar fed by :func:`ioscan.workflows.scan.scan`'s progress callback: products settled
    out of found, processed / skipped / failed so far, frames processed per second and the time left at that
    rate."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.description}"),
        console=console,
        transient=False,
    )
    state: dict = {"processed": 0, "skipped": 0, "failed": 0}

    def update(done: int, total: int, res) -> None:
        if "task" not in state:
            progress.start()
            state["task"] = progress.add_task("", total=total, rate="", eta="")
            state["t0"] = time.perf_counter()
        if res is not None:
            kind = {"error": "failed", "skipped": "skipped", "left": "skipped"}.get(res.status, "processed")
            state[kind] += 1
        elapsed = time.perf_counter() - state["t0"]
        rate = state["processed"] / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {_duration((total - done) / rate)}" if rate > 0 and done < total else ""
        desc = f"{state['processed']} processed, {state['skipped']} skipped, {state['failed']} failed"
        if res is not None:
            desc += f"; {Path(res.path).name}: {res.status}"
        progress.update(
            state["task"], completed=done, total=total, description=desc, rate=f"{rate:.2f} frames/s", eta=eta
        )
        if done >= total:
            progress.stop()

    return update


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def detection_records(frame, detections) -> list[dict]:
    """What ``ioscan detect --json`` prints: each detection with its product (ID, version, instrument) and
    mid-exposure time (ISO 8601 UTC, as the catalogue writes it)."""
    from ioscan.catalog.times import utc_iso

    context = {
        "product_id": frame.product_id,
        "product_version": frame.product_version,
        "instrument": frame.instrument,
        "time_utc": utc_iso(frame.time_utc),
    }
    return [context | d.to_record() for d in detections]


def _fmt(v, f=".2f") -> str:
    return "-" if v is None or (isinstance(v, float) and v != v) else format(v, f)


def print_detections(console: Console, frame, nav, found) -> None:
    """One frame's navigation outcome, notes and detections (pixel, surface and physical columns)."""
    console.print(
        f"[bold]{frame.product_id}[/bold] status={found.status} geometry={nav.source} "
        f"registered={nav.registered} offset=({nav.offset_px[0]:.2f}, {nav.offset_px[1]:.2f}) px"
    )
    for msg in [*nav.messages, *found.messages]:
        console.print(f"  note: {msg}")
    table = Table(
        "band",
        "sample",
        "line",
        "SNR",
        "lat °N",
        "lon °W",
        "±km",
        "I (GW/µm/sr)",
        "± random",
        "± calib.",
        "Q (GW/µm)",
        "flags",
    )
    for d in found.detections:
        table.add_row(
            d.band,
            _fmt(d.sample),
            _fmt(d.line),
            _fmt(d.snr, ".1f"),
            _fmt(d.lat_deg),
            _fmt(d.lon_w_deg),
            _fmt(d.position_err_km, ".1f"),
            ("≥ " if d.flags & DetectionFlag.LOWER_LIMIT else "")
            + _fmt(d.spectral_intensity_gw_um_sr, ".3g"),
            _fmt(d.spectral_intensity_err_gw_um_sr, ".2g"),
            _fmt(d.spectral_intensity_sys_err_gw_um_sr, ".2g"),
            _fmt(d.spectral_power_gw_um, ".3g"),
            ",".join(d.flag_names),
        )
    console.print(table)
    console.print(f"{len(found.detections)} detections")


def _pm(v) -> str:
    return "?" if v is None or v != v else f"{v:.2g}"


def print_lightcurve(console: Console, lc) -> None:
    """A hot spot's light-curve points, variability, events and periodogram
    (:class:`ioscan.workflows.lightcurve.HotspotLightcurve`): each point with its random and systematic
    errors, the statistics from the random ones, the mean level with both."""
    for row in lc.points.itertuples():
        where = row.product_id or row.source
        if row.lower_limit:
            console.print(f"{row.time_utc}  I ≥ {row.value:.4g} GW/µm/sr (saturated: lower limit)  {where}")
            continue
        console.print(
            f"{row.time_utc}  I = {row.value:.4g} ± {_pm(row.err)} (random) ± {_pm(row.sys_err)} "
            f"(systematic) GW/µm/sr  SNR {row.snr:.1f}  {where}"
        )
    st = lc.stats
    console.print(
        f"mean level: {st['weighted_mean']:.4g} ± {_pm(st['weighted_mean_err'])} (random) "
        f"± {_pm(st['weighted_mean_sys_err'])} (systematic: calibration and PSF model, the same for every "
        f"point) GW/µm/sr from {st['n']} measured points"
        + (f"; {st['n_lower_limits']} lower limits left out" if st["n_lower_limits"] else "")
    )
    console.print(
        "variability (random errors): "
        + ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in st.items()
            if k not in ("weighted_mean", "weighted_mean_err", "weighted_mean_sys_err", "n", "n_lower_limits")
        )
    )
    for row in lc.events.itertuples():
        console.print(f"event: {row.kind} at {row.time_utc} ({row.criterion})")
    pg = lc.periodogram
    if pg is not None:
        console.print(
            f"Lomb–Scargle: best period {pg.best_period_d:.1f} d, power {pg.best_power:.2f}, "
            f"false-alarm probability {pg.false_alarm_probability:.2g} ({pg.n_points} points)"
        )
    else:
        console.print("Lomb–Scargle: fewer than 5 points, no period search")


def print_events(console: Console, events, kinds=("outburst", "new"), n: int = 8) -> None:
    """Event counts per kind, and the first ``n`` events of each of ``kinds``."""
    if events.empty:
        return
    counts = events.groupby("kind")["hotspot_id"].nunique().to_dict()
    console.print("events: " + ", ".join(f"{k}: {v} hot spots" for k, v in sorted(counts.items())))
    for kind in kinds:
        for row in events[events["kind"] == kind].head(n).itertuples():
            console.print(f"  {kind:8s} {row.hotspot_id} {row.band} at {row.time_utc}: {row.value:.3g}")


class ConsoleDisplay:
    """Shows the demo's stages on a rich console (:class:`ioscan.workflows.demo.DemoDisplay`)."""

    def __init__(self, console: Console):
        self.console = console

    def stage(self, title: str) -> None:
        self.console.rule(title)

    def note(self, text: str) -> None:
        self.console.print(text)

    def scan_progress(self):
        return scan_progress(self.console)

    def scan_summary(self, summary) -> None:
        print_scan_summary(self.console, summary)

    def track_summary(self, summary) -> None:
        print_track_summary(self.console, summary)

    def brightest(self, hotspots, maxima) -> None:
        print_brightest(self.console, hotspots, maxima)

    def events(self, events) -> None:
        print_events(self.console, events)

    def evaluation(self, ev) -> None:
        print_evaluation(self.console, ev)

    def registration(self, table) -> None:
        print_registration(self.console, table)


_METHOD_TEXT = {
    "limb": "registered on the limb",
    "hotspots": "registered on known hot spots",
    "chain": "registered on hot spots of frames registered before (chained)",
    "none": "not registered",
}


def print_navigation(console: Console, nav) -> None:
    """How a frame was navigated: geometry source, registration, pointing offset and its covariance, the
    false-match probability of a hot-spot registration, and the notes."""
    if not nav.backplanes:
        console.print("navigation: none (" + "; ".join(nav.messages) + ")", markup=False)
        return
    ss, sl = nav.offset_err_px
    head = f"navigation: geometry from {nav.source}; {_METHOD_TEXT.get(nav.method, nav.method)}"
    if nav.n_matches is not None and nav.method in ("hotspots", "chain"):
        head += f" ({nav.n_matches} matched, false-match probability {nav.false_match_prob:.2g})"
    console.print(head, markup=False)
    if nav.registered:
        console.print(
            f"  offset (sample, line) = ({nav.offset_px[0]:.2f}, {nav.offset_px[1]:.2f}) px applied; "
            f"remaining 1σ ({ss:.2f}, {sl:.2f}) px, correlation {nav.offset_corr:+.2f}",
            markup=False,
        )
    else:
        extra = ""
        if nav.false_match_prob is not None and nav.n_matches:
            extra = (
                f"; best hot-spot match: {nav.n_matches} known hot spot(s), "
                f"false-match probability {nav.false_match_prob:.2g}"
            )
        console.print(
            f"  pointing uncertainty 1σ (sample, line) ({ss:.1f}, {sl:.1f}) px, correlation "
            f"{nav.offset_corr:+.2f}, carried into positions and intensities by sampling{extra}",
            markup=False,
        )
    near = nav.nearest_point()
    if near:
        console.print(
            f"  nearest disk point {near['sub_observer_lat_deg']:.2f}°N "
            f"{near['sub_observer_lon_w_deg']:.2f}°W (planetographic), range {near['range_km']:.0f} km, "
            f"{near['pixel_scale_km']:.3f} km/px",
            markup=False,
        )
    for msg in nav.messages:
        console.print(f"  note: {msg}", markup=False)


def print_registration(console: Console, table) -> None:
    """The close-flyby frames' registration against the simulator's truth (one row per frame)."""
    if table is None or len(table) == 0:
        return
    t = Table(title="close-flyby sequence: registration (pointing errors up to 2° along track)")
    for col in (
        "frame",
        "alt km",
        "method",
        "matches",
        "P(false)",
        "offset (s, l) px",
        "1σ (s, l) px",
        "|off − truth| px",
        "hot spots",
        "err km",
        "stated 1σ km",
    ):
        t.add_column(col)
    for r in table.itertuples():
        t.add_row(
            r.product_id.removeprefix("JIR_IMG_RDR_").removesuffix("_V01"),
            f"{r.altitude_km:,.0f}",
            r.method,
            _fmt(r.n_matches, ".0f"),
            _fmt(r.false_match_prob, ".2g"),
            f"({r.offset_sample_px:.1f}, {r.offset_line_px:.1f})",
            f"({r.offset_err_sample_px:.1f}, {r.offset_err_line_px:.1f})",
            _fmt(r.offset_error_vs_truth_px, ".1f"),
            str(r.n_hot_spots),
            _fmt(r.median_position_err_km, ".1f"),
            _fmt(r.median_stated_err_km, ".1f"),
        )
    console.print(t)
