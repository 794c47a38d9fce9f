"""Light curves of one hot spot in one band, and their variability statistics.

A point's ``err`` is the **random** error of its intensity (:mod:`ioscan.measure.errors`): what varies from
one detection to the next, so what a test of variability must use; ``sys_err`` is the systematic part
(calibration, PSF model), the same fraction for every point of one instrument: it moves the whole curve, not
its shape, and adds to the error of its absolute level. ``lower_limit`` points (saturated sources) are not
measurements: they stay in the curve, out of every statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ioscan.records import DetectionFlag
from ioscan.track._common import require_columns, to_utc

LIGHTCURVE_COLUMNS = [
    "time_utc",
    "value",
    "err",
    "sys_err",
    "lower_limit",
    "snr",
    "flags",
    "observation_id",
    "detection_id",
]


def lightcurve(
    detections: pd.DataFrame,
    hotspot_id: str,
    band: str,
    *,
    value_col: str = "spectral_intensity_gw_um_sr",
    err_col: str = "spectral_intensity_err_gw_um_sr",
    sys_err_col: str = "spectral_intensity_sys_err_gw_um_sr",
) -> pd.DataFrame:
    """Time-sorted measurements of ``hotspot_id`` in ``band``.

    Args:
        detections: detections with a ``hotspot_id`` column (e.g. ``AssociationResult.hotspot_id``
            assigned to the frame), ``time_utc``, ``band`` and ``value_col``; ``err_col``, ``snr``,
            ``flags``, ``observation_id``, ``detection_id`` are used when present.
        hotspot_id: the hot spot.
        band: band name as stored (e.g. ``"M"``, ``"Lp"``).
        value_col: measurement column (default spectral intensity, GW µm⁻¹ sr⁻¹, foreshortening-corrected).
        err_col: its random 1σ error column.
        sys_err_col: its systematic (correlated) 1σ error column.

    Returns:
        DataFrame ``LIGHTCURVE_COLUMNS`` sorted by time (then detection_id); ``time_utc`` tz-naive UTC
        datetime64; ``lower_limit`` from the LOWER_LIMIT flag; missing optional columns are NaN (err,
        sys_err, snr), 0 (flags) or None.
    """
    what = "lightcurve(detections)"
    require_columns(detections, ["hotspot_id", "time_utc", "band", value_col], what)
    mask = (detections["hotspot_id"] == hotspot_id).to_numpy() & (detections["band"] == band).to_numpy()
    sel = detections.loc[mask]
    n = len(sel)

    def col(name, fill, dtype=None):
        if name in sel.columns:
            if dtype is None:
                return sel[name].to_numpy()
            return pd.to_numeric(sel[name], errors="coerce").fillna(fill).to_numpy(dtype)
        return np.full(n, fill, dtype=dtype if dtype is not None else object)

    flags = col("flags", 0, np.int64)
    out = pd.DataFrame(
        {
            "time_utc": to_utc(sel["time_utc"], what).to_numpy(),
            "value": pd.to_numeric(sel[value_col], errors="coerce").to_numpy(float),
            "err": col(err_col, np.nan, float),
            "sys_err": col(sys_err_col, np.nan, float),
            "lower_limit": (flags & int(DetectionFlag.LOWER_LIMIT)) != 0,
            "snr": col("snr", np.nan, float),
            "flags": flags,
            "observation_id": col("observation_id", None),
            "detection_id": col("detection_id", None),
        }
    )
    return out.sort_values(["time_utc", "detection_id"], kind="stable").reset_index(drop=True)


def measured(lc: pd.DataFrame) -> pd.DataFrame:
    """The points of a light curve that are measurements: not lower limits (finite values not checked)."""
    if "lower_limit" not in lc.columns:
        return lc
    return lc[~lc["lower_limit"].fillna(False).astype(bool).to_numpy()]


def variability_stats(lc: pd.DataFrame) -> dict:
    """Variability of a light curve (finite values of measured points; ``err``, the random errors, used where
    finite and > 0; lower limits left out and counted).

    Returns a dict with:
        n; n_lower_limits; mean; std (sample, ddof=1); weighted_mean and weighted_mean_err
        (inverse-variance, from the random errors); weighted_mean_sys_err (the systematic error of that mean:
        the weighted mean of the points' ``sys_err``, correlated, not averaging down; NaN without it);
        chi2_dof against a constant (the weighted mean, n − 1 dof) and p_constant (its χ² tail
        probability); excess_variance = normalised excess variance σ²_NXS = (S² − ⟨σ²_err⟩)/x̄² with
        excess_variance_err, and fvar = √σ²_NXS (fractional variability, NaN when σ²_NXS < 0) with
        fvar_err, both errors after Vaughan et al. (2003, MNRAS 345, 1271) eqs. 11 and B2;
        max_min_ratio = max/min (NaN unless min > 0).
    """
    require_columns(lc, ["value"], "variability_stats(lc)")
    n_lower = len(lc) - len(measured(lc))
    lc = measured(lc)
    x = pd.to_numeric(lc["value"], errors="coerce").to_numpy(float)

    def column(name: str) -> np.ndarray:
        if name in lc.columns:
            return pd.to_numeric(lc[name], errors="coerce").to_numpy(float)
        return np.full(len(x), np.nan)

    e, sys_e = column("err"), column("sys_err")
    ok = np.isfinite(x)
    x, e, sys_e = x[ok], e[ok], sys_e[ok]
    n = len(x)
    out = {
        "n": n,
        "n_lower_limits": n_lower,
        "mean": np.nan,
        "std": np.nan,
        "weighted_mean": np.nan,
        "weighted_mean_err": np.nan,
        "weighted_mean_sys_err": np.nan,
        "chi2_dof": np.nan,
        "p_constant": np.nan,
        "excess_variance": np.nan,
        "excess_variance_err": np.nan,
        "fvar": np.nan,
        "fvar_err": np.nan,
        "max_min_ratio": np.nan,
    }
    if n == 0:
        return out
    mean = float(x.mean())
    out["mean"] = mean
    out["std"] = float(x.std(ddof=1)) if n > 1 else np.nan
    out["max_min_ratio"] = float(x.max() / x.min()) if x.min() > 0 else np.nan
    good_err = np.isfinite(e) & (e > 0)
    if good_err.all():
        w = 1.0 / e**2
        wm = float(np.sum(w * x) / np.sum(w))
        out["weighted_mean"], out["weighted_mean_err"] = wm, float(1.0 / np.sqrt(np.sum(w)))
        if np.all(np.isfinite(sys_e)):
            out["weighted_mean_sys_err"] = float(np.sum(w * sys_e) / np.sum(w))
        if n > 1:
            chi2 = float(np.sum(w * (x - wm) ** 2))
            out["chi2_dof"] = chi2 / (n - 1)
            out["p_constant"] = float(stats.chi2.sf(chi2, n - 1))
        if n > 1 and mean != 0:
            mse = float(np.mean(e**2))
            nxs = (out["std"] ** 2 - mse) / mean**2
            fvar = np.sqrt(nxs) if nxs > 0 else np.nan
            t1 = np.sqrt(2.0 / n) * mse / mean**2
            t2 = np.sqrt(mse / n) * 2.0 * (fvar if np.isfinite(fvar) else 0.0) / abs(mean)
            out["excess_variance"], out["excess_variance_err"] = float(nxs), float(np.hypot(t1, t2))
            if np.isfinite(fvar):
                out["fvar"] = float(fvar)
                out["fvar_err"] = float(
                    np.hypot(np.sqrt(1.0 / (2 * n)) * mse / (mean**2 * fvar), np.sqrt(mse / n) / abs(mean))
                )
    return out
