"""A frame with its detections circled (PNG), one panel per band, in the product's own orientation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ioscan.plots._save import save_png


def plot_detections(frame, detections, out: Path, *, navigation=None) -> Path:
    """Write a PNG of every band of ``frame`` with ``detections`` circled (flagged ones dashed) and, when
    ``navigation`` has geometry, the limb drawn from the ``limb_distance_px`` backplane."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bands = list(frame.bands.values())
    fig, axes = plt.subplots(len(bands), 1, figsize=(9, 3.2 * len(bands)), squeeze=False)
    for ax, band in zip(axes[:, 0], bands, strict=True):
        data = band.data
        finite = data[np.isfinite(data)]
        lo, hi = np.percentile(finite, [1, 99.7]) if finite.size else (0.0, 1.0)
        ax.imshow(
            data,
            cmap="gray",
            vmin=lo,
            vmax=hi if hi > lo else lo + 1,
            origin="upper",
            interpolation="nearest",
        )
        if navigation is not None and band.band in navigation.backplanes:
            ax.contour(
                navigation.backplanes[band.band]["limb_distance_px"],
                levels=[0.0],
                colors="tab:cyan",
                linewidths=0.6,
            )
        for d in detections:
            if d.band != band.band:
                continue
            style = "--" if d.flags else "-"
            ax.add_patch(
                plt.Circle(
                    (d.sample, d.line - band.line_offset),
                    4,
                    fill=False,
                    ls=style,
                    color="tab:orange" if d.flags else "tab:red",
                    lw=1.0,
                )
            )
        ax.set_title(f"{frame.product_id} {band.band} ({band.unit})", fontsize=9)
        ax.set_xlabel("sample")
        ax.set_ylabel("line")
    return save_png(fig, out)
