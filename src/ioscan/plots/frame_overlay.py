"""A frame with its detections circled (PNG), one panel per band, in the product's own orientation.

What a reader needs without asking: axes in product pixels (``sample`` across, ``line`` down, 0-based, the
product's own line numbers — an I1 M-band panel starts at line 128, as the detections' ``line`` does); a
colour bar in the band's unit; with geometry, the limb and a latitude / longitude grid (planetographic °N,
west longitude °W, every :data:`GRID_STEP_DEG`, labelled); and a legend of the detection symbols by flag
(:data:`FLAG_STYLES`), with their counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ioscan.plots._save import save_png
from ioscan.records import DetectionFlag

#: grid spacing of the latitude / longitude lines, degrees
GRID_STEP_DEG = 30.0
GRID_COLOUR = "#7fdc7f"  # light green: apart from the limb (cyan) and the flag colours

#: detection symbol per flag class, first match wins: (label, flags, colour, line style)
FLAG_STYLES = (
    (
        "not a hot spot (artefact, cosmic ray, off disk)",
        DetectionFlag.ARTEFACT | DetectionFlag.COSMIC_RAY | DetectionFlag.OFF_DISK,
        "0.75",
        ":",
    ),
    ("saturated (lower limit)", DetectionFlag.SATURATED, "magenta", "-"),
    ("near the limb", DetectionFlag.NEAR_LIMB, "tab:orange", "--"),
    ("other flags (edge, blended, low S/N)", ~DetectionFlag.NONE, "gold", "--"),
    ("no flag", DetectionFlag.NONE, "tab:red", "-"),
)

_UNIT_LABELS = {
    "W m-2 sr-1": "band radiance (W m⁻² sr⁻¹)",
    "W m-2 sr-1 um-1": "spectral radiance (W m⁻² sr⁻¹ µm⁻¹)",
}


def flag_style(flags: int) -> tuple[str, str, str]:
    """(legend label, colour, line style) of a detection with ``flags``."""
    for label, mask, colour, style in FLAG_STYLES:
        if (mask == DetectionFlag.NONE and not flags) or (int(mask) & int(flags)):
            return label, colour, style
    return FLAG_STYLES[-1][0], FLAG_STYLES[-1][2], FLAG_STYLES[-1][3]


def unit_label(unit: str | None) -> str:
    """A colour-bar label for a pixel unit."""
    return _UNIT_LABELS.get(unit or "", f"pixel value ({unit})" if unit else "pixel value")


def _lat_lon_grid(ax, bp, extent) -> None:
    """Latitude and west-longitude lines every GRID_STEP_DEG on the disk, labelled."""
    lat = bp["lat_deg"]
    lon = bp["lon_w_deg"]
    if not np.isfinite(lat).any():
        return
    kw = dict(colors=GRID_COLOUR, linewidths=0.8, extent=extent, origin="upper")
    lat_levels = np.arange(-90 + GRID_STEP_DEG, 90, GRID_STEP_DEG)
    cs = ax.contour(lat, levels=lat_levels, linestyles="-", **kw)
    ax.clabel(cs, fmt=lambda v: f"{v:.0f}°N", fontsize=7, colors=GRID_COLOUR)
    for level in np.arange(0.0, 360.0, GRID_STEP_DEG):
        # distance from the meridian, wrapped, kept only near it: no false line at the 0/360 seam
        d = (lon - level + 180.0) % 360.0 - 180.0
        d = np.where(np.abs(d) < 90.0, d, np.nan)
        if np.nanmin(d, initial=np.inf) < 0 < np.nanmax(d, initial=-np.inf):
            cs = ax.contour(d, levels=[0.0], linestyles="--", **kw)
            ax.clabel(cs, fmt=lambda _v, lv=level: f"{lv:.0f}°W", fontsize=7, colors=GRID_COLOUR)


def _stretch(data: np.ndarray, on_disk: np.ndarray | None) -> tuple[float, float]:
    """Display range: the 1st percentile of the frame up to the 99th of the disk (hot spots saturate the
    display, which the colour bar's arrows say), or to the 99.7th of the frame without a disk."""
    finite = np.isfinite(data)
    if not finite.any():
        return 0.0, 1.0
    lo = float(np.percentile(data[finite], 1))
    top = data[finite & on_disk] if on_disk is not None and (finite & on_disk).any() else data[finite]
    hi = float(np.percentile(top, 99 if on_disk is not None else 99.7))
    return lo, hi if hi > lo else lo + 1.0


def _view(band, bp, detections, margin_px: int = 20) -> tuple[float, float, float, float]:
    """(x0, x1, y_bottom, y_top) in product pixels: the disk and the band's detections with a margin when the
    disk is in view, else the whole band."""
    n_lines, n_samples = band.data.shape
    first = band.line_offset
    full = (-0.5, n_samples - 0.5, first + n_lines - 0.5, first - 0.5)
    if bp is None or not bp.on_disk.any():
        return full
    rows, cols = np.nonzero(bp.on_disk)
    xs = [*cols.tolist(), *(d.sample for d in detections)]
    ys = [*(rows + first).tolist(), *(d.line for d in detections)]
    x0, x1 = max(full[0], min(xs) - margin_px), min(full[1], max(xs) + margin_px)
    y0, y1 = max(full[3], min(ys) - margin_px), min(full[2], max(ys) + margin_px)
    return x0, x1, y1, y0


def plot_detections(frame, detections, out: Path, *, navigation=None) -> Path:
    """Write a PNG of every band of ``frame`` with ``detections`` circled by flag class (legend) and, when
    ``navigation`` has geometry, the limb (from ``limb_distance_px``) and a lat/lon grid; a band that shows
    the disk is zoomed on it (and on its detections)."""
    return save_png(overlay_figure(frame, detections, navigation=navigation), out)


def overlay_figure(frame, detections, *, navigation=None):
    """The matplotlib Figure :func:`plot_detections` writes (one axes per band, each with its colour bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    bands = list(frame.bands.values())
    fig, axes = plt.subplots(len(bands), 1, figsize=(8, 5.2 * len(bands)), squeeze=False)
    for ax, band in zip(axes[:, 0], bands, strict=True):
        data = band.data
        n_lines, n_samples = data.shape
        first = band.line_offset
        extent = (-0.5, n_samples - 0.5, first + n_lines - 0.5, first - 0.5)  # product lines, 0-based
        bp = navigation.backplanes.get(band.band) if navigation is not None else None
        disk = bp is not None and bool(bp.on_disk.any())
        mine = [d for d in detections if d.band == band.band]
        lo, hi = _stretch(data, bp.on_disk if disk else None)
        im = ax.imshow(
            data, cmap="gray", vmin=lo, vmax=hi, origin="upper", interpolation="nearest", extent=extent
        )
        bar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, extend="both")
        bar.set_label(unit_label(band.unit), fontsize=8)
        bar.formatter.set_powerlimits((-2, 3))
        handles = []
        if disk:
            ax.contour(
                bp["limb_distance_px"],
                levels=[0.0],
                colors="tab:cyan",
                linewidths=1.0,
                extent=extent,
                origin="upper",
            )
            _lat_lon_grid(ax, bp, extent)
            handles.append(Line2D([], [], color="tab:cyan", lw=1.0, label="limb"))
            for style, what in (("-", "latitude °N (planetographic)"), ("--", "west longitude °W")):
                line = Line2D([], [], color=GRID_COLOUR, lw=0.8, ls=style)
                line.set_label(f"{what}, every {GRID_STEP_DEG:.0f}°")
                handles.append(line)
        elif bp is not None:
            ax.text(
                0.01,
                0.97,
                "Io's disk is not in this band's view",
                transform=ax.transAxes,
                fontsize=8,
                va="top",
                color="black",
                bbox=dict(facecolor="white", alpha=0.8, lw=0),
            )
        counts: dict[str, int] = {}
        for d in mine:
            label, colour, style = flag_style(d.flags)
            counts[label] = counts.get(label, 0) + 1
            ax.add_patch(plt.Circle((d.sample, d.line), 3, fill=False, ls=style, color=colour, lw=1.2))
        for label, _mask, colour, style in FLAG_STYLES:
            if label in counts:
                symbol = Line2D(
                    [], [], marker="o", ms=7, mfc="none", mec=colour, color=colour, ls=style, lw=1.0
                )
                symbol.set_label(f"{label}: {counts[label]}")
                handles.append(symbol)
        if handles:
            ax.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.13),
                ncol=2,
                fontsize=7,
                frameon=False,
            )
        x0, x1, y_bottom, y_top = _view(band, bp, mine)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y_bottom, y_top)
        ax.set_title(
            f"{frame.product_id}, band {band.band} ({band.wavelength_um:.2f} µm), {frame.time_utc} UTC",
            fontsize=9,
        )
        ax.set_xlabel("sample (0-based)")
        ax.set_ylabel("line (product line, 0-based)")
    return fig
