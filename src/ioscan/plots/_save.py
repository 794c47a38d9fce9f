"""Writing a matplotlib figure to a PNG (one place for the format, resolution and clean-up)."""

from __future__ import annotations

from pathlib import Path


def save_png(fig, out: Path | str, dpi: int = 110) -> Path:
    """Lay out ``fig``, write it to ``out`` (folders created; written to a temporary file and moved into
    place, so a failed write leaves no half-written PNG), close it and return the path."""
    import matplotlib.pyplot as plt

    from ioscan.outfiles import atomic_output

    path = Path(out)
    try:
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return path
