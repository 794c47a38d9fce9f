"""Finishing a report figure: write it to a PNG, or hand it back for inspection (``out=None``)."""

from __future__ import annotations

from pathlib import Path


def finish(fig, out: Path | str | None, *, layout: str = "tight", dpi: int = 110):
    """Return ``fig`` when ``out`` is None (tests look at its axes); otherwise lay it out (``"tight"``:
    tight_layout; ``"bbox"``: a tight bounding box on saving; ``"none"``: as arranged), write it to ``out``
    (folders created), close it and return the path."""
    if out is None:
        return fig
    import matplotlib.pyplot as plt

    if layout == "tight":
        fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight" if layout == "bbox" else None)
    plt.close(fig)
    return path
