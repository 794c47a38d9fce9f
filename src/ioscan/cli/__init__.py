"""The ``ioscan`` command line (typer): each command parses its options, calls one job in
:mod:`ioscan.workflows` (or a reader / the catalogue) and prints with :mod:`ioscan.cli.display`. Heavy imports
happen inside each command so ``--help`` is instant."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated

import typer

from ioscan import __version__

app = typer.Typer(
    name="ioscan",
    help="Io Scanner: find, measure and follow the volcanoes of Io in infrared images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
simulate_app = typer.Typer(
    help="Simulate JIRAM and ground-based frames with known truth.", no_args_is_help=True
)
import_app = typer.Typer(help="Import published detections.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
app.add_typer(import_app, name="import")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ioscan {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    """Io Scanner."""


def user_errors(func):
    """Turn ioscan's user-facing errors into one clear line on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ioscan.errors import IoscanError

        try:
            return func(*args, **kwargs)
        except IoscanError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None

    return wrapper


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL or SQLite file (default: ioscan.db here; postgresql://... for a team)."
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Settings file (TOML with tables detect, measure, navigate, track and analysis).",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="One setting, section.key=value (e.g. detect.threshold_snr=5); repeatable; after --config.",
    ),
]


@app.command()
@user_errors
def backplanes(
    out: Annotated[Path, typer.Option("--out", help="Output multi-extension FITS file.")],
    product: Annotated[Path | None, typer.Argument(help="Product to navigate (JIRAM LBL, FITS).")] = None,
    kernels: Annotated[Path | None, typer.Option(help="SPICE metakernel (.tm).")] = None,
    frame_name: Annotated[
        str, typer.Option("--frame", help="SPICE instrument frame.")
    ] = "JUNO_JIRAM_I_MBAND",
    time_utc: Annotated[str | None, typer.Option("--time", help="UTC time (ISO).")] = None,
    band: Annotated[str | None, typer.Option(help="Band of the product to navigate (default: all).")] = None,
    sub_obs_lat: Annotated[float | None, typer.Option(help="Sub-observer planetographic lat, °N.")] = None,
    sub_obs_lon_w: Annotated[float | None, typer.Option(help="Sub-observer west longitude, °W.")] = None,
    sub_sol_lat: Annotated[float, typer.Option(help="Sub-solar planetographic lat, °N.")] = 0.0,
    sub_sol_lon_w: Annotated[float, typer.Option(help="Sub-solar west longitude, °W.")] = 0.0,
    range_km: Annotated[float | None, typer.Option(help="Range to Io's centre, km.")] = None,
    north_pa: Annotated[float, typer.Option(help="North pole position angle, deg (CCW from up).")] = 0.0,
    pixel_scale_km: Annotated[float | None, typer.Option(help="Pixel scale at disk centre, km.")] = None,
    center_sample: Annotated[float | None, typer.Option(help="Disk-centre sample (0-based).")] = None,
    center_line: Annotated[float | None, typer.Option(help="Disk-centre line (0-based).")] = None,
    samples: Annotated[int, typer.Option(help="Image width without a product, px.")] = 432,
    lines: Annotated[int, typer.Option(help="Image height without a product, px.")] = 128,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing output files (a catalogue is never replaced).")
    ] = False,
) -> None:
    """Write per-pixel geometry (one FITS extension per backplane, units in the headers).

    Geometry comes from SPICE (--kernels with --time/--frame or a product), from the product's label, or
    from the label-style arguments given here (--sub-obs-lat ... --pixel-scale-km).
    """
    from ioscan.workflows.backplanes import write_backplanes

    written = write_backplanes(
        out=out,
        product=product,
        kernels=kernels,
        frame_name=frame_name,
        time_utc=time_utc,
        band=band,
        label_args=dict(
            sub_observer_lat_deg=sub_obs_lat,
            sub_observer_lon_w_deg=sub_obs_lon_w,
            sub_solar_lat_deg=sub_sol_lat,
            sub_solar_lon_w_deg=sub_sol_lon_w,
            range_km=range_km,
            north_pa_deg=north_pa,
            pixel_scale_km=pixel_scale_km,
            disk_center_sample=center_sample,
            disk_center_line=center_line,
        ),
        shape=(lines, samples),
        force=force,
    )
    for path in written:
        typer.echo(f"wrote {path}")


@app.command()
@user_errors
def info(
    product: Annotated[Path, typer.Argument(help="Product file (JIRAM LBL/IMG, FITS, PDS4 XML).")],
    kernels: Annotated[
        Path | None,
        typer.Option(help="SPICE metakernel (.tm): also navigate the frame and show how it was registered."),
    ] = None,
    navigate: Annotated[
        bool, typer.Option("--navigate", help="Navigate from the label's geometry (no kernels) and show it.")
    ] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Print what the reader sees in a product: instrument, time, bands, units, saturation, geometry; with
    --kernels also its navigation (registration method, pointing offset and covariance, false-match
    probability)."""
    import numpy as np

    from ioscan.cli.console import make_console
    from ioscan.formats import read_product
    from ioscan.formats.jiram_pds3 import describe_archive_geometry

    frame = read_product(product)
    console = make_console()
    console.print(
        f"[bold]{frame.product_id}[/bold]  {frame.instrument} ({frame.observer})  mode={frame.mode}  "
        f"orbit={frame.orbit}"
    )
    console.print(f"time (mid-exposure, UTC): {frame.time_utc}   exposure: {frame.exposure_s:g} s")
    console.print(f"file: {frame.path}   sha256: {frame.checksum_sha256}")
    for b in frame.bands.values():
        d = b.data
        finite = d[np.isfinite(d)]
        stats = (
            f"min {finite.min():.4g}, median {np.median(finite):.4g}, max {finite.max():.4g}"
            if finite.size
            else "no finite pixels"
        )
        sat = f"{b.saturation:.4g}" if b.saturation else "unknown"
        console.print(
            f"band [bold]{b.band}[/bold]: {b.wavelength_um:.3f} µm (width {b.bandwidth_um:.4f} µm), "
            f"{d.shape[0]} lines × {d.shape[1]} samples from product line {b.line_offset}, unit {b.unit}, "
            f"saturation {sat}; {stats}; {int(np.isnan(d).sum())} NaN; SPICE frame {b.spice_frame or '-'}"
        )
    g = frame.label_geometry
    if g is not None:
        console.print(
            f"label geometry: sub-observer {g.sub_observer_lat_deg:.3f}°N {g.sub_observer_lon_w_deg:.3f}°W "
            f"(planetographic), sub-solar {g.sub_solar_lat_deg:.3f}°N {g.sub_solar_lon_w_deg:.3f}°W, "
            f"range {g.range_km:.1f} km, north PA {g.north_pa_deg:.2f}°, {g.pixel_scale_km:.3f} km/px, "
            f"disk centre (sample, line) = ({g.disk_center_sample:.2f}, {g.disk_center_line:.2f})"
        )
    else:
        console.print("label geometry: none (use SPICE kernels)")
    for line in describe_archive_geometry(frame):
        console.print(line, markup=False)
    if kernels is not None or navigate:
        from ioscan.cli.display import print_navigation
        from ioscan.workflows.process import analyse_product

        _, nav, _ = analyse_product(product, kernels, _settings(config, set_))
        print_navigation(console, nav)


ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace an existing output file (a catalogue is never replaced).")
]


def _settings(config: Path | None, overrides: list[str] | None, *, register: bool | None = None):
    """Settings from defaults, ``--config`` and ``--set`` (and a ``--no-register`` flag)."""
    from ioscan.settings import Settings

    settings = Settings.load(config, overrides or ())
    if register is False:
        settings.navigate.register = False
    return settings


@simulate_app.command("campaign")
@user_errors
def simulate_campaign_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    orbits: Annotated[int, typer.Option(help="Number of Juno orbits.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (population, plan, noise).")] = 0,
    frames_per_orbit: Annotated[int, typer.Option(help="JIRAM frames per orbit.")] = 4,
    ground_nights: Annotated[int, typer.Option(help="Ground-based (Keck-like) nights.")] = 2,
    ground_pixels: Annotated[int, typer.Option(help="AO frame size, px.")] = 1024,
    workers: Annotated[int, typer.Option(help="Rendering processes.")] = 1,
) -> None:
    """Simulate a Juno-like campaign: SPICE kernels, PDS3 JIRAM RDRs, FITS ground frames, truth tables."""
    from ioscan.simulate.campaign import simulate_campaign

    res = simulate_campaign(
        out,
        orbits=orbits,
        seed=seed,
        frames_per_orbit=frames_per_orbit,
        ground_nights=ground_nights,
        ground_pixels=ground_pixels,
        workers=workers,
    )
    typer.echo(f"{res.n_jiram} JIRAM frames and {res.n_ground} ground-based frames in {out}")
    typer.echo(f"kernels: {res.metakernel}")
    typer.echo(f"truth: {res.truth_csv} and {res.truth_parquet}")


@simulate_app.command("frame")
@user_errors
def simulate_frame_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder (the LBL and IMG are written there).")],
    time_utc: Annotated[str, typer.Option("--time", help="UTC time (ISO).")] = "2023-12-30T08:00:00",
    mode: Annotated[str, typer.Option(help="JIRAM mode: I1 (L+M), I2 (M), I3 (L).")] = "I1",
    range_km: Annotated[float, typer.Option(help="Distance from Io's centre, km.")] = 100_000.0,
    sub_lat: Annotated[float, typer.Option(help="Sub-spacecraft planetocentric latitude, °N.")] = 0.0,
    sub_lon_w: Annotated[float, typer.Option(help="Sub-spacecraft west longitude, °W.")] = 300.0,
    exposure_s: Annotated[float, typer.Option(help="Exposure, s.")] = 0.05,
    twist: Annotated[float, typer.Option(help="Rotation of the detector about the boresight, deg.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Simulate one JIRAM frame seen from a given point (geometry written in the label; no kernels)."""
    import numpy as np

    from ioscan import body
    from ioscan.simulate.campaign import FramePlan, simulate_frame

    if range_km <= body.IO.a_km:
        raise typer.BadParameter(f"--range-km {range_km} puts Juno inside Io")
    pos = body.direction_from_lat_pc_lon_w(sub_lat, sub_lon_w) * range_km
    from datetime import datetime

    t = datetime.fromisoformat(time_utc)
    pid = f"JIR_IMG_RDR_{t:%Y%j}T{t:%H%M%S}_V01"
    plan = FramePlan(
        product_id=pid,
        orbit=0,
        mode=mode.upper(),
        time_utc=time_utc,
        exposure_s=exposure_s,
        observer_km=np.asarray(pos, dtype=float),
        observer_velocity_km_s=np.array([0.0, 10.0, 0.0]),
        twist_deg=twist,
        pointing_error_deg=(0.0, 0.0),
        seed=seed,
        label_geometry=True,
    )
    out.mkdir(parents=True, exist_ok=True)
    sim = simulate_frame(plan, population_seed=seed, out_dir=out)
    typer.echo(f"wrote {sim.label_path} ({len(sim.truth)} visible hot-spot bands in the truth)")
    truth = out / f"{pid}_truth.csv"
    sim.truth.to_csv(truth, index=False)
    typer.echo(f"truth: {truth}")


@app.command()
@user_errors
def detect(
    product: Annotated[Path, typer.Argument(help="Product file (JIRAM LBL, FITS, PDS4 XML).")],
    kernels: Annotated[Path | None, typer.Option(help="SPICE metakernel (.tm).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list, one object per detection.")
    ] = False,
    png: Annotated[Path | None, typer.Option("--png", help="Write a PNG with detections circled.")] = None,
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Skip limb-fit re-registration.")
    ] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
    force: ForceOption = False,
) -> None:
    """Detect and measure the hot spots of one frame (pixel results only without geometry)."""
    import json

    from ioscan.cli.console import make_console
    from ioscan.cli.display import detection_records, print_detections
    from ioscan.outfiles import check_output
    from ioscan.workflows.process import analyse_product

    if png is not None:
        check_output(png, force=force)
    settings = _settings(config, set_, register=not no_register)
    frame, nav, found = analyse_product(product, kernels=kernels, settings=settings)
    if png is not None:
        from ioscan.plots.frame_overlay import plot_detections

        plot_detections(frame, found.detections, png, navigation=nav)
    if as_json:
        typer.echo(json.dumps(detection_records(frame, found.detections), indent=1, default=float))
        return
    print_detections(make_console(), frame, nav, found)


@app.command()
@user_errors
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Product files or folders (searched recursively).")],
    db: DbOption = None,
    kernels: Annotated[Path | None, typer.Option(help="SPICE metakernel (.tm).")] = None,
    workers: Annotated[int, typer.Option(help="Dask worker processes (0 = in this process).")] = 2,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (tcp://host:port).")] = None,
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Skip limb-fit re-registration.")
    ] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Find products, read, navigate, detect, measure and store them; re-runs skip stored products.

    A new version of a stored product (or the same product with changed data) is stored and the old one
    kept, marked superseded; several scans on one catalogue share the work. Exit status 1 when a product
    failed (each is listed with its reason).
    """
    from ioscan.catalog.store import open_store
    from ioscan.cli.console import make_console
    from ioscan.cli.display import print_scan_summary, scan_progress
    from ioscan.workflows.scan import scan as run_scan

    settings = _settings(config, set_, register=not no_register)
    console = make_console()
    with open_store(db) as store:
        summary = run_scan(
            paths,
            store=store,
            kernels=kernels,
            workers=workers,
            scheduler=scheduler,
            settings=settings,
            progress=scan_progress(console),
        )
    print_scan_summary(console, summary)
    if summary.n_errors:
        raise typer.Exit(1)


@import_app.command("detections")
@user_errors
def import_detections(
    file: Annotated[Path, typer.Argument(help="CSV with time_utc, lat_deg, lon_w_deg, ... (see README).")],
    source: Annotated[str, typer.Option(help="Name of the published source (e.g. deKleer2019).")],
    db: DbOption = None,
    position_err_deg: Annotated[
        float | None,
        typer.Option(
            "--position-err-deg",
            help="1σ position error to assume, degrees of arc, for rows without lat_err_deg/lon_err_deg "
            "(otherwise such rows are refused: tracking needs every position's error).",
        ),
    ] = None,
) -> None:
    """Import published detections; a bad row is reported with its line number and nothing is stored."""
    from ioscan.catalog.io_import import import_detections_csv, read_detections_csv
    from ioscan.catalog.store import open_store

    read_detections_csv(file, position_err_deg=position_err_deg)  # a bad file creates no catalogue
    with open_store(db) as store:
        n = import_detections_csv(store, file, source, position_err_deg=position_err_deg)
    typer.echo(f"imported {n} detections from {file} as source {source!r}")


@app.command()
@user_errors
def track(
    db: DbOption = None,
    n_sigma: Annotated[
        float | None, typer.Option(help="Association gate, sigma (same as --set track.n_sigma=...).")
    ] = None,
    quoted_errors: Annotated[
        bool,
        typer.Option(
            "--quoted-errors",
            help="Trust quoted position errors: no error calibration, night offsets or mixture.",
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Re-track the whole catalogue (default: only what changed since the last run, when its "
            "settings were the same).",
        ),
    ] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Associate detections into hot spots (stable IDs), cross-identify, build light curves and events;
    after the first run only new detections, and the hot spots they or new observations change."""
    from ioscan.catalog.store import open_store
    from ioscan.cli.console import make_console
    from ioscan.cli.display import print_track_summary
    from ioscan.workflows.track import track_catalog

    settings = _settings(config, set_)
    if n_sigma is not None:
        settings.track.n_sigma = n_sigma
    if quoted_errors:
        settings.track = settings.track.quoted_errors()
    with open_store(db, create=False) as store:
        summary = track_catalog(store, settings.track, full=full)
    print_track_summary(make_console(), summary)


@app.command()
@user_errors
def lightcurve(
    hotspot_id: Annotated[str, typer.Argument(help="Hot-spot ID (e.g. IOS00012).")],
    band: Annotated[str, typer.Option(help="Band (M, L, Lp, Ms...).")] = "M",
    db: DbOption = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a light-curve PNG.")] = None,
    min_period_d: Annotated[float, typer.Option(help="Shortest period searched, days.")] = 2.0,
    max_period_d: Annotated[float, typer.Option(help="Longest period searched, days.")] = 1000.0,
    force: ForceOption = False,
) -> None:
    """One hot spot's light curve: points, variability statistics, events and a Lomb–Scargle periodogram."""
    from ioscan.catalog.store import open_store
    from ioscan.cli.console import make_console
    from ioscan.cli.display import print_lightcurve
    from ioscan.outfiles import check_output
    from ioscan.workflows.lightcurve import hotspot_lightcurve

    console = make_console()
    with open_store(db, create=False) as store:
        if png is not None:
            check_output(png, force=force, protected=[store.sqlite_path])
        lc = hotspot_lightcurve(store, hotspot_id, band, min_period_d=min_period_d, max_period_d=max_period_d)
    print_lightcurve(console, lc)
    if png is not None:
        from ioscan.plots.lightcurve import plot_lightcurve

        plot_lightcurve(lc.points, png, title=lc.title, events=lc.events, periodogram=lc.periodogram)
        console.print(f"wrote {png}")


@app.command()
@user_errors
def export(
    what: Annotated[str, typer.Argument(help="hotspots | detections | lightcurves | temperatures")],
    fmt: Annotated[str, typer.Option("--format", help="csv | parquet | geojson")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Output file (default: <what>.<format>).")] = None,
    db: DbOption = None,
    force: ForceOption = False,
    include_superseded: Annotated[
        bool,
        typer.Option("--include-superseded", help="Also export detections of superseded product versions."),
    ] = False,
) -> None:
    """Export hot spots, detections, light curves or hot-spot temperatures as CSV, Parquet or GeoJSON."""
    from ioscan.catalog.export import export as do_export
    from ioscan.catalog.store import open_store

    suffix = {"csv": "csv", "parquet": "parquet", "geojson": "geojson"}.get(fmt)
    if suffix is None:
        raise typer.BadParameter(f"--format must be csv, parquet or geojson, not {fmt!r}")
    target = out or Path(f"{what}.{suffix}")
    with open_store(db, create=False) as store:
        n = do_export(store, what, fmt, target, force=force, include_superseded=include_superseded)
    typer.echo(f"wrote {n} {what} to {target}")


@app.command()
@user_errors
def report(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (report.html, report.pdf, summary.json, figures/).")
    ],
    db: DbOption = None,
    external: Annotated[
        Path | None, typer.Option(help="External time series CSV (time_utc, value[, err]) to correlate with.")
    ] = None,
    external_label: Annotated[
        str, typer.Option(help="Name and unit of the external series.")
    ] = "external series",
    no_mosaics: Annotated[
        bool, typer.Option("--no-mosaics", help="Skip re-reading frames for mosaics.")
    ] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Science outputs: maps, mosaics, latitude and hemisphere statistics with significance, the thermal
    emission map and tidal patterns, time series; HTML, PDF and summary.json."""
    import os

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # small linear algebra: one thread avoids oversubscription
    from ioscan.catalog.store import open_store
    from ioscan.cli.console import make_console
    from ioscan.workflows.report import write_report

    settings = _settings(config, set_)
    target = (
        Path(db) if db is not None and "://" not in str(db) else (Path("ioscan.db") if db is None else None)
    )
    if target is not None and str(target) != ":memory:" and not target.exists():
        from ioscan.errors import CatalogError

        raise CatalogError(f"catalogue {target} does not exist (give --db PATH or a database URL)")
    console = make_console()
    with open_store(db) as store:
        res = write_report(
            store,
            out,
            settings=settings,
            external=external,
            external_label=external_label,
            mosaics=not no_mosaics,
            progress=lambda msg: console.print(f"[dim]{msg}[/dim]"),
        )
    console.print(
        f"wrote {res.html}, {res.pdf} and {res.summary_json} ({len(res.figures)} figures) "
        f"in {res.summary['timings_s']['total_s']:.0f} s"
    )


@app.command()
@user_errors
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the campaign, catalogue and outputs.")
    ] = Path("demo_output"),
    orbits: Annotated[int, typer.Option(help="Juno orbits to simulate.")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    workers: Annotated[int, typer.Option(help="Dask worker processes.")] = 2,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Simulate a Juno campaign, scan it on Dask into SQLite, track, export, summarise against the truth."""
    from ioscan.cli.console import make_console
    from ioscan.cli.display import ConsoleDisplay
    from ioscan.workflows.demo import run_demo

    run_demo(
        out,
        orbits=orbits,
        seed=seed,
        workers=workers,
        display=ConsoleDisplay(make_console()),
        settings=_settings(config, set_),
    )


from ioscan.cli.convention import check_convention as _check_convention  # noqa: E402

app.command("check-convention")(user_errors(_check_convention))


def run() -> None:  # pragma: no cover - console entry point alias
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
