"""Coverage and exposure: where the census looked, how well, and how many hot spots it could have seen there.

Per 2° cell (the catalogue's coverage grid, :mod:`ioscan.geometry.coverage`) and over the census observations:

* ``n_seen``: observations whose coverage grid holds the cell (seen at emission < 80° by some pixel), after
  filling the gaps left by pixel-centre sampling (:func:`fill_coverage`);
* ``best_emission_deg``, ``best_scale_km`` (pixel scale at normal view, km/px) and
  ``limit_spectral_power_gw_um`` (the lowest 5σ point-source limit, M-band spectral radiant power,
  foreshortening-corrected, GW µm⁻¹).

The observer is placed at ``range_km`` along the surface normal of the stored nearest disk point (exact when
that point is the sub-observer point, which is in view for every full-disk frame; for a close-flyby frame that
does not show it, emission and range at other cells are approximate). A cell at range r and emission e has a
pixel scale s₀·r/r₀ and a limit I₀·(r/r₀)²/cos e (intensity ∝ pixel area; foreshortening correction ÷ cos e),
from the band's stored limit I₀ at the nearest point (:func:`ioscan.measure.detection_limit_gw_um_sr`);
spectral radiant power = π × intensity.

**Completeness** at a limit L is the fraction of a reference luminosity function above L: by number
(κ_n, for counts) and by power (κ_P = power above L / all power, for power sums). The default reference is the
Davies et al. (2024, Nat. Astron.) JIRAM list's average unsaturated M-band spectral powers (266 hot spots),
itself incomplete below JIRAM's own limit (~0.05–0.1 GW µm⁻¹), so κ is completeness *relative to that census*.
**Exposure** = area × completeness (km²): the expected number of hot spots in a region is the density times
its exposure. An observation without a stored limit counts as complete (κ = 1) where it looked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ioscan import body as iobody
from ioscan.analysis import grids
from ioscan.geometry.coverage import N_LAT, N_LON


@dataclass(frozen=True)
class Completeness:
    """Completeness by number and by power against a reference luminosity function.

    Attributes:
        reference_gw_um: reference M-band spectral radiant powers, GW µm⁻¹ (sorted).
        source: where they come from.
    """

    reference_gw_um: np.ndarray
    source: str

    @classmethod
    def from_values(cls, values, source: str) -> Completeness:
        v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
        v = v[v > 0]
        if v.size == 0:
            raise ValueError("a completeness reference needs positive powers")
        return cls(v, source)

    @classmethod
    def davies2024(cls) -> Completeness:
        """The default reference: Davies et al. (2024) JIRAM average unsaturated M-band powers."""
        from ioscan.catalog.reference import davies2024_jiram

        d = davies2024_jiram()
        return cls.from_values(
            d["avg_unsaturated_spectral_power_gw_um"],
            "Davies et al. (2024, Nat. Astron.) Table S1, average unsaturated M-band spectral power",
        )

    def by_number(self, limit_gw_um) -> np.ndarray:
        """κ_n(L): fraction of the reference at or above L (1 where L is NaN: no limit known)."""
        lim = np.asarray(limit_gw_um, dtype=float)
        ref = self.reference_gw_um
        frac = 1.0 - np.searchsorted(ref, np.nan_to_num(lim, nan=0.0), side="left") / ref.size
        return np.where(np.isfinite(lim), frac, 1.0)

    def by_power(self, limit_gw_um) -> np.ndarray:
        """κ_P(L): fraction of the reference's summed power in sources at or above L."""
        lim = np.asarray(limit_gw_um, dtype=float)
        ref = self.reference_gw_um
        tail = np.concatenate([np.cumsum(ref[::-1])[::-1], [0.0]]) / ref.sum()
        frac = tail[np.searchsorted(ref, np.nan_to_num(lim, nan=0.0), side="left")]
        return np.where(np.isfinite(lim), frac, 1.0)


@dataclass
class Exposure:
    """Coverage and exposure maps on the 2° grid (rows from −90°N, columns from 0°W).

    Attributes:
        n_seen: observations seeing each cell.
        best_emission_deg, best_scale_km, limit_spectral_power_gw_um: best values per cell (NaN unseen).
        area_km2: cell areas.
        completeness_n, completeness_p: κ_n and κ_P at the cell's limit (0 unseen).
        observation_ids: the observations used.
        completeness_source: the reference of κ.
        n_without_limit: observations with no stored limit (taken as complete).
    """

    n_seen: np.ndarray
    best_emission_deg: np.ndarray
    best_scale_km: np.ndarray
    limit_spectral_power_gw_um: np.ndarray
    area_km2: np.ndarray
    completeness_n: np.ndarray
    completeness_p: np.ndarray
    observation_ids: list[int] = field(default_factory=list)
    completeness_source: str = ""
    n_without_limit: int = 0

    @property
    def seen(self) -> np.ndarray:
        return self.n_seen > 0

    @property
    def exposure_n_km2(self) -> np.ndarray:
        """Area × number completeness, km²."""
        return self.area_km2 * self.completeness_n

    @property
    def exposure_p_km2(self) -> np.ndarray:
        """Area × power completeness, km²."""
        return self.area_km2 * self.completeness_p

    def observed_fraction(self, weights: np.ndarray) -> float:
        """Seen area / area of a region given as per-cell weights (:func:`grids.region_cells`)."""
        total = float(np.sum(self.area_km2 * weights))
        return float(np.sum(self.area_km2 * weights * self.seen)) / total if total > 0 else float("nan")

    @classmethod
    def uniform(cls, completeness: float = 1.0, source: str = "assumed complete") -> Exposure:
        """Every cell seen, at a given completeness (for tables that give no coverage)."""
        area = grids.cell_areas_km2()
        full = np.full(area.shape, completeness)
        nan = np.full(area.shape, np.nan)
        return cls(np.ones(area.shape, int), nan, nan, nan, area, full, full.copy(), [], source)


def fill_coverage(grid: np.ndarray) -> np.ndarray:
    """A coverage grid with the gaps of pixel-centre sampling filled.

    The catalogue marks a 2° cell seen when a pixel *centre* falls in it. Near the poles a cell spans only
    2°·cos(lat) of arc in longitude, narrower than a coarse pixel, so fully seen polar rows look speckled
    (and so do foreshortened areas near the limb). Each seen cell is widened along its row by
    ⌊0.5/cos(lat)⌋ cells on each side (one equatorial cell width of arc; nothing at |lat| < 60°), and
    one-cell holes are closed (3 × 3 binary closing, wrapping in longitude)."""
    from scipy import ndimage

    g = np.asarray(grid, bool)
    lat_c, _ = grids.cell_centres_deg()
    half = np.floor(0.5 / np.maximum(np.cos(np.radians(lat_c[:, 0])), 1e-3)).astype(int)
    out = g.copy()
    for i in np.nonzero(half > 0)[0]:
        row = g[i]
        if row.any():
            m = min(int(half[i]), N_LON // 2)
            out[i] = (
                np.convolve(
                    np.concatenate([row[-m:], row, row[:m]]).astype(int), np.ones(2 * m + 1), "valid"
                )[:N_LON]
                > 0
            )
    padded = np.concatenate([out[:, -1:], out, out[:, :1]], axis=1)
    closed = ndimage.binary_closing(padded, structure=np.ones((3, 3), bool), border_value=0)[:, 1:-1]
    return closed | out


def cell_geometry(
    sub_lat_deg: float, sub_lon_w_deg: float, range_km: float, lat_deg, lon_w_deg
) -> tuple[np.ndarray, np.ndarray]:
    """(emission angle °, range km) of surface points (°N, °W) for an observer ``range_km`` above the
    nearest disk point (sub_lat_deg °N, sub_lon_w_deg °W) along its surface normal."""
    s = iobody.surface_point_from_lat_pg(sub_lat_deg, sub_lon_w_deg)
    observer = s + range_km * iobody.surface_normal(s)
    p = iobody.surface_point_from_lat_pg(np.asarray(lat_deg, float), np.asarray(lon_w_deg, float))
    n = iobody.surface_normal(p)
    v = observer - p
    r = np.linalg.norm(v, axis=-1)
    cos_e = np.clip(np.sum(n * v, axis=-1) / r, -1.0, 1.0)
    return np.degrees(np.arccos(cos_e)), r


def _observation_limits(frames: pd.DataFrame, bands) -> dict[int, float]:
    sel = frames[frames["band"].isin(list(bands))]
    lim = sel.groupby("observation_id")["detection_limit_gw_um_sr"].min()
    return {int(k): float(v) for k, v in lim.items()}


def build_exposure(
    observations: pd.DataFrame,
    frames: pd.DataFrame,
    coverage: dict[int, np.ndarray],
    *,
    bands=("M", "Ms"),
    completeness: Completeness | None = None,
    emission_max_deg: float = 80.0,
) -> Exposure:
    """Coverage and exposure maps from the census observations (each with a coverage grid)."""
    comp = completeness or Completeness.davies2024()
    lat_c, lon_c = grids.cell_centres_deg()
    n_seen = np.zeros((N_LAT, N_LON), int)
    best_e = np.full((N_LAT, N_LON), np.inf)
    best_s = np.full((N_LAT, N_LON), np.inf)
    best_l = np.full((N_LAT, N_LON), np.inf)
    limits = _observation_limits(frames, bands)
    used, no_limit = [], 0
    for row in observations.itertuples():
        grid = coverage.get(int(row.id))
        if grid is None or not grid.any():
            continue
        grid = fill_coverage(grid)
        used.append(int(row.id))
        n_seen += grid
        geometry_known = all(
            np.isfinite(float(v) if v is not None else np.nan)
            for v in (row.sub_observer_lat_deg, row.sub_observer_lon_w_deg, row.range_km, row.pixel_scale_km)
        )
        lim0 = limits.get(int(row.id), np.nan)
        if not np.isfinite(lim0):
            no_limit += 1
        if not geometry_known:
            best_l[grid] = np.where(np.isfinite(lim0), best_l[grid], -np.inf)
            continue
        e, r = cell_geometry(
            row.sub_observer_lat_deg, row.sub_observer_lon_w_deg, row.range_km, lat_c[grid], lon_c[grid]
        )
        e = np.minimum(e, emission_max_deg)  # the grid says it was seen below the cut-off
        r0 = float(row.range_km)
        scale = float(row.pixel_scale_km) * r / r0
        best_e[grid] = np.minimum(best_e[grid], e)
        best_s[grid] = np.minimum(best_s[grid], scale)
        if np.isfinite(lim0):
            lim = np.pi * lim0 * (r / r0) ** 2 / np.cos(np.radians(e))
            best_l[grid] = np.minimum(best_l[grid], lim)
        else:
            best_l[grid] = -np.inf  # seen without a known limit: taken as complete
    seen = n_seen > 0
    for a in (best_e, best_s):
        a[~np.isfinite(a)] = np.nan
    limit = np.where(np.isfinite(best_l), best_l, np.nan)
    kn = np.where(seen, comp.by_number(limit), 0.0)
    kp = np.where(seen, comp.by_power(limit), 0.0)
    return Exposure(
        n_seen=n_seen,
        best_emission_deg=best_e,
        best_scale_km=best_s,
        limit_spectral_power_gw_um=limit,
        area_km2=grids.cell_areas_km2(),
        completeness_n=kn,
        completeness_p=kp,
        observation_ids=used,
        completeness_source=comp.source,
        n_without_limit=no_limit,
    )


def cell_values(grid: np.ndarray, lat_deg, lon_w_deg) -> np.ndarray:
    """Values of a 2° grid at points (°N, °W)."""
    i, j = grids.cell_index(lat_deg, lon_w_deg)
    return grid[i, j]
