"""Published Io hot-spot catalogues shipped in ``ioscan/data/reference`` (citations in CITATIONS.md there).

Each loader returns a tidy DataFrame, one row per published source, starting with the common columns
``catalog, ref_id, name, lat_deg, lon_w_deg, lat_convention`` followed by the catalogue's values with units in
their names. ``lat_convention`` is ``"as_published"`` (latitude °N as printed) or ``"unstated"`` (USGS map
database, which does not say whether its latitudes are planetographic or planetocentric).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ioscan.errors import CatalogError

if TYPE_CHECKING:
    from ioscan.catalog.store import Store

COMMON_COLUMNS = ("catalog", "ref_id", "name", "lat_deg", "lon_w_deg", "lat_convention")
MURA_ORBITS = (41, 43, 47, 49)


@dataclass(frozen=True)
class PositionErrorModel:
    """How far a published hot-spot position lies from the source, per axis (north, east), 1σ in degrees of
    arc on Io: a Gaussian core plus a wider Gaussian tail taken by a fraction of the sources.

    :data:`PUBLISHED_POSITION_ERROR` is fitted to the shipped tables themselves: the 78 sources named in both
    Davies et al. (2024, Nat. Astron.) and Mura et al. (2024), two JIRAM catalogues made apart, lie
    0.65° / 1.08° / 1.40° / 2.28° / 2.99° apart at the 25 / 50 / 68 / 90 / 95th percentiles
    (``tests/catalog/test_reference_errors.py`` refits it). A core of 0.6° (~19 km) with 5 % of the sources
    at 2.5° (~80 km), for each of two independent catalogues, reproduces those to ±0.1°. The simulator
    displaces its true hot spots from the published positions by this model; navigation uses it as the
    anchors' error.
    """

    core_deg: float = 0.6
    tail_deg: float = 2.5
    tail_fraction: float = 0.05

    @property
    def rms_deg(self) -> float:
        """Per-axis root-mean-square error, degrees."""
        f = self.tail_fraction
        return float(np.sqrt((1 - f) * self.core_deg**2 + f * self.tail_deg**2))

    def draw_deg(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 2) displacements (north, east), degrees of arc."""
        sigma = np.where(rng.random(n) < self.tail_fraction, self.tail_deg, self.core_deg)
        return rng.standard_normal((n, 2)) * sigma[:, None]


PUBLISHED_POSITION_ERROR = PositionErrorModel()


@dataclass(frozen=True)
class ReferenceCatalog:
    """A shipped published table: its file, full citation and DOI."""

    name: str
    file: str
    citation: str
    doi: str | None
    description: str


CATALOGS: dict[str, ReferenceCatalog] = {
    c.name: c
    for c in (
        ReferenceCatalog(
            "davies2024_jiram",
            "davies2024_natastron_jiram_hotspots.csv",
            "Davies, A.G., Perry, J.E., Williams, D.A., Nelson, D.M. (2024), Io's polar volcanic thermal "
            "emission indicative of magma ocean and shallow tidal heating models, Nature Astronomy 8, "
            "94-100, Supplementary Table S1",
            "10.1038/s41550-023-02123-5",
            "266 Juno/JIRAM 4.8 um hot spots JRM001-JRM266 (PJ5-PJ43): orbits detected, max / max "
            "unsaturated / average / min unsaturated M-band spectral radiant power (GW/um)",
        ),
        ReferenceCatalog(
            "davies2024_psj",
            "davies2024_psj_table10.txt",
            "Davies, A.G., Perry, J.E., Williams, D.A., Veeder, G.J., Nelson, D.M. (2024), New Global Map of "
            "Io's Volcanic Thermal Emission and Discovery of Hemispherical Dichotomies, Planetary Science "
            "Journal 5:121, Table 10",
            "10.3847/PSJ/ad4346",
            "343 volcanic thermal sources ranked by power: area (km2), effective temperature (K), "
            "thermal emission (GW)",
        ),
        ReferenceCatalog(
            "mura2024",
            "mura2024_table3_m_band_output.csv",
            "Mura, A. et al. (2024), The temporal variability of Io's hotspots, Frontiers in Astronomy and "
            "Space Sciences 11:1369472, Table 3 (with positions from Table 2), CC BY 4.0",
            "10.3389/fspas.2024.1369472",
            "single-band JIRAM M output (GW) per hot spot and orbit PJ41, PJ43, PJ47, PJ49",
        ),
        ReferenceCatalog(
            "usgs_sim3168",
            "usgs_sim3168_hotspot_locations.csv",
            "Williams, D.A., Keszthelyi, L.P., Crown, D.A., Yff, J.A., Jaeger, W.L., Schenk, P.M., "
            "Geissler, P.E., Becker, T.L. (2011), Geologic Map of Io, U.S. Geological Survey Scientific "
            "Investigations Map 3168, hot-spot location layer",
            "10.3133/sim3168",
            "172 hot-spot locations (Galileo, Voyager and ground-based detections); latitude convention "
            "not stated",
        ),
    )
}


def reference_dir() -> Path:
    """The folder holding the shipped tables and CITATIONS.md."""
    return Path(str(resources.files("ioscan") / "data" / "reference"))


def _path(name: str) -> Path:
    path = reference_dir() / CATALOGS[name].file
    if not path.is_file():
        raise CatalogError(f"reference table {path} is missing from the ioscan installation")
    return path


def _finish(df: pd.DataFrame, catalog: str, lat_convention: str = "as_published") -> pd.DataFrame:
    df = df.copy()
    df.insert(0, "catalog", catalog)
    df["lat_convention"] = lat_convention
    df["name"] = df["name"].where(df["name"].notna(), None)
    rest = [c for c in df.columns if c not in COMMON_COLUMNS]
    return df[list(COMMON_COLUMNS) + rest].reset_index(drop=True)


def davies2024_jiram() -> pd.DataFrame:
    """Davies et al. 2024 (Nat. Astron.) JIRAM hot spots: 266 rows.

    Values: ``orbits`` (the published string, e.g. ``"5, 9, 25o"``; i/o = inbound/outbound),
    ``max_spectral_power_gw_um``, ``max_unsaturated_spectral_power_gw_um``,
    ``avg_unsaturated_spectral_power_gw_um``, ``min_unsaturated_spectral_power_gw_um`` (M band, GW/µm;
    the paper's headers say "Spectral Radiance" but give GW/µm), ``earlier_detections``, ``notes``.
    """
    raw = pd.read_csv(_path("davies2024_jiram"), encoding="utf-8", dtype={"Source Name": "object"})
    names = {
        "Source ID": "ref_id",
        "Source Name": "name",
        "Latitude (N)": "lat_deg",
        "Longitude (W, 360)": "lon_w_deg",
        "JIRAM Detections by Orbit": "orbits",
        "Max Spectral Radiance (GW/µm)": "max_spectral_power_gw_um",
        "Max Unsaturated Spectral Radiance (GW/µm)": "max_unsaturated_spectral_power_gw_um",
        "Average Unsaturated Spectral Radiance (GW/µm)": "avg_unsaturated_spectral_power_gw_um",
        "Min Unsaturated Spectral Radiance (GW/µm)": "min_unsaturated_spectral_power_gw_um",
        "Earlier Detections": "earlier_detections",
        "Notes": "notes",
    }
    missing = set(names) - set(raw.columns)
    if missing:
        raise CatalogError(f"{_path('davies2024_jiram')}: missing columns {sorted(missing)}")
    df = raw.rename(columns=names)[list(names.values())]
    df["orbits"] = df["orbits"].astype(str).str.replace(r"\s*,\s*", ", ", regex=True).str.strip()
    for col in ("earlier_detections", "notes"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return _finish(df, "davies2024_jiram")


def davies2024_psj() -> pd.DataFrame:
    """Davies et al. 2024 (PSJ) Table 10: 343 sources ranked by power (rank 343 = Loki Patera).

    Parsed with astropy's ``mrt`` reader (byte layout from the table header). ``ref_id`` is the rank (as
    text); values: ``rank``, ``status`` (nullable Int: blank = Veeder et al. 2015 / Table 2, 1 = new JIRAM
    detection, 0 = original Keck/Gemini detection), ``jrm_id``, ``area_km2``, ``temperature_k``, ``power_gw``.
    """
    from astropy.io import ascii

    path = _path("davies2024_psj")
    try:
        table = ascii.read(path, format="mrt")
    except Exception as exc:  # astropy raises several kinds for a malformed MRT
        raise CatalogError(f"{path}: cannot parse the machine-readable table: {exc}") from None

    def column(name: str, kind: str) -> pd.Series:
        col = table[name]
        mask = np.ma.getmaskarray(col)
        values = np.ma.getdata(col)
        if kind == "float":
            return pd.Series(np.where(mask, np.nan, values.astype(float)))
        if kind == "int":
            return pd.Series(
                pd.array([None if m else int(v) for v, m in zip(values, mask, strict=True)], "Int64")
            )
        return pd.Series(
            [None if m or not str(v).strip() else str(v).strip() for v, m in zip(values, mask, strict=True)],
            dtype=object,
        )

    df = pd.DataFrame(
        {
            "ref_id": [str(int(r)) for r in table["Rank"]],
            "name": column("Name", "str"),
            "lat_deg": column("Lat", "float"),
            "lon_w_deg": column("Long", "float"),
            "rank": column("Rank", "int"),
            "status": column("Status", "int"),
            "jrm_id": column("ID", "str"),
            "area_km2": column("Area", "float"),
            "temperature_k": column("Temp", "float"),
            "power_gw": column("Power", "float"),
        }
    )
    return _finish(df, "davies2024_psj")


def mura2024_orbit_values() -> pd.DataFrame:
    """Mura et al. 2024 Table 3 as published: one row per hot spot and orbit, with the source's ``ref_id``.

    Columns: ``catalog, ref_id, name, lat_deg, lon_w_deg, orbit, m_band_output_gw`` (single-band M output,
    GW).
    """
    raw = pd.read_csv(_path("mura2024"), dtype={"name": "object"})
    key = ["name", "lat_deg", "lon_w_deg"]
    order = raw[key].drop_duplicates().reset_index(drop=True)
    order["ref_id"] = [f"M24-{i + 1:03d}" for i in range(len(order))]
    out = raw.merge(order, on=key, how="left")
    out.insert(0, "catalog", "mura2024")
    return out[["catalog", "ref_id", "name", "lat_deg", "lon_w_deg", "orbit", "m_band_output_gw"]]


def mura2024() -> pd.DataFrame:
    """Mura et al. 2024, grouped into unique sources (same name and position): one row per source.

    Values: ``orbits`` (e.g. ``"41, 43, 49"``), ``n_orbits``, ``n_values`` (published rows; more than
    ``n_orbits`` when an orbit has two entries), ``m_band_output_pj41_gw`` … ``m_band_output_pj49_gw``
    (NaN = not listed for that orbit; the maximum when listed twice), ``m_band_output_max_gw``,
    ``m_band_output_mean_gw`` (over all published values).
    """
    long = mura2024_orbit_values()
    rows = []
    for ref_id, group in long.groupby("ref_id", sort=True):
        first = group.iloc[0]
        orbits = sorted(set(int(o) for o in group["orbit"]))
        row = {
            "ref_id": ref_id,
            "name": first["name"],
            "lat_deg": float(first["lat_deg"]),
            "lon_w_deg": float(first["lon_w_deg"]),
            "orbits": ", ".join(str(o) for o in orbits),
            "n_orbits": len(orbits),
            "n_values": len(group),
        }
        per_orbit = group.groupby("orbit")["m_band_output_gw"].max()
        for orbit in MURA_ORBITS:
            row[f"m_band_output_pj{orbit}_gw"] = float(per_orbit.get(orbit, np.nan))
        row["m_band_output_max_gw"] = float(group["m_band_output_gw"].max())
        row["m_band_output_mean_gw"] = float(group["m_band_output_gw"].mean())
        rows.append(row)
    return _finish(pd.DataFrame(rows), "mura2024")


def usgs_sim3168() -> pd.DataFrame:
    """USGS SIM 3168 hot-spot locations: 172 rows, ``ref_id`` USGS001… in file order,
    ``lat_convention="unstated"``."""
    df = pd.read_csv(_path("usgs_sim3168"), dtype={"name": "object"})
    df.insert(0, "ref_id", [f"USGS{i + 1:03d}" for i in range(len(df))])
    return _finish(df[["ref_id", "name", "lat_deg", "lon_w_deg"]], "usgs_sim3168", lat_convention="unstated")


_LOADERS = {
    "davies2024_jiram": davies2024_jiram,
    "davies2024_psj": davies2024_psj,
    "mura2024": mura2024,
    "usgs_sim3168": usgs_sim3168,
}


@lru_cache(maxsize=1)
def _all() -> dict[str, pd.DataFrame]:
    return {name: loader() for name, loader in _LOADERS.items()}


def reference_catalogs() -> dict[str, pd.DataFrame]:
    """All shipped catalogues, ``{name: DataFrame}`` (fresh copies; parsed once per process)."""
    return {name: df.copy() for name, df in _all().items()}


def database_entries(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """The ``reference_hotspots`` view of one catalogue: common columns, ``power_gw``,
    ``spectral_power_gw_um`` (Davies JIRAM: max unsaturated), ``temperature_k``, ``area_km2``; other values
    stay as columns and end up in the JSON ``extra`` field."""
    out = df.drop(columns=["catalog"]).copy()
    if name == "davies2024_jiram":
        out["spectral_power_gw_um"] = out["max_unsaturated_spectral_power_gw_um"]
    return out


def load_reference_into(store: Store) -> dict[str, int]:
    """Write every shipped catalogue into ``store`` (replacing older copies).

    Returns ``{name: n_entries}``.
    """
    counts = {}
    for name, df in reference_catalogs().items():
        meta = CATALOGS[name]
        counts[name] = store.replace_reference_catalog(
            name,
            citation=meta.citation,
            doi=meta.doi,
            entries=database_entries(name, df),
            description=meta.description,
        )
    return counts
