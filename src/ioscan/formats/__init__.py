"""Product readers and writers; every reader returns a :class:`ioscan.records.Frame`.

* :mod:`ioscan.formats.jiram_pds3` — Juno JIRAM imager RDRs (PDS3 ``.LBL`` + ``.IMG``);
* :mod:`ioscan.formats.fits_ground` — ground-based AO frames (Keck NIRC2-like FITS);
* :mod:`ioscan.formats.pds4` — PDS4 ``Array_2D_Image`` products.

:func:`read_product` picks the reader from the file name; :func:`search_products` lists the products under
directories (one entry per product: the label of a PDS3 pair) and what could not be searched;
:func:`product_identity` says which product and version a file is without reading its pixels.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ioscan.errors import ProductError
from ioscan.formats._common import file_checksum_sha256
from ioscan.records import Frame

__all__ = [
    "ProductSearch",
    "file_checksum_sha256",
    "find_products",
    "product_identity",
    "product_kind",
    "read_product",
    "search_products",
    "shown_path",
]

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


@dataclass
class ProductSearch:
    """What :func:`search_products` found.

    Attributes:
        products: one entry per product (the ``.LBL`` of a JIRAM pair), sorted.
        problems: (path as shown, reason) of entries that cannot be scanned (a name that is not UTF-8, a
            folder that cannot be listed, a broken link): reported, never silently dropped.
        notes: folders reached twice through symbolic links (loops included), searched once.
    """

    products: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def shown_path(path: Path | str) -> str:
    """A path as text that can always be printed and stored: bytes that are not UTF-8 as ``\\xNN``."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


_NOT_UTF8_FILE = "file name is not valid UTF-8 (rename the file to scan it)"


def _utf8_name(path: Path | str) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _looks_like_product(name: str) -> bool:
    low = name.lower()
    return low.endswith(FITS_SUFFIXES) or low.endswith((".lbl", ".xml", ".img"))


class _Walker:
    """A recursive folder walk that follows symbolic links to folders once (by device and inode), notes
    loops, and keeps each product file once however many paths lead to it."""

    def __init__(self, result: ProductSearch):
        self.result = result
        self.seen_dirs: dict[tuple[int, int], Path] = {}
        self.seen_files: set[tuple[int, int]] = set()

    def add_file(self, f: Path) -> None:
        if not _utf8_name(f):
            if _looks_like_product(f.name):
                self.result.problems.append((shown_path(f), _NOT_UTF8_FILE))
            return
        entry = _walk_candidate(f)
        if entry is None:
            return
        try:
            st = entry.stat()
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        if key not in self.seen_files:
            self.seen_files.add(key)
            self.result.products.append(entry)

    def walk(self, folder: Path, ancestors: tuple[tuple[int, int], ...] = ()) -> None:
        try:
            st = folder.stat()
        except OSError as exc:
            self.result.problems.append((shown_path(folder), f"cannot read folder: {exc.strerror or exc}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in self.seen_dirs:
            first = shown_path(self.seen_dirs[key])
            what = "symbolic link loop" if key in ancestors else "already searched"
            self.result.notes.append(f"{shown_path(folder)}: {what} (the same folder as {first}), not again")
            return
        self.seen_dirs[key] = folder
        if not _utf8_name(folder):
            self.result.problems.append(
                (shown_path(folder), "folder name is not valid UTF-8 (rename it to scan what it holds)")
            )
            return
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.result.problems.append((shown_path(folder), f"cannot list folder: {exc.strerror or exc}"))
            return
        for e in entries:
            if e.name.startswith("."):
                continue
            path = folder / e.name
            try:
                is_dir, is_file = e.is_dir(), e.is_file()  # both follow symbolic links
            except OSError:
                is_dir = is_file = False
            if is_dir:
                self.walk(path, (*ancestors, key))
            elif is_file:
                self.add_file(path)
            elif e.is_symlink() and _looks_like_product(e.name):
                self.result.problems.append((shown_path(path), "broken symbolic link"))


def search_products(paths: Iterable[Path]) -> ProductSearch:
    """Products under ``paths`` (files or folders, walked recursively, hidden entries skipped, symbolic links
    to folders followed once: loops and folders reached twice are noted, not walked again).

    One entry per product (the ``.LBL`` of a JIRAM pair, never the ``.IMG``); a file given explicitly is
    kept even if it does not look like a product (so reading it reports why), except that an explicit
    ``.IMG`` is replaced by its label when one is beside it. Entries whose name is not UTF-8 (they could
    not be stored or printed faithfully) are listed in ``problems``, not in ``products``.
    """
    result = ProductSearch()
    walker = _Walker(result)
    explicit: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            walker.walk(p)
        elif not _utf8_name(p):
            result.problems.append((shown_path(p), _NOT_UTF8_FILE))
        elif p.suffix.lower() == ".img" and _sibling_label(p) is not None:
            explicit.append(_sibling_label(p))  # type: ignore[arg-type]
        else:
            explicit.append(p)
    found = set(result.products)
    for p in explicit:
        try:
            st = p.stat()
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = None
        if key is not None and key in walker.seen_files and p not in found:
            continue  # the same file was reached through a folder
        if key is not None:
            walker.seen_files.add(key)
        found.add(p)
    result.products = sorted(found, key=lambda q: str(q))
    return result


def find_products(paths: Iterable[Path]) -> list[Path]:
    """The products of :func:`search_products` (without its problems and notes)."""
    return search_products(paths).products


def product_identity(path: Path, *, quick: bool = True):
    """Which product ``path`` is and which version (:class:`~ioscan.formats.versions.ProductIdentity`), from
    its label or header and the checksum of its data, without decoding pixels. ``quick`` False: a JIRAM
    label is parsed whole by pdr and kept for the read that follows in this process (the same identity;
    :func:`~ioscan.formats.jiram_pds3.read_jiram_identity`). Raises ProductError."""
    path = Path(path)
    if not path.exists():
        raise ProductError(f"{path}: no such file")
    kind = product_kind(path)
    if kind == "fits":
        from ioscan.formats.fits_ground import read_fits_identity

        return read_fits_identity(path)
    if kind == "pds4":
        from ioscan.formats.pds4 import read_pds4_identity

        return read_pds4_identity(path)
    from ioscan.formats.jiram_pds3 import read_jiram_identity

    label = path if path.suffix.lower() == ".lbl" else _sibling_label(path)
    return read_jiram_identity(label, quick=quick)  # type: ignore[arg-type]
