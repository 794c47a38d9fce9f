"""An external time series supplied as CSV (e.g. Io plasma torus emission), read with clear errors.

Columns: ``time_utc`` (ISO 8601 UTC), ``value`` (any unit; name it with ``--external-label``) and optionally
``err`` (1σ, same unit). Other columns are ignored. A problem raises :class:`ExternalSeriesError` naming the
file and, for a bad row, its line number (the header is line 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ioscan.errors import IoscanError

REQUIRED = ("time_utc", "value")


class ExternalSeriesError(IoscanError):
    """An external time-series file that cannot be used (names the file and the line)."""


def read_external_series(path: str | Path) -> pd.DataFrame:
    """The series in ``path``: DataFrame ``time_utc`` (datetime64, UTC, naive), ``value``, ``err`` (NaN when
    absent), sorted by time."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True, comment="#")
    except FileNotFoundError:
        raise ExternalSeriesError(f"external series {path}: no such file") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExternalSeriesError(f"external series {path}: cannot read it as CSV ({detail})") from None
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise ExternalSeriesError(
            f"external series {path}: missing column(s) {', '.join(missing)} (need time_utc, value[, err])"
        )
    if raw.empty:
        raise ExternalSeriesError(f"external series {path}: no rows")
    times = pd.to_datetime(raw["time_utc"].str.strip().str.rstrip("Zz"), errors="coerce", format="ISO8601")
    bad = times.isna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise ExternalSeriesError(
            f"external series {path}: line {i + 2}: time_utc {raw['time_utc'].iloc[i]!r} is not an ISO "
            "8601 time"
        )
    out = pd.DataFrame({"time_utc": times.dt.tz_localize(None) if times.dt.tz is not None else times})
    for col in ("value", "err"):
        if col not in raw.columns:
            out[col] = np.nan
            continue
        vals = pd.to_numeric(raw[col].str.strip(), errors="coerce")
        bad = vals.isna() & raw[col].notna() & (raw[col].str.strip() != "")
        if col == "value":
            bad |= vals.isna()
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise ExternalSeriesError(
                f"external series {path}: line {i + 2}: {col} {raw[col].iloc[i]!r} is not a number"
            )
        out[col] = vals.to_numpy(float)
    if (out["err"] < 0).any():
        i = int(np.argmax((out["err"] < 0).to_numpy()))
        raise ExternalSeriesError(f"external series {path}: line {i + 2}: err must not be negative")
    return out.sort_values("time_utc", kind="stable").reset_index(drop=True)
