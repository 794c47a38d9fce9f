"""A product's catalogue rows, made without a database: what a scan's Dask workers make, so that the single
writer only inserts (:func:`product_rows`, :class:`ProductRows`).

Nothing here imports SQLAlchemy or pandas (a worker's start-up: ~0.17 s less CPU than importing
:mod:`ioscan.catalog.store`); the columns are the records' fields as :mod:`ioscan.catalog.schema` makes
them, and which detection fields are stored as floats follows the same rule as the schema's column types
(:func:`detection_float_fields`; tested against the schema).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import operator
import sys
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ioscan.catalog.times import utc_iso
from ioscan.errors import CatalogError
from ioscan.formats.versions import split_version
from ioscan.records import GEOMETRY_SOURCES, BandSummary, Detection, Observation

#: the longest ``product_key`` a catalogue stores (characters)
PRODUCT_KEY_LENGTH = 256

DETECTION_FIELDS = tuple(f.name for f in dataclasses.fields(Detection))
#: the fields of an observation's and a band's rows (their values taken as they are: scalars and text, which
#: ``dataclasses.asdict``'s deep copy left as they were)
_OBSERVATION_FIELDS = tuple(f.name for f in dataclasses.fields(Observation))
_BAND_FIELDS = tuple(f.name for f in dataclasses.fields(BandSummary))


#: field metadata keys that decide a record field's column type whatever its annotation
#: (:func:`ioscan.catalog.schema.record_columns`)
COLUMN_TYPE_MARKERS = ("json", "time", "text", "length")


def annotation_base_type(hint: object) -> object:
    """A field annotation without its ``| None`` (``float | None`` → ``float``); others as they are."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if isinstance(hint, types.UnionType) and len(args) == 1 else hint


def detection_float_fields() -> frozenset[str]:
    """The :class:`~ioscan.records.Detection` fields whose catalogue column is a float: annotated ``float``
    (or ``float | None``) without a :data:`COLUMN_TYPE_MARKERS` marker (the rule of
    :func:`ioscan.catalog.schema.record_columns`)."""
    hints = typing.get_type_hints(Detection)
    return frozenset(
        f.name
        for f in dataclasses.fields(Detection)
        if not any(f.metadata.get(k) for k in COLUMN_TYPE_MARKERS)
        and annotation_base_type(hints[f.name]) is float
    )


_DETECTION_FLOATS = detection_float_fields()


def product_key(base_product_id: str, product_version: str | None, checksum_sha256: str | None) -> str:
    """``"<base>|<version>|<checksum>"`` (empty fields for a missing version or checksum)."""
    key = f"{base_product_id}|{product_version or ''}|{checksum_sha256 or ''}"
    if len(key) > PRODUCT_KEY_LENGTH:
        raise CatalogError(f"{base_product_id}: product ID too long ({len(base_product_id)} characters)")
    return key


def identity_fields(product_id: str, base_product_id: str | None, product_version: str | None) -> tuple:
    """(base ID, version) of a stored product: as given, or split from a ``_V<nn>`` product-ID suffix."""
    if base_product_id:
        return base_product_id, product_version
    return split_version(product_id, product_version)


def _clean(value: Any) -> Any:
    """Python scalars for the database: NaN/inf → None, numpy scalars → Python."""
    if value is None:
        return None
    pd = sys.modules.get("pandas")  # a value can be pandas' NA only once pandas is imported
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_safe(obj: Any) -> Any:
    """A JSON-ready copy: numpy scalars/arrays → lists and numbers, NaN → None, Paths → str."""
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _json_safe(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    return _clean(obj)


def _float_or_none(value: Any) -> float | None:
    value = _clean(value)
    return None if value is None else float(value)


_PLAIN = (int, str, bool, type(None))


def _plain_float(value: Any) -> float | None:
    """A finite Python float (NaN/inf → None), fast for the floats and numpy floats detections carry."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return _float_or_none(value)  # pd.NA and friends; raises as before for the rest
    return value if math.isfinite(value) else None


def _plain_json(value: Any) -> Any:
    """:func:`_json_safe`, fast for mappings of Python numbers, text and mappings (what ``extra`` holds)."""
    if type(value) is not dict:
        return _json_safe(value)
    out = {}
    for key, v in value.items():
        kind = type(v)
        if kind is float:
            out[str(key)] = v if math.isfinite(v) else None
        elif kind in _PLAIN:
            out[str(key)] = v
        else:
            out[str(key)] = _plain_json(v)
    return out


#: how each detection field is stored: "float", "int", "extra" or anything else (cleaned as it is)
_DETECTION_KINDS = tuple(
    (
        name,
        "extra"
        if name == "extra"
        else "float"
        if name in _DETECTION_FLOATS
        else "int"
        if name in ("flags", "n_pixels")
        else "other",
    )
    for name in DETECTION_FIELDS
)


def _detection_row(det: Detection) -> dict[str, Any]:
    if not isinstance(det, Detection):
        raise CatalogError(f"expected a Detection record, got {type(det).__name__}")
    row: dict[str, Any] = {}
    values = vars(det)
    for name, kind in _DETECTION_KINDS:
        value = values[name]
        if kind == "float":
            row[name] = _plain_float(value)
        elif kind == "extra":
            row[name] = _plain_json(value) if value else None
        elif kind == "int":
            value = _clean(value)
            row[name] = None if value is None else int(value)
        else:
            row[name] = value if type(value) is str else _clean(value)
    if row["flags"] is None:
        row["flags"] = 0
    return row


def _check_text(product: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """CatalogError naming the field whose text cannot be stored (e.g. a file name that is not UTF-8)."""
    for row in rows:
        for key, value in row.items():
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    shown_value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                    raise CatalogError(f"{product}: {key} {shown_value!r} is not valid UTF-8 text") from None


def _check_text_columns(product: str, names: Sequence[str], columns: Sequence[list]) -> None:
    """:func:`_check_text` of the rows whose values are ``columns`` (one list per name in ``names``, a value
    per row), the same error for the same first bad text: all their text encoded at once (a string that
    cannot be encoded alone cannot be encoded among others: Python's strings never pair surrogates), row by
    row only when that fails."""
    text = [v for column in columns for v in column if isinstance(v, str)]
    try:
        "".join(text).encode("utf-8")
    except UnicodeEncodeError:
        _check_text(product, (dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)))


#: the types of float-column values :func:`_detection_values` converts with numpy (exactly as
#: :func:`_plain_float` does: a float or numpy float as a Python float, NaN/inf and None as None); other
#: values (ints, text, pandas' NA...) column by column through :func:`_plain_float`
_NUMPY_FLOATS = frozenset({float, np.float64, np.float32, type(None)})
_FLOAT_NAMES = tuple(name for name, kind in _DETECTION_KINDS if kind == "float")
_get_floats = operator.itemgetter(*_FLOAT_NAMES)
#: the detection fields that may hold text (the others are stored as numbers or JSON)
_TEXT_NAMES = tuple(name for name, kind in _DETECTION_KINDS if kind == "other")


def _float_columns(states: list[dict[str, Any]]) -> dict[str, list]:
    """The float fields of the detections whose ``vars`` are ``states``, as :func:`_detection_row` stores
    them (:func:`_plain_float`), one list per field: all at once with numpy when they hold floats and None
    only."""
    rows = [_get_floats(s) for s in states]
    if set(map(type, itertools.chain.from_iterable(rows))) <= _NUMPY_FLOATS:
        values = np.array(rows, dtype=float)  # None → NaN
        out = values.astype(object)  # each value as a Python float, exactly
        out[~np.isfinite(values)] = None
        return dict(zip(_FLOAT_NAMES, out.T.tolist(), strict=True))
    columns = zip(_FLOAT_NAMES, zip(*rows, strict=True), strict=True)
    return {name: [_plain_float(v) for v in col] for name, col in columns}


def _int_column(values: list) -> list:
    """:func:`_detection_row`'s integer column: ints as they are, the rest through :func:`_clean`."""
    if all(type(v) is int for v in values):
        return values
    return [None if (c := _clean(v)) is None else int(c) for v in values]


def _json_texts(values: Iterable[Any]) -> list[str]:
    """:func:`json_text` of each value (``json.dumps``' text: its C encoder with ``json.dumps``' settings,
    made once for all the values instead of once per value)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has the C encoder
        return [json_text(v) for v in values]
    default = json.JSONEncoder().default
    encode = make({}, default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)
    return ["".join(encode(v, 0)) if not isinstance(v, str) else json_text(v) for v in values]


def _detection_values(product: str, dets: Sequence[Detection], checked_first: list[dict]) -> list[tuple]:
    """The detections' rows as :func:`_detection_row` makes them, one tuple per detection in the order of
    :data:`DETECTION_FIELDS`, made column by column, ``extra`` as its JSON text (:func:`json_text`); their
    text checked by :func:`_check_text` after the rows ``checked_first`` (the product's other rows): the same
    error as checking them all in that order."""
    for det in dets:
        if not isinstance(det, Detection):
            raise CatalogError(f"{product}: expected a Detection record, got {type(det).__name__}")
    states = [vars(d) for d in dets]
    columns = _float_columns(states) if states else {name: [] for name in _FLOAT_NAMES}
    for name in _TEXT_NAMES:
        columns[name] = [v if type(v) is str else _clean(v) for v in (s[name] for s in states)]
    columns["n_pixels"] = _int_column([s["n_pixels"] for s in states])
    columns["flags"] = [0 if v is None else v for v in _int_column([s["flags"] for s in states])]
    extra = [_plain_json(s["extra"]) if s["extra"] else None for s in states]
    _check_text(product, checked_first)
    _check_text_columns(product, _TEXT_NAMES, [columns[name] for name in _TEXT_NAMES])
    columns["extra"] = _json_texts(extra)
    return list(zip(*(columns[name] for name in DETECTION_FIELDS), strict=True))


def observation_row(observation: Observation, n_detections: int, run_id: int | None) -> dict:
    """The ``observations`` row of ``observation`` (checked: CatalogError naming the product)."""
    if not isinstance(observation, Observation):
        raise CatalogError(f"expected an Observation record, got {type(observation).__name__}")
    product = observation.product_id
    if not product:
        raise CatalogError("observation has no product_id")
    for key in ("instrument", "time_utc"):
        if getattr(observation, key) in (None, ""):
            raise CatalogError(f"{product}: observation has no {key}")
    row = {k: _clean(getattr(observation, k)) for k in _OBSERVATION_FIELDS}
    try:
        row["time_utc"] = utc_iso(observation.time_utc)
    except ValueError as exc:
        raise CatalogError(f"{product}: {exc}") from None
    row["n_detections"] = n_detections
    row["base_product_id"], row["product_version"] = identity_fields(
        product, row.get("base_product_id"), row.get("product_version")
    )
    if row.get("product_created_utc"):
        try:
            row["product_created_utc"] = utc_iso(row["product_created_utc"])
        except ValueError as exc:
            raise CatalogError(f"{product}: product_created_utc: {exc}") from None
    row["product_key"] = product_key(
        row["base_product_id"], row["product_version"], row.get("checksum_sha256")
    )
    if row["geometry_source"] not in GEOMETRY_SOURCES:
        raise CatalogError(
            f"{product}: geometry_source {row['geometry_source']!r} not one of {GEOMETRY_SOURCES}"
        )
    if row.get("file_path") is not None:
        row["file_path"] = str(row["file_path"])
    row["run_id"] = run_id
    return row


@dataclasses.dataclass
class ProductRows:
    """One product's checked rows, made without a database (:func:`product_rows`; a scan's workers make them,
    so that the single writer only inserts): observation (its ``run_id`` set when stored), bands
    (``frames``) and detections, these as one tuple of values per detection in ``detection_columns``' order
    (compact to send between processes), ``extra`` as its JSON text already (:func:`json_text`)."""

    product: str
    observation: dict[str, Any]
    bands: list[dict[str, Any]]
    detection_columns: tuple[str, ...]
    detection_values: list[tuple]

    @property
    def n_detections(self) -> int:
        return len(self.detection_values)


def json_text(value: Any) -> str:
    """A JSON column's value as the catalogue stores it: the text SQLAlchemy's JSON type writes (its engines
    have no serializer of their own: ``json.dumps``; ``None`` is JSON ``null``, the type's default)."""
    return json.dumps(value)


def product_rows(
    observation: Observation,
    bands: Sequence[BandSummary],
    detections: Sequence[Detection],
    run_id: int | None = None,
) -> ProductRows:
    """The rows :meth:`Store.add_product` writes for one product, checked (CatalogError naming the product
    when they cannot be stored); no database is needed."""
    obs = observation_row(observation, len(detections), run_id)
    product = obs["product_id"]
    band_rows = []
    for i, band in enumerate(bands):
        if not isinstance(band, BandSummary):
            raise CatalogError(f"{product}: band {i} is a {type(band).__name__}, not a BandSummary")
        band_rows.append({k: _clean(getattr(band, k)) for k in _BAND_FIELDS})
    # the JSON text made where the rows are made: on Dask by the workers, not the single writer
    values = _detection_values(product, detections, [obs, *band_rows])
    return ProductRows(product, obs, band_rows, DETECTION_FIELDS, values)
