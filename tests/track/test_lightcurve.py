"""Light-curve extraction and variability statistics checked against direct formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ioscan.errors import CatalogError
from ioscan.track.lightcurve import LIGHTCURVE_COLUMNS, lightcurve, variability_stats


def _frame(rng, n=60):
    return pd.DataFrame(
        {
            "detection_id": np.arange(n),
            "time_utc": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.permutation(n) * 3.0, unit="D"),
            "band": np.where(np.arange(n) % 3 == 0, "L", "M"),
            "hotspot_id": np.where(np.arange(n) % 2 == 0, "IOS00001", "IOS00002"),
            "spectral_intensity_gw_um_sr": rng.uniform(5, 10, n),
            "spectral_intensity_err_gw_um_sr": 0.5,
            "snr": rng.uniform(5, 50, n),
            "observation_id": [f"O{i}" for i in range(n)],
        }
    )


def test_lightcurve_selects_and_sorts():
    rng = np.random.default_rng(0)
    det = _frame(rng)
    lc = lightcurve(det, "IOS00001", "M")
    assert list(lc.columns) == LIGHTCURVE_COLUMNS
    sel = det[(det.hotspot_id == "IOS00001") & (det.band == "M")]
    assert len(lc) == len(sel) > 0
    assert lc.time_utc.is_monotonic_increasing
    assert set(lc.detection_id) == set(sel.detection_id)
    first = sel.sort_values("time_utc").iloc[0]
    assert lc.value.iloc[0] == first.spectral_intensity_gw_um_sr
    assert (lc["flags"] == 0).all()  # no flags column → 0
    assert len(lightcurve(det, "NOPE", "M")) == 0
    with pytest.raises(CatalogError, match="hotspot_id"):
        lightcurve(det.drop(columns="hotspot_id"), "IOS00001", "M")


def test_variability_stats_constant_source():
    rng = np.random.default_rng(1)
    n, err = 400, 0.5
    lc = pd.DataFrame({"value": 10 + rng.normal(0, err, n), "err": err})
    s = variability_stats(lc)
    assert s["n"] == n
    assert s["weighted_mean"] == pytest.approx(lc.value.mean())
    assert s["weighted_mean_err"] == pytest.approx(err / np.sqrt(n))
    assert s["chi2_dof"] == pytest.approx(1.0, abs=0.2)
    assert s["p_constant"] > 0.001
    assert abs(s["excess_variance"]) < 3 * s["excess_variance_err"]


def test_variability_stats_variable_source():
    rng = np.random.default_rng(2)
    n, err, frac = 300, 0.2, 0.3
    true = 10 * (1 + frac * rng.normal(size=n))
    lc = pd.DataFrame({"value": true + rng.normal(0, err, n), "err": err})
    s = variability_stats(lc)
    x = lc.value.to_numpy()
    chi2 = np.sum((x - x.mean()) ** 2) / err**2
    assert s["chi2_dof"] == pytest.approx(chi2 / (n - 1))
    assert s["p_constant"] == pytest.approx(stats.chi2.sf(chi2, n - 1))
    assert s["fvar"] == pytest.approx(frac, abs=3 * s["fvar_err"] + 0.01)
    assert s["max_min_ratio"] == pytest.approx(x.max() / x.min())
    assert s["std"] == pytest.approx(np.std(x, ddof=1))


def test_variability_stats_degenerate():
    assert variability_stats(pd.DataFrame({"value": []}))["n"] == 0
    one = variability_stats(pd.DataFrame({"value": [3.0], "err": [1.0]}))
    assert one["weighted_mean"] == 3.0 and np.isnan(one["chi2_dof"])
    no_err = variability_stats(pd.DataFrame({"value": [1.0, 2.0, 4.0]}))
    assert no_err["max_min_ratio"] == 4.0 and np.isnan(no_err["chi2_dof"])


def test_variability_uses_random_errors_and_keeps_lower_limits_out():
    """Statistics from the measured points and their random errors; the mean level carries the systematic
    error, which does not average down; lower limits are counted, not used."""
    rng = np.random.default_rng(7)
    n, err = 200, 0.5
    lc = pd.DataFrame(
        {
            "value": 10 + rng.normal(0, err, n),
            "err": err,
            "sys_err": 2.0,  # a 20 % scale error, the same for every point
            "lower_limit": False,
        }
    )
    lc.loc[:9, ["value", "err", "lower_limit"]] = [3.0, np.nan, True]  # saturated points: low bounds
    s = variability_stats(lc)
    assert s["n"] == n - 10 and s["n_lower_limits"] == 10
    assert s["chi2_dof"] == pytest.approx(1.0, abs=0.25) and s["p_constant"] > 0.001
    assert s["weighted_mean"] == pytest.approx(10.0, abs=0.15)
    assert s["weighted_mean_err"] == pytest.approx(err / np.sqrt(n - 10))
    assert s["weighted_mean_sys_err"] == pytest.approx(2.0)


def test_lightcurve_marks_lower_limits_and_carries_systematic_errors():
    from ioscan.records import DetectionFlag

    rng = np.random.default_rng(8)
    det = _frame(rng, n=20).assign(flags=0, spectral_intensity_sys_err_gw_um_sr=1.0)
    det.loc[det.index[0], "flags"] = int(DetectionFlag.SATURATED | DetectionFlag.LOWER_LIMIT)
    lc = pd.concat([lightcurve(det, h, b) for h in det.hotspot_id.unique() for b in ("L", "M")])
    assert lc["lower_limit"].sum() == 1 and (lc["sys_err"] == 1.0).all()
