"""Benchmark: `ioscan report` speed, mosaic speed and the calibrations of its statistics (one JSON object).

Parts (all by default; ``--parts`` picks some):

* ``report``: a simulated campaign (4 Juno orbits × 6 frames, 2 ground nights; ~1,000 detections) is scanned
  and tracked (not timed), then ``write_report`` runs with default settings (200 simulated populations per
  calibration, 1,000 bootstrap resamples and permutations, mosaics included). Target ≤ 60 s. The census's
  polar/equatorial density ratio is set beside the simulated population's own (its truth).
* ``mosaic``: 160 JIRAM frames of early orbits are simulated; ``mosaic_frames`` (2 processes) re-reads,
  re-navigates (SPICE + limb registration) and reprojects the M-band ones on a 0.5° grid (timed; those whose
  limb cannot be registered are read and navigated, then left out). Target: 100 frames in ≤ 30 s (the time per
  frame × 100 is reported too).
* ``calibration``: the published Davies et al. (2024) JIRAM list (266 hot spots, coverage taken as complete):
  false-positive rates of the polar/equatorial density and power-distribution tests on 1,000 populations
  without an effect, powers at density ratios 1.25, 1.5, 2, 3 and at a factor 2 in power; the exact power
  curve and the smallest detectable ratio.
* ``tidal``: 200 simulated censuses of 250 hot spots each, uniform / deep-mantle / asthenosphere: how often
  the comparison says "neither" for uniform populations (its false-positive rate) and names the right pattern.
* ``dcf``: false-positive rate of the (local) DCF peak test with autocorrelated surrogates (200 each) on 200
  pairs of independent damped random walks with 30 samples each (and with white-noise shuffles instead, for
  contrast), and on 100 Juno-like pairs (60 epochs, 200 external values in 3000 d); power on 100 Juno-like
  pairs where the external series follows the volcanic one by 50 days.

Wall times depend on what else runs on the machine: the JSON also gives the CPU time (this process and its
worker processes; BLAS limited to one thread) and the load average.
Usage: ``python benchmarks/bench_report.py [--parts report mosaic calibration tidal dcf] [--seed S]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _cpu_s() -> float:
    """CPU time of this process and its finished children (the mosaic workers), s."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_report(seed: int, tmp: Path) -> dict:
    from ioscan.catalog.store import open_store
    from ioscan.simulate.campaign import simulate_campaign
    from ioscan.workflows.report import write_report
    from ioscan.workflows.scan import scan
    from ioscan.workflows.track import track_catalog

    camp = simulate_campaign(
        tmp / "campaign",
        orbits=4,
        seed=seed,
        frames_per_orbit=6,
        ground_nights=2,
        ground_pixels=512,
        workers=2,
    )
    with open_store(tmp / "c.db") as store:
        scan([tmp / "campaign"], store=store, kernels=camp.metakernel, workers=2)
        track_catalog(store)
        n_det = len(store.detections_frame())
        t0, c0 = time.perf_counter(), _cpu_s()
        res = write_report(store, tmp / "report")
        wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    s = res.summary
    pe = s["tests"]["polar_vs_equatorial"]
    truth = _true_ratio(seed)
    return {
        "true_polar_equatorial_density_ratio": truth,
        "n_detections": n_det,
        "n_hotspots_census": s["catalogue"]["n_census_hotspots"],
        "n_figures": len(res.figures),
        "report_s": round(wall, 1),
        "report_cpu_s": round(cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "target_s": 60,
        "stages_s": {k: round(v, 1) for k, v in s["timings_s"].items()},
        "polar_vs_equatorial": {
            "ratio": pe["density"]["ratio"],
            "ratio_ci": [pe["density"]["ratio_ci_low"], pe["density"]["ratio_ci_high"]],
            "raw_ratio": pe["density"]["raw_ratio"],
            "p_value": pe["density"]["p_value"],
            "verdict": pe["verdict"],
            "false_positive_rate_density": pe["calibration"]["false_positive_rate_density"],
            "power_density_at_ratio": pe["calibration"]["power_density_at_ratio"],
        },
    }


def _true_ratio(seed: int) -> dict:
    """The simulated population's own polar (|lat| ≥ 60°) / equatorial (|lat| < 30°) density ratio: all
    sources, and those whose time-averaged M-band power is ≥ 0.3 GW µm⁻¹."""
    from ioscan.analysis import grids
    from ioscan.simulate.population import HotSpotPopulation

    src = HotSpotPopulation(seed).sources
    lat = src["lat_deg"].to_numpy(float)
    e_pol = 2 * grids.band_area_km2(60, 90)
    e_eq = grids.band_area_km2(-30, 30)
    out = {}
    for label, keep in (
        ("all", np.ones(len(src), bool)),
        ("m_ge_0.3_gw_um", src["m_gw_um"].to_numpy() >= 0.3),
    ):
        n_p, n_e = int(np.sum(keep & (np.abs(lat) >= 60))), int(np.sum(keep & (np.abs(lat) < 30)))
        out[label] = {"n_polar": n_p, "n_equatorial": n_e, "ratio": (n_p / e_pol) / (n_e / e_eq)}
    return out


def bench_mosaic(seed: int, tmp: Path) -> dict:
    from ioscan.analysis.mosaic import mosaic_frames
    from ioscan.formats import find_products
    from ioscan.simulate.campaign import simulate_campaign

    orbits = [5, 7, 9, 11, 12, 13, 14, 15, 16, 17]
    camp = simulate_campaign(
        tmp / "mosaic", orbits=orbits, seed=seed, frames_per_orbit=16, ground_nights=0, workers=2
    )
    paths = [p for p in find_products([tmp / "mosaic"]) if p.suffix.upper() == ".LBL"]
    obs = pd.DataFrame(
        {
            "id": range(1, len(paths) + 1),
            "product_id": [p.stem for p in paths],
            "file_path": [str(p) for p in paths],
            "registered": True,
            "pointing_offset_sample_px": 0.0,
            "pointing_offset_line_px": 0.0,
            "run_id": 1,
        }
    )
    runs = pd.DataFrame({"id": [1], "parameters": [{"kernels": str(camp.metakernel)}]})
    t0, c0 = time.perf_counter(), _cpu_s()
    res = mosaic_frames(obs, runs, bands=("M",), cell_deg=0.5, max_offset_diff_px=np.inf, workers=2)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    used = sum(len(m.frames) for m in res.mosaics)
    with_m = used + sum(1 for _, r in res.left_out if "registered" in r)
    return {
        "n_frames_read": len(paths),
        "n_frames_with_m_band": with_m,
        "n_frames_in_mosaic": used,
        "filled_fraction": round(res.mosaics[0].filled_fraction, 3) if res.mosaics else 0.0,
        "mosaic_s": round(wall, 1),
        "mosaic_cpu_s": round(cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "per_100_m_band_frames_s": round(100 * wall / max(with_m, 1), 1),
        "target_100_frames_s": 30,
        "cell_deg": 0.5,
    }


def bench_calibration(seed: int) -> dict:
    from ioscan.analysis import distributions as dist
    from ioscan.analysis.calibration import calibrate_comparisons
    from ioscan.analysis.coverage import Completeness, Exposure
    from ioscan.analysis.published import published_tables, table_hotspots
    from ioscan.analysis.significance import density_test_power, min_detectable_ratio

    hs = table_hotspots("davies2024_jiram", published_tables()["davies2024_jiram"])
    ex = Exposure.uniform()
    rng = np.random.default_rng(seed)
    obs = dist.compare_regions(
        hs, ex, "polar", "equatorial", power_col="power", err_col=None, spectral_col="spectral", rng=rng
    )
    t0 = time.perf_counter()
    cal = calibrate_comparisons(
        ex,
        len(hs),
        [("polar_vs_equatorial", "polar", "equatorial")],
        reference=Completeness.from_values(hs["spectral"], "davies2024_jiram"),
        n_populations=1000,
        effect_ratios=(1.25, 1.5, 2.0, 3.0),
        effect_power_factor=2.0,
        n_permutations=500,
        rng=rng,
    )["polar_vs_equatorial"]
    d = obs["density"]
    n = d["n_a"] + d["n_b"]
    return {
        "table": "davies2024_jiram (as printed; coverage taken as complete)",
        "n_polar": d["n_a"],
        "n_equatorial": d["n_b"],
        "density_ratio": d["ratio"],
        "ratio_ci": [d["ratio_ci_low"], d["ratio_ci_high"]],
        "p_value": d["p_value"],
        "power_distribution_p_value": obs["power_distribution"]["p_value"],
        "calibration_populations": cal["n_populations"],
        "false_positive_rate_density": cal["false_positive_rate_density"],
        "false_positive_rate_density_ci": cal["false_positive_rate_density_ci"],
        "false_positive_rate_power_distribution": cal["false_positive_rate_power_distribution"],
        "false_positive_rate_power_distribution_ci": cal["false_positive_rate_power_distribution_ci"],
        "simulated_power_density_at_ratio": cal["power_density_at_ratio"],
        "exact_power_density_at_ratio": {
            f"{r:g}": density_test_power(n, d["exposure_a_km2"], d["exposure_b_km2"], r)
            for r in (1.25, 1.5, 2.0, 3.0)
        },
        "min_detectable_ratio_80pc": [d["min_detectable_ratio_down"], d["min_detectable_ratio_up"]],
        "min_detectable_ratio_80pc_if_250_in_the_two_regions": min_detectable_ratio(
            250, d["exposure_a_km2"], d["exposure_b_km2"]
        ),
        "simulated_power_power_distribution_at_factor_2": cal["power_power_distribution_at_factor"]["2"],
        "calibration_s": round(time.perf_counter() - t0, 1),
    }


def bench_tidal(seed: int) -> dict:
    from ioscan.analysis import grids
    from ioscan.analysis.calibration import simulate_census
    from ioscan.analysis.config import AnalysisConfig
    from ioscan.analysis.coverage import Completeness, Exposure
    from ioscan.analysis.tidal import compare_patterns, pattern

    weights = AnalysisConfig().tidal_weights
    ex = Exposure.uniform()
    ref = Completeness.davies2024()
    rng = np.random.default_rng(seed)
    lat_c, lon_c = grids.cell_centres_deg()
    out = {"n_populations": 200, "n_hotspots": 250}
    t0 = time.perf_counter()
    for truth in (None, *weights):
        dw = pattern(weights[truth], lat_c, lon_c) if truth else None
        verdicts = []
        for _ in range(200):
            sim = simulate_census(ex, 250, rng, reference=ref, density_weights=dw)
            r = compare_patterns(
                sim["lat_deg"],
                sim["lon_w_deg"],
                np.ones(len(sim)),
                ex.exposure_n_km2,
                weights,
                n_simulations=200,
                n_bootstrap=200,
                rng=rng,
            )
            verdicts.append(r["verdict"])
        v = pd.Series(verdicts).value_counts(normalize=True).round(3).to_dict()
        out[f"verdicts_when_{truth or 'uniform'}"] = v
    out["false_positive_rate"] = round(1.0 - out["verdicts_when_uniform"].get("neither", 0.0), 3)
    out["tidal_s"] = round(time.perf_counter() - t0, 1)
    return out


def _ar1(n: int, tau_d: float, rng) -> np.ndarray:
    phi = np.exp(-1 / tau_d)
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for i in range(1, n):
        x[i] = phi * x[i - 1] + np.sqrt(1 - phi**2) * rng.standard_normal()
    return x


def bench_dcf(seed: int) -> dict:
    from ioscan.analysis.timeseries import correlate_with_surrogates, dcf_bins, discrete_correlation

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    out: dict = {"n_surrogates": 200}
    # short red-noise series: 30 irregular samples each in 600 d, tau = 40 d
    p_ou, p_shuffle = [], []
    edges = dcf_bins(20.0, 200.0)
    for _ in range(200):
        xa, xb = _ar1(700, 40.0, rng), _ar1(700, 40.0, rng)
        ta = np.sort(rng.choice(600, 30, replace=False)).astype(float)
        tb = np.sort(rng.choice(600, 30, replace=False)).astype(float)
        a, b = xa[ta.astype(int)], xb[tb.astype(int)]
        r = correlate_with_surrogates(
            ta, a, None, tb, b, None, lag_bin_d=20, max_lag_d=200, n_surrogates=200, rng=rng
        )
        p_ou.append(r["p_value"])
        used = r["dcf"]["used"].to_numpy()
        obs = np.nanmax(np.abs(r["dcf"]["dcf"].to_numpy()[used]))
        sh = [
            np.nanmax(
                np.abs(
                    discrete_correlation(ta, rng.permutation(a), None, tb, rng.permutation(b), None, edges)[
                        "dcf"
                    ].to_numpy()[used]
                )
            )
            for _ in range(200)
        ]
        p_shuffle.append((1 + np.sum(np.asarray(sh) >= obs)) / 201)
    out["short_series"] = {
        "design": "30 + 30 irregular samples in 600 d, damped random walks tau = 40 d, 200 independent pairs",
        "false_positive_rate_ou_surrogates": float(np.mean(np.asarray(p_ou) < 0.05)),
        "false_positive_rate_white_noise_shuffles": float(np.mean(np.asarray(p_shuffle) < 0.05)),
    }
    # a Juno-like design: 60 epochs and 200 external values in 3000 d, tau = 60 d; b = 2 a(t - 50 d) + noise
    fp, found = [], []
    for k in range(200):
        xa = _ar1(3200, 60.0, rng)
        ta = np.sort(rng.choice(3000, 60, replace=False)).astype(float)
        tb = np.sort(rng.choice(np.arange(60, 3000), 200, replace=False)).astype(float)
        a = xa[ta.astype(int)] + 0.2 * rng.standard_normal(60)
        ea, eb = np.full(60, 0.2), np.full(200, 0.5)
        if k % 2 == 0:
            b = _ar1(3200, 60.0, rng)[tb.astype(int)] + 0.5 * rng.standard_normal(200)
            r = correlate_with_surrogates(
                ta, a, ea, tb, b, eb, lag_bin_d=20, max_lag_d=300, n_surrogates=200, rng=rng
            )
            fp.append(r["p_value"] < 0.05)
        else:
            b = 2 * xa[(tb - 50).astype(int)] + 0.5 * rng.standard_normal(200)
            r = correlate_with_surrogates(
                ta, a, ea, tb, b, eb, lag_bin_d=20, max_lag_d=300, n_surrogates=200, rng=rng
            )
            found.append(r["p_value"] < 0.05 and abs(r["peak_lag_d"] - 50) <= 20)
    out["juno_like"] = {
        "design": "60 epochs + 200 external values in 3000 d, tau = 60 d; 100 independent pairs, 100 pairs "
        "with "
        "the external series following the volcanic one by 50 d (amplitude 2, noise 0.5)",
        "false_positive_rate_ou_surrogates": float(np.mean(fp)),
        "power_lag_found_within_one_bin": float(np.mean(found)),
    }
    out["dcf_s"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", nargs="*", default=["report", "mosaic", "calibration", "tidal", "dcf"])
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_report_") as d:
        tmp = Path(d)
        if "report" in args.parts:
            out["report"] = bench_report(args.seed, tmp)
        if "mosaic" in args.parts:
            out["mosaic"] = bench_mosaic(args.seed, tmp)
    if "calibration" in args.parts:
        out["calibration_davies2024_jiram"] = bench_calibration(args.seed)
    if "tidal" in args.parts:
        out["tidal"] = bench_tidal(args.seed)
    if "dcf" in args.parts:
        out["dcf"] = bench_dcf(args.seed)
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
