"""Shipped reference catalogues: the facts stated in the project's SOURCES.md, and their database copy."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ioscan.catalog.reference import (
    CATALOGS,
    COMMON_COLUMNS,
    davies2024_jiram,
    davies2024_psj,
    load_reference_into,
    mura2024,
    mura2024_orbit_values,
    reference_catalogs,
    reference_dir,
    usgs_sim3168,
)

# the project's shared folder sits beside the repository (also in CI)
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "reference"


def test_shipped_files_are_the_published_copies_with_citations():
    citations = (reference_dir() / "CITATIONS.md").read_text(encoding="utf-8")
    for meta in CATALOGS.values():
        assert (reference_dir() / meta.file).is_file()
        assert meta.doi in citations and meta.file in citations
        shared = SHARED / meta.file
        if shared.is_file():  # the project's shared copy, when present on this machine
            assert (
                hashlib.sha256(shared.read_bytes()).digest()
                == hashlib.sha256((reference_dir() / meta.file).read_bytes()).digest()
            )


def test_all_catalogues_are_tidy():
    cats = reference_catalogs()
    assert set(cats) == set(CATALOGS)
    for name, df in cats.items():
        assert tuple(df.columns[: len(COMMON_COLUMNS)]) == COMMON_COLUMNS
        assert (df["catalog"] == name).all()
        assert df["ref_id"].is_unique
        assert df["lat_deg"].between(-90, 90).all() and df["lon_w_deg"].between(0, 360).all()


def test_jiram_list_facts():
    df = davies2024_jiram()
    assert len(df) == 266
    assert set(df["ref_id"]) == {f"JRM{i:03d}" for i in range(1, 267)}  # JRM001-JRM266, not in ID order
    lat = df["lat_deg"]
    assert (lat >= 60).sum() == 20
    assert (lat <= -60).sum() == 12
    assert ((lat >= 30) & (lat < 60)).sum() == 65
    assert ((lat <= -30) & (lat > -60)).sum() == 44
    assert (lat.abs() < 30).sum() == 125
    assert round(df["max_unsaturated_spectral_power_gw_um"].sum()) == 1007
    # the maximum unsaturated value never exceeds the maximum, nor the average the maximum unsaturated
    assert (df["max_unsaturated_spectral_power_gw_um"] <= df["max_spectral_power_gw_um"] + 1e-12).all()
    assert (
        df["avg_unsaturated_spectral_power_gw_um"] <= df["max_unsaturated_spectral_power_gw_um"] + 1e-12
    ).all()
    nusku = df.iloc[0]
    assert nusku["name"] == "Nusku Patera" and nusku["orbits"] == "5, 9, 10, 25o, 27o, 32o, 35, 37o"
    assert df.loc[2, "orbits"] == "5, 9, 20, 32o"  # "9 , 20" normalised


def _psj_by_bytes(path: Path) -> list[dict]:
    """Independent reading of the MRT by the byte layout printed in its header (1-based, inclusive)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("-----")) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip():
            continue
        line = line.ljust(72)

        def field(a: int, b: int, line: str = line) -> str:
            return line[a - 1 : b].strip()

        rows.append(
            {
                "rank": int(field(1, 3)),
                "status": field(5, 5),
                "id": field(7, 12),
                "name": field(14, 36),
                "lat": float(field(38, 42)),
                "lon": float(field(44, 48)),
                "area": float(field(50, 59)) if field(50, 59) else np.nan,
                "temp": float(field(61, 64)) if field(61, 64) else np.nan,
                "power": float(field(66, 72)),
            }
        )
    return rows


def test_psj_table_facts_and_parse_matches_byte_layout():
    df = davies2024_psj()
    assert len(df) == 343
    assert round(df["power_gw"].sum()) == 57658
    loki = df[df["rank"] == 343].iloc[0]
    assert loki["name"] == "Loki P." and loki["power_gw"] == 9600.0
    assert loki["lat_deg"] == 12.8 and loki["lon_w_deg"] == 308.4
    assert df["power_gw"].is_monotonic_increasing  # ranked by power
    raw = _psj_by_bytes(reference_dir() / CATALOGS["davies2024_psj"].file)
    assert len(raw) == 343
    for r, (_, row) in zip(raw, df.iterrows(), strict=True):
        assert row["rank"] == r["rank"] and row["ref_id"] == str(r["rank"])
        assert row["lat_deg"] == r["lat"] and row["lon_w_deg"] == r["lon"] and row["power_gw"] == r["power"]
        np.testing.assert_equal(row["area_km2"], r["area"])
        np.testing.assert_equal(row["temperature_k"], r["temp"])
        assert (row["jrm_id"] or "") == r["id"] and (row["name"] or "") == r["name"]
        assert (pd.isna(row["status"]) and r["status"] == "") or str(int(row["status"])) == r["status"]
    assert set(df["status"].dropna().astype(int)) == {0, 1}


def test_mura_grouping_keeps_every_published_value():
    src = reference_dir() / CATALOGS["mura2024"].file
    with src.open(encoding="utf-8") as fh:
        published = list(csv.DictReader(fh))
    long = mura2024_orbit_values()
    assert len(long) == len(published) == 246
    assert sorted(long["orbit"].unique().tolist()) == [41, 43, 47, 49]
    assert long["m_band_output_gw"].sum() == pytest.approx(
        sum(float(r["m_band_output_gw"]) for r in published)
    )
    sources = mura2024()
    distinct = {(r["name"], float(r["lat_deg"]), float(r["lon_w_deg"])) for r in published}
    assert len(sources) == len(distinct) == 89
    assert sources["n_values"].sum() == 246
    # each source's per-orbit columns hold exactly its published values (max where an orbit is listed twice)
    for _, s in sources.iterrows():
        rows = [
            r
            for r in published
            if (r["name"], float(r["lat_deg"]), float(r["lon_w_deg"]))
            == (s["name"], s["lat_deg"], s["lon_w_deg"])
        ]
        for orbit in (41, 43, 47, 49):
            vals = [float(r["m_band_output_gw"]) for r in rows if int(r["orbit"]) == orbit]
            got = s[f"m_band_output_pj{orbit}_gw"]
            assert (np.isnan(got) and not vals) or got == max(vals)
    twice = sources[(sources["name"] == "Unrecognized") & (sources["lat_deg"] == 25.0)].iloc[0]
    assert twice["n_values"] == 3 and twice["n_orbits"] == 2 and twice["m_band_output_pj49_gw"] == 1.2


def test_usgs_locations_flag_the_unstated_latitude_convention():
    df = usgs_sim3168()
    assert len(df) == 172
    assert (df["lat_convention"] == "unstated").all()
    others = reference_catalogs()
    assert all((others[n]["lat_convention"] == "as_published").all() for n in others if n != "usgs_sim3168")


def test_load_reference_into_store(store):
    counts = load_reference_into(store)
    assert counts == {"davies2024_jiram": 266, "davies2024_psj": 343, "mura2024": 89, "usgs_sim3168": 172}
    assert load_reference_into(store) == counts  # replacing, not appending
    cats = store.reference_catalogs_frame().set_index("name")
    assert cats.loc["davies2024_psj", "doi"] == "10.3847/PSJ/ad4346"
    assert cats["n_entries"].to_dict() == counts
    psj = store.reference_frame("davies2024_psj")
    assert len(psj) == 343 and round(psj["power_gw"].sum()) == 57658
    loki = psj[psj["ref_id"] == "343"].iloc[0]
    assert loki["power_gw"] == 9600.0 and loki["temperature_k"] == 298.0 and loki["area_km2"] == 21500.0
    jiram = store.reference_frame("davies2024_jiram")
    assert round(jiram["spectral_power_gw_um"].sum()) == 1007
    assert jiram.iloc[0]["extra"]["orbits"] == "5, 9, 10, 25o, 27o, 32o, 35, 37o"
    assert (store.reference_frame("usgs_sim3168")["lat_convention"] == "unstated").all()
    assert len(store.reference_frame()) == sum(counts.values())
