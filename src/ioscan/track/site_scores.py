"""Score a grouping of detections into hot spots against known sites: ARI, over-splitting, over-merging.

Per-site definitions (each hot spot is *owned* by the site with most of its detections; ties go to the site
for which the hot spot holds the larger share of its detections, then to the first site in sorted order):

* a site is **over-split** when it owns two or more hot spots (the tracker made extra hot spots out of it);
* a site is **over-merged** when it owns no hot spot (its detections all went into hot spots of other sites:
  it was absorbed).

So ``n_hotspots − n_sites = Σ(owned − 1 over split sites) − n_merged_sites``. A single far outlier that
founds its own hot spot makes its site over-split; a faint neighbour swallowed by a busy site is over-merged.
The plain single-linkage grouping that serves as the reference method lives here too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ioscan.track._common import DEG, unit_vectors
from ioscan.track.synthetic import adjusted_rand_index


@dataclass(frozen=True)
class SiteScores:
    """Scores of one grouping (see the module docstring).

    Attributes:
        ari: adjusted Rand index of the hot-spot IDs against the site IDs.
        n_detections: detections scored.
        n_sites: sites with at least one detection.
        n_hotspots: hot spots.
        n_split_sites: sites owning ≥ 2 hot spots.
        n_merged_sites: sites owning no hot spot.
        frac_split_sites: ``n_split_sites / n_sites``.
        frac_merged_sites: ``n_merged_sites / n_sites``.
    """

    ari: float
    n_detections: int
    n_sites: int
    n_hotspots: int
    n_split_sites: int
    n_merged_sites: int
    frac_split_sites: float
    frac_merged_sites: float

    def as_dict(self, digits: int = 4) -> dict:
        """The scores as a JSON-ready dict (floats rounded to ``digits``)."""
        return {k: round(v, digits) if isinstance(v, float) else v for k, v in asdict(self).items()}


def hotspot_owners(site_ids, hotspot_ids) -> pd.Series:
    """The owning site of each hot spot (index: hot-spot ID)."""
    df = pd.DataFrame({"site": np.asarray(site_ids).astype(str), "hs": np.asarray(hotspot_ids).astype(str)})
    counts = df.groupby(["hs", "site"]).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts["site"].map(df["site"].value_counts())
    counts = counts.sort_values(["hs", "n", "share", "site"], ascending=[True, False, False, True])
    return counts.drop_duplicates("hs").set_index("hs")["site"]


def site_scores(site_ids, hotspot_ids) -> SiteScores:
    """ARI and per-site over-splitting / over-merging of ``hotspot_ids`` against ``site_ids`` (aligned)."""
    site_ids = np.asarray(site_ids).astype(str)
    hotspot_ids = np.asarray(hotspot_ids).astype(str)
    owners = hotspot_owners(site_ids, hotspot_ids)
    owned = owners.value_counts()
    sites = np.unique(site_ids)
    n_owned = pd.Series(0, index=sites).add(owned, fill_value=0).astype(int)
    n_sites = len(sites)
    n_split = int((n_owned >= 2).sum())
    n_merged = int((n_owned == 0).sum())
    return SiteScores(
        ari=adjusted_rand_index(site_ids, hotspot_ids),
        n_detections=len(site_ids),
        n_sites=n_sites,
        n_hotspots=len(owners),
        n_split_sites=n_split,
        n_merged_sites=n_merged,
        frac_split_sites=n_split / max(n_sites, 1),
        frac_merged_sites=n_merged / max(n_sites, 1),
    )


def single_linkage(lat_deg, lon_w_deg, radius_deg: float = 5.0) -> np.ndarray:
    """Plain single-linkage grouping: detections closer than ``radius_deg`` (great circle) are chained into
    one group. Returns an integer group label per detection (planetographic °N, west °W in)."""
    u = unit_vectors(np.asarray(lat_deg, float), np.asarray(lon_w_deg, float))
    chord = 2.0 * np.sin(radius_deg * DEG / 2.0)
    pairs = cKDTree(u).query_pairs(chord, output_type="ndarray")
    n = len(u)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels
