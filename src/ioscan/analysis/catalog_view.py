"""The one place the science outputs read the catalogue (through :class:`ioscan.catalog.store.Store`).

:func:`read_catalog` returns a :class:`CatalogView`: plain DataFrames and decoded coverage grids, plus the
**census** the statistics use — hot spots with at least one usable detection in the census bands (M-band-like:
JIRAM M, NIRC2 Ms; ``AnalysisConfig.bands``), the observations in those bands whose positions the tracking
policy accepts (pointing error × pixel scale ≤ ``TrackConfig.max_position_err_km``: a frame that could not be
registered looked, but its detections cannot make hot spots, so its coverage stays out too), and one power per
hot spot.

Power of a hot spot (what the maps and sums add up), in order of preference:

1. ``hotspot_table``: the mean two-band colour-fit total power of the hot spot (``ioscan track`` pairs its
   detections in two bands close in time: ``Store.hotspot_temperatures_frame()``), over the pairs that are
   usable and whose colour temperature is plausible (``colour_t_min_k``–``colour_t_max_k``, relative error ≤
   ``colour_t_max_rel_err``);
2. ``m_band_colour_t``: its time-averaged M-band spectral radiant power × f(T) at that colour temperature
   when the pairs give a temperature but no total power
   (:func:`ioscan.radiometry.power.total_power_from_m_band_gw`, error propagated);
3. ``m_band_bracket``: M-band power × f(T) for T anywhere in 600–1200 K (the extremes of f over the
   interval; central value their geometric mean, 1σ half the range).

This is **high-temperature volcanic output** — what an M-band census sees — not Io's total heat flow (which
includes the warm, extended and conductive components the M band misses). The time-averaged M-band spectral
power is the mean over unsaturated detections (foreshortening-corrected, GW µm⁻¹); a hot spot seen only
saturated keeps its largest value, marked ``power_lower_limit``.

Product versions marked superseded (a ``superseded`` column, when the catalogue has one) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ioscan.analysis.config import AnalysisConfig
from ioscan.records import DetectionFlag

if TYPE_CHECKING:
    from ioscan.catalog.store import Store
    from ioscan.track.config import TrackConfig

POWER_SOURCES = ("hotspot_table", "m_band_colour_t", "m_band_bracket")
HIGH_T_NOTE = (
    "Powers are high-temperature volcanic output seen in the M band (converted to total with a "
    "temperature-dependent factor), not Io's total heat flow."
)


@dataclass
class CatalogView:
    """What the report knows of a catalogue.

    Attributes:
        url: the database (password hidden).
        observations, frames, detections, hotspots_all, events, cross_ids, runs, imports,
            reference_catalogs: the catalogue's tables as DataFrames (``hotspots_all``: every hot spot).
        coverage: observation id → (90, 180) boolean coverage grid.
        census_observations: observations with a census band and a coverage grid.
        census_detections: usable detections in a census band that belong to a hot spot.
        hotspots: the census hot spots, with ``spectral_power_gw_um`` (time average, GW µm⁻¹),
            ``spectral_power_err_gw_um``, ``max_spectral_power_gw_um``, ``power_lower_limit``,
            ``temperature_k``, ``temperature_err_k``, ``power_gw``, ``power_err_gw``, ``power_source``,
            ``n_census_detections``.
        notes: what was left out and why.
    """

    url: str
    observations: pd.DataFrame
    frames: pd.DataFrame
    detections: pd.DataFrame
    hotspots_all: pd.DataFrame
    events: pd.DataFrame
    cross_ids: pd.DataFrame
    runs: pd.DataFrame
    imports: pd.DataFrame
    reference_catalogs: pd.DataFrame
    coverage: dict[int, np.ndarray]
    census_observations: pd.DataFrame
    census_detections: pd.DataFrame
    hotspots: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _not_superseded(df: pd.DataFrame) -> pd.DataFrame:
    if "superseded" in df.columns:
        return df[~df["superseded"].fillna(False).astype(bool)]
    return df


def read_catalog(store: Store, config: AnalysisConfig | None = None, track: TrackConfig | None = None):
    """Read ``store`` into a :class:`CatalogView` (census bands and power rules from ``config``, the
    detection policy from ``track``)."""
    from ioscan.geometry.coverage import decode_grid
    from ioscan.track.config import TrackConfig, usable_detections

    cfg = config or AnalysisConfig()
    tcfg = track or TrackConfig()
    notes: list[str] = []
    all_obs = store.observations_frame()
    obs = _not_superseded(all_obs)
    frames = store.frames_frame()
    det = store.detections_frame()
    if len(obs) != len(all_obs):
        notes.append(f"{len(all_obs) - len(obs)} superseded product versions left out")
    det = det[det["observation_id"].isna() | det["observation_id"].isin(obs["id"])]
    coverage = {}
    for oid, text in zip(obs["id"], obs["coverage_grid"], strict=True):
        grid = decode_grid(text)
        if grid is not None:
            coverage[int(oid)] = grid
    bands = set(cfg.bands)
    band_obs = set(frames.loc[frames["band"].isin(bands), "observation_id"].astype(int))
    census_obs = obs[obs["id"].astype(int).isin(band_obs) & obs["id"].astype(int).isin(coverage.keys())]
    n_nocov = len(obs[obs["id"].astype(int).isin(band_obs)]) - len(census_obs)
    if n_nocov:
        notes.append(f"{n_nocov} observations in the census bands have no coverage grid (not navigated)")
    # an observation whose positions the tracking policy refuses (pointing not fixed) looked, but cannot add
    # hot spots: counting its coverage would dilute the densities where it looked
    pos_err_km = census_obs["pointing_offset_err_px"].astype(float) * census_obs["pixel_scale_km"].astype(
        float
    )
    vague = (pos_err_km > tcfg.max_position_err_km).to_numpy()
    if vague.any():
        notes.append(
            f"{int(vague.sum())} observations in the census bands are left out: their pointing is uncertain "
            f"by more than {tcfg.max_position_err_km:g} km (not registered), so their detections cannot make "
            "hot spots"
        )
        census_obs = census_obs[~vague]
    usable = usable_detections(det, tcfg) if not det.empty else det.assign(detection_id=[])
    census_det = usable[
        usable["band"].isin(bands)
        & usable["hotspot_id"].notna()
        & usable["observation_id"].isin(census_obs["id"])
    ].copy()
    n_imported = int((det["source"] != "ioscan").sum()) if not det.empty else 0
    if n_imported:
        notes.append(
            f"{n_imported} imported published detections are not in the census (no coverage is known for "
            "them)"
        )
    hs_all = store.hotspots_frame()
    hs_table = store.hotspot_temperatures_frame()
    hotspots = hotspot_powers(hs_all, census_det, cfg, hs_table)
    n_other = int(hs_all["hotspot_id"].nunique() - len(hotspots)) if not hs_all.empty else 0
    if n_other:
        notes.append(
            f"{n_other} hot spots have no usable detection in bands {sorted(bands)} and are not in the census"
        )
    return CatalogView(
        url=store.url,
        observations=obs.reset_index(drop=True),
        frames=frames,
        detections=det.reset_index(drop=True),
        hotspots_all=hs_all,
        events=store.events_frame(),
        cross_ids=store.cross_ids_frame(),
        runs=store.runs_frame(),
        imports=store.imports_frame(),
        reference_catalogs=store.reference_catalogs_frame(),
        coverage=coverage,
        census_observations=census_obs.reset_index(drop=True),
        census_detections=census_det.reset_index(drop=True),
        hotspots=hotspots,
        notes=notes,
    )


def _plausible_t(t, t_err, cfg: AnalysisConfig) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    e = np.asarray(t_err, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (
            np.isfinite(t)
            & (t >= cfg.colour_t_min_k)
            & (t <= cfg.colour_t_max_k)
            & np.isfinite(e)
            & (e / t <= cfg.colour_t_max_rel_err)
        )


def _per_hotspot(group: pd.DataFrame, cfg: AnalysisConfig) -> dict:
    phi = group["spectral_power_gw_um"].to_numpy(float)
    err = group["spectral_power_err_gw_um"].to_numpy(float)
    sat = (group["flags"].fillna(0).astype(int).to_numpy() & int(DetectionFlag.SATURATED)) != 0
    ok = np.isfinite(phi)
    unsat = ok & ~sat
    row = {"n_census_detections": int(len(group)), "power_lower_limit": False}
    if unsat.any():
        x, e = phi[unsat], np.where(np.isfinite(err[unsat]), err[unsat], 0.0)
        n = len(x)
        spread = x.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0
        row["spectral_power_gw_um"] = float(x.mean())
        row["spectral_power_err_gw_um"] = float(np.hypot(np.sqrt(np.sum(e**2)) / n, spread))
    elif ok.any():
        k = int(np.nanargmax(np.where(ok, phi, -np.inf)))
        row["spectral_power_gw_um"] = float(phi[k])
        row["spectral_power_err_gw_um"] = float(err[k]) if np.isfinite(err[k]) else 0.0
        row["power_lower_limit"] = True
    else:
        row["spectral_power_gw_um"] = np.nan
        row["spectral_power_err_gw_um"] = np.nan
    row["max_spectral_power_gw_um"] = float(np.nanmax(phi)) if ok.any() else np.nan
    return row


def hotspot_colour(table: pd.DataFrame | None, cfg: AnalysisConfig) -> pd.DataFrame:
    """Per hot spot, from its two-band pairs (``hotspot_temperatures``) that are usable and plausible: the
    weighted mean colour temperature (K, 1σ) and the mean total power (GW, 1σ; NaN where no pair has one)."""
    cols = ["temperature_k", "temperature_err_k", "colour_power_gw", "colour_power_err_gw"]
    if table is None or table.empty or "temperature_k" not in table.columns:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="hotspot_id"))
    usable = table["usable"].astype(bool) if "usable" in table.columns else pd.Series(True, index=table.index)
    flags = table["flags"].fillna(0).astype(int) if "flags" in table.columns else 0
    t = table["temperature_k"].to_numpy(float)
    te = table["temperature_err_k"].to_numpy(float)
    good = usable.to_numpy() & (np.asarray(flags) == 0) & _plausible_t(t, te, cfg)
    rows = {}
    for hid, g in table[good].groupby("hotspot_id", sort=True):
        gt, ge = g["temperature_k"].to_numpy(float), g["temperature_err_k"].to_numpy(float)
        w = 1.0 / ge**2
        row = {
            "temperature_k": float(np.sum(w * gt) / np.sum(w)),
            "temperature_err_k": float(1 / np.sqrt(np.sum(w))),
        }
        p = g["total_power_gw"].to_numpy(float) if "total_power_gw" in g else np.full(len(g), np.nan)
        pe = g["total_power_err_gw"].to_numpy(float) if "total_power_err_gw" in g else np.full(len(g), np.nan)
        fin = np.isfinite(p) & np.isfinite(pe)
        row["colour_power_gw"] = float(p[fin].mean()) if fin.any() else np.nan
        row["colour_power_err_gw"] = float(np.sqrt(np.sum(pe[fin] ** 2)) / fin.sum()) if fin.any() else np.nan
        rows[hid] = row
    out = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    out.index.name = "hotspot_id"
    return out


def hotspot_powers(
    hotspots: pd.DataFrame,
    census_detections: pd.DataFrame,
    config: AnalysisConfig | None = None,
    hotspot_table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The census hot spots (those with census detections) with their powers (module docstring)."""
    from ioscan.radiometry.power import m_band_factor_range, total_power_from_m_band_gw

    cfg = config or AnalysisConfig()
    cols = ["hotspot_id", "lat_deg", "lon_w_deg", "lat_err_deg", "lon_err_deg", "name", "n_detections"]
    if census_detections.empty or hotspots.empty:
        out = pd.DataFrame(
            columns=[*cols, "spectral_power_gw_um", "power_gw", "power_err_gw", "power_source"]
        )
        return out.astype({"lat_deg": float, "lon_w_deg": float, "power_gw": float})
    rows = {hid: _per_hotspot(g, cfg) for hid, g in census_detections.groupby("hotspot_id", sort=True)}
    per = pd.DataFrame.from_dict(rows, orient="index")
    per.index.name = "hotspot_id"
    out = hotspots[cols].merge(per.reset_index(), on="hotspot_id", how="inner")
    out = out.merge(hotspot_colour(hotspot_table, cfg).reset_index(), on="hotspot_id", how="left")
    phi = out["spectral_power_gw_um"].to_numpy(float)
    phi_err = out["spectral_power_err_gw_um"].to_numpy(float)
    f_lo, f_hi = m_band_factor_range(cfg.bracket_t_low_k, cfg.bracket_t_high_k)
    power = phi * np.sqrt(f_lo * f_hi)
    power_err = np.hypot(phi * (f_hi - f_lo) / 2.0, np.nan_to_num(phi_err) * np.sqrt(f_lo * f_hi))
    source = np.full(len(out), "m_band_bracket", dtype=object)
    t = out["temperature_k"].to_numpy(float)
    has_t = np.isfinite(t) & np.isfinite(phi)
    if has_t.any():
        p_t, e_t = total_power_from_m_band_gw(
            phi[has_t],
            t[has_t],
            np.nan_to_num(phi_err[has_t]),
            out["temperature_err_k"].to_numpy(float)[has_t],
        )
        power[has_t], power_err[has_t], source[has_t] = p_t, e_t, "m_band_colour_t"
    cp = out["colour_power_gw"].to_numpy(float)
    has_cp = np.isfinite(cp)
    power[has_cp] = cp[has_cp]
    power_err[has_cp] = out["colour_power_err_gw"].to_numpy(float)[has_cp]
    source[has_cp] = "hotspot_table"
    out["power_gw"] = power
    out["power_err_gw"] = power_err
    out["power_source"] = source
    return out.drop(columns=["colour_power_gw", "colour_power_err_gw"]).reset_index(drop=True)
