"""Writing a report as a self-contained HTML file (figures embedded as base64 PNG) and as a PDF (matplotlib's
``PdfPages``: text and tables flowed onto A4 pages, one figure per page). No network, no browser.

A report is a list of :class:`Section` objects, each holding blocks: :class:`Text`, :class:`Bullets`,
:class:`Table` and :class:`Figure`.
"""

from __future__ import annotations

import base64
import html
import textwrap
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Text:
    """A paragraph."""

    text: str


@dataclass
class Bullets:
    """A bulleted list."""

    items: list[str]


@dataclass
class Table:
    """A table: column headers, rows of cells (already formatted), a caption."""

    columns: list[str]
    rows: list[list]
    caption: str = ""


@dataclass
class Figure:
    """A PNG file and its caption."""

    path: Path
    caption: str = ""


@dataclass
class Section:
    """A titled section of blocks."""

    title: str
    blocks: list = field(default_factory=list)


CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #444; } h2 { font-size: 1.25em; margin-top: 2em;
       border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; vertical-align: top; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: 0.3em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #444; }
.toc a { text-decoration: none; }
"""


def _cell(v) -> str:
    return html.escape("" if v is None else str(v))


def write_html(path: Path, title: str, sections: list[Section], *, subtitle: str = "") -> Path:
    """Write the sections as one self-contained HTML page (images inlined); returns the path."""
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f"<p>{html.escape(subtitle)}</p>")
    parts.append("<nav class='toc'><ol>")
    parts += [f"<li><a href='#s{k}'>{html.escape(s.title)}</a></li>" for k, s in enumerate(sections)]
    parts.append("</ol></nav>")
    for k, sec in enumerate(sections):
        parts.append(f"<h2 id='s{k}'>{html.escape(sec.title)}</h2>")
        for b in sec.blocks:
            if isinstance(b, Text):
                parts.append(f"<p>{html.escape(b.text)}</p>")
            elif isinstance(b, Bullets):
                parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in b.items) + "</ul>")
            elif isinstance(b, Table):
                head = "".join(f"<th>{_cell(c)}</th>" for c in b.columns)
                rows = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>" for r in b.rows)
                cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
                parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif isinstance(b, Figure):
                data = base64.b64encode(Path(b.path).read_bytes()).decode("ascii")
                parts.append(
                    f"<figure><img alt='{html.escape(b.caption)}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>{html.escape(b.caption)}</figcaption></figure>"
                )
    parts.append("</body></html>")
    path = Path(path)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _table_lines(t: Table, width: int) -> list[str]:
    cols = [str(c) for c in t.columns]
    rows = [["" if v is None else str(v) for v in r] for r in t.rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows if i < len(r)]) for i, c in enumerate(cols)]
    widths = [min(w, 28) for w in widths]

    def fmt(cells):
        return "  ".join(
            c[:w].rjust(w) if i else c[:w].ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        )

    lines = [fmt(cols), "-" * min(width, len(fmt(cols)))] + [fmt(r) for r in rows]
    return [line[:width] for line in lines]


def write_pdf(path: Path, title: str, sections: list[Section], *, subtitle: str = "") -> Path:
    """Write the sections to a PDF (A4 portrait): text and tables flowed in lines, each figure on its own
    page scaled to fit; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    page_w, page_h = 8.27, 11.69
    margin, line_h = 0.6, 0.165
    chars = 108
    path = Path(path)
    with PdfPages(path) as pdf:
        state = {"fig": None, "y": 0.0}

        def new_page():
            if state["fig"] is not None:
                pdf.savefig(state["fig"])
                plt.close(state["fig"])
            state["fig"] = plt.figure(figsize=(page_w, page_h))
            state["y"] = page_h - margin

        def line(
            text: str,
            *,
            size: float = 8.0,
            weight: str = "normal",
            family: str = "sans-serif",
            gap: float = 1.0,
        ):
            if state["fig"] is None or state["y"] - line_h * gap < margin:
                new_page()
            state["fig"].text(
                margin / page_w,
                state["y"] / page_h,
                text,
                fontsize=size,
                fontweight=weight,
                family=family,
                va="top",
                ha="left",
            )
            state["y"] -= line_h * gap

        def flush():
            if state["fig"] is not None:
                pdf.savefig(state["fig"])
                plt.close(state["fig"])
                state["fig"] = None

        new_page()
        line(title, size=15, weight="bold", gap=2.2)
        for chunk in textwrap.wrap(subtitle, chars):
            line(chunk)
        for k, sec in enumerate(sections):
            state["y"] -= line_h * 0.8
            line(f"{k + 1}. {sec.title}", size=11, weight="bold", gap=1.6)
            for b in sec.blocks:
                if isinstance(b, Text):
                    for chunk in textwrap.wrap(b.text, chars):
                        line(chunk)
                    state["y"] -= line_h * 0.4
                elif isinstance(b, Bullets):
                    for item in b.items:
                        for i, chunk in enumerate(textwrap.wrap(item, chars - 4)):
                            line(("• " if i == 0 else "  ") + chunk)
                elif isinstance(b, Table):
                    if b.caption:
                        for chunk in textwrap.wrap(b.caption, chars):
                            line(chunk, weight="bold")
                    for t in _table_lines(b, 130):
                        line(t, size=6.3, family="monospace", gap=0.85)
                    state["y"] -= line_h * 0.5
                elif isinstance(b, Figure):
                    flush()
                    fig = plt.figure(figsize=(page_w, page_h))
                    img = mpimg.imread(str(b.path))
                    h, w = img.shape[:2]
                    avail_w, avail_h = page_w - 2 * margin, page_h - 2 * margin - 1.0
                    scale = min(avail_w / w, avail_h / h)
                    fw, fh = w * scale, h * scale
                    ax = fig.add_axes(
                        (margin / page_w, (page_h - margin - fh) / page_h, fw / page_w, fh / page_h)
                    )
                    ax.imshow(img)
                    ax.set_axis_off()
                    y = page_h - margin - fh - 0.2
                    for chunk in textwrap.wrap(b.caption, chars):
                        fig.text(margin / page_w, y / page_h, chunk, fontsize=8, va="top")
                        y -= line_h
                    pdf.savefig(fig)
                    plt.close(fig)
                    new_page()
        flush()
    return path
