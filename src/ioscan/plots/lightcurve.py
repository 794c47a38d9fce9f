"""Light-curve figure of one hot spot: spectral intensity vs time with random 1σ errors, lower limits
(saturated sources) as upward triangles, events marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ioscan.plots._save import save_png


def plot_lightcurve(
    lc: pd.DataFrame, out: Path, *, title: str, events: pd.DataFrame | None = None, periodogram=None
) -> Path:
    """Write a PNG: intensity (GW µm⁻¹ sr⁻¹, foreshortening-corrected) against UTC; an optional second panel
    shows the Lomb–Scargle periodogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_panels = 2 if periodogram is not None else 1
    fig, axes = plt.subplots(n_panels, 1, figsize=(8, 3.2 * n_panels), squeeze=False)
    ax = axes[0, 0]
    t = pd.to_datetime(lc["time_utc"].astype(str).str.rstrip("Z"))
    lower = (
        lc["lower_limit"].fillna(False).astype(bool).to_numpy()
        if "lower_limit" in lc
        else np.zeros(len(lc), bool)
    )
    ax.errorbar(
        t[~lower],
        lc["value"][~lower],
        yerr=lc["err"][~lower],
        fmt="o",
        ms=4,
        capsize=2,
        color="tab:red",
        label="measured (random 1σ)",
    )
    if lower.any():
        ax.plot(t[lower], lc["value"][lower], "^", ms=6, color="tab:purple", label="lower limit (saturated)")
        ax.legend(fontsize=7)
    if events is not None and not events.empty:
        for row in events.itertuples():
            ax.axvline(pd.to_datetime(str(row.time_utc).rstrip("Z")), color="0.6", ls="--", lw=0.8)
            ax.annotate(
                row.kind,
                (pd.to_datetime(str(row.time_utc).rstrip("Z")), np.nanmax(lc["value"])),
                fontsize=7,
                rotation=90,
                va="top",
            )
    ax.set_ylabel("I (GW µm⁻¹ sr⁻¹)")
    ax.set_title(title, fontsize=9)
    if periodogram is not None:
        ax2 = axes[1, 0]
        ax2.plot(1.0 / periodogram.frequency_per_d, periodogram.power, color="k", lw=0.8)
        ax2.set_xscale("log")
        ax2.set_xlabel("period (days)")
        ax2.set_ylabel("Lomb–Scargle power")
        ax2.set_title(
            f"best {periodogram.best_period_d:.1f} d, FAP {periodogram.false_alarm_probability:.2g}",
            fontsize=8,
        )
    return save_png(fig, out)
