"""Which product a file is, and which version of it: the identity a scan checks before any pixel is read.

Archives re-issue reprocessed products. The PDS3 JIRAM archive puts the version in the ID
(``JIR_IMG_RDR_2017033T114006_V02``) and in ``PRODUCT_VERSION_ID = "02"``; PDS4 has ``version_id``
(``1.0``) beside the logical identifier. A product is identified by its ID *without* the version
(:attr:`ProductIdentity.base_product_id`), its version and the checksum of its data: the versions of one
product share the base ID, and the catalogue keeps the highest version in force (``ioscan.catalog.products``).

:func:`version_key` orders versions numerically field by field (``"02"`` < ``"10"``, ``"1.0"`` < ``"1.1"``);
a product without a version sorts below any version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_VERSION_SUFFIX = re.compile(r"^(?P<base>.+?)_V(?P<version>\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ProductIdentity:
    """What a product is, read from its label or header without reading its pixels.

    Attributes:
        path: the product file (the label of a PDS3 pair).
        product_id: the ID as the archive gives it (``JIR_IMG_RDR_2017033T114006_V02``).
        base_product_id: the ID without the version (``JIR_IMG_RDR_2017033T114006``).
        product_version: the version (``"02"``), or None.
        product_created_utc: when the archive made this version (ISO 8601 UTC), or None.
        checksum_sha256: SHA-256 of the data file(s).
    """

    path: Path
    product_id: str
    base_product_id: str
    product_version: str | None
    product_created_utc: str | None
    checksum_sha256: str


def split_version(product_id: str, declared: str | None = None) -> tuple[str, str | None]:
    """(base ID, version) of ``product_id``: a trailing ``_V<digits>`` is the version unless the label
    ``declared`` one (PRODUCT_VERSION_ID, version_id), which then wins; the base ID never keeps the suffix."""
    pid = product_id.strip()
    declared = (declared or "").strip().strip('"').strip() or None
    match = _VERSION_SUFFIX.match(pid)
    if match is None:
        return pid, declared
    return match.group("base"), declared or match.group("version")


def version_key(version: str | None) -> tuple:
    """A sort key: numeric fields compared as numbers (``"02"`` < ``"10"``; ``"1.0"`` < ``"1.1"``), other text
    as text after them; None (no version) lowest."""
    if version is None or not str(version).strip():
        return ((-1, ""),)
    fields = re.split(r"[._-]", str(version).strip())
    return tuple((0, int(f)) if f.isdigit() else (1, f.upper()) for f in fields)
