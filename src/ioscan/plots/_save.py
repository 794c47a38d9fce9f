"""Writing a matplotlib figure to a PNG (one place for the format, resolution and clean-up)."""

from __future__ import annotations

from pathlib import Path


def save_png(fig, out: Path | str, dpi: int = 110) -> Path:
    """Lay out ``fig``, write it to ``out`` (folders created), close it and return the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
