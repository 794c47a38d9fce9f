"""Figures of the latitude and hemisphere statistics: band densities and powers with intervals, the
comparisons' ratios with their tests, and the power of the polar/equatorial density test.

Every ``plot_*`` function writes a PNG to ``out`` and returns its path, or returns the matplotlib
figure itself when ``out`` is None."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ioscan.plots._figure import finish

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_latitude_bands(
    bands: list[dict], out: Path | None, *, title: str, power_label: str = "GW"
) -> Path | Figure:
    """Three panels against latitude: hot spots per 10⁶ km² (raw per band area, and per exposure with 95 %
    Garwood intervals), power per band (bootstrap 95 % intervals), and the observed area fraction."""
    plt = _mpl()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.6), sharey=True)
    lo = np.array([b["lat_min_deg"] for b in bands])
    hi = np.array([b["lat_max_deg"] for b in bands])
    mid, h = (lo + hi) / 2, (hi - lo)
    dens = np.array([b["density_per_1e6_km2"] for b in bands], float)
    raw = np.array([b["raw_density_per_1e6_km2"] for b in bands], float)
    err = np.array([[d - b["ci_low"], b["ci_high"] - d] for d, b in zip(dens, bands, strict=True)]).T
    ax = axes[0]
    ax.barh(
        mid, dens, height=h * 0.9, color="tab:orange", alpha=0.6, label="per exposure (area × completeness)"
    )
    ax.errorbar(dens, mid, xerr=np.nan_to_num(err), fmt="none", ecolor="k", capsize=3, lw=0.8)
    ax.plot(raw, mid, "kD", ms=4, label="raw (per band area)")
    for y, b in zip(mid, bands, strict=True):
        ax.text(
            0.01,
            y,
            f" n={b['n_hotspots']}",
            transform=ax.get_yaxis_transform(),
            ha="left",
            va="center",
            fontsize=7,
        )
    ax.set_xlabel("Hot spots per 10⁶ km²")
    ax.set_ylabel("Planetographic latitude (°N)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
    ax.set_ylim(-90, 90)
    ax.set_yticks(np.unique(np.concatenate([lo, hi])))
    p = np.array([b["power_gw"] for b in bands], float)
    perr = np.array(
        [
            [max(v - b["power_ci_low_gw"], 0), max(b["power_ci_high_gw"] - v, 0)]
            for v, b in zip(p, bands, strict=True)
        ]
    ).T
    axes[1].barh(mid, p, height=h * 0.9, color="tab:red", alpha=0.6)
    axes[1].errorbar(p, mid, xerr=np.nan_to_num(perr), fmt="none", ecolor="k", capsize=3, lw=0.8)
    axes[1].set_xlabel(f"Summed power ({power_label}), bootstrap 95 %")
    frac = np.array(
        [b["observed_area_fraction"] if b["observed_area_fraction"] is not None else np.nan for b in bands],
        float,
    )
    axes[2].barh(mid, np.nan_to_num(frac), height=h * 0.9, color="tab:green", alpha=0.6)
    if not np.isfinite(frac).any():
        axes[2].text(
            0.5,
            0.5,
            "coverage not given\n(exposure = band area)",
            transform=axes[2].transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color="0.3",
        )
    axes[2].set_xlim(0, 1.05)
    axes[2].set_xlabel("Fraction of the band's area seen")
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.grid(True, axis="x", color="0.85", lw=0.5)
        ax.xaxis.set_major_locator(MaxNLocator(4))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.subplots_adjust(wspace=0.12)
    return finish(fig, out, layout="none")


def plot_comparisons(tests: dict, out: Path | None, *, title: str) -> Path | Figure:
    """Forest plot: density ratio (exposure-normalised, exact 95 % interval) and power-per-area ratio
    (bootstrap 95 %) of every comparison, with p-values and verdicts."""
    plt = _mpl()
    names = list(tests)
    fig, ax = plt.subplots(figsize=(10, 1.1 + 0.9 * len(names)))
    for k, name in enumerate(names):
        t = tests[name]
        d, w = t["density"], t["power_weighted"]
        y = len(names) - k
        for dy, r, lo, hi, color, lab in (
            (
                0.15,
                d["ratio"],
                d["ratio_ci_low"],
                d["ratio_ci_high"],
                "tab:blue",
                "density ratio (exact 95 %)",
            ),
            (
                -0.15,
                w["ratio"],
                w["ratio_ci_low"],
                w["ratio_ci_high"],
                "tab:red",
                "power-per-area ratio (bootstrap 95 %)",
            ),
        ):
            if np.isfinite(r) and r > 0:
                ax.errorbar(
                    [r],
                    [y + dy],
                    xerr=[[max(r - lo, 0)], [max(hi - r, 0)]]
                    if np.isfinite(lo) and np.isfinite(hi)
                    else None,
                    fmt="o",
                    color=color,
                    capsize=3,
                    label=lab if k == 0 else None,
                )
        ax.text(
            1.02,
            y,
            f"p(density) = {d['p_value']:.2g}; {t.get('verdict', '')}",
            transform=ax.get_yaxis_transform(),
            fontsize=7,
            va="center",
        )
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(names), 0, -1))
    ax.set_yticklabels([f"{tests[n]['region_a']} / {tests[n]['region_b']}" for n in names], fontsize=8)
    ax.set_xlabel("Ratio of region A to region B (dimensionless; log scale)")
    ax.set_ylim(0.4, len(names) + 0.6)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
    ax.set_title(title, fontsize=10)
    return finish(fig, out, layout="bbox")


def plot_power_curve(
    test: dict,
    calibration: dict | None,
    out: Path | None,
    *,
    title: str,
    alpha: float = 0.05,
    min_power: float = 0.8,
) -> Path | Figure:
    """Exact power of a density test against the true density ratio, with the simulated (calibrated) powers
    and false-positive rate as points."""
    from ioscan.analysis.significance import density_test_power

    plt = _mpl()
    d = test["density"]
    n = d["n_a"] + d["n_b"]
    ratios = np.geomspace(0.25, 4.0, 121)
    power = [density_test_power(n, d["exposure_a_km2"], d["exposure_b_km2"], r, alpha) for r in ratios]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(ratios, power, "k-", lw=1.2, label=f"exact power ({n} hot spots in the two regions)")
    if calibration:
        xs = [float(k) for k in calibration["power_density_at_ratio"]]
        ys = list(calibration["power_density_at_ratio"].values())
        ax.plot(
            xs,
            ys,
            "o",
            color="tab:orange",
            label=f"simulated populations (n = {calibration['n_populations']})",
        )
        ax.plot(
            [1.0],
            [calibration["false_positive_rate_density"]],
            "s",
            color="tab:red",
            label="simulated false-positive rate",
        )
    ax.axhline(min_power, color="0.5", ls="--", lw=0.8)
    ax.axhline(alpha, color="0.5", ls=":", lw=0.8)
    ax.axvline(1.0, color="0.5", lw=0.6)
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    ticks = [0.25, 0.5, 0.67, 1.0, 1.5, 2.0, 4.0]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"True density ratio {test['region_a']} / {test['region_b']} (dimensionless)")
    ax.set_ylabel(f"Probability of p < {alpha:g}")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(title, fontsize=9)
    return finish(fig, out)
