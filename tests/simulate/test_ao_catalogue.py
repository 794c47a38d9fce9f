"""Simulated AO catalogues have the statistics of a published one (issue 11): understated errors, heavy
tails, several wavelengths and telescopes, per-night offsets, close site pairs; they import as published
tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.catalog.io_import import read_detections_csv
from ioscan.simulate.ao_catalogue import (
    CATALOGUE_COLUMNS,
    scatter_statistics,
    simulate_ao_catalogue,
    write_ao_catalogue,
)
from ioscan.track._common import unit_vectors

SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def catalogues():
    return {seed: simulate_ao_catalogue(seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def stats(catalogues):
    return pd.DataFrame([scatter_statistics(c.catalogue, c.truth["site_id"]) for c in catalogues.values()])


def test_size_span_and_layout(catalogues):
    for cat in catalogues.values():
        c, t = cat.catalogue, cat.truth
        assert list(c.columns) == CATALOGUE_COLUMNS  # no band, no observation ids
        assert 900 <= len(c) <= 1150
        assert 68 <= t["site_id"].nunique() <= 75
        times = pd.to_datetime(c["time_utc"])
        assert 4.5 <= (times.max() - times.min()).days / 365.25 <= 5.0
        assert t["night_id"].nunique() >= 200
        assert set(c["wavelength_um"]) >= {2.27, 3.78, 4.67}
        assert c["observer"].nunique() == 3 and c["observer"].value_counts().min() >= 50
        per_site = t["site_id"].value_counts()
        assert per_site.max() >= 100 and per_site.median() <= 10  # a few busy sites, many seldom seen
        assert (t["detection_id"] == c["detection_id"]).all()


def test_scatter_matches_published_catalogue(stats):
    """Quoted 1σ median 1.2°, robust pull std ≈ 1.6, half > 2.4° and 10 % > 4.9° from the site's median
    position, tails to ~14° (sites with ≥ 3 detections), averaged over four catalogues."""
    mean = stats.mean()
    assert mean["quoted_err_median_deg"] == pytest.approx(1.2, abs=0.1)
    assert mean["pull_robust_std"] == pytest.approx(1.6, abs=0.15)
    assert mean["frac_beyond_2p4_deg"] == pytest.approx(0.5, abs=0.06)
    assert mean["frac_beyond_4p9_deg"] == pytest.approx(0.10, abs=0.03)
    assert mean["dist_median_deg"] == pytest.approx(2.4, abs=0.25)
    assert 9.0 <= mean["dist_max_deg"] <= 18.0
    # quoted errors understate: taken at face value, only ~half the detections are within their 1σ circle
    assert (stats["pull_robust_std"] > 1.4).all()


def test_close_pairs_are_3_to_5_degrees_apart_and_resolvable(catalogues):
    for cat in catalogues.values():
        s = cat.sites
        pairs = s[s["pair_id"] >= 0].sort_values("pair_id")
        assert pairs["pair_id"].nunique() == 6
        for _, two in pairs.groupby("pair_id"):
            u = unit_vectors(two["lat_deg"].to_numpy(), two["lon_w_deg"].to_numpy())
            sep = np.degrees(np.arccos(np.clip(u[0] @ u[1], -1, 1)))
            assert 3.0 <= sep <= 5.0
            assert (two["n_detections"] >= 8).all()
        # the other sites are at least 8° from every site
        u = unit_vectors(s["lat_deg"].to_numpy(), s["lon_w_deg"].to_numpy())
        sep = np.degrees(np.arccos(np.clip(u @ u.T, -1, 1)))
        np.fill_diagonal(sep, 180.0)
        lone = (s["pair_id"] < 0).to_numpy()
        assert sep[lone].min() >= 8.0 - 1e-9


def test_nights_carry_systematic_offsets(catalogues):
    """Offsets of detections from their true site are correlated within a night: the night means scatter
    well beyond what independent errors would give."""
    for cat in catalogues.values():
        c, t = cat.catalogue, cat.truth
        dlat = c["lat_deg"].to_numpy() - t["site_lat_deg"].to_numpy()
        df = pd.DataFrame({"night": t["night_id"], "d": dlat})
        df = df[np.abs(df["d"]) < 6.0]
        per_night = df.groupby("night")["d"].agg(["mean", "size"])
        per_night = per_night[per_night["size"] >= 4]
        within = df.groupby("night")["d"].var().loc[per_night.index].mean()
        expected = within / per_night["size"].mean()
        assert per_night["mean"].var() > 2.0 * expected


def test_quoted_errors_understate_most_for_precise_detections(catalogues):
    cat = catalogues[0]
    c, t = cat.catalogue, cat.truth
    d = np.abs(c["lat_deg"].to_numpy() - t["site_lat_deg"].to_numpy())
    q = c["lat_err_deg"].to_numpy()
    precise = q <= np.quantile(q, 0.25)
    coarse = q >= np.quantile(q, 0.75)
    pull = lambda sel: 1.4826 * np.median(d[sel] / q[sel])  # noqa: E731
    assert pull(precise) > pull(coarse) > 1.2


def test_deterministic_and_written_in_the_import_format(tmp_path):
    a, b = simulate_ao_catalogue(5), simulate_ao_catalogue(5)
    pd.testing.assert_frame_equal(a.catalogue, b.catalogue)
    assert not a.catalogue.equals(simulate_ao_catalogue(6).catalogue)
    path, truth_path, sites_path = write_ao_catalogue(a, tmp_path / "ao.csv")
    rows, lines, _ = read_detections_csv(path)
    assert len(rows) == len(a.catalogue) and lines[0] == 2
    assert rows[0]["band"] == f"{a.catalogue['wavelength_um'].iloc[0]:.2f}um"  # no band column: the default
    truth = pd.read_csv(truth_path)
    assert list(truth["detection_id"]) == [r["detection_id"] for r in rows]
    assert len(pd.read_csv(sites_path)) == len(a.sites)


def test_given_sites():
    sites = pd.DataFrame(
        {"lat_deg": [0.0, 20.0, -30.0], "lon_w_deg": [10.0, 100.0, 250.0], "ref_id": list("ABC")}
    )
    cat = simulate_ao_catalogue(1, sites=sites)
    assert set(cat.truth["site_id"]) <= {"S001", "S002", "S003"}
    assert list(cat.sites["ref_id"]) == ["A", "B", "C"]
