"""Radiometry benchmark: speed of the vectorised paths, accuracy against quad, Monte Carlo error calibration.

Run ``python benchmarks/bench_radiometry.py``; prints one JSON object.
"""

from __future__ import annotations

import json
import time

import numpy as np
from scipy import constants
from scipy.integrate import quad

from ioscan.radiometry import (
    band_mean_spectral_radiance_w_m2_sr_um,
    band_radiance_w_m2_sr,
    band_response,
    brightness_temperature_band_k,
    fit_color_temperature_array,
    fit_two_temperature,
    m_band_to_total_factor,
    spectral_radiance_w_m2_sr_um,
    two_temperature_intensity_gw_um_sr,
)


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> dict:
    rng = np.random.default_rng(0)
    out: dict = {}
    lb, mb = band_response("JIRAM", "L"), band_response("JIRAM", "M")
    t = rng.uniform(100.0, 2000.0, 100_000)
    band_radiance_w_m2_sr(lb, t[:5])
    rad = band_mean_spectral_radiance_w_m2_sr_um(lb, t)
    i_l = band_mean_spectral_radiance_w_m2_sr_um(lb, t) * 1e-3
    i_m = band_mean_spectral_radiance_w_m2_sr_um(mb, t) * 1e-3
    fit_color_temperature_array(lb, mb, i_l[:5], i_l[:5] / 50, i_m[:5], i_m[:5] / 50)
    out["ms_band_radiance_1e5"] = 1e3 * best_of(lambda: band_radiance_w_m2_sr(lb, t))
    out["ms_band_quadrature_1e5"] = 1e3 * best_of(lambda: lb.band_radiance_quadrature(t), 2)
    out["ms_brightness_temperature_band_1e5"] = 1e3 * best_of(lambda: brightness_temperature_band_k(lb, rad))
    out["ms_colour_fit_1e5"] = 1e3 * best_of(
        lambda: fit_color_temperature_array(lb, mb, i_l, i_l / 50, i_m, i_m / 50), 3
    )

    # accuracy of the table against adaptive quadrature
    worst = 0.0
    for inst, name in [("JIRAM", "L"), ("JIRAM", "M"), ("NIRC2", "Kc"), ("NIRC2", "Lp"), ("NIRC2", "Ms")]:
        r = band_response(inst, name)
        lo, hi = r.wavelength_um[0], r.wavelength_um[-1]
        for tk in np.geomspace(25.0, 5e4, 40):
            ref = quad(lambda lam, tk=tk: spectral_radiance_w_m2_sr_um(lam, tk), lo, hi, epsrel=1e-12)[0]
            worst = max(worst, abs(float(band_radiance_w_m2_sr(r, tk)) / ref - 1))
    out["max_rel_err_band_radiance_vs_quad"] = worst

    # colour-fit pulls
    pulls = {}
    lp, ms = band_response("NIRC2", "Lp"), band_response("NIRC2", "Ms")
    for pair in [("L", "M", lb, mb), ("Lp", "Ms", lp, ms)]:
        for snr in (10.0, 30.0, 100.0):
            for tk in (400.0, 900.0, 1400.0):
                b1, b2 = pair[2], pair[3]
                i1 = float(band_mean_spectral_radiance_w_m2_sr_um(b1, tk)) * 1e-3
                i2 = float(band_mean_spectral_radiance_w_m2_sr_um(b2, tk)) * 1e-3
                n = 20000
                f = fit_color_temperature_array(
                    b1,
                    b2,
                    i1 * (1 + rng.normal(size=n) / snr),
                    i1 / snr,
                    i2 * (1 + rng.normal(size=n) / snr),
                    i2 / snr,
                )
                v = f.valid
                p_true = constants.Stefan_Boltzmann * tk**4 * 1e-3
                pulls[f"{pair[0]}/{pair[1]} snr{snr:g} {tk:g}K"] = {
                    "valid_fraction": float(v.mean()),
                    "T_rel_err_median": float(np.median(f.temperature_err_k[v] / tk)),
                    "std_pull_T": float(np.std((f.temperature_k[v] - tk) / f.temperature_err_k[v])),
                    "std_pull_A": float(np.std((f.area_km2[v] - 1.0) / f.area_err_km2[v])),
                    "std_pull_P": float(np.std((f.power_gw[v] - p_true) / f.power_err_gw[v])),
                    "mean_pull_T": float(np.mean((f.temperature_k[v] - tk) / f.temperature_err_k[v])),
                }
    out["colour_pulls"] = pulls

    # two-temperature fit
    bands = [band_response("NIRC2", b) for b in ("Kc", "H2O", "PAH", "Lp", "BrA", "Ms")]
    truth = np.array([1300.0, 0.05, 450.0, 20.0])
    y = two_temperature_intensity_gw_um_sr(bands, *truth)
    for snr in (30.0, 100.0):
        rows, chi2, n_invalid = [], [], 0
        t0 = time.perf_counter()
        trials = 300
        for _ in range(trials):
            f = fit_two_temperature(bands, y * (1 + rng.normal(size=y.size) / snr), y / snr)
            if not f.valid:
                n_invalid += 1
                continue
            val = np.array([f.t_hot_k, f.area_hot_km2, f.t_warm_k, f.area_warm_km2])
            err = np.array([f.t_hot_err_k, f.area_hot_err_km2, f.t_warm_err_k, f.area_warm_err_km2])
            rows.append((val - truth) / err)
            chi2.append(f.chi2)
        rows = np.array(rows)
        out[f"twotemp_nirc2x6_snr{snr:g}"] = {
            "ms_per_fit": 1e3 * (time.perf_counter() - t0) / trials,
            "invalid_fraction": n_invalid / trials,
            "std_pulls_Thot_Ahot_Twarm_Awarm": rows.std(0).round(3).tolist(),
            "mean_pulls": rows.mean(0).round(3).tolist(),
            "mean_chi2_dof2": float(np.mean(chi2)),
        }
    out["m_band_to_total_factor_um"] = {
        f"{tk:g}K": float(m_band_to_total_factor(tk)) for tk in (300, 400, 600, 768, 1000, 1200, 1500)
    }
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
