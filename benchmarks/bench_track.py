"""Benchmark: associate ~1,000,000 JIRAM-like detections of 3,000 hot spots; light-curve extraction.

Prints one JSON object. Run: ``.venv/bin/python benchmarks/bench_track.py [--n-hotspots 3000] [--n-obs 667]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.spatial import cKDTree

from ioscan.track import synthetic as sy
from ioscan.track._common import unit_vectors
from ioscan.track.associate import associate
from ioscan.track.lightcurve import lightcurve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-hotspots", type=int, default=3000)
    ap.add_argument("--n-obs", type=int, default=667)  # × ~1500 visible per frame ≈ 1.0 M detections
    ap.add_argument("--sigma-km", type=float, nargs=2, default=(0.5, 15.0))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    truth = sy.population(args.n_hotspots, rng, n_pairs=args.n_hotspots // 20)
    det = sy.detections(truth, rng, n_obs=args.n_obs, sigma_km=tuple(args.sigma_km))
    det["spectral_intensity_gw_um_sr"] = rng.lognormal(1.0, 1.0, len(det))
    det["spectral_intensity_err_gw_um_sr"] = 0.1 * det["spectral_intensity_gw_um_sr"]
    inp = det.drop(columns="true_id")

    t0 = time.perf_counter()
    res = associate(inp)
    t_assoc = time.perf_counter() - t0
    ari = sy.adjusted_rand_index(det.true_id, res.hotspot_id)
    u = truth[["ux", "uy", "uz"]].to_numpy()
    _, nb = cKDTree(u).query(unit_vectors(det.lat_deg.to_numpy(), det.lon_w_deg.to_numpy()), k=1)
    oracle = sy.adjusted_rand_index(det.true_id, truth.true_id.to_numpy()[nb])

    inp["hotspot_id"] = res.hotspot_id
    ids = res.hotspots.sort_values("n_detections", ascending=False).hotspot_id.to_numpy()[:20]
    t0 = time.perf_counter()
    n_pts = sum(len(lightcurve(inp, h, "M")) for h in ids)
    t_lc = (time.perf_counter() - t0) / len(ids)

    print(
        json.dumps(
            {
                "n_detections": len(det),
                "n_true_hotspots": len(truth),
                "sigma_km": list(args.sigma_km),
                "associate_seconds": round(t_assoc, 2),
                "target_seconds": 30,
                "ari": round(ari, 5),
                "ari_nearest_truth_oracle": round(oracle, 5),
                "n_hotspots_found": len(res.hotspots),
                "n_hotspots_with_ge3_detections": int((res.hotspots.n_detections >= 3).sum()),
                "n_singleton_hotspots": int((res.hotspots.n_detections == 1).sum()),
                "lightcurve_seconds_per_call_1M_frame": round(t_lc, 4),
                "lightcurve_points_per_call": n_pts / len(ids),
            }
        )
    )


if __name__ == "__main__":
    main()
