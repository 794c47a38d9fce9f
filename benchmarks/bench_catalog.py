"""Catalogue benchmark: frame writes, 1,000,000-detection association and light-curve queries.

Run: ``python benchmarks/bench_catalog.py [--url URL] [--n-detections N]`` (default: a temporary SQLite file,
1,000,000 detections). Prints one JSON object:

* ``add_observation_frames_per_s`` — whole-frame transactions (observation + 2 bands + 10 detections);
* ``bulk_insert_s`` — loading the remaining detections (one executemany, for set-up only);
* ``assign_hotspots_s`` — one association result covering every detection, written transactionally;
* ``lightcurve_ms_median`` / ``_p95`` / ``_max`` — :meth:`Store.lightcurve` for random hot spots and bands
  (each ~N / (2 × 1000) rows), the target being ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="database URL (default: temporary SQLite file)")
    parser.add_argument("--n-detections", type=int, default=1_000_000)
    parser.add_argument("--n-hotspots", type=int, default=1000)
    parser.add_argument("--n-frames", type=int, default=500, help="frames written through add_observation")
    parser.add_argument("--n-queries", type=int, default=300)
    args = parser.parse_args()

    import sqlalchemy as sa

    from ioscan.catalog import schema
    from ioscan.catalog.store import open_store
    from ioscan.records import BandSummary, Detection, Observation

    tmp = tempfile.TemporaryDirectory()
    url = args.url or str(Path(tmp.name) / "bench.db")
    store = open_store(url)
    if args.url:  # start from empty tables on a server
        with store.engine.begin() as conn:
            for table in reversed(schema.metadata.sorted_tables):
                conn.execute(sa.delete(table))
    rng = np.random.default_rng(42)
    n_hs = args.n_hotspots
    hs_lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n_hs)))
    hs_lon = rng.uniform(0, 360, n_hs)

    # 1. whole-frame transactions through the public API
    t0 = time.perf_counter()
    per_frame = 10
    for f in range(args.n_frames):
        dets = []
        for k in range(per_frame):
            h = int(rng.integers(n_hs))
            dets.append(
                Detection(
                    band="M" if k % 2 else "L",
                    sample=float(rng.uniform(0, 432)),
                    line=float(rng.uniform(0, 256)),
                    sample_err_px=0.1,
                    line_err_px=0.1,
                    snr=float(rng.uniform(5, 100)),
                    net_radiance_sum=1.0,
                    net_radiance_sum_err=0.1,
                    unit="W m-2 sr-1",
                    background=0.0,
                    peak=0.5,
                    n_pixels=9,
                    lat_deg=float(hs_lat[h]),
                    lon_w_deg=float(hs_lon[h]),
                    spectral_intensity_gw_um_sr=float(rng.lognormal()),
                    extra={"h": h},
                )
            )
        store.add_observation(
            Observation(
                product_id=f"BENCH_{f:06d}",
                instrument="JIRAM",
                time_utc=f"2022-01-01T00:00:{f % 60:02d}Z",
                checksum_sha256=f"{f:064x}",
                geometry_source="spice",
            ),
            [BandSummary(band="L", wavelength_um=3.455), BandSummary(band="M", wavelength_um=4.78)],
            dets,
        )
    frames_s = time.perf_counter() - t0

    # 2. bulk load of the remaining detections (set-up, not the public write path)
    n_rest = max(args.n_detections - args.n_frames * per_frame, 0)
    t0 = time.perf_counter()
    chunk = 100_000
    start = np.datetime64("2016-08-27T00:00:00")
    with store.engine.begin() as conn:
        for i0 in range(0, n_rest, chunk):
            n = min(chunk, n_rest - i0)
            h = rng.integers(n_hs, size=n)
            seconds = rng.integers(0, 8 * 365 * 86400, size=n)
            times = np.datetime_as_string(start + seconds.astype("timedelta64[s]"), unit="us")
            bands = np.where(rng.random(n) < 0.5, "L", "M")
            intensity = rng.lognormal(size=n)
            conn.execute(
                sa.insert(schema.detections),
                [
                    {
                        "time_utc": t + "Z",
                        "band": b,
                        "source": "ioscan",
                        "lat_deg": float(hs_lat[j]),
                        "lon_w_deg": float(hs_lon[j]),
                        "spectral_intensity_gw_um_sr": float(v),
                        "spectral_power_gw_um": math.pi * float(v),
                        "snr": 10.0,
                        "flags": 0,
                    }
                    for t, b, j, v in zip(
                        times.tolist(), bands.tolist(), h.tolist(), intensity.tolist(), strict=True
                    )
                ],
            )
    bulk_s = time.perf_counter() - t0

    # 3. one association result over every detection (nearest true site, as a tracker would give)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.detections.c.id, schema.detections.c.lon_w_deg)).all()
    ids = np.array([r[0] for r in rows])
    lon = np.array([r[1] for r in rows])
    order = np.argsort(hs_lon)
    pos = np.clip(np.searchsorted(hs_lon[order], lon), 0, n_hs - 1)
    site = order[pos]
    hs_ids = [f"IOS{i + 1:04d}" for i in range(n_hs)]
    mapping = {int(i): hs_ids[s] for i, s in zip(ids, site, strict=True)}
    hotspots = pd.DataFrame({"hotspot_id": hs_ids, "lat_deg": hs_lat, "lon_w_deg": hs_lon})
    t0 = time.perf_counter()
    store.assign_hotspots(mapping, hotspots, method="bench")
    assign_s = time.perf_counter() - t0

    # 4. light curves
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE detections")
    store.lightcurve(hs_ids[0], "M")  # warm the connection pool
    times_ms, sizes = [], []
    for _ in range(args.n_queries):
        hid, band = hs_ids[int(rng.integers(n_hs))], ("L", "M")[int(rng.integers(2))]
        t0 = time.perf_counter()
        lc = store.lightcurve(hid, band)
        times_ms.append((time.perf_counter() - t0) * 1e3)
        sizes.append(len(lc))
    n_total = len(ids)
    store.close()
    tmp.cleanup()
    print(
        json.dumps(
            {
                "benchmark": "catalog",
                "dialect": "postgresql" if args.url and "postgres" in args.url else "sqlite",
                "n_detections": n_total,
                "n_hotspots": n_hs,
                "add_observation_frames_per_s": round(args.n_frames / frames_s, 1),
                "bulk_insert_s": round(bulk_s, 2),
                "assign_hotspots_s": round(assign_s, 2),
                "lightcurve_rows_median": int(np.median(sizes)),
                "lightcurve_ms_median": round(float(np.median(times_ms)), 2),
                "lightcurve_ms_p95": round(float(np.percentile(times_ms, 95)), 2),
                "lightcurve_ms_max": round(float(np.max(times_ms)), 2),
                "lightcurve_target_ms": 20.0,
            }
        )
    )


if __name__ == "__main__":
    main()
