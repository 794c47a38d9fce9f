"""The ``ioscan`` command line (typer). Heavy imports happen inside each command so ``--help`` is instant."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ioscan import __version__

app = typer.Typer(
    name="ioscan",
    help="Io Scanner: find, measure and follow the volcanoes of Io in infrared images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
simulate_app = typer.Typer(help="Simulate JIRAM and ground-based frames with known truth.", no_args_is_help=True)
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
        Optional[bool],  # noqa: UP007 - typer needs Optional here
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
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


@app.command()
@user_errors
def backplanes(
    out: Annotated[Path, typer.Option("--out", help="Output multi-extension FITS file.")],
    product: Annotated[Optional[Path], typer.Argument(help="Product to navigate (JIRAM LBL, FITS).")] = None,  # noqa: UP007
    kernels: Annotated[Optional[Path], typer.Option(help="SPICE metakernel (.tm).")] = None,  # noqa: UP007
    frame_name: Annotated[str, typer.Option("--frame", help="SPICE instrument frame.")] = "JUNO_JIRAM_I_MBAND",
    time_utc: Annotated[Optional[str], typer.Option("--time", help="UTC time (ISO).")] = None,  # noqa: UP007
    band: Annotated[Optional[str], typer.Option(help="Band of the product to navigate (default: all).")] = None,  # noqa: UP007
    sub_obs_lat: Annotated[Optional[float], typer.Option(help="Sub-observer planetographic lat, °N.")] = None,  # noqa: UP007
    sub_obs_lon_w: Annotated[Optional[float], typer.Option(help="Sub-observer west longitude, °W.")] = None,  # noqa: UP007
    sub_sol_lat: Annotated[float, typer.Option(help="Sub-solar planetographic lat, °N.")] = 0.0,
    sub_sol_lon_w: Annotated[float, typer.Option(help="Sub-solar west longitude, °W.")] = 0.0,
    range_km: Annotated[Optional[float], typer.Option(help="Range to Io's centre, km.")] = None,  # noqa: UP007
    north_pa: Annotated[float, typer.Option(help="North pole position angle, deg (CCW from up).")] = 0.0,
    pixel_scale_km: Annotated[Optional[float], typer.Option(help="Pixel scale at disk centre, km.")] = None,  # noqa: UP007
    center_sample: Annotated[Optional[float], typer.Option(help="Disk-centre sample (0-based).")] = None,  # noqa: UP007
    center_line: Annotated[Optional[float], typer.Option(help="Disk-centre line (0-based).")] = None,  # noqa: UP007
    samples: Annotated[int, typer.Option(help="Image width without a product, px.")] = 432,
    lines: Annotated[int, typer.Option(help="Image height without a product, px.")] = 128,
) -> None:
    """Write per-pixel geometry (one FITS extension per backplane, units in the headers).

    Geometry comes from SPICE (--kernels with --time/--frame or a product), from the product's label, or
    from the label-style arguments given here (--sub-obs-lat ... --pixel-scale-km).
    """
    from ioscan.geometry.navigate import backplanes_command

    written = backplanes_command(
        out=out, product=product, kernels=kernels, frame_name=frame_name, time_utc=time_utc, band=band,
        label_args=dict(sub_observer_lat_deg=sub_obs_lat, sub_observer_lon_w_deg=sub_obs_lon_w,
                        sub_solar_lat_deg=sub_sol_lat, sub_solar_lon_w_deg=sub_sol_lon_w, range_km=range_km,
                        north_pa_deg=north_pa, pixel_scale_km=pixel_scale_km,
                        disk_center_sample=center_sample, disk_center_line=center_line),
        shape=(lines, samples),
    )
    for path in written:
        typer.echo(f"wrote {path}")


@app.command()
@user_errors
def info(product: Annotated[Path, typer.Argument(help="Product file (JIRAM LBL/IMG, FITS, PDS4 XML).")]) -> None:
    """Print what the reader sees in a product: instrument, time, bands, units, saturation, geometry."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from ioscan.formats import read_product

    frame = read_product(product)
    console = Console()
    console.print(f"[bold]{frame.product_id}[/bold]  {frame.instrument} ({frame.observer})  mode={frame.mode}  "
                  f"orbit={frame.orbit}")
    console.print(f"time (mid-exposure, UTC): {frame.time_utc}   exposure: {frame.exposure_s:g} s")
    console.print(f"file: {frame.path}   sha256: {frame.checksum_sha256}")
    table = Table("band", "λ (µm)", "Δλ (µm)", "lines×samples", "line offset", "unit", "saturation",
                  "min", "median", "max", "NaN", "SPICE frame")
    for b in frame.bands.values():
        d = b.data
        finite = d[np.isfinite(d)]
        stats = (f"{finite.min():.4g}", f"{np.median(finite):.4g}", f"{finite.max():.4g}") if finite.size else ("-",) * 3
        table.add_row(b.band, f"{b.wavelength_um:.3f}", f"{b.bandwidth_um:.4f}", f"{d.shape[0]}×{d.shape[1]}",
                      str(b.line_offset), b.unit, f"{b.saturation:.4g}" if b.saturation else "-", *stats,
                      str(int(np.isnan(d).sum())), b.spice_frame or "-")
    console.print(table)
    g = frame.label_geometry
    if g is not None:
        console.print(f"label geometry: sub-observer {g.sub_observer_lat_deg:.3f}°N {g.sub_observer_lon_w_deg:.3f}°W "
                      f"(planetographic), sub-solar {g.sub_solar_lat_deg:.3f}°N {g.sub_solar_lon_w_deg:.3f}°W, "
                      f"range {g.range_km:.1f} km, north PA {g.north_pa_deg:.2f}°, {g.pixel_scale_km:.3f} km/px, "
                      f"disk centre (sample, line) = ({g.disk_center_sample:.2f}, {g.disk_center_line:.2f})")
    else:
        console.print("label geometry: none (use SPICE kernels)")


def run() -> None:  # pragma: no cover - console entry point alias
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
