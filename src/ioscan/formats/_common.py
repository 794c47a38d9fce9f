"""Helpers shared by the format modules: checksums, ISO times, PDS3 value formatting."""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime, timedelta
from pathlib import Path

from ioscan.errors import ProductError
from ioscan.records import BAND_RADIANCE_UNIT, SPECTRAL_RADIANCE_UNIT

_CHUNK = 1 << 20


def file_checksum_sha256(path: Path | str) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def parse_utc(text: str, *, where: Path | str, what: str) -> datetime:
    """ISO 8601 UTC string (optional trailing ``Z``, day-of-year form ``YYYY-DDDThh:mm:ss`` accepted)
    → naive datetime. Raises ProductError naming ``where`` and the keyword ``what``."""
    s = str(text).strip().strip('"').rstrip("Zz")
    try:
        if re.fullmatch(r"\d{4}-\d{3}(T.*)?", s):  # PDS day-of-year form
            date, _, clock = s.partition("T")
            day0 = datetime.strptime(date, "%Y-%j")
            return datetime.fromisoformat(day0.strftime("%Y-%m-%d") + ("T" + clock if clock else ""))
        return datetime.fromisoformat(s)
    except ValueError as exc:
        raise ProductError(f"{Path(where).name}: {what} = {text!r} is not an ISO 8601 UTC time") from exc


def iso_utc(t: datetime) -> str:
    """datetime → ISO 8601 with microseconds (``2022-03-04T08:34:55.123456``), no zone suffix."""
    return t.isoformat(timespec="microseconds")


def mid_time(start: datetime, stop: datetime) -> datetime:
    """Midpoint of two datetimes."""
    return start + (stop - start) / 2


def add_seconds(t: datetime, seconds: float) -> datetime:
    return t + timedelta(seconds=seconds)


def pds3_real(x: float) -> str:
    """A float as a PDS3 real literal that round-trips exactly (shortest repr, ``E`` exponent, has a dot)."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"cannot write non-finite value {x} in a PDS3 label")
    s = repr(x).upper()
    mant, _, exp = s.partition("E")
    if "." not in mant:
        mant += ".0"
    return mant + ("E" + exp if exp else "")


def pds3_quote(s: str) -> str:
    """A PDS3 quoted string (double quotes inside are not allowed in PDS3 and are rejected)."""
    if '"' in s:
        raise ValueError(f"PDS3 strings cannot contain double quotes: {s!r}")
    return f'"{s}"'


def radiance_unit_and_scale(unit_text, *, where: Path | str, keyword: str = "unit") -> tuple[str, float]:
    """A product's radiance unit → (Frame unit, factor to multiply pixel values by).

    Spectral radiance (W m⁻² sr⁻¹ µm⁻¹) and band radiance (W m⁻² sr⁻¹) in any spelling astropy.units
    parses (``W/(m**2*sr*micron)``, ``mW m-2 sr-1 um-1``...). Anything else (counts, DN, missing) raises
    ProductError: ioscan needs calibrated frames. Not used for JIRAM (see ``jiram_pds3.jiram_pixel_unit``).
    """
    name = Path(where).name
    if unit_text is None or not str(unit_text).strip():
        raise ProductError(f"{name}: no {keyword}: ioscan needs flux-calibrated frames")
    text = str(unit_text).strip()
    if text in (SPECTRAL_RADIANCE_UNIT, BAND_RADIANCE_UNIT):
        return text, 1.0
    import astropy.units as u

    try:
        parsed = u.Unit(text.replace("micron", "um").replace("^", "**"), parse_strict="raise")
    except ValueError as exc:
        raise ProductError(f"{name}: {keyword} {text!r} is not a unit astropy understands") from exc
    for target in (SPECTRAL_RADIANCE_UNIT, BAND_RADIANCE_UNIT):
        try:
            return target, float(parsed.to(u.Unit(target)))
        except u.UnitConversionError:
            continue
    raise ProductError(
        f"{name}: {keyword} {text!r} is not a radiance (W m-2 sr-1 [um-1]): "
        "ioscan needs flux-calibrated frames"
    )
