"""Two-temperature blackbody fit (a hot and a warm component) to spectral intensities in ≥ 3 bands.

Model: ``I_b = 1e-3 · [A_hot · L̄_b(T_hot) + A_warm · L̄_b(T_warm)]`` (I in GW µm⁻¹ sr⁻¹, A in km², L̄ the
band-mean spectral radiance in W m⁻² sr⁻¹ µm⁻¹). Fitted with :func:`scipy.optimize.least_squares` in log
parameters (ln T, ln A: positivity, good conditioning) within bounds, from the best starts of a grid search
over (T_hot, T_warm) pairs in which the areas are solved linearly.

Degrees of freedom, honestly:

* 4 free parameters need ≥ 4 bands. With exactly 4 the system is exactly determined (dof = 0): the
  parameters and their Jacobian errors are meaningful, χ² is ~0 and says nothing about the model.
* With 3 bands the problem is underdetermined. We do not invent a constraint: unless the caller fixes the
  warm temperature (``fixed_warm_temperature_k``, e.g. from a background or a previous epoch), the result is
  ``valid=False`` with the message "underdetermined". With it fixed, 3 parameters are fitted (dof = 0).
* χ² is reported with dof = n_bands − n_free; errors are the Jacobian (Gauss–Newton) covariance from the
  stated intensity errors, *not* rescaled by χ²/dof.

A fit whose component runs into a bound (area → 0, T → range limit) or whose Jacobian is singular (both
components at one temperature) is returned ``valid=False``: the data then do not support two temperatures
(use the single-temperature colour fit). A component whose area is below 2σ is kept (``valid=True``) but
named in ``message``. Data problems never raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from ioscan.radiometry.bands import (
    BandResponse,
    RadiometryError,
    band_log_slope,
    band_mean_spectral_radiance_w_m2_sr_um,
)
from ioscan.radiometry.planck import SIGMA_W_M2_K4

PARAMETERS = ("t_hot_k", "area_hot_km2", "t_warm_k", "area_warm_km2")
AREA_MIN_KM2 = 1e-8
AREA_MAX_KM2 = 1e7
_KM2_TO_GW = 1e-3  # W m⁻² sr⁻¹ µm⁻¹ × km² (1e6 m²) → GW µm⁻¹ sr⁻¹ (1e-9)


@dataclass(frozen=True)
class TwoTemperatureFit:
    """Result of :func:`fit_two_temperature` (NaN values when nothing could be fitted).

    ``covariance`` is 4×4 over :data:`PARAMETERS` (K, km²); a fixed parameter has zero rows/columns.
    """

    t_hot_k: float
    t_hot_err_k: float
    area_hot_km2: float
    area_hot_err_km2: float
    t_warm_k: float
    t_warm_err_k: float
    area_warm_km2: float
    area_warm_err_km2: float
    power_gw: float
    power_err_gw: float
    chi2: float
    dof: int
    n_bands: int
    valid: bool
    message: str
    fixed: tuple[str, ...] = ()
    covariance: np.ndarray = field(default_factory=lambda: np.full((4, 4), np.nan))


def _failed(n_bands: int, message: str, dof: int = 0, fixed: tuple[str, ...] = ()) -> TwoTemperatureFit:
    nan = float("nan")
    return TwoTemperatureFit(
        nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, dof, n_bands, False, message, fixed
    )


def _lbar_matrix(bands: Sequence[BandResponse], t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L̄_b(T) and s_b(T) for every band (rows) and temperature (columns)."""
    lb = np.array([band_mean_spectral_radiance_w_m2_sr_um(b, t) for b in bands])
    s = np.array([band_log_slope(b, t) for b in bands])
    return lb, s


def two_temperature_intensity_gw_um_sr(
    bands: Sequence[BandResponse], t_hot_k: float, area_hot_km2: float, t_warm_k: float, area_warm_km2: float
) -> np.ndarray:
    """Model spectral intensities (GW µm⁻¹ sr⁻¹) of two blackbody components in each band."""
    lb, _ = _lbar_matrix(bands, np.array([t_hot_k, t_warm_k], dtype=float))
    return _KM2_TO_GW * (lb[:, 0] * area_hot_km2 + lb[:, 1] * area_warm_km2)


def _grid_starts(
    lb_grid: np.ndarray, t_grid: np.ndarray, y: np.ndarray, sig: np.ndarray, n: int
) -> list[np.ndarray]:
    """Best (T_hot, T_warm) grid pairs with non-negative linear areas, as log-parameter vectors."""
    g = _KM2_TO_GW * lb_grid / sig[:, None]  # bands × temperatures, weighted design columns
    yw = y / sig
    i, j = np.triu_indices(t_grid.size, k=1)  # j > i: T_j hotter
    warm_cols, hot_cols = g[:, i], g[:, j]
    t_w, t_h = t_grid[i], t_grid[j]
    a11 = np.sum(hot_cols**2, 0)
    a22 = np.sum(warm_cols**2, 0)
    a12 = np.sum(hot_cols * warm_cols, 0)
    b1 = hot_cols.T @ yw
    b2 = warm_cols.T @ yw
    det = a11 * a22 - a12**2
    with np.errstate(divide="ignore", invalid="ignore"):
        ah = (a22 * b1 - a12 * b2) / det
        aw = (a11 * b2 - a12 * b1) / det
    good = (ah > 0) & (aw > 0) & np.isfinite(ah) & np.isfinite(aw)
    chi2 = np.sum((hot_cols[:, good] * ah[good] + warm_cols[:, good] * aw[good] - yw[:, None]) ** 2, 0)
    order = np.argsort(chi2)[:n]
    idx = np.flatnonzero(good)[order]
    return [np.log([t_h[k], ah[k], t_w[k], aw[k]]) for k in idx]


def fit_two_temperature(
    bands: Sequence[BandResponse],
    intensity_gw_um_sr: Sequence[float],
    intensity_err_gw_um_sr: Sequence[float],
    *,
    fixed_warm_temperature_k: float | None = None,
    t_min_k: float = 150.0,
    t_max_k: float = 2500.0,
    n_starts: int = 4,
) -> TwoTemperatureFit:
    """Fit hot + warm blackbody components to spectral intensities in ≥ 3 bands.

    Args:
        bands: the filters, one per measurement (any mix of instruments).
        intensity_gw_um_sr: foreshortening-corrected spectral intensities, GW µm⁻¹ sr⁻¹ (may be ≤ 0 by noise).
        intensity_err_gw_um_sr: their 1σ errors (> 0), assumed independent.
        fixed_warm_temperature_k: fix T_warm (needed with exactly 3 bands; optional otherwise).
        t_min_k, t_max_k: temperature bounds of both components, K.
        n_starts: number of grid starts refined by least squares.

    Returns:
        :class:`TwoTemperatureFit`; ``valid=False`` with a message when the fit is impossible or unsupported.
    """
    n = len(bands)
    y = np.asarray(intensity_gw_um_sr, dtype=float).ravel()
    sig = np.asarray(intensity_err_gw_um_sr, dtype=float).ravel()
    if y.size != n or sig.size != n:
        raise RadiometryError(f"{n} bands but {y.size} intensities and {sig.size} errors")
    if not 0 < t_min_k < t_max_k:
        raise RadiometryError(f"need 0 < t_min_k < t_max_k, got {t_min_k}, {t_max_k}")
    fixed: tuple[str, ...] = () if fixed_warm_temperature_k is None else ("t_warm_k",)
    n_free = 4 - len(fixed)
    dof = n - n_free
    if n < 3:
        return _failed(n, f"need ≥ 3 bands for a two-temperature fit, got {n}", dof, fixed)
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(sig)) and np.all(sig > 0)):
        return _failed(n, "non-finite intensity or non-positive error", dof, fixed)
    if dof < 0:
        return _failed(
            n,
            f"underdetermined: {n} bands for {n_free} parameters; pass fixed_warm_temperature_k",
            dof,
            fixed,
        )
    if fixed_warm_temperature_k is not None and not t_min_k <= fixed_warm_temperature_k <= t_max_k:
        return _failed(n, f"fixed_warm_temperature_k outside [{t_min_k}, {t_max_k}] K", dof, fixed)

    free = np.array([True, True, fixed_warm_temperature_k is None, True])
    lo = np.log([t_min_k, AREA_MIN_KM2, t_min_k, AREA_MIN_KM2])
    hi = np.log([t_max_k, AREA_MAX_KM2, t_max_k, AREA_MAX_KM2])

    def full(p: np.ndarray) -> np.ndarray:
        q = np.empty(4)
        q[free] = p
        if not free[2]:
            q[2] = np.log(fixed_warm_temperature_k)
        return q

    def parts(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.exp(q[[0, 2]])
        a = np.exp(q[[1, 3]])
        lb, s = _lbar_matrix(bands, t)
        return lb, s, a

    def residuals(p: np.ndarray) -> np.ndarray:
        lb, _, a = parts(full(p))
        return (_KM2_TO_GW * lb @ a - y) / sig

    def jacobian(p: np.ndarray) -> np.ndarray:
        lb, s, a = parts(full(p))
        comp = _KM2_TO_GW * lb * a[None, :] / sig[:, None]  # d I / d ln A
        jac = np.column_stack([comp[:, 0] * s[:, 0], comp[:, 0], comp[:, 1] * s[:, 1], comp[:, 1]])
        return jac[:, free]

    t_grid = np.geomspace(t_min_k, t_max_k, 48)
    lb_grid, _ = _lbar_matrix(bands, t_grid)
    if fixed_warm_temperature_k is None:
        starts = _grid_starts(lb_grid, t_grid, y, sig, n_starts)
    else:
        starts = _fixed_warm_starts(lb_grid, t_grid, bands, fixed_warm_temperature_k, y, sig, n_starts)
    if not starts:
        return _failed(
            n, "no two-component start with positive areas: data not two-temperature-like", dof, fixed
        )

    best = None
    for q0 in starts:
        p0 = np.clip(q0[free], lo[free] + 1e-9, hi[free] - 1e-9)
        sol = least_squares(
            residuals,
            p0,
            jac=jacobian,
            bounds=(lo[free], hi[free]),
            method="trf",
            x_scale="jac",
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
            max_nfev=500,
        )
        if best is None or sol.cost < best.cost:
            best = sol
    q = full(best.x)
    # label the hotter component "hot"
    if q[2] > q[0] and fixed_warm_temperature_k is None:
        q = q[[2, 3, 0, 1]]
    chi2 = float(2 * best.cost)
    jac = jacobian(q[free])
    messages = []
    valid = True
    at_bound = (np.abs(q - lo) < 1e-6) | (np.abs(hi - q) < 1e-6)
    if np.any(at_bound & free):
        names = [PARAMETERS[i] for i in np.flatnonzero(at_bound & free)]
        messages.append(f"at bound: {', '.join(names)} (two temperatures not supported by the data)")
        valid = False
    cov_log = np.zeros((4, 4))
    try:
        jtj = jac.T @ jac
        if np.linalg.cond(jtj) > 1e14:
            raise np.linalg.LinAlgError
        cov_free = np.linalg.inv(jtj)
        cov_log[np.ix_(free, free)] = cov_free
    except np.linalg.LinAlgError:
        cov_log[:] = np.nan
        messages.append("singular Jacobian: parameters not separately constrained")
        valid = False
    vals = np.exp(q)
    cov = cov_log * np.outer(vals, vals)
    err = np.sqrt(np.diag(cov))
    p_hot = SIGMA_W_M2_K4 * vals[0] ** 4 * vals[1] * 1e-3  # W m⁻² × km² (1e6 m²) → GW (1e-9)
    p_warm = SIGMA_W_M2_K4 * vals[2] ** 4 * vals[3] * 1e-3
    grad = np.array([4 * p_hot, p_hot, 4 * p_warm, p_warm])
    power_err = float(np.sqrt(max(grad @ cov_log @ grad, 0.0)))
    for label, k in (("hot", 1), ("warm", 3)):
        if valid and err[k] > 0 and vals[k] < 2 * err[k]:
            messages.append(f"{label} component not significant (area < 2σ): one temperature may suffice")
    if dof == 0:
        messages.append("exactly determined (dof = 0): chi2 carries no goodness-of-fit information")
    if not best.success:
        messages.append(f"optimizer: {best.message}")
        valid = False
    return TwoTemperatureFit(
        t_hot_k=float(vals[0]),
        t_hot_err_k=float(err[0]),
        area_hot_km2=float(vals[1]),
        area_hot_err_km2=float(err[1]),
        t_warm_k=float(vals[2]),
        t_warm_err_k=float(err[2]),
        area_warm_km2=float(vals[3]),
        area_warm_err_km2=float(err[3]),
        power_gw=float(p_hot + p_warm),
        power_err_gw=power_err,
        chi2=chi2,
        dof=dof,
        n_bands=n,
        valid=valid,
        message="; ".join(messages) or "ok",
        fixed=fixed,
        covariance=cov,
    )


def _fixed_warm_starts(
    lb_grid: np.ndarray,
    t_grid: np.ndarray,
    bands: Sequence[BandResponse],
    t_warm: float,
    y: np.ndarray,
    sig: np.ndarray,
    n: int,
) -> list[np.ndarray]:
    """Grid starts over T_hot with T_warm fixed (areas solved linearly, both > 0)."""
    lbw, _ = _lbar_matrix(bands, np.array([t_warm]))
    warm = _KM2_TO_GW * lbw[:, 0] / sig
    hot = _KM2_TO_GW * lb_grid / sig[:, None]
    yw = y / sig
    a11 = np.sum(hot**2, 0)
    a22 = float(warm @ warm)
    a12 = warm @ hot
    b1 = hot.T @ yw
    b2 = float(warm @ yw)
    det = a11 * a22 - a12**2
    with np.errstate(divide="ignore", invalid="ignore"):
        ah = (a22 * b1 - a12 * b2) / det
        aw = (a11 * b2 - a12 * b1) / det
    good = (ah > 0) & (aw > 0) & np.isfinite(ah) & np.isfinite(aw)
    chi2 = np.sum((hot[:, good] * ah[good] + warm[:, None] * aw[good] - yw[:, None]) ** 2, 0)
    idx = np.flatnonzero(good)[np.argsort(chi2)[:n]]
    return [np.log([t_grid[k], ah[k], t_warm, aw[k]]) for k in idx]
