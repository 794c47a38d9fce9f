"""Readers of the published hot-spot tables that seed the simulated population.

Sources (see ``data/reference/SOURCES.md``):

* Davies et al. (2024) PSJ 5:121, Table 10 — 343 sources: position, area (km², where known), effective
  temperature (K, where known), thermal emission (GW).
* Davies et al. (2024) Nature Astronomy 8:94, Supplementary Table S1 — JRM001–JRM266 with M-band
  (4.8 µm) spectral radiant power, GW/µm (maximum unsaturated, average unsaturated, minimum).

Positions are latitude °N (treated as planetographic) and west longitude 0–360.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from ioscan.errors import CatalogError

PSJ_TABLE10 = "davies2024_psj_table10.txt"
NATASTRON_TABLE = "davies2024_natastron_jiram_hotspots.csv"


def default_reference_dir() -> Path:
    """The package copy of the reference tables (``ioscan/data/reference``)."""
    return Path(str(resources.files("ioscan") / "data" / "reference"))


def _resolve(ref_dir: Path | str | None, name: str) -> Path:
    base = Path(ref_dir) if ref_dir is not None else default_reference_dir()
    path = base / name
    if not path.is_file():
        raise CatalogError(f"reference table {name} not found in {base} (pass ref_dir= to point at a copy)")
    return path


def _field(line: str, start: int, stop: int) -> str:
    """Bytes start..stop (1-based, inclusive) of a fixed-width line, stripped."""
    return line[start - 1 : stop].strip()


def read_psj_table10(ref_dir: Path | str | None = None) -> pd.DataFrame:
    """PSJ Table 10 as a DataFrame: rank, status, jrm_id, name, lat_deg, lon_w_deg, area_km2, temperature_k,
    power_gw (NaN where the table leaves a value blank)."""
    path = _resolve(ref_dir, PSJ_TABLE10)
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if len(line) < 66 or not line[:3].strip().isdigit():
            continue
        try:
            rid = _field(line, 7, 12)
            rows.append(
                {
                    "rank": int(_field(line, 1, 3)),
                    "status": _field(line, 5, 5),
                    "jrm_id": rid if rid.startswith("JRM") else "",
                    "name": (_field(line, 14, 36) or ("" if rid.startswith("JRM") else rid)),
                    "lat_deg": float(_field(line, 38, 42)),
                    "lon_w_deg": float(_field(line, 44, 48)) % 360.0,
                    "area_km2": float(_field(line, 50, 59) or "nan"),
                    "temperature_k": float(_field(line, 61, 64) or "nan"),
                    "power_gw": float(_field(line, 66, 72)),
                }
            )
        except ValueError as exc:
            raise CatalogError(f"{path.name} line {n}: cannot parse {line!r} ({exc})") from exc
    if not rows:
        raise CatalogError(f"{path}: no data rows found")
    return pd.DataFrame(rows)


def read_natastron_table(ref_dir: Path | str | None = None) -> pd.DataFrame:
    """Nature Astronomy Table S1: jrm_id, name, lat_deg, lon_w_deg, m_max_unsat_gw_um, m_avg_gw_um,
    m_min_gw_um (M-band spectral radiant power, GW/µm)."""
    path = _resolve(ref_dir, NATASTRON_TABLE)
    df = pd.read_csv(path, encoding="utf-8")
    cols = list(df.columns)
    try:
        out = pd.DataFrame(
            {
                "jrm_id": df[cols[0]].astype(str).str.strip(),
                "name": df[cols[1]].fillna("").astype(str).str.strip(),
                "lat_deg": df[cols[2]].astype(float),
                "lon_w_deg": df[cols[3]].astype(float) % 360.0,
                "m_max_unsat_gw_um": pd.to_numeric(df[cols[6]], errors="coerce"),
                "m_avg_gw_um": pd.to_numeric(df[cols[7]], errors="coerce"),
                "m_min_gw_um": pd.to_numeric(df[cols[8]], errors="coerce"),
            }
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise CatalogError(f"{path.name}: unexpected columns {cols} ({exc})") from exc
    return out
