"""Colour temperature, emitting area and total power of a hot spot from two bands seen close in time.

JIRAM's L and M strips sit 138 detector lines (1.9°) apart along track: at any instant they see different
parts of Io, so no frame holds one hot spot in both bands, and a colour temperature needs two frames. After
tracking, each hot spot's detections in two bands of one instrument (JIRAM L and M, or two AO filters) are
paired, the closest in time first, each detection used once per band pair, when they are at most
``colour_window_s`` apart (:class:`~ioscan.track.config.TrackConfig`). A source may change between the two
times: a fractional change of ``colour_variability_per_h`` per hour of separation is added to the ratio's
error (split equally between the two intensities). Then :func:`ioscan.radiometry.fit_color_temperature`
(single-temperature blackbody) gives T, area and total power twice: with the random errors (intensities'
random errors and the variability allowance: ``_err``) and with the systematic ones (``_sys_err``: the two
bands' calibrations taken as independent, their PSF-model parts as fully correlated — one model, one optics —
from each detection's ``extra["intensity_err_fraction"]``).

No pair is made from a detection that is flagged (saturated, lower limit, near the limb, blended...), below
S/N ``colour_min_snr`` or seen beyond ``colour_max_emission_deg``. A temperature outside what Io shows
(``temperature_range_k``, 150–2,000 K), a total power beyond the largest outbursts on record
(``max_total_power_gw``, 1e5 GW: de Kleer et al. 2014, Icarus 242, 352, measured 201308C at 15 to > 25 TW) or
a ratio with no blackbody temperature is kept, flagged (:class:`~ioscan.records.TemperatureFlag`) and left out
of statistics (``usable`` False), never cut silently.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ioscan.records import HotspotTemperature, TemperatureFlag
from ioscan.track._common import require_columns, to_utc
from ioscan.track.config import TrackConfig

#: columns a detections table needs (``extra``, with the error terms, is used when present)
COLUMNS = (
    "detection_id",
    "hotspot_id",
    "time_utc",
    "band",
    "instrument",
    "wavelength_um",
    "flags",
    "snr",
    "emission_deg",
    "spectral_intensity_gw_um_sr",
    "spectral_intensity_err_gw_um_sr",
    "spectral_intensity_sys_err_gw_um_sr",
)


def colour_candidates(det: pd.DataFrame, cfg: TrackConfig) -> pd.DataFrame:
    """Detections that may enter a pair: associated, unflagged (but ``cfg.colour_allowed_flags``), S/N ≥
    ``cfg.colour_min_snr``, emission ≤ ``cfg.colour_max_emission_deg``, finite intensity and errors."""
    require_columns(det, COLUMNS, "colour_candidates(detections)")
    allowed = cfg.colour_allowed_mask
    flags = pd.to_numeric(det["flags"], errors="coerce").fillna(0).astype(int)

    def num(col: str) -> np.ndarray:
        return pd.to_numeric(det[col], errors="coerce").to_numpy(float)

    ok = (
        det["hotspot_id"].notna().to_numpy()
        & det["instrument"].notna().to_numpy()
        & ((flags & ~allowed) == 0).to_numpy()
        & (num("snr") >= cfg.colour_min_snr)
        & (num("emission_deg") <= cfg.colour_max_emission_deg)
        & np.isfinite(num("spectral_intensity_gw_um_sr"))
        & np.isfinite(num("spectral_intensity_err_gw_um_sr"))
    )
    out = det.loc[ok, [*COLUMNS, *(["extra"] if "extra" in det.columns else [])]].copy()
    out["t"] = to_utc(out["time_utc"], "colour_candidates(detections)").to_numpy()
    return out


def pair_in_time(t1: np.ndarray, t2: np.ndarray, window_s: float) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of two time lists (datetime64), closest first, at most ``window_s`` apart."""
    if len(t1) == 0 or len(t2) == 0:
        return []
    dt = np.abs((t1[:, None] - t2[None, :]) / np.timedelta64(1, "s")).astype(float)
    order = np.argsort(dt, axis=None, kind="stable")
    used1, used2, pairs = set(), set(), []
    for flat in order:
        i, j = divmod(int(flat), len(t2))
        if dt[i, j] > window_s:
            break
        if i in used1 or j in used2:
            continue
        used1.add(i)
        used2.add(j)
        pairs.append((i, j))
    return pairs


def hotspot_temperatures(
    det: pd.DataFrame, cfg: TrackConfig | None = None, extra_of: Callable | None = None
) -> list[HotspotTemperature]:
    """Colour temperatures of every hot spot (see the module docstring).

    Args:
        det: associated detections with :data:`COLUMNS` (``detection_id`` = the catalogue row id,
            ``instrument`` = the observation's) and, optionally, ``extra`` (mapping or JSON text).
        cfg: tracking settings (window, variability, cuts, plausible ranges).
        extra_of: without an ``extra`` column, ``extra_of(detection_ids)`` gives ``{id: extra}`` for the
            paired detections only (the catalogue reads just those).

    Returns:
        One :class:`~ioscan.records.HotspotTemperature` per pair, flagged ones included, by hot spot and time.
    """
    from ioscan.radiometry import RadiometryError, band_response

    cfg = cfg or TrackConfig()
    cand = colour_candidates(det, cfg)
    # only hot spots seen in two bands of one instrument can give a pair
    n_bands = cand.groupby(["hotspot_id", "instrument"])["band"].transform("nunique")
    cand = cand[n_bands.to_numpy() >= 2]
    if cand.empty:
        return []
    # one sort (input order does not matter), then each hot spot and band is a slice
    cand = cand.assign(_id=pd.to_numeric(cand["detection_id"], errors="coerce"))
    cand = cand.sort_values(["hotspot_id", "instrument", "band", "t", "_id"], kind="stable").reset_index(
        drop=True
    )
    waves = cand.groupby(["hotspot_id", "instrument", "band"], sort=True)["wavelength_um"].median()
    code = cand.groupby(["hotspot_id", "instrument", "band"], sort=True).ngroup().to_numpy()
    lo = np.searchsorted(code, np.arange(len(waves)), side="left")
    hi = np.searchsorted(code, np.arange(len(waves)), side="right")
    t = cand["t"].to_numpy()
    found: list[tuple] = []
    keys = list(waves.index)
    k = 0
    while k < len(keys):
        hs, inst = keys[k][0], keys[k][1]
        j = k
        while j < len(keys) and keys[j][:2] == (hs, inst):
            j += 1
        group = {keys[i][2]: i for i in range(k, j)}
        order = waves.iloc[k:j].sort_values()
        names = [str(idx[2]) for idx in order.index]
        for x, b1 in enumerate(names):
            for b2 in names[x + 1 :]:
                if not order.iloc[x] < waves.iloc[group[b2]]:
                    continue
                try:
                    r1, r2 = band_response(inst, b1), band_response(inst, b2)
                except (RadiometryError, ValueError, KeyError):
                    continue  # a filter without a known response: no colour from it
                s1 = slice(lo[group[b1]], hi[group[b1]])
                s2 = slice(lo[group[b2]], hi[group[b2]])
                pairs = pair_in_time(t[s1], t[s2], cfg.colour_window_s)
                if pairs:
                    found.append((str(hs), str(inst), b1, b2, s1, s2, pairs, r1, r2))
        k = j
    if extra_of is not None and "extra" not in cand.columns:
        ids = [int(cand["detection_id"].iat[f[4].start + i]) for f in found for i, _ in f[6]]
        ids += [int(cand["detection_id"].iat[f[5].start + j]) for f in found for _, j in f[6]]
        extras = extra_of(ids) if ids else {}
        cand["extra"] = cand["detection_id"].map(lambda i: extras.get(int(i)))
    out: list[HotspotTemperature] = []
    for hs, inst, b1, b2, s1, s2, pairs, r1, r2 in found:
        out += _fit_pairs(hs, inst, b1, b2, cand.iloc[s1], cand.iloc[s2], pairs, r1, r2, cfg)
    out.sort(key=lambda r: (r.hotspot_id, r.time_utc, r.band_short, r.band_long))
    return out


def _fit_pairs(hs, inst, b1, b2, g1, g2, pairs, r1, r2, cfg: TrackConfig) -> list[HotspotTemperature]:
    from ioscan.radiometry import fit_color_temperature_array

    a = g1.iloc[[i for i, _ in pairs]]
    b = g2.iloc[[j for _, j in pairs]]

    def col(df: pd.DataFrame, name: str) -> np.ndarray:
        return pd.to_numeric(df[name], errors="coerce").to_numpy(float)

    i1, i2 = col(a, "spectral_intensity_gw_um_sr"), col(b, "spectral_intensity_gw_um_sr")
    dt_s = (b["t"].to_numpy() - a["t"].to_numpy()) / np.timedelta64(1, "s")
    var_frac = cfg.colour_variability_per_h * np.abs(dt_s) / 3600.0
    e1 = np.hypot(col(a, "spectral_intensity_err_gw_um_sr"), i1 * var_frac / np.sqrt(2.0))
    e2 = np.hypot(col(b, "spectral_intensity_err_gw_um_sr"), i2 * var_frac / np.sqrt(2.0))
    s1 = np.nan_to_num(col(a, "spectral_intensity_sys_err_gw_um_sr"), nan=0.0)
    s2 = np.nan_to_num(col(b, "spectral_intensity_sys_err_gw_um_sr"), nan=0.0)
    rnd = fit_color_temperature_array(r1, r2, i1, e1, i2, e2)
    rho = np.round([_sys_correlation(x, y) for x, y in zip(_extras(a), _extras(b), strict=True)], 3)
    sys = None
    for r in np.unique(rho):  # one correlation per instrument in practice
        part = fit_color_temperature_array(r1, r2, i1, s1, i2, s2, correlation=float(r))
        sys = part if sys is None else _merge(sys, part, rho == r)
    mid = a["t"].to_numpy() + (b["t"].to_numpy() - a["t"].to_numpy()) / 2
    lo_k, hi_k = cfg.temperature_range_k
    rows = []
    for k in range(len(pairs)):
        flags = TemperatureFlag.NONE
        if not rnd.valid[k]:
            flags |= TemperatureFlag.NO_FIT
        else:
            if not lo_k <= rnd.temperature_k[k] <= hi_k:
                flags |= TemperatureFlag.TEMPERATURE_RANGE
            if not rnd.power_gw[k] <= cfg.max_total_power_gw:
                flags |= TemperatureFlag.POWER_RANGE
        rows.append(
            HotspotTemperature(
                hotspot_id=hs,
                instrument=inst,
                band_short=b1,
                band_long=b2,
                time_utc=pd.Timestamp(mid[k]).isoformat(),
                dt_s=float(dt_s[k]),
                detection_short=int(a["detection_id"].iloc[k]),
                detection_long=int(b["detection_id"].iloc[k]),
                intensity_short_gw_um_sr=float(i1[k]),
                intensity_short_err_gw_um_sr=float(e1[k]),
                intensity_long_gw_um_sr=float(i2[k]),
                intensity_long_err_gw_um_sr=float(e2[k]),
                variability_err_fraction=float(var_frac[k]),
                temperature_k=_f(rnd.temperature_k[k]),
                temperature_err_k=_f(rnd.temperature_err_k[k]),
                temperature_sys_err_k=_f(sys.temperature_err_k[k]),
                area_km2=_f(rnd.area_km2[k]),
                area_err_km2=_f(rnd.area_err_km2[k]),
                area_sys_err_km2=_f(sys.area_err_km2[k]),
                total_power_gw=_f(rnd.power_gw[k]),
                total_power_err_gw=_f(rnd.power_err_gw[k]),
                total_power_sys_err_gw=_f(sys.power_err_gw[k]),
                t_area_correlation=_f(rnd.t_area_correlation[k]),
                flags=int(flags),
                usable=flags == TemperatureFlag.NONE,
                message=str(rnd.message[k]),
            )
        )
    return rows


def _extras(df: pd.DataFrame) -> list:
    """Each detection's ``extra`` as a mapping (JSON text, as the catalogue gives it to tracking, parsed)."""
    import json

    if "extra" not in df.columns:
        return [None] * len(df)
    return [json.loads(x) if isinstance(x, str) else x for x in df["extra"]]


def _sys_correlation(extra1, extra2) -> float:
    """Correlation of two detections' systematic errors: their PSF-model parts (same model) correlated,
    their calibrations not; 0 without the terms."""
    try:
        t1, t2 = extra1["intensity_err_fraction"], extra2["intensity_err_fraction"]
        num = t1["psf_model"] * t2["psf_model"]
        den = np.hypot(t1["calibration"], t1["psf_model"]) * np.hypot(t2["calibration"], t2["psf_model"])
    except (KeyError, TypeError):
        return 0.0
    return float(num / den) if den > 0 else 0.0


def _merge(base, part, mask: np.ndarray):
    """``base`` with the elements of ``part`` where ``mask`` (two ColorTemperatureFitArray)."""
    from dataclasses import fields, replace

    return replace(
        base, **{f.name: np.where(mask, getattr(part, f.name), getattr(base, f.name)) for f in fields(base)}
    )


def _f(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def temperature_summary(temps: pd.DataFrame) -> pd.DataFrame:
    """Per hot spot: pairs, usable pairs, and the median usable temperature (K), area (km²) and total power
    (GW) — flagged pairs never enter the medians."""
    cols = [
        "hotspot_id",
        "n_temperatures",
        "n_temperatures_usable",
        "temperature_k",
        "area_km2",
        "total_power_gw",
    ]
    if temps is None or temps.empty:
        return pd.DataFrame(columns=cols)
    usable = temps[temps["usable"].astype(bool)]
    g = temps.groupby("hotspot_id")
    out = pd.DataFrame({"n_temperatures": g.size()})
    out["n_temperatures_usable"] = usable.groupby("hotspot_id").size()
    med = usable.groupby("hotspot_id")[["temperature_k", "area_km2", "total_power_gw"]].median()
    out = out.join(med)
    out["n_temperatures_usable"] = out["n_temperatures_usable"].fillna(0).astype(int)
    return out.reset_index()[cols]
