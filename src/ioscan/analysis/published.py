"""The statistics on the published tables shipped in ``ioscan/data/reference`` (as the tables give them).

**Latitude conventions.** Each table's convention is named in :data:`CONVENTIONS` as the table states it.
A table stating planetocentric latitudes is converted to planetographic (ioscan's convention) before
binning; one stating planetographic is used as is. None of the four shipped tables states it (their headers
say "Latitude (N)", "Degrees North latitude", or nothing), so their latitudes are binned **as printed** and
the report says so. On Io the two conventions differ by up to 0.37° at ±30° and ±60° (flattening
f = 0.0075), so entries within 0.5° of a band edge are listed, and the counts are also given for the
alternative reading (printed values taken as planetocentric and converted to planetographic).

Bands (:func:`ioscan.analysis.grids.in_band`): an edge belongs to its poleward band, so the partition
−90, −60, −30, 30, 60, 90 gives "≤ −60°", "within ±30°" and "≥ 60°N" exactly as quoted in the literature.

Coverage is not given by these tables, so exposure is taken as the band area (uniform, complete coverage);
``observed_area_fraction`` is reported as ``None``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ioscan import body as iobody
from ioscan.analysis import grids

#: per catalogue: the convention stated by the table ("planetographic", "planetocentric" or None), the
#: table's own words, and which columns carry power (``power``: summed and mapped; ``spectral``: compared)
CONVENTIONS: dict[str, dict] = {
    "davies2024_jiram": {
        "stated": None,
        "table_says": "column 'Latitude (N)'; planetographic or planetocentric not stated",
        "power": "avg_unsaturated_spectral_power_gw_um",
        "power_unit": "GW/um (M-band spectral radiant power, average unsaturated)",
        "power_label": "M-band spectral power, average unsaturated (GW µm⁻¹)",
        "spectral": "avg_unsaturated_spectral_power_gw_um",
    },
    "davies2024_psj": {
        "stated": None,
        "table_says": "'Lat: Degrees North latitude'; planetographic or planetocentric not stated",
        "power": "power_gw",
        "power_unit": "GW (total thermal emission)",
        "power_label": "Thermal emission (GW)",
        "spectral": "power_gw",
    },
    "mura2024": {
        "stated": None,
        "table_says": "latitudes from their Table 2; convention not stated",
        "power": "m_band_output_mean_gw",
        "power_unit": "GW (single-band M output, mean over orbits)",
        "power_label": "M-band output, mean over orbits (GW)",
        "spectral": "m_band_output_mean_gw",
    },
    "usgs_sim3168": {
        "stated": None,
        "table_says": "map database; convention not stated",
        "power": None,
        "power_unit": None,
        "power_label": None,
        "spectral": None,
    },
}


def planetographic_latitudes(df: pd.DataFrame, stated: str | None) -> np.ndarray:
    """Latitudes in ioscan's convention (planetographic °N): converted from a stated planetocentric table,
    as printed otherwise."""
    lat = df["lat_deg"].to_numpy(float)
    if stated == "planetocentric":
        return iobody.lat_pc_to_lat_pg_deg(lat, df["lon_w_deg"].to_numpy(float))
    if stated not in (None, "planetographic"):
        raise ValueError(f"unknown latitude convention {stated!r}")
    return lat


def band_counts(lat_deg: np.ndarray, edges_deg) -> list[int]:
    """Hot spots per band of a partition (edges belong to the poleward band)."""
    edges = list(edges_deg)
    return [int(grids.in_band(lat_deg, lo, hi).sum()) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def band_index(lat_deg: np.ndarray, edges_deg) -> np.ndarray:
    """Index of each latitude's band (−1 outside the edges)."""
    edges = list(edges_deg)
    out = np.full(np.shape(lat_deg), -1)
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        out[grids.in_band(lat_deg, lo, hi)] = k
    return out


def edge_sensitivity(
    df: pd.DataFrame, edges_deg, *, within_deg: float = 0.5, stated: str | None = None
) -> dict:
    """Entries within ``within_deg`` of an inner band edge, and the band counts under both readings of an
    unstated convention (as printed = planetographic; printed taken as planetocentric → planetographic)."""
    edges = np.asarray(list(edges_deg), float)
    inner = edges[(edges > -90) & (edges < 90)]
    lat = df["lat_deg"].to_numpy(float)
    dist = np.min(np.abs(lat[:, None] - inner[None, :]), axis=1) if inner.size else np.full(lat.size, np.inf)
    near = dist <= within_deg + 1e-9
    as_pc = iobody.lat_pc_to_lat_pg_deg(lat, df["lon_w_deg"].to_numpy(float))
    counts_printed = band_counts(lat, edges)
    counts_pc = band_counts(as_pc, edges)
    b_printed, b_pc = band_index(lat, edges), band_index(as_pc, edges)
    moved = [
        {
            "ref_id": str(r),
            "lat_deg_printed": float(a),
            "lat_deg_if_planetocentric": float(b),
            "changes_band": bool(p != q),
        }
        for r, a, b, m, p, q in zip(df["ref_id"], lat, as_pc, near, b_printed, b_pc, strict=True)
        if m
    ]
    return {
        "within_deg": within_deg,
        "n_within": int(near.sum()),
        "entries": moved,
        "counts_as_printed": counts_printed,
        "counts_if_planetocentric": counts_pc,
        "n_changing_band": int(np.sum(band_index(lat, edges) != band_index(as_pc, edges))),
        "stated_convention": stated,
    }


def published_tables() -> dict[str, pd.DataFrame]:
    """The shipped tables (:func:`ioscan.catalog.reference.reference_catalogs`)."""
    from ioscan.catalog.reference import reference_catalogs

    return reference_catalogs()


def table_hotspots(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """A published table as a hot-spot frame for :mod:`ioscan.analysis.distributions`: planetographic
    ``lat_deg`` (converted if the table states planetocentric), ``lon_w_deg``, ``power`` and ``spectral``
    columns as named in :data:`CONVENTIONS`, ``hotspot_id`` (the table's ID) and ``name``."""
    conv = CONVENTIONS.get(name, {"stated": None, "power": None, "spectral": None})
    out = pd.DataFrame(
        {
            "hotspot_id": df["ref_id"].astype(str).to_numpy(),
            "name": df["name"].to_numpy(),
            "lat_deg": planetographic_latitudes(df, conv["stated"]),
            "lon_w_deg": df["lon_w_deg"].to_numpy(float),
        }
    )
    for key in ("power", "spectral"):
        col = conv.get(key)
        out[key] = df[col].to_numpy(float) if col and col in df.columns else np.nan
    return out
