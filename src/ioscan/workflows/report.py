"""Rich tables that the CLI prints after scanning, tracking and the demo (no stage prints by itself)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_scan_summary(console: Console, summary) -> None:
    """Counts of a scan run, by frame status, and the products that failed with their reason."""
    table = Table("products found", "skipped (stored)", "processed", "errors", "detections", title="scan")
    table.add_row(
        str(summary.n_found),
        str(summary.n_skipped),
        str(summary.n_processed),
        str(summary.n_errors),
        str(summary.n_detections),
    )
    console.print(table)
    if summary.by_status:
        console.print("frame status: " + ", ".join(f"{k}={v}" for k, v in sorted(summary.by_status.items())))
    for path, err in summary.errors:
        console.print(f"[red]skipped[/red] {path}: {err}")


def print_track_summary(console: Console, summary) -> None:
    """Counts of a tracking run."""
    table = Table(
        "detections used", "hot spots", "new hot spots", "cross-identified", "events", title="track"
    )
    events = ", ".join(f"{k}={v}" for k, v in sorted(summary.events.items())) or "none"
    table.add_row(
        str(summary.n_detections_used),
        str(summary.n_hotspots),
        str(summary.n_new_hotspots),
        str(summary.n_cross_ids),
        events,
    )
    console.print(table)


def print_brightest(console: Console, hotspots, lightcurve_max, n: int = 10) -> None:
    """The ``n`` hot spots with the highest M-band spectral intensity seen."""
    table = Table(
        "hot spot",
        "name",
        "lat °N",
        "lon °W",
        "detections",
        "max I_M (GW/µm/sr)",
        title=f"brightest {n} hot spots (M band, foreshortening-corrected)",
    )
    top = lightcurve_max.sort_values(ascending=False).head(n)
    hs = hotspots.set_index("hotspot_id")
    for hid, value in top.items():
        row = hs.loc[hid]
        table.add_row(
            str(hid),
            str(row.get("name") or ""),
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
