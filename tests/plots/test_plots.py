"""Figures a scientist can read without asking: units on every axis and colour bar, detections where their
product line says, a legend for every symbol, a lat/lon grid where there is geometry."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ioscan.plots.frame_overlay import FLAG_STYLES, flag_style, overlay_figure, plot_detections  # noqa: E402
from ioscan.plots.lightcurve import lightcurve_figure  # noqa: E402
from ioscan.records import DetectionFlag  # noqa: E402


@pytest.fixture(scope="module")
def analysed(small_campaign):
    """An I1 (L + M) JIRAM frame navigated with SPICE, with its detections."""
    from ioscan.workflows.process import analyse_product

    for lbl in sorted(small_campaign.metakernel.parent.parent.glob("jiram/*/*.LBL")):
        frame, nav, found = analyse_product(lbl, small_campaign.metakernel)
        if frame.mode == "I1" and any(d.band == "M" for d in found.detections) and nav.backplanes:
            return frame, nav, found
    pytest.skip("no I1 frame with M-band detections in the campaign")


def test_flag_classes_put_non_hot_spots_first():
    assert flag_style(0)[0] == "no flag"
    assert flag_style(int(DetectionFlag.SATURATED | DetectionFlag.NEAR_LIMB))[0].startswith("saturated")
    assert flag_style(int(DetectionFlag.ARTEFACT | DetectionFlag.SATURATED))[0].startswith("not a hot spot")
    assert flag_style(int(DetectionFlag.EDGE))[0].startswith("other flags")
    assert len({s[0] for s in FLAG_STYLES}) == len(FLAG_STYLES)


def test_overlay_uses_product_lines_units_grid_and_a_flag_legend(analysed, tmp_path):
    frame, nav, found = analysed
    fig = overlay_figure(frame, found.detections, navigation=nav)
    try:
        band_axes = [ax for ax in fig.axes if ax.get_ylabel().startswith("line")]
        assert len(band_axes) == len(frame.bands)
        for ax, band in zip(band_axes, frame.bands.values(), strict=True):
            assert ax.get_ylabel() == "line (product line, 0-based)" and ax.get_xlabel() == "sample (0-based)"
            bottom, top = ax.get_ylim()
            first = band.line_offset
            assert first - 0.5 <= top < bottom <= first + band.data.shape[0] - 0.5  # product lines, line down
            mine = [d for d in found.detections if d.band == band.band]
            centres = sorted((round(p.center[0], 6), round(p.center[1], 6)) for p in ax.patches)
            assert centres == sorted((round(d.sample, 6), round(d.line, 6)) for d in mine)  # no band offset
            legend = [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []
            counted = sum(int(t.rsplit(": ", 1)[1]) for t in legend if t.rsplit(": ", 1)[-1].isdigit())
            assert counted == len(mine)
            if nav.backplanes[band.band].on_disk.any():
                assert "limb" in legend
                assert any("latitude °N (planetographic)" in t for t in legend)
                assert any("west longitude °W" in t for t in legend)
                assert len(ax.collections) >= 3  # limb, latitude lines, at least one meridian
        colour_bars = [ax for ax in fig.axes if "radiance" in ax.get_ylabel()]
        assert len(colour_bars) == len(frame.bands)
        assert all("W m⁻² sr⁻¹" in ax.get_ylabel() for ax in colour_bars)
    finally:
        plt.close(fig)
    png = plot_detections(frame, found.detections, tmp_path / "overlay.png", navigation=nav)
    assert png.stat().st_size > 20_000 and not [p for p in tmp_path.iterdir() if "tmp" in p.name]


def test_light_curve_axes_have_units_and_every_symbol_a_legend():
    t = pd.date_range("2017-03-27", periods=6, freq="D").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lc = pd.DataFrame(
        {
            "time_utc": t,
            "value": [20.0, 21.0, 19.5, 60.0, 22.0, 21.0],
            "err": [1.0] * 6,
            "flags": [0, 0, 2, 1, 0, 0],  # near limb (flagged), saturated (a lower limit)
            "source": ["ioscan"] * 4 + ["dekleer2016"] * 2,
        }
    )
    events = pd.DataFrame({"kind": ["outburst"], "time_utc": [t[3]]})
    fig = lightcurve_figure(lc, title="IOS00001 (Loki Patera), M band", events=events)
    try:
        ax = fig.axes[0]
        assert ax.get_xlabel() == "time (UTC)"
        assert "spectral intensity (GW µm⁻¹ sr⁻¹)" in ax.get_ylabel() and "foreshortening" in ax.get_ylabel()
        legend = [x.get_text() for x in ax.get_legend().get_texts()]
        assert "ioscan" in legend and "ioscan (flagged)" in legend
        assert "ioscan: saturated (lower limit)" in legend and "imported: dekleer2016" in legend
        assert "event: outburst" in legend
    finally:
        plt.close(fig)
    assert np.isfinite(lc["value"]).all()
