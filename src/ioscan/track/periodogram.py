"""Period search in irregularly sampled light curves (generalised Lomb–Scargle with errors)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ioscan.errors import IoscanError
from ioscan.track._common import require_columns, to_utc


@dataclass
class PeriodogramResult:
    """Lomb–Scargle periodogram of a light curve.

    Attributes:
        frequency_per_d: trial frequencies, 1/day (ascending).
        power: normalised ("standard") power at each frequency, 0–1.
        best_period_d: period of the highest peak, days.
        best_power: its power.
        false_alarm_probability: probability that noise alone gives a peak this high anywhere in the
            searched band (Baluev 2008 bound, as astropy computes it).
        n_points: points used; baseline_d: time span, days.
    """

    frequency_per_d: np.ndarray
    power: np.ndarray
    best_period_d: float
    best_power: float
    false_alarm_probability: float
    n_points: int
    baseline_d: float


def periodogram(
    lc: pd.DataFrame,
    *,
    min_period_d: float,
    max_period_d: float,
    samples_per_peak: int = 10,
) -> PeriodogramResult:
    """Floating-mean Lomb–Scargle periodogram (astropy ``LombScargle``) using the 1σ errors ``err``.

    Suited to irregular sampling with seasonal gaps; points with non-finite values are dropped, and
    errors are used only when every point has a finite positive one.

    Raises:
        IoscanError: fewer than 5 usable points, or a period range that is empty or not positive.
    """
    from astropy.timeseries import LombScargle

    require_columns(lc, ["time_utc", "value"], "periodogram(lc)")
    if not (0 < min_period_d < max_period_d):
        raise IoscanError(
            f"periodogram: need 0 < min_period_d < max_period_d, got {min_period_d}, {max_period_d}"
        )
    t = to_utc(lc["time_utc"], "periodogram(lc)").to_numpy()
    y = pd.to_numeric(lc["value"], errors="coerce").to_numpy(float)
    e = (
        pd.to_numeric(lc["err"], errors="coerce").to_numpy(float)
        if "err" in lc.columns
        else np.full(len(y), np.nan)
    )
    ok = np.isfinite(y) & ~pd.isna(t)
    t, y, e = t[ok], y[ok], e[ok]
    if len(y) < 5:
        raise IoscanError(f"periodogram: need at least 5 finite points, got {len(y)}")
    days = (t - t.min()) / np.timedelta64(1, "D")
    dy = e if np.all(np.isfinite(e) & (e > 0)) else None
    ls = LombScargle(days, y, dy, fit_mean=True, center_data=True, normalization="standard")
    fmin, fmax = 1.0 / max_period_d, 1.0 / min_period_d
    baseline = float(days.max() - days.min())
    n_freq = int(np.ceil(samples_per_peak * (fmax - fmin) * max(baseline, max_period_d))) + 1
    freq = np.linspace(fmin, fmax, max(n_freq, 100))
    power = ls.power(freq)
    i = int(np.nanargmax(power))
    fap = float(
        ls.false_alarm_probability(power[i], method="baluev", minimum_frequency=fmin, maximum_frequency=fmax)
    )
    return PeriodogramResult(freq, power, float(1.0 / freq[i]), float(power[i]), fap, len(y), baseline)
