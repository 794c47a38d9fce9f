"""Hot-spot population of the independent renderer: positions on Io, fluxes, close pairs, limb sources.

Fluxes are the *observed* band radiance summed over the source's pixels (W m⁻² sr⁻¹), drawn directly from a
truncated power law N(>F) ∝ F^(−a) (a = 0.6 by default) between ``snr_min`` × the read-noise-limited
matched-filter noise and ``flux_max_w_m2_sr`` (3 W m⁻² sr⁻¹): most sources are near the detection limit, a few
per cent saturate. Observed fluxes are not foreshortened (a source at the limb is as likely to be bright as
one at disk centre: lava fountains and plumes are seen edge-on too). Each source has a colour temperature
(log-uniform 350–1,500 K) that sets its L/M band ratio as a blackbody.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ioscan.simulate.independent import geometry as geo
from ioscan.simulate.independent.surface import band_planck_w_m2_sr


@dataclass(frozen=True)
class HotSpotParams:
    """Population settings of one frame.

    Attributes:
        n_surface_mean: mean number of hot spots over Io's whole surface (Poisson); only those on the visible
            disk and inside the frame are rendered.
        flux_power_index: a in N(>F) ∝ F^(−a).
        snr_min: faintest flux, in units of the read-noise-limited matched-filter noise σ_read·sqrt(1/ΣP²).
        flux_max_w_m2_sr: brightest flux (summed band radiance of the first band of the mode).
        min_separation_px: the population and limb sources are thinned so that no two are closer than this in
            the image (real crowding aside, so that completeness measures detection, not confusion); close
            pairs are added afterwards on purpose.
        pair_probability: chance that a source gets a companion ``pair_separation_px`` away.
        pair_separation_px: (min, max) separation of close pairs, pixels.
        limb_sources_mean: mean number of extra sources at emission ``limb_emission_deg`` (Poisson).
        limb_emission_deg: (min, max) emission angle of the extra limb sources.
        temperature_k: (min, max) of the log-uniform colour temperature, K.
    """

    n_surface_mean: float = 60.0
    flux_power_index: float = 0.6
    snr_min: float = 2.5
    flux_max_w_m2_sr: float = 3.0
    min_separation_px: float = 5.0
    pair_probability: float = 0.1
    pair_separation_px: tuple[float, float] = (1.5, 4.0)
    limb_sources_mean: float = 1.0
    limb_emission_deg: tuple[float, float] = (80.0, 89.5)
    temperature_k: tuple[float, float] = (350.0, 1500.0)


def draw_fluxes(rng: np.random.Generator, n: int, f_min: float, f_max: float, index: float) -> np.ndarray:
    """``n`` fluxes from a power law N(>F) ∝ F^(−index) truncated to [f_min, f_max] (inverse CDF)."""
    u = rng.random(n)
    return f_min * (1.0 - u * (1.0 - (f_max / f_min) ** (-index))) ** (-1.0 / index)


def band_ratio(band: str, ref_band: str, temperature_k) -> np.ndarray:
    """Blackbody band-radiance ratio band / ref_band at the given temperatures."""
    t = np.asarray(temperature_k, dtype=float)
    return band_planck_w_m2_sr(band, t) / band_planck_w_m2_sr(ref_band, t)


def _in_strips(sample: np.ndarray, line: np.ndarray, strips: list[tuple[int, int]]) -> np.ndarray:
    """True where (sample, M-coordinate line) is inside the frame: any of the [first, last] line strips."""
    ok = np.zeros(sample.shape, bool)
    for first, last in strips:
        ok |= (line >= first - 0.5) & (line < last + 0.5)
    return ok & (sample >= -0.5) & (sample < geo.N_SAMPLES - 0.5)


def _companions(
    rng: np.random.Generator, view: geo.ViewGeometry, df: pd.DataFrame, hs: HotSpotParams
) -> np.ndarray:
    """Body-fixed points of close companions of some sources (those whose offset pixel is on the disk)."""
    pick = rng.random(len(df)) < hs.pair_probability
    if not pick.any():
        return np.empty((0, 3))
    sep = rng.uniform(*hs.pair_separation_px, pick.sum())
    ang = rng.uniform(0, 2 * np.pi, pick.sum())
    s = df["sample"].to_numpy()[pick] + sep * np.cos(ang)
    ln = df["line_m"].to_numpy()[pick] + sep * np.sin(ang)
    hits = geo.intersect(view, s, ln)
    return hits.point_body_km[hits.hit & (hits.cos_emission > 0.02)]


def _limb_points(rng: np.random.Generator, view: geo.ViewGeometry, hs: HotSpotParams, strips) -> np.ndarray:
    """Body-fixed points of the extra sources at high emission angle inside the frame."""
    n = rng.poisson(hs.limb_sources_mean)
    if n == 0:
        return np.empty((0, 3))
    pts = geo.random_surface_points(rng, 20_000, view.radii_km)
    v = geo.visible_points(view, pts)
    e = np.degrees(np.arccos(np.clip(v["cos_emission"], -1, 1)))
    ok = (e >= hs.limb_emission_deg[0]) & (e <= hs.limb_emission_deg[1])
    ok &= _in_strips(v["sample"], v["line"], strips)
    idx = np.flatnonzero(ok)
    return pts[rng.choice(idx, size=min(n, idx.size), replace=False)] if idx.size else np.empty((0, 3))


def _thin(df: pd.DataFrame, min_sep_px: float) -> pd.DataFrame:
    """Drop sources closer than ``min_sep_px`` (image) to one kept earlier in the table."""
    kept: list[int] = []
    xy = df[["sample", "line_m"]].to_numpy()
    for i in range(len(df)):
        if not kept or np.min(np.hypot(*(xy[kept] - xy[i]).T)) >= min_sep_px:
            kept.append(i)
    return df.iloc[kept]


def _neighbour_px(df: pd.DataFrame) -> np.ndarray:
    """Image distance from each source to its nearest other source, pixels (inf when alone)."""
    xy = df[["sample", "line_m"]].to_numpy()
    if len(xy) < 2:
        return np.full(len(xy), np.inf)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def _table(view: geo.ViewGeometry, pts: np.ndarray, kind: str) -> pd.DataFrame:
    v = geo.visible_points(view, pts)
    lat, lon = geo.lat_lon(pts)
    return pd.DataFrame(
        {
            "sample": v["sample"],
            "line_m": v["line"],
            "emission_deg": np.degrees(np.arccos(np.clip(v["cos_emission"], -1, 1))),
            "lat_pc_deg": lat,
            "lon_w_deg": lon,
            "kind": kind,
            "visible": v["visible"],
        }
    )


def draw_hot_spots(
    rng: np.random.Generator,
    view: geo.ViewGeometry,
    hs: HotSpotParams,
    *,
    strips: list[tuple[int, int]],
    f_min: float,
    ref_band: str = "M",
) -> pd.DataFrame:
    """Hot spots visible in the frame: position (sample, ``line_m`` in M-band coordinates), geometry, flux.

    Args:
        strips: [first, last] M-coordinate line ranges the frame's bands cover.
        f_min: faintest flux of ``ref_band``, W m⁻² sr⁻¹ (summed).
        ref_band: band the fluxes are drawn in (``flux_<band>`` columns hold every band).
    """
    pts = geo.random_surface_points(rng, rng.poisson(hs.n_surface_mean), view.radii_km)
    df = _table(view, pts, "population")
    limb = _table(view, _limb_points(rng, view, hs, strips), "limb")
    df = pd.concat([d for d in (limb, df) if len(d)] or [df], ignore_index=True)
    df = df[df["visible"] & _in_strips(df["sample"].to_numpy(), df["line_m"].to_numpy(), strips)]
    df = _thin(df, hs.min_separation_px)
    pairs = _table(view, _companions(rng, view, df, hs), "pair")
    df = pd.concat([d for d in (df, pairs) if len(d)] or [df], ignore_index=True)
    df = df[df["visible"] & _in_strips(df["sample"].to_numpy(), df["line_m"].to_numpy(), strips)]
    df = df.drop(columns="visible").reset_index(drop=True)
    df["neighbour_px"] = _neighbour_px(df)
    n = len(df)
    df["temperature_k"] = np.exp(rng.uniform(*np.log(hs.temperature_k), n))
    flux = draw_fluxes(rng, n, f_min, hs.flux_max_w_m2_sr, hs.flux_power_index)
    for band in ("L", "M"):
        df[f"flux_{band}_w_m2_sr"] = flux * (band_ratio(band, ref_band, df["temperature_k"]) if n else 1.0)
    return df
