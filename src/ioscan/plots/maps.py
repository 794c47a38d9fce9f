"""Maps of Io: hot spots (global and polar), coverage, emission, tidal patterns and mosaics.

Conventions of the Io literature: planetographic latitude °N; **west longitude 0–360°W increasing to the
left** (the x axis runs from 360°W on the left to 0°W on the right). Polar maps are stereographic, seen from
above each pole, with 0°W at the bottom (north) or top (south) and 90°W on the left of both. Every colour
bar names its quantity and unit.


Every ``plot_*`` function writes a PNG to ``out`` and returns its path, or returns the matplotlib
figure itself when ``out`` is None."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ioscan.plots._figure import finish

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LON_LABEL = "West longitude (°W)"
LAT_LABEL = "Planetographic latitude (°N)"
POWER_LABEL = "Total power (GW; high-T volcanic output)"


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def lon_w_axes(ax, *, lat_range=(-90.0, 90.0)) -> None:
    """West longitude 360 → 0 left to right, latitude up; ticks every 60° / 30°."""
    ax.set_xlim(360.0, 0.0)
    ax.set_ylim(*lat_range)
    ax.set_xticks(np.arange(360, -1, -60))
    ax.set_yticks(np.arange(-90, 91, 30))
    ax.set_xlabel(LON_LABEL)
    ax.set_ylabel(LAT_LABEL)
    ax.grid(True, color="0.8", lw=0.4)


def _grid_image(ax, grid: np.ndarray, **kw):
    """Draw a (n_lat, n_lon) grid (rows from −90°N, columns from 0°W) on west-longitude axes."""
    return ax.imshow(
        grid, origin="lower", extent=(0.0, 360.0, -90.0, 90.0), aspect="auto", interpolation="nearest", **kw
    )


def _power_norm(power: np.ndarray):
    from matplotlib.colors import LogNorm

    p = power[np.isfinite(power) & (power > 0)]
    if p.size == 0:
        return LogNorm(1.0, 10.0)
    lo, hi = np.percentile(p, [2, 100])
    return LogNorm(max(lo, hi / 1e5), max(hi, lo * 10))


def _sizes(power: np.ndarray, norm) -> np.ndarray:
    p = np.where(np.isfinite(power) & (power > 0), power, norm.vmin)
    f = np.clip((np.log10(p) - np.log10(norm.vmin)) / (np.log10(norm.vmax) - np.log10(norm.vmin)), 0, 1)
    return 8.0 + 110.0 * f


def plot_hotspot_map(
    hotspots: pd.DataFrame,
    seen: np.ndarray | None,
    out: Path | None,
    *,
    title: str,
    power_col: str = "power_gw",
    label: str = POWER_LABEL,
) -> Path | Figure:
    """Global map: hot spots sized and coloured by power over the area seen (grey: not seen)."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(10, 5.2))
    if seen is not None:
        _grid_image(ax, np.where(seen, 1.0, np.nan), cmap="Greys", vmin=0, vmax=6, zorder=0)
    power = (
        hotspots[power_col].to_numpy(float)
        if power_col in hotspots.columns
        else np.full(len(hotspots), np.nan)
    )
    norm = _power_norm(power)
    has = np.isfinite(power) & (power > 0)
    sc = ax.scatter(
        hotspots["lon_w_deg"][has],
        hotspots["lat_deg"][has],
        s=_sizes(power[has], norm),
        c=power[has],
        cmap="inferno",
        norm=norm,
        edgecolors="k",
        linewidths=0.3,
        zorder=3,
        label="with power",
    )
    if (~has).any():
        ax.scatter(
            hotspots["lon_w_deg"][~has],
            hotspots["lat_deg"][~has],
            s=12,
            facecolors="none",
            edgecolors="tab:blue",
            linewidths=0.6,
            zorder=3,
            label="no power",
        )
    lon_w_axes(ax)
    cb = fig.colorbar(sc, ax=ax, pad=0.01)
    cb.set_label(label)
    note = "shaded: seen by the census" if seen is not None else "coverage not given"
    ax.set_title(f"{title} ({len(hotspots)} hot spots; {note})", fontsize=10)
    if (~has).any():
        ax.legend(loc="lower left", fontsize=7)
    return finish(fig, out)


def polar_xy(lat_deg, lon_w_deg, north: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stereographic coordinates (pole at 0, equator at radius 2) seen from above the pole: 0°W at the bottom
    (north) / top (south), west longitude increasing clockwise (north) / counter-clockwise (south), so 90°W
    is on the left of both."""
    lat = np.asarray(lat_deg, float)
    colat = np.radians(90.0 - (lat if north else -lat))
    r = 2.0 * np.tan(colat / 2.0)
    lon = np.radians(np.asarray(lon_w_deg, float))
    x = -r * np.sin(lon)
    y = -r * np.cos(lon) if north else r * np.cos(lon)
    return x, y


def plot_polar_maps(
    hotspots: pd.DataFrame,
    seen: np.ndarray | None,
    out: Path | None,
    *,
    title: str,
    edge_lat_deg: float = 45.0,
    power_col: str = "power_gw",
    label: str = POWER_LABEL,
) -> Path | Figure:
    """North and south polar stereographic maps of the hot spots poleward of ``edge_lat_deg``."""
    plt = _mpl()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
    power = (
        hotspots[power_col].to_numpy(float)
        if power_col in hotspots.columns
        else np.full(len(hotspots), np.nan)
    )
    norm = _power_norm(power)
    r_edge = 2.0 * np.tan(np.radians(90.0 - edge_lat_deg) / 2.0)
    sc = None
    for ax, north in zip(axes, (True, False), strict=True):
        if seen is not None:
            lat_e = np.linspace(-90, 90, seen.shape[0] + 1)
            lon_e = np.linspace(0, 360, seen.shape[1] + 1)
            lo, la = np.meshgrid(lon_e, lat_e)
            x, y = polar_xy(la, lo, north)
            inside = (la >= edge_lat_deg - 2) if north else (la <= -edge_lat_deg + 2)
            grid = np.where(seen, 1.0, np.nan)
            mask = ~(inside[:-1, :-1] & inside[1:, 1:])
            ax.pcolormesh(
                x,
                y,
                np.ma.array(grid, mask=mask | np.isnan(grid)),
                cmap="Greys",
                vmin=0,
                vmax=6,
                shading="flat",
                zorder=0,
            )
        sel = (
            hotspots["lat_deg"].to_numpy(float) >= edge_lat_deg
            if north
            else hotspots["lat_deg"].to_numpy(float) <= -edge_lat_deg
        )
        x, y = polar_xy(
            hotspots["lat_deg"].to_numpy(float)[sel], hotspots["lon_w_deg"].to_numpy(float)[sel], north
        )
        p = power[sel]
        has = np.isfinite(p) & (p > 0)
        sc = ax.scatter(
            x[has],
            y[has],
            s=_sizes(p[has], norm),
            c=p[has],
            cmap="inferno",
            norm=norm,
            edgecolors="k",
            linewidths=0.3,
            zorder=3,
        )
        if (~has).any():
            ax.scatter(
                x[~has], y[~has], s=12, facecolors="none", edgecolors="tab:blue", linewidths=0.6, zorder=3
            )
        t = np.linspace(0, 2 * np.pi, 361)
        for lat in (60.0, 75.0, edge_lat_deg):
            r = 2.0 * np.tan(np.radians(90.0 - lat) / 2.0)
            ax.plot(r * np.cos(t), r * np.sin(t), color="0.5" if lat != edge_lat_deg else "k", lw=0.5)
            if lat != edge_lat_deg:
                ax.text(
                    r * 0.74,
                    r * 0.74,
                    f"{lat:.0f}°{'N' if north else 'S'}",
                    fontsize=7,
                    color="0.3",
                    ha="left",
                    va="bottom",
                )
        for lon in range(0, 360, 30):
            xx, yy = polar_xy(
                np.array([90.0 if north else -90.0, edge_lat_deg if north else -edge_lat_deg]),
                np.array([lon, lon]),
                north,
            )
            ax.plot(xx, yy, color="0.75", lw=0.4)
            if lon % 90 == 0:
                lx, ly = polar_xy(edge_lat_deg - 7 if north else -edge_lat_deg + 7, lon, north)
                ax.text(lx, ly, f"{lon}°W", ha="center", va="center", fontsize=8)
        ax.set_xlim(-r_edge * 1.25, r_edge * 1.25)
        ax.set_ylim(-r_edge * 1.25, r_edge * 1.25)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(
            f"{'North' if north else 'South'} polar (poleward of {edge_lat_deg:.0f}°; {int(sel.sum())} "
            "hot spots)",
            fontsize=9,
        )
    fig.subplots_adjust(left=0.02, right=0.86, top=0.9, bottom=0.04, wspace=0.05)
    cb = fig.colorbar(sc, cax=fig.add_axes((0.89, 0.15, 0.015, 0.7)))
    cb.set_label(label)
    fig.suptitle(f"{title}: polar stereographic views, seen from above each pole", fontsize=10)
    return finish(fig, out, layout="none")


def plot_coverage_maps(exposure, out: Path | None, *, title: str = "Census coverage") -> Path | Figure:
    """Four panels: observations per cell, best emission angle, best pixel scale, 5σ detection limit."""
    from matplotlib.colors import LogNorm

    plt = _mpl()
    fig, axes = plt.subplots(2, 2, figsize=(12, 6.6))
    seen = exposure.seen
    panels = (
        (np.where(seen, exposure.n_seen, np.nan), "Observations seeing the cell (number)", "viridis", None),
        (exposure.best_emission_deg, "Lowest emission angle (°)", "viridis_r", None),
        (exposure.best_scale_km, "Best pixel scale (km/px, normal view)", "viridis_r", "log"),
        (
            exposure.limit_spectral_power_gw_um,
            "Lowest 5σ limit (M-band spectral power, GW µm⁻¹)",
            "magma_r",
            "log",
        ),
    )
    for ax, (grid, label, cmap, scale) in zip(axes.ravel(), panels, strict=True):
        g = np.asarray(grid, float)
        finite = g[np.isfinite(g) & ((g > 0) if scale == "log" else True)]
        norm = (
            LogNorm(finite.min(), max(finite.max(), finite.min() * 1.01))
            if scale == "log" and finite.size
            else None
        )
        im = _grid_image(ax, g if scale != "log" else np.where(g > 0, g, np.nan), cmap=cmap, norm=norm)
        lon_w_axes(ax)
        cb = fig.colorbar(im, ax=ax, pad=0.01)
        cb.set_label(label, fontsize=8)
        ax.set_title(label, fontsize=9)
    fig.suptitle(
        f"{title}: {len(exposure.observation_ids)} observations; white = not seen "
        f"(emission ≥ 80° or outside every frame)",
        fontsize=10,
    )
    return finish(fig, out)


def plot_emission_maps(
    smoothed, lat_c, lon_c, fit, hotspots: pd.DataFrame, out: Path | None, *, sigma_deg: float
) -> Path | Figure:
    """Kernel-smoothed emission map and its spherical-harmonic expansion (W m⁻²), hot spots marked."""
    plt = _mpl()
    fig, axes = plt.subplots(2, 1, figsize=(10, 9))
    d_lat = lat_c[1] - lat_c[0]
    grid_sh = None
    if fit is not None and fit.degree >= 0:
        la, lo = np.meshgrid(lat_c, lon_c, indexing="ij")
        grid_sh = np.where(np.isfinite(smoothed), fit.evaluate(la, lo), np.nan)
    vals = [smoothed, grid_sh]
    finite = (
        np.concatenate([v[np.isfinite(v)].ravel() for v in vals if v is not None])
        if any(v is not None and np.isfinite(v).any() for v in vals)
        else np.array([0.0, 1.0])
    )
    vmax = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    titles = (
        f"Kernel-smoothed volcanic thermal emission (Gaussian σ = {sigma_deg:.0f}°), corrected for coverage",
        "Spherical-harmonic expansion to degree "
        + (
            f"{fit.degree} (chosen by cross-validation; coverage supports ≤ {fit.supported_degree})"
            if fit is not None and fit.degree >= 0
            else "— (nothing seen)"
        ),
    )
    for ax, grid, t in zip(axes, vals, titles, strict=True):
        if grid is not None:
            ext = (0.0, 360.0, -90.0, 90.0)
            im = ax.imshow(
                grid,
                origin="lower",
                extent=ext,
                aspect="auto",
                cmap="inferno",
                vmin=min(0.0, np.nanmin(grid)),
                vmax=vmax,
                interpolation="nearest",
            )
            cb = fig.colorbar(im, ax=ax, pad=0.01)
            cb.set_label("Emission per unit area (W m⁻²)")
        ax.scatter(hotspots["lon_w_deg"], hotspots["lat_deg"], s=4, c="cyan", linewidths=0, label="hot spots")
        lon_w_axes(ax)
        ax.set_title(t, fontsize=9)
        ax.legend(loc="lower left", fontsize=7)
    fig.suptitle(
        "High-temperature volcanic output (M band converted to total), not Io's total heat flow; "
        f"grid {d_lat:.0f}°",
        fontsize=9,
    )
    return finish(fig, out)


def plot_tidal_patterns(weights: dict, out: Path | None) -> Path | Figure:
    """The end-member tidal-heating patterns (heat flux / global mean)."""
    from ioscan.analysis.tidal import pattern

    plt = _mpl()
    fig, axes = plt.subplots(1, len(weights), figsize=(6 * len(weights), 3.6), squeeze=False)
    la, lo = np.meshgrid(np.linspace(-89.5, 89.5, 180), np.linspace(0.5, 359.5, 360), indexing="ij")
    for ax, (name, w) in zip(axes[0], weights.items(), strict=True):
        p = pattern(w, la, lo)
        im = ax.imshow(
            p,
            origin="lower",
            extent=(0, 360, -90, 90),
            aspect="auto",
            cmap="RdYlBu_r",
            vmin=0,
            vmax=max(2.2, float(p.max())),
        )
        lon_w_axes(ax)
        wa, wb, wc = w
        ax.set_title(f"{name}: {wa:.2g} Ψ_A + {wb:.2g} Ψ_B + {wc:.2g} Ψ_C (Beuthe 2013)", fontsize=9)
        cb = fig.colorbar(im, ax=ax, pad=0.01)
        cb.set_label("Tidal heat flux / global mean (dimensionless)", fontsize=8)
    return finish(fig, out)


def plot_mosaic(mosaic, out: Path | None) -> Path | Figure:
    """A band's mosaic (spectral radiance; symmetric-log stretch, linear within 3σ of the background) and the
    pixel scale of the chosen samples."""
    from matplotlib.colors import LogNorm

    plt = _mpl()
    fig, axes = plt.subplots(2, 1, figsize=(10, 9))
    from matplotlib.colors import SymLogNorm

    v = mosaic.value
    fin = v[np.isfinite(v)]
    if fin.size:
        noise = 1.4826 * np.median(np.abs(fin - np.median(fin)))
        hi = float(np.percentile(fin, 99.9))
        lin = max(3.0 * noise, hi * 1e-4, 1e-12)
        norm = SymLogNorm(
            linthresh=lin, vmin=min(float(np.percentile(fin, 0.5)), 0.0), vmax=max(hi, 10 * lin)
        )
    else:
        norm = None
    im = _grid_image(axes[0], v, cmap="gray", norm=norm)
    lon_w_axes(axes[0])
    fig.colorbar(im, ax=axes[0], pad=0.01).set_label("Spectral radiance (W m⁻² sr⁻¹ µm⁻¹)")
    axes[0].set_title(
        f"{mosaic.instrument} {mosaic.band}-band mosaic of {len(mosaic.frames)} registered frames "
        f"({mosaic.cell_deg:g}° cells, {mosaic.filled_fraction:.0%} of Io; best resolution per cell)",
        fontsize=9,
    )
    s = mosaic.scale_km
    fin = s[np.isfinite(s) & (s > 0)]
    norm2 = LogNorm(fin.min(), max(fin.max(), fin.min() * 1.01)) if fin.size else None
    im2 = _grid_image(axes[1], s, cmap="viridis_r", norm=norm2)
    lon_w_axes(axes[1])
    fig.colorbar(im2, ax=axes[1], pad=0.01).set_label("Pixel scale of the chosen frame (km/px)")
    axes[1].set_title("Resolution of the chosen frame per cell", fontsize=9)
    return finish(fig, out)
