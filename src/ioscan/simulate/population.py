"""A simulated population of Io hot spots, seeded from published tables and evolved in time.

Seeding (deterministic from ``seed``):

* the **true positions** are the published ones displaced by a realistic catalogue error
  (:data:`ioscan.catalog.reference.PUBLISHED_POSITION_ERROR`: 0.6° per axis, 5 % of the sources 2.5°,
  fitted to how far two independent published JIRAM catalogues disagree), so that matching the shipped
  tables against the simulated frames is as hard as on Io; ``sources`` keeps the published position as
  ``catalogue_lat_deg`` / ``catalogue_lon_w_deg`` (the truth is ``lat_deg`` / ``lon_w_deg``);
* every source of Davies et al. (2024) PSJ Table 10 (position, power, and area/temperature where known) and
  every JIRAM source of Davies et al. (2024) Nature Astronomy Table S1 not already in Table 10;
* the **warm** component (temperature_k, area_km2): Table 10's effective temperature and area when given;
  otherwise a temperature drawn in 300–600 K and the area that gives Table 10's power (σT⁴A);
* the **hot** component: where Table S1 gives an average M-band spectral radiant power (GW/µm) above what the
  warm component emits at M, a component at 600–1100 K whose area makes up the difference; other sources
  get a hot component with probability 0.5 and an area 1e-4–1e-3 of the warm one.

Time evolution (on a daily grid from :data:`GRID_START` for :data:`GRID_DAYS` days; times outside are
clamped to the grid ends):

* **variability**: AR(1) in ln(area multiplier), per source correlation time 20–200 d, stationary σ 0.15–0.5;
* **outbursts**: Poisson events (rate ``outburst_rate_per_yr`` per source), linear rise over 0.2–1 d then
  exponential decay (e-folding 2–15 d). During an outburst the hot component heats toward 1100–1400 K and
  gains an area whose peak gives 100–3000 GW, so a source keeps at most two components;
* **Loki Patera**: warm-area multiplier 1 + a·exp(−phase/0.35) with period ~540 d (cycle-to-cycle jitter),
  a fast brightening followed by a slow decline, as Loki's 1990s record shows;
* **fading**: a fraction of sources start fading at a random time (e-folding 30–300 d) and drop out of
  :meth:`HotSpotPopulation.state_at` once below ``min_power_gw``;
* **new sources**: Poisson births (``new_rate_per_yr``) at random positions, uniform on the sphere, ramping up
  over 5–60 d; IDs ``SIM-NEW-###``.

All latitudes are planetographic °N (``lat_deg``), longitudes west 0–360 (``lon_w_deg``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ioscan import body as iobody
from ioscan.body import angular_separation_deg
from ioscan.catalog.reference import PUBLISHED_POSITION_ERROR, PositionErrorModel
from ioscan.errors import IoscanError
from ioscan.radiometry.bands import band_mean_spectral_radiance_w_m2_sr_um, band_response
from ioscan.radiometry.planck import SIGMA_W_M2_K4
from ioscan.simulate.reference_tables import read_natastron_table, read_psj_table10

GRID_START = np.datetime64("2015-01-01T00:00:00", "s")
GRID_DAYS = 6 * 366 + 4 * 365  # to 2025-12-31, covers PJ1 to beyond PJ70
LOKI_PERIOD_D = 540.0
_KM2_TO_M2 = 1e6
#: a Table S1 source within this angle of a Table 10 source is taken to be the same source, degrees
MATCH_RADIUS_DEG = 2.0


@dataclass(frozen=True)
class PopulationConfig:
    """Knobs of the time evolution (rates per source per year unless stated)."""

    outburst_rate_per_yr: float = 0.03
    fade_fraction: float = 0.08
    new_rate_per_yr: float = 6.0
    min_power_gw: float = 0.05
    loki_amplitude: float = 2.0
    #: how far the true positions lie from the published ones (None: on them)
    catalogue_error: PositionErrorModel | None = PUBLISHED_POSITION_ERROR


def power_gw(temperature_k, area_km2) -> np.ndarray:
    """Blackbody power σT⁴A, GW (area in km²)."""
    return (
        SIGMA_W_M2_K4 * np.asarray(temperature_k, float) ** 4 * np.asarray(area_km2, float) * _KM2_TO_M2 / 1e9
    )


def m_band_spectral_power_gw_um(temperature_k, area_km2) -> np.ndarray:
    """JIRAM M-band spectral radiant power π·L̄_M(T)·A, GW/µm (band-mean spectral radiance)."""
    lm = band_mean_spectral_radiance_w_m2_sr_um(band_response("JIRAM", "M"), np.asarray(temperature_k, float))
    return np.pi * lm * np.asarray(area_km2, float) * _KM2_TO_M2 / 1e9


def utc_to_day(time_utc) -> float:
    """ISO UTC time → days since :data:`GRID_START`."""
    try:
        t = np.datetime64(str(time_utc).strip().rstrip("Zz").replace(" ", "T"), "ms")
    except ValueError as exc:
        raise IoscanError(f"cannot parse time {time_utc!r} as ISO 8601 UTC") from exc
    return float((t - GRID_START) / np.timedelta64(1, "ms")) / 86_400_000.0


def _seed_sources(rng: np.random.Generator, ref_dir) -> pd.DataFrame:
    """Static properties of the catalogue sources (one row each)."""
    psj = read_psj_table10(ref_dir)
    nat = read_natastron_table(ref_dir)
    m_avg = dict(zip(nat.jrm_id, nat.m_avg_gw_um, strict=True))
    rows = []
    for r in psj.itertuples():
        sid = r.jrm_id or f"PSJ{r.rank:03d}"
        rows.append(
            {
                "id": sid,
                "name": r.name or sid,
                "lat_deg": r.lat_deg,
                "lon_w_deg": r.lon_w_deg,
                "power_gw": r.power_gw,
                "temperature_k": r.temperature_k,
                "area_km2": r.area_km2,
                "m_gw_um": m_avg.get(r.jrm_id, np.nan),
                "origin": "PSJ2024_T10",
                "jrm_id": r.jrm_id,
            }
        )
    have = {row["id"] for row in rows}
    lat = np.array([row["lat_deg"] for row in rows])
    lon = np.array([row["lon_w_deg"] for row in rows])
    for r in nat.itertuples():
        if r.jrm_id in have or not np.isfinite(r.m_avg_gw_um):
            continue
        sep = angular_separation_deg(lat, lon, r.lat_deg, r.lon_w_deg)
        near = int(np.argmin(sep))
        if sep[near] < MATCH_RADIUS_DEG:  # the same source under an older name: attach its M power once
            if not np.isfinite(rows[near]["m_gw_um"]):
                rows[near]["m_gw_um"] = r.m_avg_gw_um
                rows[near]["jrm_id"] = r.jrm_id
            continue
        rows.append(
            {
                "id": r.jrm_id,
                "name": r.name or r.jrm_id,
                "lat_deg": r.lat_deg,
                "lon_w_deg": r.lon_w_deg,
                "power_gw": np.nan,
                "temperature_k": np.nan,
                "area_km2": np.nan,
                "m_gw_um": r.m_avg_gw_um,
                "origin": "NatAstron2024_S1",
                "jrm_id": r.jrm_id,
            }
        )
    src = pd.DataFrame(rows)
    n = len(src)
    # warm component
    t_draw = rng.uniform(300.0, 600.0, n)
    t_w = np.where(np.isfinite(src.temperature_k), src.temperature_k, t_draw)
    a_w = np.where(
        np.isfinite(src.area_km2), src.area_km2, src.power_gw / np.maximum(power_gw(t_w, 1.0), 1e-300)
    )
    # JIRAM-only sources: power taken as 10 µm × the M spectral power (σT⁴/πL̄_M ≈ 10 µm at 500 K)
    no_power = ~np.isfinite(src.power_gw.to_numpy())
    src.loc[no_power, "power_gw"] = 10.0 * src.m_gw_um[no_power]
    a_w = np.where(no_power, src.power_gw / power_gw(t_w, 1.0), a_w)
    # hot component
    t_h = rng.uniform(600.0, 1100.0, n)
    m_warm = m_band_spectral_power_gw_um(t_w, a_w)
    m_excess = src.m_gw_um.to_numpy() - m_warm
    a_h_fit = np.where(
        np.isfinite(m_excess) & (m_excess > 0), m_excess / m_band_spectral_power_gw_um(t_h, 1.0), 0.0
    )
    random_hot = (rng.random(n) < 0.5) * a_w * 10 ** rng.uniform(-4, -3, n)
    a_h = np.where(np.isfinite(src.m_gw_um), a_h_fit, random_hot)
    src["warm_t_k"], src["warm_area_km2"] = t_w, a_w
    src["hot_t_k"], src["hot_area_km2"] = t_h, a_h
    return src


def _displace_from_catalogue(src: pd.DataFrame, model: PositionErrorModel | None, rng) -> None:
    """Keep the published positions as ``catalogue_*`` and move ``lat_deg``/``lon_w_deg`` (the truth) by an
    error drawn from ``model`` (north, east; degrees of arc), in place."""
    src["catalogue_lat_deg"] = src["lat_deg"].astype(float)
    src["catalogue_lon_w_deg"] = src["lon_w_deg"].astype(float)
    if model is None or len(src) == 0:
        return
    d = model.draw_deg(rng, len(src))
    lat = src["catalogue_lat_deg"].to_numpy()
    new_lat = lat + d[:, 0]
    # over a pole: come back down the other side
    over = np.abs(new_lat) > 90.0
    new_lat = np.where(over, np.sign(new_lat) * 180.0 - new_lat, new_lat)
    cos_lat = np.maximum(np.cos(np.radians(lat)), 0.05)
    new_lon = src["catalogue_lon_w_deg"].to_numpy() - d[:, 1] / cos_lat + np.where(over, 180.0, 0.0)
    src["lat_deg"] = new_lat
    src["lon_w_deg"] = new_lon % 360.0


def _new_sources(rng: np.random.Generator, cfg: PopulationConfig) -> pd.DataFrame:
    years = GRID_DAYS / 365.25
    k = int(rng.poisson(cfg.new_rate_per_yr * years))
    z = rng.uniform(-1, 1, k)
    lat_pc = np.degrees(np.arcsin(z))
    lon_w = rng.uniform(0, 360, k)
    lat_pg = iobody.lat_pc_to_lat_pg_deg(lat_pc, lon_w) if k else lat_pc
    t_w = rng.uniform(300, 500, k)
    p = 10 ** rng.uniform(0, 2.5, k)  # 1–300 GW
    a_w = p / power_gw(t_w, 1.0)
    return pd.DataFrame(
        {
            "id": [f"SIM-NEW-{i + 1:03d}" for i in range(k)],
            "name": [f"SIM-NEW-{i + 1:03d}" for i in range(k)],
            "lat_deg": np.asarray(lat_pg, float),
            "lon_w_deg": lon_w,
            "power_gw": p,
            "temperature_k": np.nan,
            "area_km2": np.nan,
            "m_gw_um": np.nan,
            "origin": "simulated_new",
            "jrm_id": "",
            "warm_t_k": t_w,
            "warm_area_km2": a_w,
            "hot_t_k": rng.uniform(700, 1100, k),
            "hot_area_km2": a_w * 10 ** rng.uniform(-4, -2.5, k),
        }
    )


class HotSpotPopulation:
    """Hot spots with known truth at any time, reproducible from ``seed``.

    Args:
        seed: random seed (every draw derives from it).
        ref_dir: folder holding the reference tables (default: the package copy in ``ioscan/data/reference``).
        config: evolution parameters.
    """

    def __init__(self, seed: int, ref_dir: Path | str | None = None, config: PopulationConfig | None = None):
        self.seed = int(seed)
        self.config = cfg = config or PopulationConfig()
        rng = np.random.default_rng([self.seed, 0x10])
        cat = _seed_sources(rng, ref_dir)
        _displace_from_catalogue(cat, cfg.catalogue_error, np.random.default_rng([self.seed, 0x11]))
        new = _new_sources(rng, cfg)
        self.sources = src = pd.concat([cat, new], ignore_index=True)
        n, days = len(src), GRID_DAYS
        # AR(1) in ln(area multiplier), started from its stationary distribution
        tau = 10 ** rng.uniform(np.log10(20), np.log10(200), n)
        sig = rng.uniform(0.15, 0.5, n)
        rho = np.exp(-1.0 / tau)
        eps = rng.standard_normal((days, n)) * sig * np.sqrt(1 - rho**2)
        x = np.empty((days, n))
        x[0] = rng.standard_normal(n) * sig
        for d in range(1, days):
            x[d] = rho * x[d - 1] + eps[d]
        self._log_mult = x - 0.5 * sig**2  # mean multiplier ≈ 1
        # birth (new sources) and fading
        birth = np.full(n, -np.inf)
        ramp = np.ones(n)
        is_new = (src.origin == "simulated_new").to_numpy()
        birth[is_new] = rng.uniform(0, days, is_new.sum())
        ramp[is_new] = rng.uniform(5, 60, is_new.sum())
        fade = np.full(n, np.inf)
        fade_tau = rng.uniform(30, 300, n)
        fading = (~is_new) & (rng.random(n) < cfg.fade_fraction)
        fade[fading] = rng.uniform(0, days, fading.sum())
        self._birth, self._ramp, self._fade, self._fade_tau = birth, ramp, fade, fade_tau
        # outbursts: (source index, start day, rise d, decay d, temperature K, peak area km2)
        n_ob = rng.poisson(cfg.outburst_rate_per_yr * days / 365.25, n)
        idx = np.repeat(np.arange(n), n_ob)
        m = idx.size
        t_ob = rng.uniform(1100, 1400, m)
        self.outbursts = pd.DataFrame(
            {
                "source_index": idx,
                "id": src.id.to_numpy()[idx],
                "start_day": rng.uniform(0, days, m),
                "rise_d": rng.uniform(0.2, 1.0, m),
                "decay_d": rng.uniform(2, 15, m),
                "temperature_k": t_ob,
                "peak_area_km2": 10 ** rng.uniform(2, np.log10(3000), m) / power_gw(t_ob, 1.0),
            }
        )
        self.outbursts["start_utc"] = [
            str(GRID_START + np.timedelta64(int(d * 86400), "s")) for d in self.outbursts.start_day
        ]
        # Loki's quasi-periodic brightenings: cycle start days with jitter
        loki = np.flatnonzero(src.name.str.contains("Loki", case=False).to_numpy())
        self._loki = int(loki[np.argmax(src.power_gw.to_numpy()[loki])]) if loki.size else -1
        n_cyc = int(days / LOKI_PERIOD_D) + 3
        self._loki_starts = -LOKI_PERIOD_D * rng.random() + np.cumsum(
            np.r_[0.0, LOKI_PERIOD_D + rng.normal(0, 40, n_cyc)]
        )

    @property
    def _points_km(self) -> np.ndarray:
        if "_pts" not in self.__dict__:
            self._pts = iobody.surface_point_from_lat_pg(
                self.sources.lat_deg.to_numpy(float), self.sources.lon_w_deg.to_numpy(float)
            )
        return self._pts

    def __len__(self) -> int:
        return len(self.sources)

    def _multipliers(self, day: float) -> tuple[np.ndarray, np.ndarray]:
        """(warm multiplier, hot multiplier) of every source at ``day`` (grid-clamped)."""
        d = min(max(day, 0.0), GRID_DAYS - 1.000001)
        i = int(d)
        f = d - i
        m = np.exp((1 - f) * self._log_mult[i] + f * self._log_mult[i + 1])
        life = np.clip((day - self._birth) / self._ramp, 0.0, 1.0)
        life = life * np.where(day > self._fade, np.exp(-(day - self._fade) / self._fade_tau), 1.0)
        warm = m * life
        if self._loki >= 0:
            k = np.searchsorted(self._loki_starts, day) - 1
            k = min(max(k, 0), len(self._loki_starts) - 2)
            period = self._loki_starts[k + 1] - self._loki_starts[k]
            phase = (day - self._loki_starts[k]) / period
            warm[self._loki] *= 1.0 + self.config.loki_amplitude * np.exp(-phase / 0.35)
        return warm, m * life

    def state_at(self, time_utc: str) -> pd.DataFrame:
        """Truth at ``time_utc``: one row per active hot spot.

        Columns: id, name, origin, lat_deg, lon_w_deg, n_components, temp1_k, area1_km2 (warm), temp2_k,
        area2_km2 (hot; NaN if none), power_gw (σΣT⁴A), m_spectral_power_gw_um (JIRAM M band, π·L̄·A),
        in_outburst (bool), x_km/y_km/z_km (IAU_IO surface point of lat_deg/lon_w_deg).
        """
        day = utc_to_day(time_utc)
        warm_m, hot_m = self._multipliers(day)
        src = self.sources
        t1 = src.warm_t_k.to_numpy()
        a1 = src.warm_area_km2.to_numpy() * warm_m
        t2 = src.hot_t_k.to_numpy().copy()
        a2 = src.hot_area_km2.to_numpy() * hot_m
        in_ob = np.zeros(len(src), bool)
        ob = self.outbursts
        dt = day - ob.start_day.to_numpy()
        act = (dt > 0) & (dt < ob.decay_d.to_numpy() * 12)
        for j in np.flatnonzero(act):
            r = ob.iloc[j]
            g = min(dt[j] / r.rise_d, 1.0) * (
                np.exp(-(dt[j] - r.rise_d) / r.decay_d) if dt[j] > r.rise_d else 1.0
            )
            k = int(r.source_index)
            a_ob = r.peak_area_km2 * g
            # the hot component heats toward the outburst temperature while the outburst dominates its area
            w = a_ob / (a_ob + a2[k]) if a_ob + a2[k] > 0 else 0.0
            t2[k] = (1 - w) * t2[k] + w * r.temperature_k
            a2[k] = a2[k] + a_ob
            in_ob[k] = True
        p = power_gw(t1, a1) + power_gw(t2, a2)
        mpow = m_band_spectral_power_gw_um(t1, a1) + m_band_spectral_power_gw_um(t2, a2)
        has_hot = a2 > 1e-9
        out = pd.DataFrame(
            {
                "id": src.id,
                "name": src.name,
                "origin": src.origin,
                "lat_deg": src.lat_deg.astype(float),
                "lon_w_deg": src.lon_w_deg.astype(float),
                "n_components": 1 + has_hot.astype(int),
                "temp1_k": t1,
                "area1_km2": a1,
                "temp2_k": np.where(has_hot, t2, np.nan),
                "area2_km2": np.where(has_hot, a2, np.nan),
                "power_gw": p,
                "m_spectral_power_gw_um": mpow,
                "in_outburst": in_ob,
            }
        )
        out[["x_km", "y_km", "z_km"]] = self._points_km
        return out[(p >= self.config.min_power_gw) & (a1 > 0)].reset_index(drop=True)
