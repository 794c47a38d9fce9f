"""Per-site over-splitting / over-merging and the single-linkage reference, on hand-made groupings."""

from __future__ import annotations

import numpy as np

from ioscan.track.site_scores import hotspot_owners, single_linkage, site_scores


def test_perfect_split_and_merge_counts():
    sites = ["A"] * 5 + ["B"] * 3 + ["C"] * 2
    perfect = site_scores(sites, ["h1"] * 5 + ["h2"] * 3 + ["h3"] * 2)
    assert perfect.ari == 1.0 and perfect.n_split_sites == 0 and perfect.n_merged_sites == 0
    assert perfect.n_sites == 3 and perfect.n_hotspots == 3
    # A split in two (4 + 1), C absorbed by B's hot spot
    s = site_scores(sites, ["h1"] * 4 + ["h9"] + ["h2"] * 3 + ["h2"] * 2)
    assert s.n_split_sites == 1 and s.n_merged_sites == 1
    assert s.frac_split_sites == s.frac_merged_sites == 1 / 3
    assert s.n_hotspots - s.n_sites == 1 - 1  # extra hot spots minus absorbed sites
    assert s.as_dict()["n_split_sites"] == 1


def test_owner_ties_go_to_the_site_with_the_larger_share():
    # h1 holds 1 of A's 10 detections and B's single one: B owns it (its whole share)
    own = hotspot_owners(["A"] * 10 + ["B"], ["h0"] * 9 + ["h1"] + ["h1"])
    assert own["h1"] == "B" and own["h0"] == "A"


def test_single_linkage_chains_within_radius():
    lat = np.array([0.0, 0.0, 0.0, 0.0, 30.0])
    lon = np.array([10.0, 14.0, 18.0, 30.0, 10.0])  # 4° steps chain, 12° gap and 30° away do not
    lab = single_linkage(lat, lon, 5.0)
    assert lab[0] == lab[1] == lab[2] and len(set(lab)) == 3
    assert len(single_linkage(np.zeros(0), np.zeros(0))) == 0
