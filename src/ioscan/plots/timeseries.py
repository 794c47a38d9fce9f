"""Figures of volcanic output through time and its discrete correlation with an external series.

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


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_output_series(
    epochs: pd.DataFrame,
    out: Path | None,
    *,
    external: pd.DataFrame | None = None,
    external_label: str = "external series",
) -> Path | Figure:
    """Output per unit area seen (W m⁻²) per epoch and region, with 1σ errors; the external series below."""
    plt = _mpl()
    n = 2 if external is not None else 1
    fig, axes = plt.subplots(n, 1, figsize=(10, 3.6 * n), squeeze=False, sharex=True)
    ax = axes[0, 0]
    for region, g in epochs.groupby("region", sort=False):
        ok = np.isfinite(g["output_w_m2"])
        if not ok.any():
            continue
        ax.errorbar(
            pd.to_datetime(g["time_utc"][ok]),
            g["output_w_m2"][ok],
            yerr=g["output_err_w_m2"][ok],
            fmt="o-" if region == "global" else "o--",
            ms=4,
            lw=0.8,
            capsize=2,
            label=region,
        )
    ax.set_ylabel("Output per area seen (W m⁻²)")
    ax.set_title(
        "High-temperature volcanic output per epoch (orbit or night), normalised by the area seen "
        "and completeness",
        fontsize=9,
    )
    ax.legend(fontsize=7, ncol=3)
    ax.grid(True, color="0.85", lw=0.5)
    if external is not None:
        ax2 = axes[1, 0]
        err = external["err"] if external["err"].notna().any() else None
        ax2.errorbar(
            external["time_utc"], external["value"], yerr=err, fmt=".", ms=3, lw=0.6, color="tab:purple"
        )
        ax2.set_ylabel(external_label)
        ax2.grid(True, color="0.85", lw=0.5)
    axes[-1, 0].set_xlabel("Time (UTC)")
    return finish(fig, out)


def plot_dcf(result: dict, out: Path | None, *, title: str) -> Path | Figure:
    """DCF against lag (days) with errors and the surrogates' pointwise envelope."""
    plt = _mpl()
    d = result["dcf"]
    used = d["used"].to_numpy() if "used" in d.columns else np.ones(len(d), bool)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.fill_between(
        d["lag_d"],
        d["envelope_low"],
        d["envelope_high"],
        color="0.85",
        label=f"95 % of {result['n_surrogates']} autocorrelated surrogates",
    )
    ax.errorbar(
        d["lag_d"][used],
        d["dcf"][used],
        yerr=d["dcf_err"][used],
        fmt="o",
        ms=4,
        capsize=2,
        color="k",
        label="DCF (bins searched)",
    )
    if (~used).any():
        ax.plot(d["lag_d"][~used], d["dcf"][~used], "x", color="0.6", label="too few pairs")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("Lag of the external series (days; positive = external follows volcanic output)")
    ax.set_ylabel("Discrete correlation (dimensionless)")
    ax.set_title(
        f"{title}: peak {result['peak_dcf']:.2f} at {result['peak_lag_d']:.0f} d, global p = "
        f"{result['p_value']:.2g}",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    return finish(fig, out)


def plot_hotspot_lightcurve(
    lc: pd.DataFrame, out: Path | None, *, title: str, events: pd.DataFrame | None = None
) -> Path | Figure:
    """One hot spot's light curve: foreshortening-corrected spectral intensity (GW µm⁻¹ sr⁻¹) against UTC with
    1σ errors; saturated points (lower limits) as open triangles; events as vertical lines."""
    from ioscan.records import DetectionFlag

    plt = _mpl()
    fig, ax = plt.subplots(figsize=(8, 3.4))
    t = pd.to_datetime(lc["time_utc"].astype(str).str.rstrip("Z"), format="ISO8601")
    sat = (lc["flags"].fillna(0).astype(int).to_numpy() & int(DetectionFlag.SATURATED)) != 0
    err = lc["err"].to_numpy(float) if "err" in lc.columns else None
    ax.errorbar(
        t[~sat],
        lc["value"][~sat],
        yerr=None if err is None else err[~sat],
        fmt="o",
        ms=4,
        capsize=2,
        color="tab:red",
        label=_count_label(int((~sat).sum()), "detection"),
    )
    if sat.any():
        ax.plot(
            t[sat],
            lc["value"][sat],
            "^",
            mfc="none",
            color="tab:red",
            label=f"{_count_label(int(sat.sum()), 'saturated detection')} (lower limits)",
        )
    if events is not None and len(events):
        for row in events.itertuples():
            ax.axvline(
                pd.to_datetime(str(row.time_utc).rstrip("Z"), format="ISO8601"), color="0.6", ls="--", lw=0.8
            )
            ax.text(
                pd.to_datetime(str(row.time_utc).rstrip("Z"), format="ISO8601"),
                0.98,
                row.kind,
                transform=ax.get_xaxis_transform(),
                rotation=90,
                va="top",
                fontsize=7,
            )
    ax.set_xlabel("Time (UTC)")
    ax.set_ylabel("Spectral intensity (GW µm⁻¹ sr⁻¹)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return finish(fig, out)


def _count_label(n: int, noun: str) -> str:
    """``"1 detection"``, ``"3 detections"``: a legend entry's count with the noun in the right number."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
