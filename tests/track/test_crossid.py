"""Cross-identification against the published JIRAM hot-spot list (Davies et al. 2024, Nat. Astron.)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ioscan.errors import CatalogError
from ioscan.track import synthetic as sy
from ioscan.track._common import unit_vectors, vectors_to_lat_lon
from ioscan.track.crossid import CROSSID_COLUMNS, cross_identify

REF = Path("/work/shared/data/reference/davies2024_natastron_jiram_hotspots.csv")
R = 1821.49


@pytest.fixture(scope="module")
def davies() -> pd.DataFrame:
    if not REF.exists():
        pytest.skip(f"reference table {REF} not available")
    raw = pd.read_csv(REF)
    return pd.DataFrame(
        {
            "catalog": "davies2024",
            "ref_id": raw["Source ID"],
            "name": raw["Source Name"],
            "lat_deg": raw["Latitude (N)"].astype(float),
            "lon_w_deg": raw["Longitude (W, 360)"].astype(float),
        }
    )


def _hotspots_near(ref: pd.DataFrame, sigma_deg: float, rng) -> pd.DataFrame:
    u = unit_vectors(ref.lat_deg.to_numpy(), ref.lon_w_deg.to_numpy())
    g = rng.normal(size=(len(u), 2)) * sigma_deg * np.pi / 180 * R
    lat, lon = vectors_to_lat_lon(sy.offset(u, g[:, 0], g[:, 1]))
    return pd.DataFrame(
        {
            "hotspot_id": [f"IOS{i:05d}" for i in range(1, len(u) + 1)],
            "lat_deg": lat,
            "lon_w_deg": lon,
            "lat_err_deg": sigma_deg,
            "lon_err_deg": sigma_deg / np.cos(np.radians(lat)),
            "true_ref": ref.ref_id.to_numpy(),
        }
    )


def test_synthetic_match_to_davies2024(davies):
    rng = np.random.default_rng(0)
    hs = _hotspots_near(davies, 0.3, rng)
    out = cross_identify(hs.drop(columns="true_ref"), davies, ref_err_deg=1.0)
    assert list(out.columns) == CROSSID_COLUMNS
    merged = hs.merge(out, on="hotspot_id", how="left")
    correct = (merged.ref_id == merged.true_ref).mean()
    assert correct >= 0.95
    assert out[out.unique].ref_id.is_unique  # one-to-one part
    # the separation is the real angular distance on the mean sphere
    row = merged.dropna(subset=["ref_id"]).iloc[0]
    ref = davies.set_index("ref_id").loc[row.ref_id]
    from ioscan.body import angular_separation_deg

    ua, ub = unit_vectors([row.lat_deg], [row.lon_w_deg]), unit_vectors([ref.lat_deg], [ref.lon_w_deg])
    ang = np.degrees(np.arccos(np.clip(np.sum(ua * ub), -1, 1)))
    assert row.separation_km == pytest.approx(np.radians(ang) * R, rel=1e-6)
    assert row.separation_sigma == pytest.approx(
        row.separation_km / (np.hypot(0.3, 1.0) * np.pi / 180 * R), rel=0.02
    )
    assert angular_separation_deg(row.lat_deg, row.lon_w_deg, ref.lat_deg, ref.lon_w_deg) < 3.5


def test_far_hot_spots_and_catalogues_kept_apart(davies):
    rng = np.random.default_rng(1)
    hs = _hotspots_near(davies.iloc[:50], 0.2, rng).drop(columns="true_ref")
    far = pd.DataFrame(
        {
            "hotspot_id": ["FAR1"],
            "lat_deg": [0.0],
            "lon_w_deg": [0.0],
            "lat_err_deg": [0.01],
            "lon_err_deg": [0.01],
        }
    )
    other = davies.iloc[:50].assign(catalog="copy", ref_id=lambda d: "C" + d.ref_id)
    ref = pd.concat([davies, other], ignore_index=True)
    # is (0, 0) far from every entry? (then it must stay unmatched)
    cosd = unit_vectors(ref.lat_deg, ref.lon_w_deg) @ unit_vectors([0.0], [0.0])[0]
    dist = np.degrees(np.arccos(np.clip(cosd, -1, 1)))
    out = cross_identify(
        pd.concat([hs, far], ignore_index=True), ref, ref_err_deg=pd.Series({"davies2024": 1.0, "copy": 2.0})
    )
    assert dist.min() > 3.44 * np.hypot(2.0, 0.01)  # (0°, 0°W) is ~12° from every entry
    assert "FAR1" not in set(out.hotspot_id)
    per = out.groupby("hotspot_id").catalog.nunique()
    assert (per.loc[hs.hotspot_id] == 2).mean() >= 0.95  # matched in both catalogues
    cp = out[out.catalog == "copy"]
    assert (
        cp.separation_sigma
        < out[out.catalog == "davies2024"]
        .set_index("hotspot_id")
        .loc[cp.hotspot_id]
        .separation_sigma.to_numpy()
        + 1e-9
    ).all()  # 2° error → smaller sigma


def test_one_to_one_prefers_the_better_pair():
    ref = pd.DataFrame(
        {
            "catalog": "c",
            "ref_id": ["A", "B"],
            "name": ["a", "b"],
            "lat_deg": [0.0, 0.0],
            "lon_w_deg": [10.0, 11.0],
        }
    )
    hs = pd.DataFrame(
        {
            "hotspot_id": ["H1", "H2"],
            "lat_deg": [0.0, 0.0],
            "lon_w_deg": [10.45, 10.1],
            "lat_err_deg": 0.1,
            "lon_err_deg": 0.1,
        }
    )
    out = cross_identify(hs, ref, ref_err_deg=0.5).set_index("hotspot_id")
    # H2 is nearest A; H1 is nearer A than B, but A is taken by the better match, so H1 → B
    assert out.loc["H2", "ref_id"] == "A" and out.loc["H1", "ref_id"] == "B"
    assert out.unique.all()


def test_crossid_bad_input():
    with pytest.raises(CatalogError, match="ref_id"):
        cross_identify(
            pd.DataFrame(
                {
                    "hotspot_id": ["H"],
                    "lat_deg": [0.0],
                    "lon_w_deg": [0.0],
                    "lat_err_deg": [1.0],
                    "lon_err_deg": [1.0],
                }
            ),
            pd.DataFrame({"catalog": ["c"], "lat_deg": [0.0], "lon_w_deg": [0.0]}),
        )
