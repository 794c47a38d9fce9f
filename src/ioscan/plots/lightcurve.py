"""Light-curve figure of one hot spot: spectral intensity vs time with random 1σ errors, events marked.

Readable without asking: the axes say what and in which unit (UTC time; spectral intensity, GW µm⁻¹ sr⁻¹,
foreshortening-corrected), each source of points (ioscan's own, each imported publication) has its own
symbol, flagged points are drawn hollow and saturated ones as lower limits (▲), and the legend says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ioscan.plots._save import save_png
from ioscan.records import DetectionFlag

_MARKERS = ("o", "s", "D", "v", "P", "X", "h")
_EVENT_COLOURS = {"outburst": "tab:red", "new": "tab:green", "fading": "tab:blue", "quiescent": "0.5"}


def _times(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values).astype(str).str.rstrip("Z"))


def plot_lightcurve(
    lc: pd.DataFrame, out: Path, *, title: str, events: pd.DataFrame | None = None, periodogram=None
) -> Path:
    """Write a PNG: intensity (``value`` ± ``err``, GW µm⁻¹ sr⁻¹, foreshortening-corrected) against UTC, one
    symbol per ``source``; an optional second panel shows the Lomb–Scargle periodogram."""
    return save_png(lightcurve_figure(lc, title=title, events=events, periodogram=periodogram), out)


def lightcurve_figure(lc: pd.DataFrame, *, title: str, events: pd.DataFrame | None = None, periodogram=None):
    """The matplotlib Figure :func:`plot_lightcurve` writes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    n_panels = 2 if periodogram is not None else 1
    fig, axes = plt.subplots(n_panels, 1, figsize=(8.5, 3.6 * n_panels), squeeze=False)
    ax = axes[0, 0]
    t = _times(lc["time_utc"])
    flags = lc["flags"].fillna(0).astype(int) if "flags" in lc.columns else pd.Series(0, index=lc.index)
    sources = lc["source"].fillna("ioscan") if "source" in lc.columns else pd.Series("ioscan", index=lc.index)
    saturated = (flags & int(DetectionFlag.SATURATED)) != 0
    if "lower_limit" in lc.columns:  # saturated sources measured as lower limits
        saturated |= lc["lower_limit"].fillna(False).astype(bool)
    flagged = (flags != 0) & ~saturated
    for k, source in enumerate(sorted(sources.unique(), key=lambda s: (s != "ioscan", s))):
        marker = _MARKERS[k % len(_MARKERS)]
        mine = (sources == source).to_numpy()
        label = "ioscan" if source == "ioscan" else f"imported: {source}"
        for sel, face, suffix in (
            (mine & ~flagged & ~saturated, "tab:red", ""),
            (mine & flagged, "none", " (flagged)"),
        ):
            if sel.any():
                ax.errorbar(
                    t[sel],
                    lc["value"][sel],
                    yerr=lc["err"][sel],
                    fmt=marker,
                    ms=5,
                    capsize=2,
                    color="tab:red",
                    mfc=face,
                    label=label + suffix,
                )
        sel = mine & saturated.to_numpy()
        if sel.any():
            ax.plot(
                t[sel],
                lc["value"][sel],
                "^",
                ms=7,
                color="tab:purple",
                mfc="none",
                label=f"{label}: saturated (lower limit)",
            )
    if events is not None and not events.empty:
        top = np.nanmax(lc["value"]) if lc["value"].notna().any() else 1.0
        for kind, group in events.groupby("kind"):
            colour = _EVENT_COLOURS.get(str(kind), "0.6")
            for k, row in enumerate(group.itertuples()):
                when = _times([row.time_utc]).iloc[0]
                ax.axvline(when, color=colour, ls="--", lw=0.8, label=f"event: {kind}" if k == 0 else None)
                ax.annotate(
                    str(kind), (when, top), fontsize=7, rotation=90, va="top", ha="right", color=colour
                )
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel("spectral intensity (GW µm⁻¹ sr⁻¹)\nforeshortening-corrected, ±1σ", fontsize=9)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    if periodogram is not None:
        ax2 = axes[1, 0]
        ax2.plot(1.0 / periodogram.frequency_per_d, periodogram.power, color="k", lw=0.8)
        ax2.axvline(periodogram.best_period_d, color="tab:red", ls=":", lw=0.8, label="best period")
        ax2.set_xscale("log")
        ax2.set_xlabel("period (days)")
        ax2.set_ylabel("Lomb–Scargle power\n(normalised, 0–1)", fontsize=9)
        ax2.set_title(
            f"best {periodogram.best_period_d:.1f} d, false-alarm probability "
            f"{periodogram.false_alarm_probability:.2g} ({periodogram.n_points} points)",
            fontsize=8,
        )
        ax2.legend(fontsize=7)
    return fig
