"""Benchmark: tracking published-like multi-epoch AO catalogues (issue 11).

Catalogues from :mod:`ioscan.simulate.ao_catalogue` (~1,000 detections of ~75 PSJ Table 10 sites over five
years, quoted errors understating the scatter, per-night offsets, limb tails, six close pairs 3–5° apart),
and the same model with the **real positions of the JIRAM list** (Davies et al. 2024, 266 sources, 13
detections per site on average, no pairs chosen: the list's own, 13 of them closer than 3°). Methods:

* ``ioscan`` — :func:`ioscan.track.associate.associate` with default settings (error model, night offsets,
  mixture);
* ``ioscan_quoted_errors`` — the same with ``error_model=None, night_offsets=None, mixture=None``: the tracker
  as it was before issue 11 (quoted errors at face value);
* ``single_linkage_5deg`` — detections closer than 5° chained together;
* ``nearest_true_site`` — every detection given to the nearest true site: what knowing the sites gives.

Scores (:mod:`ioscan.track.site_scores`): adjusted Rand index, fractions of sites over-split (owning ≥ 2 hot
spots) and over-merged (owning none), hot spots vs sites; mean, min and max over the seeds. Also the time of
``associate`` on a 10,000-detection catalogue. Targets: ARI ≥ 0.97, both fractions ≤ 0.03.

Run: ``python benchmarks/bench_track_catalogue.py [--seeds 10] [--jiram-seeds 3] [--n-large 10000]``; prints
progress on stderr and one JSON object on the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ioscan.simulate.ao_catalogue import AOCatalogueConfig, simulate_ao_catalogue
from ioscan.simulate.reference_tables import read_natastron_table
from ioscan.track._common import unit_vectors
from ioscan.track.associate import associate
from ioscan.track.site_scores import single_linkage, site_scores

FIRST_SEED = 1000  # not the seeds the defaults were chosen on (0–11) nor the tests' (100–107)
METHODS = ("ioscan", "ioscan_quoted_errors", "single_linkage_5deg", "nearest_true_site")


def tracker_input(catalogue: pd.DataFrame) -> pd.DataFrame:
    """Rows as ``ioscan track`` hands them to the tracker (band from the wavelength, no observation ids)."""
    return catalogue.assign(
        detection_id=np.arange(1, len(catalogue) + 1),
        band=catalogue["wavelength_um"].map(lambda w: f"{w:.2f}um"),
        source="published",
        observation_id=np.nan,
    )


def nearest_site(catalogue: pd.DataFrame, sites: pd.DataFrame) -> np.ndarray:
    """Site ID of the true site nearest to each detection."""
    su = unit_vectors(sites["lat_deg"].to_numpy(), sites["lon_w_deg"].to_numpy())
    du = unit_vectors(catalogue["lat_deg"].to_numpy(), catalogue["lon_w_deg"].to_numpy())
    _, nb = cKDTree(su).query(du)
    return sites["site_id"].to_numpy()[nb]


def score_catalogue(cat) -> tuple[dict, float]:
    """Scores of every method on one simulated catalogue, and the seconds ``associate`` took."""
    inp = tracker_input(cat.catalogue)
    truth = cat.truth["site_id"]
    t0 = time.perf_counter()
    ioscan = associate(inp).hotspot_id
    seconds = time.perf_counter() - t0
    quoted = associate(inp, error_model=None, night_offsets=None, mixture=None).hotspot_id
    labels = {
        "ioscan": ioscan,
        "ioscan_quoted_errors": quoted,
        "single_linkage_5deg": single_linkage(inp["lat_deg"], inp["lon_w_deg"], 5.0),
        "nearest_true_site": nearest_site(cat.catalogue, cat.sites),
    }
    return {m: site_scores(truth, lab).as_dict() for m, lab in labels.items()}, seconds


def summarise(per_seed: list[dict]) -> dict:
    """Mean, min and max over the seeds of each method's scores."""
    out = {}
    for m in METHODS:
        df = pd.DataFrame([s[m] for s in per_seed])
        out[m] = {
            k: {
                "mean": round(float(df[k].mean()), 4),
                "min": round(float(df[k].min()), 4),
                "max": round(float(df[k].max()), 4),
            }
            for k in ("ari", "frac_split_sites", "frac_merged_sites", "n_hotspots", "n_sites")
        }
    return out


def jiram_sites() -> pd.DataFrame:
    """The JIRAM list's positions, most powerful (maximum unsaturated M-band power) first."""
    t = read_natastron_table().sort_values("m_max_unsat_gw_um", ascending=False, na_position="last")
    return t.rename(columns={"jrm_id": "ref_id", "name": "site_name"})[
        ["site_name", "ref_id", "lat_deg", "lon_w_deg"]
    ]


def run(label: str, seeds: range, **kwargs) -> tuple[dict, list[float]]:
    per_seed, seconds = [], []
    for seed in seeds:
        cat = simulate_ao_catalogue(seed, **kwargs)
        scores, s = score_catalogue(cat)
        per_seed.append(scores)
        seconds.append(s)
        io, qe = scores["ioscan"], scores["ioscan_quoted_errors"]
        print(
            f"{label} seed {seed}: {len(cat.catalogue)} detections, {io['n_sites']} sites → ioscan "
            f"{io['n_hotspots']} hot spots, ARI {io['ari']:.3f}, split {io['n_split_sites']}, merged "
            f"{io['n_merged_sites']}; quoted errors {qe['n_hotspots']} hot spots, ARI {qe['ari']:.3f}; "
            f"single linkage ARI {scores['single_linkage_5deg']['ari']:.3f}",
            file=sys.stderr,
            flush=True,
        )
    return summarise(per_seed), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jiram-seeds", type=int, default=3)
    ap.add_argument("--n-large", type=int, default=10_000)
    args = ap.parse_args()
    t_start = time.perf_counter()

    psj, sec = run("PSJ sites", range(FIRST_SEED, FIRST_SEED + args.seeds))
    sites = jiram_sites()
    n_jiram = int(round(1000 * len(sites) / 75))
    jcfg = AOCatalogueConfig(n_detections=n_jiram)
    jiram, jsec = run("JIRAM sites", range(FIRST_SEED, FIRST_SEED + args.jiram_seeds), cfg=jcfg, sites=sites)

    big = simulate_ao_catalogue(FIRST_SEED, cfg=AOCatalogueConfig(n_detections=args.n_large), sites=sites)
    inp = tracker_input(big.catalogue)
    t0, c0 = time.perf_counter(), time.process_time()
    res = associate(inp)
    large = {
        "n_detections": len(inp),
        "associate_seconds": round(time.perf_counter() - t0, 2),
        "associate_cpu_seconds": round(time.process_time() - c0, 2),
        "ari": round(site_scores(big.truth["site_id"], res.hotspot_id).ari, 4),
    }
    t0 = time.perf_counter()
    associate(inp, error_model=None, night_offsets=None, mixture=None)
    large["quoted_errors_seconds"] = round(time.perf_counter() - t0, 2)

    print(
        json.dumps(
            {
                "targets": {"ari": 0.97, "frac_split_sites": 0.03, "frac_merged_sites": 0.03},
                "psj_sites": {
                    "n_seeds": args.seeds,
                    "first_seed": FIRST_SEED,
                    **psj,
                    "associate_seconds_median": round(float(np.median(sec)), 2),
                },
                "jiram_sites": {
                    "n_seeds": args.jiram_seeds,
                    "n_sites_listed": len(sites),
                    "n_detections": n_jiram,
                    **jiram,
                    "associate_seconds_median": round(float(np.median(jsec)), 2),
                },
                "large_catalogue": large,
                "total_seconds": round(time.perf_counter() - t_start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
