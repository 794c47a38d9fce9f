"""Export catalogue tables to CSV, Parquet or GeoJSON.

* ``hotspots`` — :meth:`Store.hotspots_frame` (one row per hot spot), with a summary of its colour
  temperatures: pairs, usable pairs, median usable temperature, area and total power
  (:func:`ioscan.track.colour.temperature_summary`; flagged pairs never enter the medians).
* ``detections`` — :meth:`Store.detections_frame`: every detection with its ``hotspot_id`` (NULL when not
  associated), the imported ``detection_id`` (published ID), ``source`` and the observation's ``product_id``;
  the ``extra`` object is written as JSON text in CSV/Parquet.
* ``lightcurves`` — associated detections only, sorted by hot spot, band and time, with the light-curve
  columns (:data:`ioscan.catalog.store.LIGHTCURVE_COLUMNS`: intensity and power with their random ``_err``
  and systematic ``_sys_err`` errors) plus ``hotspot_id`` and ``product_id``.
* ``temperatures`` — :meth:`Store.hotspot_temperatures_frame` (one row per two-band pair: colour temperature,
  area, total power with random and systematic errors, flags and their names, ``usable``), with the hot
  spot's position.

Detection tables carry ``flag_names`` (e.g. ``SATURATED|NEAR_LIMB``) right after the ``flags`` bitmask
(:class:`ioscan.records.DetectionFlag`). Detections of superseded product versions are left out unless
``include_superseded``. The file is written to a temporary name and moved into place when complete; an
existing file is replaced only with ``force``, and a catalogue never (:mod:`ioscan.outfiles`).

GeoJSON (RFC 7946) wants ``[x, y] = [longitude east in −180…180, latitude]``. ioscan stores west longitude,
so each Point is ``[lon_e, lat_deg]`` with ``lon_e = −lon_w_deg`` wrapped into [−180, 180)
(e.g. Loki Patera at 308.4°W → x = 51.6; 90°W → x = −90). Latitude is ioscan's planetographic ``lat_deg``.
The original ``lat_deg`` and ``lon_w_deg`` stay in each Feature's properties, and the FeatureCollection
carries an ``ioscan_coordinates`` member saying so (the coordinates are on Io, not WGS 84). Rows without a
position become Features with ``"geometry": null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ioscan.errors import CatalogError

if TYPE_CHECKING:
    from ioscan.catalog.store import Store

WHATS = ("hotspots", "detections", "lightcurves", "temperatures")
FORMATS = ("csv", "parquet", "geojson")
COORDINATES_NOTE = (
    "Io body-fixed: x = east longitude in degrees wrapped to [-180, 180) (= -lon_w_deg), y = planetographic "
    "latitude lat_deg; properties keep lon_w_deg (west, 0-360)"
)


def geojson_x(lon_w_deg: float) -> float:
    """GeoJSON x (east longitude, −180…180) of a west longitude in degrees."""
    x = (-float(lon_w_deg) + 180.0) % 360.0 - 180.0
    return 0.0 if x == 0 else x  # no −0.0


def with_flag_names(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``flag_names`` column (``"SATURATED|NEAR_LIMB"``, empty when none) after ``flags``."""
    from ioscan.records import DetectionFlag

    if "flags" not in df.columns:
        return df
    names = ["|".join(DetectionFlag.names(0 if pd.isna(v) else int(v))) for v in df["flags"]]
    out = df.copy()
    column = pd.Series(names, index=df.index, dtype=object)
    out.insert(list(df.columns).index("flags") + 1, "flag_names", column)
    return out


def table(store: Store, what: str, *, include_superseded: bool = False) -> pd.DataFrame:
    """The DataFrame that :func:`export` writes for ``what``."""
    from ioscan.catalog.store import LIGHTCURVE_COLUMNS

    if what == "hotspots":
        from ioscan.track.colour import temperature_summary

        spots = store.hotspots_frame()
        summary = temperature_summary(store.hotspot_temperatures_frame())
        out = spots.merge(summary, on="hotspot_id", how="left")
        for col in ("n_temperatures", "n_temperatures_usable"):
            out[col] = out[col].fillna(0).astype(int)
        return out
    if what == "detections":
        return with_flag_names(store.detections_frame(include_superseded=include_superseded))
    if what == "lightcurves":
        df = store.detections_frame(include_superseded=include_superseded)
        df = df[df["hotspot_id"].notna()]
        cols = ["hotspot_id", *LIGHTCURVE_COLUMNS, "product_id"]
        df = df[cols].sort_values(["hotspot_id", "band", "time_utc", "id"]).reset_index(drop=True)
        return with_flag_names(df)
    if what == "temperatures":
        from ioscan.records import TemperatureFlag

        temps = store.hotspot_temperatures_frame()
        temps["flag_names"] = [",".join(TemperatureFlag.names(int(f))) for f in temps["flags"]]
        pos = store.hotspots_frame()[["hotspot_id", "lat_deg", "lon_w_deg"]]
        return temps.merge(pos, on="hotspot_id", how="left")
    raise CatalogError(f"cannot export {what!r}: choose one of {WHATS}")


def export(
    store: Store,
    what: str,
    fmt: str,
    out: str | Path,
    *,
    force: bool = False,
    include_superseded: bool = False,
) -> int:
    """Write ``what`` (hotspots | detections | lightcurves) as ``fmt`` (csv | parquet | geojson) to ``out``.

    Returns the number of rows (features) written. Raises CatalogError for an unknown table or format,
    OutputError when ``out`` may not be written (a catalogue, or an existing file without ``force``).
    """
    from ioscan.outfiles import atomic_output, check_output

    if fmt not in FORMATS:
        raise CatalogError(f"cannot export to format {fmt!r}: choose one of {FORMATS}")
    if what not in WHATS:
        raise CatalogError(f"cannot export {what!r}: choose one of {WHATS}")
    out = check_output(out, force=force, protected=[store.sqlite_path])
    df = table(store, what, include_superseded=include_superseded)
    if "extra" in df.columns and fmt != "geojson":
        df = df.assign(extra=[None if v is None else json.dumps(v) for v in df["extra"]])
    try:
        with atomic_output(out) as tmp:
            if fmt == "csv":
                df.to_csv(tmp, index=False)
            elif fmt == "parquet":
                df.to_parquet(tmp, index=False)
            else:
                tmp.write_text(json.dumps(to_geojson(df), allow_nan=False), encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot write {out}: {exc.strerror or exc}") from None
    return len(df)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, dict | list | str | bool):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_geojson(df: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of Points (see the module docs for the longitude conversion)."""
    features = []
    for rec in df.to_dict(orient="records"):
        props = {k: _plain(v) for k, v in rec.items()}
        lat, lon_w = props.get("lat_deg"), props.get("lon_w_deg")
        geometry = None
        if lat is not None and lon_w is not None:
            geometry = {"type": "Point", "coordinates": [geojson_x(lon_w), float(lat)]}
        feature: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": props}
        fid = props.get("hotspot_id") if "id" not in props else props.get("id")
        if fid is not None:
            feature["id"] = fid
        features.append(feature)
    return {"type": "FeatureCollection", "ioscan_coordinates": COORDINATES_NOTE, "features": features}
