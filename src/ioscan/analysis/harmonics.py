"""Spherical-harmonic expansion of an emission map, to the degree the coverage and the data support.

Basis: real, orthonormal spherical harmonics on the unit sphere (∫ Y² dΩ = 1): Y_l0, √2 Re Y_lm (m > 0) and
√2 Im Y_l|m| (m < 0) from ``scipy.special.sph_harm_y``, with colatitude from the planetocentric latitude and
azimuth the **east** longitude (−lon_w); columns ordered by degree, so the first (L+1)² belong to degrees ≤ L.

Fit: weighted least squares on the cells of the 2° grid that were seen, weights = exposure (the Poisson
weighting of a map of counts ÷ exposure). A degree is *supported by the coverage* when the weighted design
matrix has a condition number below :data:`MAX_CONDITION` (gaps in coverage make high degrees ill-posed).

Degree choice: K-fold cross-validation over **hot spots** (not cells — neighbouring cells share sources): the
map of K−1 folds (× K/(K−1)) is fitted at each degree and compared with the map of the held-out fold (× K);
the chosen degree minimises the summed exposure-weighted squared error. With few, very unequal sources (one
Loki) the chosen degree is low: the data then cannot resolve structure at degree 2 and above, and the report
says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ioscan.analysis import grids

MAX_CONDITION = 1e4


def sh_basis(lat_deg, lon_w_deg, max_degree: int) -> np.ndarray:
    """(n_points, (L+1)²) real orthonormal spherical harmonics at planetographic °N, west °W."""
    from scipy.special import sph_harm_y

    lat_pc = grids.pg_to_pc_spheroid_deg(np.ravel(lat_deg))
    theta = np.radians(90.0 - lat_pc)
    phi = np.radians(-np.ravel(np.asarray(lon_w_deg, dtype=float)))
    cols = []
    for n in range(max_degree + 1):
        for m in range(-n, n + 1):
            y = sph_harm_y(n, abs(m), theta, phi)
            if m == 0:
                cols.append(y.real)
            elif m > 0:
                cols.append(np.sqrt(2.0) * y.real)
            else:
                cols.append(np.sqrt(2.0) * y.imag)
    return np.stack(cols, axis=1)


def degree_columns(degree: int) -> int:
    """Number of basis functions up to ``degree``."""
    return (degree + 1) ** 2


def fit_coefficients(basis: np.ndarray, values: np.ndarray, weights: np.ndarray, degree: int) -> np.ndarray:
    """Weighted least-squares coefficients up to ``degree`` (rows with weight 0 ignored)."""
    ok = weights > 0
    x = basis[ok, : degree_columns(degree)] * np.sqrt(weights[ok])[:, None]
    y = values[ok] * np.sqrt(weights[ok])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return coef


def _solve(normal: np.ndarray, rhs: np.ndarray, degree: int) -> np.ndarray:
    """Coefficients up to ``degree`` from the normal equations (XᵀWX) c = XᵀWy (well conditioned by
    :func:`supported_degree`)."""
    n = degree_columns(degree)
    return np.linalg.solve(normal[:n, :n], rhs[:n])


def supported_degree(basis: np.ndarray, weights: np.ndarray, max_degree: int) -> int:
    """Highest degree ≤ max_degree whose weighted design is well conditioned (condition number from the
    eigenvalues of XᵀWX; −1 when nothing is seen)."""
    ok = weights > 0
    if not ok.any():
        return -1
    x = basis[ok]
    w = weights[ok] / weights[ok].max()
    normal = (x * w[:, None]).T @ x
    best = 0
    for degree in range(max_degree + 1):
        n_col = degree_columns(degree)
        if ok.sum() < 2 * n_col:
            break
        ev = np.linalg.eigvalsh(normal[:n_col, :n_col])
        if ev[0] <= 0 or np.sqrt(ev[-1] / ev[0]) > MAX_CONDITION:
            break
        best = degree
    return best


@lru_cache(maxsize=4)
def grid_basis(max_degree: int) -> np.ndarray:
    """The basis at every 2° cell centre (rows in grid order), cached."""
    lat_c, lon_c = grids.cell_centres_deg()
    out = sh_basis(lat_c.ravel(), lon_c.ravel(), max_degree)
    out.setflags(write=False)
    return out


def binned_map(lat_deg, lon_w_deg, values, exposure_km2: np.ndarray) -> np.ndarray:
    """(90, 180) map of Σ values per cell ÷ cell exposure (0 where nothing; NaN where exposure is 0)."""
    total = np.zeros(exposure_km2.shape)
    if len(np.atleast_1d(lat_deg)):
        i, j = grids.cell_index(lat_deg, lon_w_deg)
        np.add.at(total, (i, j), np.nan_to_num(np.asarray(values, float)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(exposure_km2 > 0, total / exposure_km2, np.nan)


@dataclass
class HarmonicFit:
    """A spherical-harmonic expansion of a map chosen by cross-validation.

    Attributes:
        degree: the chosen degree (−1: nothing seen).
        supported_degree: the highest degree the coverage supports.
        cv_error: degree → summed cross-validation error (map units² × km²).
        coefficients: the fit at ``degree`` on all hot spots.
        degree_power: per degree l ≤ ``degree``, Σ_m c_lm² (map units²).
        units: the map's units.
    """

    degree: int
    supported_degree: int
    cv_error: dict[int, float] = field(default_factory=dict)
    coefficients: np.ndarray = field(default_factory=lambda: np.zeros(0))
    degree_power: list[float] = field(default_factory=list)
    units: str = ""

    def evaluate(self, lat_deg, lon_w_deg) -> np.ndarray:
        """The expansion at points (°N, °W)."""
        if self.degree < 0:
            return np.full(np.shape(lat_deg), np.nan)
        basis = sh_basis(lat_deg, lon_w_deg, self.degree)
        return (basis @ self.coefficients).reshape(np.shape(lat_deg))


def cross_validated_fit(
    lat_deg,
    lon_w_deg,
    values,
    exposure_km2: np.ndarray,
    *,
    max_degree: int = 8,
    folds: int = 5,
    rng: np.random.Generator | None = None,
    scale: float = 1.0,
    units: str = "",
) -> HarmonicFit:
    """Fit the map Σ values / exposure (× ``scale``) on the 2° grid with the degree chosen by K-fold
    cross-validation over the points (module docstring)."""
    rng = rng or np.random.default_rng(0)
    lat = np.asarray(lat_deg, float)
    lon = np.asarray(lon_w_deg, float)
    val = np.asarray(values, float)
    ok = np.isfinite(lat) & np.isfinite(lon) & np.isfinite(val)
    lat, lon, val = lat[ok], lon[ok], val[ok]
    weights = np.where(exposure_km2 > 0, exposure_km2, 0.0).ravel()
    seen = weights > 0
    basis = grid_basis(max_degree)
    top = supported_degree(basis, weights, max_degree)
    if top < 0 or lat.size == 0:
        return HarmonicFit(-1, top, units=units)
    k = max(2, min(folds, lat.size))
    fold = rng.permutation(lat.size) % k
    errors = {d: 0.0 for d in range(top + 1)}
    xs, ws = basis[seen], weights[seen]
    normal = (xs * ws[:, None]).T @ xs
    for f in range(k):
        train = fold != f
        m_train = np.nan_to_num(binned_map(lat[train], lon[train], val[train], exposure_km2).ravel()[seen])
        m_test = np.nan_to_num(binned_map(lat[~train], lon[~train], val[~train], exposure_km2).ravel()[seen])
        rhs = xs.T @ (ws * m_train * k / (k - 1))
        for d in range(top + 1):
            pred = xs[:, : degree_columns(d)] @ _solve(normal, rhs, d)
            errors[d] += float(np.sum(ws * (pred - m_test * k) ** 2)) * scale**2
    degree = min(errors, key=errors.get)
    full = np.nan_to_num(binned_map(lat, lon, val, exposure_km2).ravel()[seen]) * scale
    coef = _solve(normal, xs.T @ (ws * full), degree)
    power = [
        float(np.sum(coef[degree_columns(n - 1) if n else 0 : degree_columns(n)] ** 2))
        for n in range(degree + 1)
    ]
    return HarmonicFit(degree, top, errors, coef, power, units)


def smoothed_map(
    lat_deg,
    lon_w_deg,
    values,
    exposure_km2: np.ndarray,
    *,
    sigma_deg: float = 8.0,
    cell_deg: float = 4.0,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernel-smoothed map on a ``cell_deg`` grid: Σ_i v_i K(x, x_i) / Σ_c E_c K(x, c) × scale, with a
    Gaussian kernel of σ = ``sigma_deg`` of arc (the denominator corrects for coverage and completeness;
    NaN where the kernel-weighted exposure is below 5 % of its full-coverage value). Returns (map,
    lat centres °N, lon centres °W)."""
    lat_o, lon_o = grids.cell_centres_deg(cell_deg)
    u_o = _unit(lat_o.ravel(), lon_o.ravel())
    f = max(1, int(round(cell_deg / 2.0)))  # the exposure summed into blocks of the output cells
    e = _block_sum(np.nan_to_num(exposure_km2), f).ravel()
    area = _block_sum(grids.cell_areas_km2(), f).ravel()
    seen = e > 0
    u_c = (
        u_o[seen]
        if f * 2.0 == cell_deg
        else _unit(*[g.ravel()[seen] for g in grids.cell_centres_deg(2.0 * f)])
    )
    u_all = u_o if f * 2.0 == cell_deg else _unit(*[g.ravel() for g in grids.cell_centres_deg(2.0 * f)])
    pts = np.asarray(values, float)
    ok = np.isfinite(pts) & np.isfinite(np.asarray(lat_deg, float))
    u_p = _unit(np.asarray(lat_deg, float)[ok], np.asarray(lon_w_deg, float)[ok])
    k2 = 1.0 / np.radians(sigma_deg) ** 2
    out = np.empty(u_o.shape[0])
    for s in range(0, u_o.shape[0], 256):
        block = u_o[s : s + 256]
        num = np.exp((block @ u_p.T - 1.0) * k2) @ pts[ok] if ok.any() else np.zeros(len(block))
        den = np.exp((block @ u_c.T - 1.0) * k2) @ e[seen]
        full = np.exp((block @ u_all.T - 1.0) * k2) @ area
        with np.errstate(divide="ignore", invalid="ignore"):
            out[s : s + 256] = np.where(den > 0.05 * full, num / den, np.nan)
    return out.reshape(lat_o.shape) * scale, lat_o[:, 0], lon_o[0, :]


def _block_sum(grid: np.ndarray, f: int) -> np.ndarray:
    n, m = grid.shape
    return grid[: n - n % f, : m - m % f].reshape(n // f, f, m // f, f).sum(axis=(1, 3))


def _unit(lat_deg, lon_w_deg) -> np.ndarray:
    lat = np.radians(grids.pg_to_pc_spheroid_deg(lat_deg))
    lon = -np.radians(np.asarray(lon_w_deg, float))
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
