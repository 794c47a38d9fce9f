"""Product readers and writers; every reader returns a :class:`ioscan.records.Frame`.

* :mod:`ioscan.formats.jiram_pds3` — Juno JIRAM imager RDRs (PDS3 ``.LBL`` + ``.IMG``);
* :mod:`ioscan.formats.fits_ground` — ground-based AO frames (Keck NIRC2-like FITS);
* :mod:`ioscan.formats.pds4` — PDS4 ``Array_2D_Image`` products.

:func:`read_product` picks the reader from the file name; :func:`find_products` lists the products under
directories (one entry per product: the label of a PDS3 pair).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ioscan.errors import ProductError
from ioscan.formats._common import file_checksum_sha256
from ioscan.records import Frame

__all__ = ["file_checksum_sha256", "find_products", "product_kind", "read_product"]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")
_JIRAM_IMG_LABEL = re.compile(rb'PRODUCT_ID\s*=\s*"?JIR_IMG_RDR', re.IGNORECASE)
_HEAD_BYTES = 4096


def _sibling_label(img: Path) -> Path | None:
    for suffix in (".LBL", ".lbl", ".Lbl"):
        cand = img.with_suffix(suffix)
        if cand.is_file():
            return cand
    return None


def product_kind(path: Path) -> str:
    """``"jiram_pds3"``, ``"fits"`` or ``"pds4"`` from the file name; ProductError otherwise."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(FITS_SUFFIXES):
        return "fits"
    suffix = path.suffix.lower()
    if suffix == ".lbl":
        return "jiram_pds3"
    if suffix == ".img":
        if _sibling_label(path) is None:
            raise ProductError(f"{path.name}: PDS3 data file without a detached .LBL label beside it")
        return "jiram_pds3"
    if suffix == ".xml":
        return "pds4"
    raise ProductError(f"{path.name}: unknown product kind (expected .LBL/.IMG, .fits[.gz] or PDS4 .xml)")


def read_product(path: Path) -> Frame:
    """Read any supported product (see :func:`product_kind`) into a Frame. Raises ProductError."""
    path = Path(path)
    if not path.exists():
        raise ProductError(f"{path}: no such file")
    kind = product_kind(path)
    if kind == "fits":
        from ioscan.formats.fits_ground import read_ground_fits

        return read_ground_fits(path)
    if kind == "pds4":
        from ioscan.formats.pds4 import read_pds4

        return read_pds4(path)
    from ioscan.formats.jiram_pds3 import read_jiram_rdr

    label = path if path.suffix.lower() == ".lbl" else _sibling_label(path)
    return read_jiram_rdr(label)  # type: ignore[arg-type]


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(_HEAD_BYTES)
    except OSError:
        return b""


def _walk_candidate(path: Path) -> Path | None:
    """In a directory walk: the product entry for this file, or None when it is not a product we read.

    JIRAM: labels whose PRODUCT_ID is ``JIR_IMG_RDR...`` (spectrometer, index and catalogue labels are
    skipped; ``.IMG`` files are represented by their label). PDS4: ``.xml`` holding a
    ``Product_Observational``. FITS: by suffix.
    """
    name = path.name.lower()
    if name.endswith(FITS_SUFFIXES):
        return path
    suffix = path.suffix.lower()
    if suffix == ".lbl":
        return (
            path
            if (path.stem.upper().startswith("JIR_IMG_RDR") or _JIRAM_IMG_LABEL.search(_head(path)))
            else None
        )
    if suffix == ".xml":
        return path if b"Product_Observational" in _head(path) else None
    return None


def find_products(paths: Iterable[Path]) -> list[Path]:
    """Products under ``paths`` (files or directories, walked recursively, hidden entries skipped).

    One entry per product (the ``.LBL`` of a JIRAM pair, never the ``.IMG``); a file given explicitly is
    kept even if it does not look like a product (so reading it reports why), except that an explicit
    ``.IMG`` is replaced by its label when one is beside it. Sorted, duplicates removed.
    """
    found: set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in p.rglob("*"):
                if any(part.startswith(".") for part in f.relative_to(p).parts) or not f.is_file():
                    continue
                entry = _walk_candidate(f)
                if entry is not None:
                    found.add(entry)
        elif p.suffix.lower() == ".img" and _sibling_label(p) is not None:
            found.add(_sibling_label(p))  # type: ignore[arg-type]
        else:
            found.add(p)
    return sorted(found, key=lambda q: str(q))
