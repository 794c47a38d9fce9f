"""Tracking catalogues like published multi-epoch AO tables (issue 11): ~1,000 detections of ~75 sites over
five years, quoted errors that understate the scatter, per-night offsets, close site pairs.

Scored against the simulator's truth with :mod:`ioscan.track.site_scores` (a site is over-split when it owns
two or more hot spots, over-merged when it owns none). The quoted-error tracker of before (no error model, no
night offsets, no mixture) made ~140–170 hot spots of ~73 sites here (ARI 0.52–0.61).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.catalog.io_import import import_detections_csv
from ioscan.catalog.reference import davies2024_psj
from ioscan.simulate.ao_catalogue import simulate_ao_catalogue, write_ao_catalogue
from ioscan.track.associate import associate
from ioscan.track.crossid import cross_identify
from ioscan.track.site_scores import hotspot_owners, site_scores
from ioscan.workflows.track import track_catalog

SEEDS = tuple(range(100, 108))  # not the seeds the defaults were chosen on (0–11)


def as_tracker_input(catalogue: pd.DataFrame, source: str = "ao2019") -> pd.DataFrame:
    """The catalogue as ``ioscan track`` hands imported rows to the tracker: band from the wavelength, the
    source name, no observation ids."""
    return catalogue.assign(
        detection_id=np.arange(1, len(catalogue) + 1),
        band=catalogue["wavelength_um"].map(lambda w: f"{w:.2f}um"),
        source=source,
        observation_id=np.nan,
    )


@pytest.fixture(scope="module")
def tracked():
    out = {}
    for seed in SEEDS:
        cat = simulate_ao_catalogue(seed)
        out[seed] = (cat, associate(as_tracker_input(cat.catalogue)))
    return out


def test_quoted_errors_alone_over_split():
    """What the tracker did before: taking quoted errors at face value splits most sites."""
    cat = simulate_ao_catalogue(SEEDS[0])
    res = associate(as_tracker_input(cat.catalogue), error_model=None, night_offsets=None, mixture=None)
    s = site_scores(cat.truth["site_id"], res.hotspot_id)
    assert s.n_hotspots > 1.6 * s.n_sites and s.ari < 0.75 and s.frac_split_sites > 0.25


def test_sites_recovered(tracked):
    scores = pd.DataFrame(
        [site_scores(cat.truth["site_id"], res.hotspot_id).as_dict() for cat, res in tracked.values()]
    )
    assert (scores["ari"] >= 0.97).all()
    assert (scores["frac_split_sites"] <= 0.07).all() and (scores["frac_merged_sites"] <= 0.07).all()
    # target 3 % of sites each; the benchmark reports them over 20 catalogues
    assert scores["frac_split_sites"].mean() <= 0.035
    assert scores["frac_merged_sites"].mean() <= 0.035
    assert (scores["n_hotspots"] - scores["n_sites"]).abs().mean() <= 0.05 * scores["n_sites"].mean()


def test_close_pairs_stay_apart(tracked):
    kept = total = 0
    for cat, res in tracked.values():
        owners = set(hotspot_owners(cat.truth["site_id"], res.hotspot_id))
        pair_sites = cat.sites.loc[cat.sites["pair_id"] >= 0, "site_id"]
        kept += sum(s in owners for s in pair_sites)
        total += len(pair_sites)
    assert total == 12 * len(SEEDS) and kept >= 0.95 * total


def test_hot_spot_errors_are_realistic(tracked):
    """Hot-spot positions come with errors within a factor 1.5 of their offsets from the true sites (median
    2-D χ² between 0.7 and 2.25 × its expected 1.39), and none is off by far (≥ 98 % within χ² 18.4, 2-D
    4σ). They err on the small side: residual night offsets are shared by a night's detections, the
    centroid variance 1/Σw takes them as independent."""
    chi2 = []
    for cat, res in tracked.values():
        hs = res.hotspots.set_index("hotspot_id")
        owners = hotspot_owners(cat.truth["site_id"], res.hotspot_id)
        sites = cat.sites.set_index("site_id")
        for h in hs.index[hs["n_detections"] >= 5]:
            s = sites.loc[owners[h]]
            d_lat = hs.at[h, "lat_deg"] - s["lat_deg"]
            d_lon = (hs.at[h, "lon_w_deg"] - s["lon_w_deg"] + 180) % 360 - 180
            d_lon *= np.cos(np.radians(s["lat_deg"]))
            chi2.append((d_lat**2 + d_lon**2) / hs.at[h, "lat_err_deg"] ** 2)
    chi2 = np.asarray(chi2)
    assert len(chi2) > 300
    assert 0.7 * 1.386 <= np.median(chi2) <= 2.25 * 1.386
    assert np.mean(chi2 <= 18.42) >= 0.98


def test_ids_stable_when_the_catalogue_grows():
    cat = simulate_ao_catalogue(SEEDS[1])
    det = as_tracker_input(cat.catalogue)
    early = pd.to_datetime(det["time_utc"]) < pd.Timestamp("2016-06-01", tz="UTC")
    r1 = associate(det[early])
    again = associate(det[early].assign(hotspot_id=r1.hotspot_id), r1.hotspots)
    assert (again.hotspot_id == r1.hotspot_id).all()  # re-tracking changes nothing
    r2 = associate(pd.concat([det[early].assign(hotspot_id=r1.hotspot_id), det[~early]]), r1.hotspots)
    assert (r2.hotspot_id[early] == r1.hotspot_id).all()  # old detections keep their IDs
    assert set(r1.hotspots["hotspot_id"]) <= set(r2.hotspots["hotspot_id"])
    # later detections of sites seen early take the early hot spot's ID
    truth = cat.truth
    early_id = pd.Series(r1.hotspot_id.to_numpy(), index=truth["site_id"][early].to_numpy())
    site_to_id = early_id.groupby(level=0).agg(lambda s: s.value_counts().index[0])
    late = ~early & truth["site_id"].isin(site_to_id.index)
    got = r2.hotspot_id[late].to_numpy()
    want = site_to_id.loc[truth["site_id"][late]].to_numpy()
    assert np.mean(got == want) >= 0.95


def test_cross_ids_with_the_shipped_table(tracked):
    """Hot spots of sites seen ≥ 3 times cross-identify with their PSJ Table 10 source."""
    psj = davies2024_psj()
    right = checked = 0
    for cat, res in tracked.values():
        owners = hotspot_owners(cat.truth["site_id"], res.hotspot_id)
        sites = cat.sites.set_index("site_id")
        hs = res.hotspots[res.hotspots["n_detections"] >= 3]
        cross = cross_identify(hs, psj, ref_err_deg=1.5).set_index("hotspot_id")
        for h in hs["hotspot_id"]:
            checked += 1
            right += h in cross.index and str(cross.at[h, "ref_id"]) == sites.at[owners[h], "ref_id"]
    assert checked > 300 and right >= 0.9 * checked


def test_import_then_ioscan_track(store, tmp_path):
    """``ioscan import detections`` then ``ioscan track`` with default settings, scored against the truth."""
    cat = simulate_ao_catalogue(SEEDS[2])
    path, _, _ = write_ao_catalogue(cat, tmp_path / "ao.csv")
    assert import_detections_csv(store, path, "ao2019") == len(cat.catalogue)
    summary = track_catalog(store)
    assert summary.n_detections_used == len(cat.catalogue)
    det = store.detections_frame().set_index("detection_id")
    truth = cat.truth.set_index("detection_id")
    s = site_scores(truth["site_id"], det.loc[truth.index, "hotspot_id"])
    assert s.ari >= 0.97 and abs(s.n_hotspots - s.n_sites) <= 0.06 * s.n_sites
