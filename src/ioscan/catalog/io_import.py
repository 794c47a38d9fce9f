"""Import published hot-spot detections (e.g. ground-based AO photometry) from a CSV file.

Format (header row, comma-separated, UTF-8). Required columns:

* ``time_utc`` — ISO 8601 UTC (``2014-08-29T10:12:00Z``; naive = UTC; day-of-year form accepted)
* ``lat_deg`` — latitude °N, −90…90 (taken as planetographic, ioscan's convention)
* ``lon_w_deg`` — longitude °W, 0…360 (360 is stored as 0)
* ``wavelength_um`` — central wavelength, µm (> 0)
* ``intensity_gw_um_sr`` — spectral intensity, GW µm⁻¹ sr⁻¹, corrected for foreshortening

* ``lat_err_deg``, ``lon_err_deg`` — 1σ position errors, degrees of latitude and of longitude (> 0).
  Tracking weighs every position by its error, so a row without them is refused (line number given) unless
  the import states an error to assume: ``position_err_deg`` (``ioscan import detections
  --position-err-deg D``) fills a missing ``lat_err_deg`` with D and ``lon_err_deg`` with D / cos(lat_deg)
  (D degrees of arc on the surface, as degrees of longitude; at most 180), and records D in ``extra``.

Optional columns: ``intensity_err_gw_um_sr`` (≥ 0; empty = unknown),
``detection_id`` (the publication's ID, unique within the file), ``site_name``, ``observer`` (telescope),
``band`` (filter name; default ``"<wavelength>um"``, e.g. ``"3.78um"``). Any other column is kept in the
detection's ``extra`` JSON object. A file that is not UTF-8 is refused naming the line and column of the
first byte that is not.

Every row is validated before anything is written; the first bad row raises :class:`CatalogError` naming
the file, the line number (the header is line 1) and the problem, and nothing from the file is stored. The
rows are then written in one transaction. Re-importing the same file (same ``source`` and SHA-256 checksum)
stores nothing and returns 0; a ``detection_id`` already stored for ``source`` from another file is an error.

Imported detections have no ``observations`` row (``observation_id`` NULL): each carries its own time,
observer and site name, ``source=<source>``, and ``import_id`` pointing at the ``imports`` record of the file.
Their ``spectral_power_gw_um`` is derived as π × intensity (Lambertian source, as for ioscan's own
detections), with the error scaled the same way.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ioscan.catalog.times import utc_iso
from ioscan.errors import CatalogError

if TYPE_CHECKING:
    from ioscan.catalog.store import Store

REQUIRED = ("time_utc", "lat_deg", "lon_w_deg", "wavelength_um", "intensity_gw_um_sr")
POSITION_ERRORS = ("lat_err_deg", "lon_err_deg")
OPTIONAL = (
    *POSITION_ERRORS,
    "intensity_err_gw_um_sr",
    "detection_id",
    "site_name",
    "observer",
    "band",
)


def _number(text: str, column: str, *, required: bool) -> float | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise ValueError(f"{column} is empty")
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{column} {text!r} is not finite")
    return value


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


_NO_POSITION_ERROR = (
    "{column} is empty: tracking weighs each position by its error; give {columns}, or state an error "
    "to assume with --position-err-deg"
)


def _position_errors(errors: dict, lat: float, position_err_deg: float | None) -> dict | None:
    """Fill missing lat/lon errors from ``position_err_deg`` (degrees of arc); None when none was missing."""
    missing = [c for c in POSITION_ERRORS if errors[c] is None]
    for column in POSITION_ERRORS:
        if errors[column] is not None and errors[column] <= 0:
            raise ValueError(f"{column} {errors[column]} is not positive")
    if not missing:
        return None
    if position_err_deg is None:
        raise ValueError(_NO_POSITION_ERROR.format(column=missing[0], columns=" and ".join(POSITION_ERRORS)))
    if errors["lat_err_deg"] is None:
        errors["lat_err_deg"] = position_err_deg
    if errors["lon_err_deg"] is None:
        coslat = math.cos(math.radians(lat))
        errors["lon_err_deg"] = min(180.0, position_err_deg / coslat) if coslat > 1e-9 else 180.0
    return {"assumed_position_err_deg": position_err_deg, "assumed": missing}


def parse_row(raw: dict[str, str], *, position_err_deg: float | None = None) -> dict[str, Any]:
    """One CSV row → a ``detections`` row; raises ValueError describing the first problem. Missing position
    errors are an error unless ``position_err_deg`` (degrees of arc) says what to assume."""
    try:
        time_utc = utc_iso(raw.get("time_utc") or "")
    except ValueError as exc:
        raise ValueError(f"time_utc: {exc}") from None
    lat = _number(raw["lat_deg"], "lat_deg", required=True)
    lon = _number(raw["lon_w_deg"], "lon_w_deg", required=True)
    wavelength = _number(raw["wavelength_um"], "wavelength_um", required=True)
    intensity = _number(raw["intensity_gw_um_sr"], "intensity_gw_um_sr", required=True)
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"lat_deg {lat} outside −90…90")
    if not 0.0 <= lon <= 360.0:
        raise ValueError(f"lon_w_deg {lon} outside 0…360 (west longitude)")
    if wavelength <= 0:
        raise ValueError(f"wavelength_um {wavelength} is not positive")
    errors = {}
    for column in ("lat_err_deg", "lon_err_deg", "intensity_err_gw_um_sr"):
        value = _number(raw.get(column, ""), column, required=False)
        if value is not None and value < 0:
            raise ValueError(f"{column} {value} is negative")
        errors[column] = value
    assumed = _position_errors(errors, lat, position_err_deg)
    band = _text(raw.get("band")) or f"{wavelength:.2f}um"
    if len(band) > 16:
        raise ValueError(f"band {band!r} longer than 16 characters")
    detection_id = _text(raw.get("detection_id"))
    if detection_id is not None and len(detection_id) > 64:
        raise ValueError(f"detection_id {detection_id!r} longer than 64 characters")
    extra = {k: v for k, v in raw.items() if k not in REQUIRED + OPTIONAL and _text(v)}
    if assumed:
        extra.update(assumed)
    i_err = errors["intensity_err_gw_um_sr"]
    return {
        "time_utc": time_utc,
        "band": band,
        "wavelength_um": wavelength,
        "lat_deg": lat,
        "lon_w_deg": lon % 360.0,
        "lat_err_deg": errors["lat_err_deg"],
        "lon_err_deg": errors["lon_err_deg"],
        "spectral_intensity_gw_um_sr": intensity,
        "spectral_intensity_err_gw_um_sr": i_err,
        "spectral_power_gw_um": math.pi * intensity,
        "spectral_power_err_gw_um": None if i_err is None else math.pi * i_err,
        "detection_id": detection_id,
        "site_name": _text(raw.get("site_name")),
        "observer": _text(raw.get("observer")),
        "flags": 0,
        "extra": extra or None,
    }


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text; CatalogError naming the line and column of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise CatalogError(
            f"{path}: line {line}, column {column}: not UTF-8 text (byte 0x{data[start]:02x}: {exc.reason}); "
            "save the file as UTF-8"
        ) from None


def read_detections_csv(
    path: str | Path, *, position_err_deg: float | None = None
) -> tuple[list[dict[str, Any]], list[int], str]:
    """Parse and validate a whole file: (rows, their line numbers, SHA-256 of the file)."""
    path = Path(path)
    if position_err_deg is not None and not (math.isfinite(position_err_deg) and position_err_deg > 0):
        raise CatalogError(
            f"{path}: the assumed position error must be a positive angle, not {position_err_deg}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = _decode(path, data)
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise CatalogError(f"{path}: line 1: {exc}") from None
    if not any(header):
        raise CatalogError(f"{path}: line 1: empty file (no header row)")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CatalogError(f"{path}: line 1: header lacks required column(s) {missing}")
    no_errors = [c for c in POSITION_ERRORS if c not in header]
    if no_errors and position_err_deg is None:
        raise CatalogError(
            f"{path}: line 1: header lacks {' and '.join(no_errors)}: tracking weighs each position by its "
            "error; add the column(s), or state an error to assume with --position-err-deg"
        )
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise CatalogError(f"{path}: line 1: duplicate column(s) {dup}")
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    seen: dict[str, int] = {}
    next_line = reader.line_num + 1
    while True:
        line = next_line  # first physical line of this record
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CatalogError(f"{path}: line {line}: {exc}") from None
        next_line = reader.line_num + 1
        if not any(f.strip() for f in fields):
            continue  # blank line
        if len(fields) != len(header):
            raise CatalogError(
                f"{path}: line {line}: {len(fields)} fields where the header has {len(header)}"
            )
        try:
            row = parse_row(dict(zip(header, fields, strict=True)), position_err_deg=position_err_deg)
        except ValueError as exc:
            raise CatalogError(f"{path}: line {line}: {exc}") from None
        det_id = row["detection_id"]
        if det_id is not None:
            if det_id in seen:
                raise CatalogError(
                    f"{path}: line {line}: detection_id {det_id!r} already used on line {seen[det_id]}"
                )
            seen[det_id] = line
        rows.append(row)
        lines.append(line)
    return rows, lines, hashlib.sha256(data).hexdigest()


def import_detections_csv(
    store: Store, path: str | Path, source: str, *, position_err_deg: float | None = None
) -> int:
    """Import a published detection table as detections with ``source=source``; returns rows stored
    (0 when this file was already imported under ``source``). See the module docs for the format and
    ``position_err_deg``."""
    source = (source or "").strip()
    if not source or len(source) > 64:
        raise CatalogError(f"{path}: import source name must be 1–64 characters, got {source!r}")
    rows, lines, checksum = read_detections_csv(path, position_err_deg=position_err_deg)
    return store.add_imported_detections(source, str(Path(path)), checksum, rows, lines)
