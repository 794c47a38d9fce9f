"""Two-temperature fits: recovery of an injected hot + warm source, calibrated errors, honest dof."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants
from scipy.integrate import quad

from ioscan.radiometry.bands import band_response
from ioscan.radiometry.planck import spectral_radiance_w_m2_sr_um
from ioscan.radiometry.twotemp import fit_two_temperature

NIRC2_6 = [("NIRC2", b) for b in ("Kc", "H2O", "PAH", "Lp", "BrA", "Ms")]
MIXED_6 = [("NIRC2", b) for b in ("Kc", "PAH", "Lp", "Ms")] + [("JIRAM", "L"), ("JIRAM", "M")]
NIRC2_4 = [("NIRC2", b) for b in ("Kc", "PAH", "Lp", "Ms")]
TRUTH = {"t_hot_k": 1300.0, "area_hot_km2": 0.05, "t_warm_k": 450.0, "area_warm_km2": 20.0}
ERR = {
    "t_hot_k": "t_hot_err_k",
    "area_hot_km2": "area_hot_err_km2",
    "t_warm_k": "t_warm_err_k",
    "area_warm_km2": "area_warm_err_km2",
}


def true_intensities(bands, t_hot, a_hot, t_warm, a_warm) -> np.ndarray:
    """Independent forward model: boxcar quad of Planck for each component, band mean × area, → GW/µm/sr."""
    out = []
    for inst, name in bands:
        resp = band_response(inst, name)
        lo, hi = resp.wavelength_um[0], resp.wavelength_um[-1]
        total = 0.0
        for t, a in ((t_hot, a_hot), (t_warm, a_warm)):
            total += quad(lambda lam, t=t: spectral_radiance_w_m2_sr_um(lam, t), lo, hi, epsrel=1e-12)[0] * a
        out.append(total / (hi - lo) * 1e6 / 1e9)
    return np.array(out)


def responses(bands):
    return [band_response(*b) for b in bands]


@pytest.mark.parametrize("bands", [NIRC2_6, MIXED_6, NIRC2_4], ids=["nirc2x6", "mixed", "nirc2x4"])
def test_recovers_injected_two_component_source(bands):
    y = true_intensities(bands, *TRUTH.values())
    fit = fit_two_temperature(responses(bands), y, 0.01 * y)
    assert fit.valid, fit.message
    # noise-free and the model is exact: the only error is convergence/table accuracy
    for name, value in TRUTH.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-5), name
    power = constants.Stefan_Boltzmann * (1300.0**4 * 0.05 + 450.0**4 * 20.0) * 1e-3
    assert fit.power_gw == pytest.approx(power, rel=1e-5)
    assert fit.dof == len(bands) - 4 and fit.chi2 < 1e-6
    if len(bands) == 4:
        assert "exactly determined" in fit.message
    assert np.allclose(fit.covariance, fit.covariance.T) and np.all(np.linalg.eigvalsh(fit.covariance) > 0)


def test_error_bars_and_chi2_are_honest():
    """150 noisy trials at SNR 100 in 6 NIRC2 bands: unit pull spread and ⟨χ²⟩ ≈ dof = 2.

    At SNR 100 the injected source's relative errors are ~5 % (T_hot) to ~20 % (A_warm), where the
    Jacobian covariance is still a fair description; tolerances 0.75–1.3 on the spread allow for the
    sampling error of 150 trials (≈ 6 %) and the remaining non-linearity.
    """
    rng = np.random.default_rng(11)
    bands = responses(NIRC2_6)
    y = true_intensities(NIRC2_6, *TRUTH.values())
    sig = y / 100.0
    pulls, chi2 = [], []
    for _ in range(150):
        fit = fit_two_temperature(bands, y + rng.normal(size=y.size) * sig, sig)
        assert fit.valid or "at bound" in fit.message
        if fit.valid:
            pulls.append([(getattr(fit, k) - v) / getattr(fit, ERR[k]) for k, v in TRUTH.items()])
            chi2.append(fit.chi2)
    pulls = np.array(pulls)
    assert len(pulls) >= 140
    spread = pulls.std(axis=0)
    assert np.all((spread > 0.75) & (spread < 1.3)), spread
    assert 1.5 < np.mean(chi2) < 2.6  # E[χ²] = dof = 2; standard error of the mean ≈ 0.17


def test_three_bands_underdetermined_unless_warm_fixed():
    bands3 = NIRC2_4[:3]
    y = true_intensities(bands3, *TRUTH.values())
    fit = fit_two_temperature(responses(bands3), y, 0.01 * y)
    assert not fit.valid and "underdetermined" in fit.message and fit.dof == -1
    fixed = fit_two_temperature(responses(bands3), y, 0.01 * y, fixed_warm_temperature_k=450.0)
    assert fixed.valid and fixed.fixed == ("t_warm_k",) and fixed.dof == 0
    assert fixed.t_hot_k == pytest.approx(1300.0, rel=1e-5)
    assert fixed.area_hot_km2 == pytest.approx(0.05, rel=1e-5)
    assert fixed.area_warm_km2 == pytest.approx(20.0, rel=1e-5)
    assert fixed.t_warm_err_k == 0.0 and np.all(fixed.covariance[2] == 0.0)


def test_single_temperature_source_is_not_two_temperature():
    bands = NIRC2_6
    y = true_intensities(bands, 800.0, 1.0, 400.0, 0.0)
    fit = fit_two_temperature(responses(bands), y, 0.01 * y)
    assert not fit.valid  # both components collapse to 800 K (singular) or one area hits its bound


def test_bad_inputs_report_instead_of_raising():
    r = responses(NIRC2_6)
    y = true_intensities(NIRC2_6, *TRUTH.values())
    assert "≥ 3 bands" in fit_two_temperature(r[:2], y[:2], y[:2] / 10).message
    bad = y.copy()
    bad[2] = np.nan
    assert not fit_two_temperature(r, bad, y / 10).valid
    assert not fit_two_temperature(r, y, np.zeros_like(y)).valid
    assert not fit_two_temperature(r, -y, y / 100).valid  # no positive-area start
