"""The catalogue's one time format: fixed-width ISO 8601 UTC text.

Every ``*_utc`` column stores ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (27 characters, always microseconds, always
``Z``). The same text works on SQLite and PostgreSQL, reads back unchanged, and sorts lexically in time order,
so range filters and the light-curve index work on plain string comparison. Naive inputs are taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_iso(value: Any) -> str:
    """Normalise a time to the catalogue's text form.

    Accepts ISO 8601 strings (``2022-03-01T12:00:00Z``, with an offset, naive = UTC, or day-of-year
    ``2022-060T12:00:00``), ``datetime`` (naive = UTC), ``pandas.Timestamp``, ``numpy.datetime64`` and astropy
    ``Time``. Raises ValueError with the offending value when it cannot be read.
    """
    if value is None:
        raise ValueError("time is missing")
    if hasattr(value, "utc") and hasattr(value, "isot"):  # astropy Time
        value = value.utc.isot
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    if type(value).__name__ == "datetime64":
        import numpy as np

        value = str(np.datetime_as_string(value, unit="us"))
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        dt = _parse(value.strip())
    else:
        raise ValueError(f"cannot read time {value!r} (type {type(value).__name__})")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime(ISO_FORMAT)


def _parse(text: str) -> datetime:
    if not text:
        raise ValueError("time is empty")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    # day-of-year form (PDS labels): YYYY-DDDTHH:MM:SS[.fff][Z]
    core = text[:-1] if text.endswith("Z") else text
    for fmt in ("%Y-%jT%H:%M:%S.%f", "%Y-%jT%H:%M:%S", "%Y-%j"):
        try:
            return datetime.strptime(core, fmt)
        except ValueError:
            continue
    raise ValueError(f"cannot read time {text!r} (expected ISO 8601 UTC)")
