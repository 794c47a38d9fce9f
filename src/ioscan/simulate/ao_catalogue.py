"""Simulated multi-epoch ground-based AO hot-spot catalogues with the statistics of published ones.

A published adaptive-optics catalogue (e.g. Keck/Gemini 2013–2018: ~1,000 detections of ~75 sites over five
years) is not what ioscan's own detections look like: its quoted 1σ position errors understate the scatter
(robust pull standard deviation ≈ 1.6), half of the detections lie more than 2.4° from their site's median
position and 10 % more than 4.9° (tails to ~14°) against quoted errors of 1.2° (median), positions come from
several wavelengths and telescopes, and each night carries a systematic offset. This module writes such a
catalogue, in the import format of :mod:`ioscan.catalog.io_import`, with its truth (the site of every
detection), so that tracking can be scored on it.

Model (deterministic from ``seed``):

* **sites** — the most powerful sources of Davies et al. (2024) PSJ Table 10 within ``max_abs_lat_deg``
  (or any table of positions passed in), at least ``min_site_sep_deg`` apart, plus ``n_close_pairs`` pairs
  of published sources 3–5° apart; site activity falls with a noisy power rank (``activity_slope``); some
  sites are only active in episodes (30–500 days). A catalogue lists the sites it saw, so every site gets at
  least one detection; and it tells two sites 3–5° apart only when it saw both often and at once, so the two
  of a pair share their activity, get ≥ ``min_pair_detections`` each, and where one is detected in an image
  that shows the other, the other is too with probability ``pair_codetection``;
* **nights** — within Jupiter's observing seasons (±4 months of opposition), telescope drawn by weight;
  each night images Io in Lp and usually Ms and Kc, sometimes a narrow filter; Io rotates 8.5°/h between the
  images; the sub-observer latitude drifts within ±3.3°;
* **positions** — every image is offset in the sky plane by the night's navigation error (disk-centre
  registration, ``nav_sigma_km`` per axis, shared by the night's images) plus a small per-image jitter;
  each detection adds its centroid error (∝ wavelength, larger for faint sources, ×``tail_factor`` for a
  fraction ``tail_fraction`` of blended or confused sources). The perturbed sky position is projected back
  on the sphere exactly, so errors grow as 1/cos(emission) towards the limb (positions are clamped inside
  ``limb_rho_max`` of the disk radius), which makes the tails;
* **quoted errors** — the centroid error the observer knows of (not the navigation error), projected on
  the surface with only ``quoted_foreshortening`` of the 1/cos(emission) growth, floored at
  ``quoted_floor_deg``, and rounded to 0.1° like the published positions.

Latitudes are planetographic °N (``lat_deg``), longitudes west 0–360 (``lon_w_deg``); the geometry treats
Io as a sphere of mean radius 1821.49 km (the flattening does not matter at these error levels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ioscan.body import IO_MEAN_RADIUS_KM, ROTATION_PERIOD_D
from ioscan.track._common import DEG, local_north_east, unit_vectors, vectors_to_lat_lon

#: AO filters and their central wavelengths, µm
FILTERS_UM = {"Kc": 2.27, "H2O": 3.06, "PAH": 3.29, "Lp": 3.78, "Bra": 4.05, "Ms": 4.67}
#: probability that a night images Io in each filter (Lp always)
FILTER_USE = {"Lp": 1.0, "Ms": 0.75, "Kc": 0.55, "H2O": 0.08, "PAH": 0.08, "Bra": 0.1}
#: relative detectability of a site in each filter (hot spots are brightest at Lp/Ms; Kc sees only hot ones)
FILTER_DETECTABILITY = {"Lp": 1.0, "Ms": 0.85, "Kc": 0.35, "H2O": 0.6, "PAH": 0.6, "Bra": 0.7}
#: Jupiter opposition of 2014 and its synodic period, days: nights fall within ±``season_days`` of it
OPPOSITION_2014 = np.datetime64("2014-01-05T00:00:00", "s")
JUPITER_SYNODIC_D = 398.88
CATALOGUE_COLUMNS = [
    "time_utc",
    "lat_deg",
    "lon_w_deg",
    "lat_err_deg",
    "lon_err_deg",
    "wavelength_um",
    "intensity_gw_um_sr",
    "intensity_err_gw_um_sr",
    "detection_id",
    "observer",
]
R_KM = IO_MEAN_RADIUS_KM


@dataclass(frozen=True)
class Telescope:
    """One telescope/instrument of the catalogue.

    Attributes:
        observer: the catalogue's ``observer`` value.
        weight: share of the nights.
        centroid_km: sky-plane 1σ centroid error of a bright source at Lp (3.78 µm), km per axis.
        nav_scale: multiplies the catalogue's per-night navigation error for this telescope.
    """

    observer: str
    weight: float
    centroid_km: float
    nav_scale: float = 1.0


DEFAULT_TELESCOPES = (
    Telescope("Keck/NIRC2", 0.55, 31.0, 1.0),
    Telescope("Gemini-N/NIRI", 0.35, 41.0, 1.3),
    Telescope("LBT/LMIRCam", 0.10, 36.0, 1.15),
)


@dataclass(frozen=True)
class AOCatalogueConfig:
    """Knobs of :func:`simulate_ao_catalogue` (defaults reproduce the statistics in the module docstring).

    Angles in degrees, sky-plane distances in km, ``n_detections`` the expected number before the top-ups
    (each site seen once, pairs ``min_pair_detections`` times: ~1,050 in all with the defaults).
    """

    n_sites: int = 75
    n_close_pairs: int = 6
    close_pair_sep_deg: tuple[float, float] = (3.0, 5.0)
    min_pair_detections: int = 8
    pair_codetection: float = 0.5
    min_site_sep_deg: float = 8.0
    max_abs_lat_deg: float = 60.0
    n_detections: int = 960
    start_utc: str = "2013-08-01T00:00:00"
    span_years: float = 5.0
    n_nights: int = 230
    season_days: float = 120.0
    telescopes: tuple[Telescope, ...] = DEFAULT_TELESCOPES
    nav_sigma_km: float = 34.0
    image_jitter_km: float = 5.0
    tail_fraction: float = 0.04
    tail_factor: float = 2.0
    max_emission_deg: float = 68.0
    limb_rho_max: float = 0.95
    quoted_foreshortening: float = 0.35
    quoted_floor_deg: float = 0.4
    episodic_fraction: float = 0.4
    activity_slope: float = 1.0
    filters: dict = field(default_factory=lambda: dict(FILTER_USE))


@dataclass
class AOCatalogue:
    """A simulated catalogue.

    Attributes:
        catalogue: one row per detection, columns :data:`CATALOGUE_COLUMNS` (the import format; no ``band``,
            no observation ids), in time order.
        truth: aligned with ``catalogue`` (same index): ``detection_id``, ``site_id``, ``site_name``,
            ``night_id``, ``image_id``, ``emission_deg``, the site's true position ``site_lat_deg``,
            ``site_lon_w_deg``, and the true error model: ``sky_sigma_km`` (1σ per sky axis: the night's
            navigation, the image's jitter and the centroid error, km) and ``radial_north``,
            ``radial_east`` (the direction towards the limb, along which the error grows as 1/cos e).
        sites: one row per site: ``site_id``, ``site_name``, ``ref_id`` (PSJ Table 10 rank, or as given),
            ``lat_deg``, ``lon_w_deg``, ``activity``, ``pair_id`` (−1 unless one of a close pair),
            ``n_detections``.
    """

    catalogue: pd.DataFrame
    truth: pd.DataFrame
    sites: pd.DataFrame


# -- sites ------------------------------------------------------------------------------------------------


def psj_candidates(max_abs_lat_deg: float = 65.0) -> pd.DataFrame:
    """PSJ Table 10 sources within ``max_abs_lat_deg`` of the equator, most powerful first (site_name, ref_id
    = the table's rank, lat_deg, lon_w_deg, power_gw)."""
    from ioscan.simulate.reference_tables import read_psj_table10

    psj = read_psj_table10()
    psj = psj[psj["lat_deg"].abs() <= max_abs_lat_deg]
    names = psj["name"].where(psj["name"].str.len() > 0, psj["jrm_id"])
    out = pd.DataFrame(
        {
            "site_name": names.where(names.str.len() > 0, "PSJ#" + psj["rank"].astype(str)),
            "ref_id": psj["rank"].astype(str),
            "lat_deg": psj["lat_deg"],
            "lon_w_deg": psj["lon_w_deg"],
            "power_gw": psj["power_gw"],
        }
    )
    return out.sort_values("power_gw", ascending=False, kind="stable").reset_index(drop=True)


def _separation_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between unit directions (n, 3) and (m, 3), degrees (n, m)."""
    return np.degrees(np.arccos(np.clip(u @ v.T, -1.0, 1.0)))


def select_sites(candidates: pd.DataFrame, cfg: AOCatalogueConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Pick ``cfg.n_sites`` sites from ``candidates`` (most important first): ``cfg.n_close_pairs`` pairs
    3–5° apart, the rest ≥ ``cfg.min_site_sep_deg`` from every other site.

    Returns site_id (``S001``…), site_name, lat_deg, lon_w_deg, rank (row in ``candidates``), pair_id.
    """
    u = unit_vectors(candidates["lat_deg"].to_numpy(), candidates["lon_w_deg"].to_numpy())
    sep = _separation_deg(u, u)
    n_pool = min(len(candidates), max(4 * cfg.n_sites, 200))
    lo, hi = cfg.close_pair_sep_deg
    pairs = [(i, j) for i in range(n_pool) for j in range(i + 1, n_pool) if lo <= sep[i, j] <= hi]
    rng.shuffle(pairs)
    chosen: list[int] = []
    pair_of: dict[int, int] = {}

    def far_enough(k: int, partner: int | None = None) -> bool:
        others = [c for c in chosen if c != partner]
        return not others or sep[k, others].min() >= cfg.min_site_sep_deg

    for i, j in pairs:
        if len(pair_of) // 2 >= cfg.n_close_pairs:
            break
        if i in chosen or j in chosen or not (far_enough(i) and far_enough(j)):
            continue
        pid = len(pair_of) // 2
        chosen += [i, j]
        pair_of[i] = pair_of[j] = pid
    for k in range(len(candidates)):
        if len(chosen) >= cfg.n_sites:
            break
        if k not in chosen and far_enough(k):
            chosen.append(k)
    chosen.sort()
    picked = candidates.iloc[chosen].reset_index(drop=True)
    return pd.DataFrame(
        {
            "site_id": [f"S{i + 1:03d}" for i in range(len(chosen))],
            "site_name": picked["site_name"].to_numpy(),
            "ref_id": picked["ref_id"].to_numpy() if "ref_id" in picked else picked["site_name"].to_numpy(),
            "lat_deg": picked["lat_deg"].to_numpy(float),
            "lon_w_deg": picked["lon_w_deg"].to_numpy(float),
            "rank": np.asarray(chosen),
            "pair_id": [pair_of.get(k, -1) for k in chosen],
        }
    )


def site_activity(sites: pd.DataFrame, cfg: AOCatalogueConfig, rng: np.random.Generator) -> np.ndarray:
    """Relative detectability of each site: a power law in a noisy importance rank, times a log-normal.

    The first site (the most powerful, Loki Patera for PSJ Table 10) stays the most active; members of close
    pairs get a rank in the middle of the list (a catalogue tells close sites apart when both are seen often
    enough, and neither is one of the few sites that dominate the detections).
    """
    n = len(sites)
    key = np.arange(n, dtype=float) * rng.lognormal(0.0, 0.5, n)
    paired = sites["pair_id"].to_numpy() >= 0
    key[paired] = rng.uniform(0.12 * n, 0.5 * n, int(paired.sum()))
    key[0] = -1.0
    rank = np.argsort(np.argsort(key, kind="stable"), kind="stable") + 1.0
    activity = rank ** (-cfg.activity_slope) * rng.lognormal(0.0, 0.4, n)
    pair_id = sites["pair_id"].to_numpy()
    for pid in np.unique(pair_id[pair_id >= 0]):  # the two sites of a close pair are equally active
        members = pair_id == pid
        activity[members] = np.exp(np.log(activity[members]).mean())
    return activity


def active_windows(
    pair_id: np.ndarray, span_d: float, cfg: AOCatalogueConfig, rng: np.random.Generator
) -> list[list[tuple[float, float]]]:
    """Per site, the (start, end) days since the first night when it is active: always for most, one to
    three episodes of 30–500 days for a fraction ``cfg.episodic_fraction`` (never the first site); the
    second site of a close pair shares the first one's episodes."""
    out: list[list[tuple[float, float]]] = []
    first_of_pair: dict[int, int] = {}
    for s, pid in enumerate(pair_id):
        if pid >= 0 and pid in first_of_pair:
            out.append(list(out[first_of_pair[pid]]))
            continue
        if pid >= 0:
            first_of_pair[pid] = s
        if s == 0 or rng.random() >= cfg.episodic_fraction:
            out.append([(0.0, span_d)])
            continue
        k = int(rng.integers(1, 4))
        starts = rng.uniform(-30.0, span_d - 30.0, k)
        lengths = np.exp(rng.uniform(np.log(30.0), np.log(500.0), k))
        out.append([(float(a), float(a + b)) for a, b in zip(starts, lengths, strict=True)])
    return out


# -- nights and images -----------------------------------------------------------------------------------


def night_dates(cfg: AOCatalogueConfig, rng: np.random.Generator) -> np.ndarray:
    """``cfg.n_nights`` distinct UTC dates (datetime64[D]) within Jupiter's observing seasons."""
    t0 = np.datetime64(cfg.start_utc, "D")
    span = int(cfg.span_years * 365.25)
    days = t0 + np.arange(span).astype("timedelta64[D]")
    since = (days - OPPOSITION_2014.astype("datetime64[D]")).astype(float)
    phase = (since + JUPITER_SYNODIC_D / 2) % JUPITER_SYNODIC_D - JUPITER_SYNODIC_D / 2
    ok = days[np.abs(phase) <= cfg.season_days]
    return np.sort(rng.choice(ok, size=min(cfg.n_nights, len(ok)), replace=False))


def plan_images(cfg: AOCatalogueConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Every image of the campaign: image_id, night_id, observer, filter, wavelength_um, time_utc,
    sub-observer lat/lon (°), the night's sky offset and the image's own (km, east/north in the sky)."""
    dates = night_dates(cfg, rng)
    weights = np.array([t.weight for t in cfg.telescopes], float)
    span_d = cfg.span_years * 365.25
    rows = []
    for night, date in enumerate(dates):
        tel = cfg.telescopes[int(rng.choice(len(cfg.telescopes), p=weights / weights.sum()))]
        nav = rng.normal(0.0, cfg.nav_sigma_km * tel.nav_scale, 2)
        start = date.astype("datetime64[s]") + np.timedelta64(int(rng.uniform(6.0, 13.0) * 3600), "s")
        sub_lon0 = rng.uniform(0.0, 360.0)
        frac = (date - np.datetime64(cfg.start_utc, "D")).astype(float) / span_d
        sub_lat = 1.5 - 4.8 * frac + rng.normal(0.0, 0.2)
        used = [f for f, p in cfg.filters.items() if f == "Lp" or rng.random() < p]
        order = rng.permutation(len(used))
        t_min = np.cumsum(rng.uniform(4.0, 25.0, len(used)))
        for k, idx in enumerate(order):
            f = used[idx]
            dt_h = t_min[k] / 60.0
            jitter = rng.normal(0.0, cfg.image_jitter_km, 2)
            rows.append(
                {
                    "night_id": night,
                    "observer": tel.observer,
                    "centroid_km": tel.centroid_km,
                    "nav_sigma_km": cfg.nav_sigma_km * tel.nav_scale,
                    "filter": f,
                    "wavelength_um": FILTERS_UM[f],
                    "time_utc": start + np.timedelta64(int(t_min[k] * 60), "s"),
                    "sub_lat_deg": sub_lat,
                    "sub_lon_w_deg": (sub_lon0 + 360.0 * dt_h / 24.0 / ROTATION_PERIOD_D) % 360.0,
                    "offset_east_km": nav[0] + jitter[0],
                    "offset_north_km": nav[1] + jitter[1],
                }
            )
    images = pd.DataFrame(rows)
    images.insert(0, "image_id", np.arange(len(images)))
    return images


# -- geometry ----------------------------------------------------------------------------------------------


def sky_basis(sub_lat_deg, sub_lon_w_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors (n, 3) towards the observer, and sky-plane east and north (IAU_IO, sphere)."""
    o = unit_vectors(np.atleast_1d(sub_lat_deg), np.atleast_1d(sub_lon_w_deg))
    north, east = local_north_east(o)
    return o, east, north


def perturb_on_disk(
    u: np.ndarray, o: np.ndarray, east: np.ndarray, north: np.ndarray, dx_km, dy_km, rho_max: float
) -> np.ndarray:
    """Move surface directions ``u`` by (dx, dy) km in the sky plane and project back on the sphere.

    Positions pushed beyond ``rho_max`` disk radii from the centre are pulled back to it (a source centroid
    lies on the disk).
    """
    x = np.einsum("ij,ij->i", u, east) + np.asarray(dx_km) / R_KM
    y = np.einsum("ij,ij->i", u, north) + np.asarray(dy_km) / R_KM
    rho = np.hypot(x, y)
    shrink = np.where(rho > rho_max, rho_max / np.maximum(rho, 1e-12), 1.0)
    x, y = x * shrink, y * shrink
    z = np.sqrt(np.clip(1.0 - x**2 - y**2, 0.0, None))
    return x[:, None] * east + y[:, None] * north + z[:, None] * o


def radial_direction(u: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cos(emission) and the north and east components of the surface direction towards the limb (away
    from the sub-observer point) at directions ``u`` (n, 3) seen from ``o`` (n, 3)."""
    cos_e = np.clip(np.einsum("ij,ij->i", u, o), 0.05, 1.0)
    radial = -(o - cos_e[:, None] * u)
    radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-12)
    north, east = local_north_east(u)
    return cos_e, np.einsum("ij,ij->i", radial, north), np.einsum("ij,ij->i", radial, east)


def quoted_errors_deg(
    u: np.ndarray, o: np.ndarray, sigma_sky_km: np.ndarray, foreshortening: float
) -> tuple[np.ndarray, np.ndarray]:
    """Quoted 1σ ground errors along north and east, degrees of arc, from a sky-plane error.

    The radial (towards the limb) component grows by ``1 + foreshortening·(1/cos e − 1)`` instead of the
    true 1/cos(e): observers quote less than the geometry amplifies.
    """
    cos_e, c, s = radial_direction(u, o)
    s_r = sigma_sky_km * (1.0 + foreshortening * (1.0 / cos_e - 1.0))
    s_t = sigma_sky_km
    s_n = np.sqrt(s_r**2 * c**2 + s_t**2 * s**2)
    s_e = np.sqrt(s_r**2 * s**2 + s_t**2 * c**2)
    return s_n / R_KM / DEG, s_e / R_KM / DEG


# -- catalogue ---------------------------------------------------------------------------------------------


def _visible_pairs(images: pd.DataFrame, site_u: np.ndarray, max_emission_deg: float) -> pd.DataFrame:
    """(image, site) pairs with the site within ``max_emission_deg`` of the sub-observer point."""
    o, _, _ = sky_basis(images["sub_lat_deg"].to_numpy(), images["sub_lon_w_deg"].to_numpy())
    cos_e = o @ site_u.T
    img, site = np.nonzero(cos_e > np.cos(max_emission_deg * DEG))
    return pd.DataFrame({"image": img, "site": site, "cos_e": cos_e[img, site]})


def _detection_probability(
    pairs: pd.DataFrame, images: pd.DataFrame, activity: np.ndarray, windows, target: int
) -> np.ndarray:
    """Per visible (image, site) pair, the probability of a detection, scaled so that the expected total is
    ``target`` (capped at 0.95 per pair)."""
    days = (images["time_utc"] - images["time_utc"].min()).dt.total_seconds().to_numpy() / 86400.0
    d = days[pairs["image"].to_numpy()]
    site = pairs["site"].to_numpy()
    active = np.zeros(len(pairs), dtype=bool)
    for s, spans in enumerate(windows):
        on = site == s
        for a, b in spans:
            active[on] |= (d[on] >= a) & (d[on] <= b)
    filt = images["filter"].to_numpy()[pairs["image"].to_numpy()]
    base = (
        activity[site]
        * np.array([FILTER_DETECTABILITY[f] for f in filt])
        * np.sqrt(pairs["cos_e"].to_numpy())
        * active
    )
    lo, hi = 0.0, 1e6
    for _ in range(80):  # bisection on the scale so that Σ min(0.95, k·base) = target
        k = 0.5 * (lo + hi)
        lo, hi = (k, hi) if np.minimum(0.95, k * base).sum() < target else (lo, k)
    return np.minimum(0.95, 0.5 * (lo + hi) * base)


def _draw_detections(
    site: np.ndarray, p: np.ndarray, min_count: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Which (image, site) pairs are detected: Bernoulli(p), topped up to ``min_count[site]`` detections
    per site (a published catalogue lists the sites it detected, and tells close ones apart only when it
    saw them often enough), drawing the extra pairs with probability ∝ p."""
    hit = rng.random(len(p)) < p
    have = np.bincount(site[hit], minlength=len(min_count))
    for s in np.flatnonzero(have < min_count):
        cand = np.flatnonzero((site == s) & (p > 0) & ~hit)
        k = min(int(min_count[s] - have[s]), len(cand))
        if k:
            hit[rng.choice(cand, size=k, replace=False, p=p[cand] / p[cand].sum())] = True
    return hit


def _pair_codetections(
    visible: pd.DataFrame, hit: np.ndarray, pair_id: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Where one site of a close pair is detected in an image that shows the other, detect the other too with
    probability ``fraction`` (the two are seen as two sources at once: what tells them apart)."""
    hit = hit.copy()
    site = visible["site"].to_numpy()
    image = visible["image"].to_numpy()
    paired = pair_id[site] >= 0
    df = pd.DataFrame({"row": np.flatnonzero(paired), "image": image[paired], "pair": pair_id[site[paired]]})
    df["hit"] = hit[df["row"].to_numpy()]
    n_hit = df.groupby(["image", "pair"])["hit"].transform("sum").to_numpy()
    lonely = (n_hit == 1) & ~df["hit"].to_numpy()
    rows = df["row"].to_numpy()[lonely]
    hit[rows[rng.random(len(rows)) < fraction]] = True
    return hit


def _intensities(
    site: np.ndarray, wavelength_um: np.ndarray, activity: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Spectral intensities GW/µm/sr (foreshortening corrected) and their 1σ errors: a level per site from
    its activity, a colour per wavelength, log-normal variability."""
    level = 2.0 * (activity / activity.max()) ** 0.8 * 60.0
    colour = (wavelength_um / 3.78) ** 1.5
    value = np.maximum(level[site] * colour * rng.lognormal(0.0, 0.6, len(site)), 0.2)
    err = value * rng.uniform(0.08, 0.25, len(site))
    return np.round(value, 2), np.round(err, 2)


def simulate_ao_catalogue(
    seed: int = 0, cfg: AOCatalogueConfig | None = None, sites: pd.DataFrame | None = None
) -> AOCatalogue:
    """A catalogue of ~``cfg.n_detections`` AO detections of ``cfg.n_sites`` sites (see the module docs).

    Args:
        seed: random seed (everything is deterministic from it).
        cfg: model knobs.
        sites: use these sites (``lat_deg``, ``lon_w_deg``, optional ``site_name`` and ``ref_id``, most
            active first) instead of choosing from PSJ Table 10; ``cfg.n_sites``/``n_close_pairs`` are then
            ignored.

    Returns:
        :class:`AOCatalogue` (catalogue in the import format, truth aligned with it, sites).
    """
    cfg = cfg or AOCatalogueConfig()
    rng = np.random.default_rng(seed)
    if sites is None:
        sites = select_sites(psj_candidates(cfg.max_abs_lat_deg), cfg, rng)
    else:
        sites = _given_sites(sites)
    site_u = unit_vectors(sites["lat_deg"].to_numpy(), sites["lon_w_deg"].to_numpy())
    activity = site_activity(sites, cfg, rng)
    images = plan_images(cfg, rng)
    pair_id = sites["pair_id"].to_numpy()
    windows = active_windows(pair_id, cfg.span_years * 365.25, cfg, rng)
    visible = _visible_pairs(images, site_u, cfg.max_emission_deg)
    p = _detection_probability(visible, images, activity, windows, cfg.n_detections)
    min_count = np.where(pair_id >= 0, cfg.min_pair_detections, 1)
    hit = _draw_detections(visible["site"].to_numpy(), p, min_count, rng)
    hit = _pair_codetections(visible, hit, pair_id, cfg.pair_codetection, rng)
    det = visible[hit].reset_index(drop=True)
    return _observe(det, images, sites, site_u, activity, cfg, rng)


def _given_sites(sites: pd.DataFrame) -> pd.DataFrame:
    """User-given sites in the :func:`select_sites` layout."""
    n = len(sites)
    names = sites["site_name"] if "site_name" in sites.columns else pd.Series([""] * n)
    refs = sites["ref_id"] if "ref_id" in sites.columns else names
    return pd.DataFrame(
        {
            "site_id": [f"S{i + 1:03d}" for i in range(n)],
            "site_name": names.fillna("").astype(str).to_numpy(),
            "ref_id": refs.fillna("").astype(str).to_numpy(),
            "lat_deg": sites["lat_deg"].to_numpy(float),
            "lon_w_deg": sites["lon_w_deg"].to_numpy(float) % 360.0,
            "rank": np.arange(n),
            "pair_id": np.full(n, -1),
        }
    )


def _observe(det, images, sites, site_u, activity, cfg: AOCatalogueConfig, rng) -> AOCatalogue:
    """Positions, quoted errors and intensities of the detected (image, site) pairs."""
    img = images.iloc[det["image"].to_numpy()].reset_index(drop=True)
    site = det["site"].to_numpy()
    o, east, north = sky_basis(img["sub_lat_deg"].to_numpy(), img["sub_lon_w_deg"].to_numpy())
    u = site_u[site]
    wl = img["wavelength_um"].to_numpy(float)
    faint = np.clip(rng.lognormal(0.0, 0.25, len(det)), 0.7, 1.6)
    sigma_c = img["centroid_km"].to_numpy(float) * (wl / 3.78) * faint
    true_sigma = sigma_c * np.where(rng.random(len(det)) < cfg.tail_fraction, cfg.tail_factor, 1.0)
    dx = img["offset_east_km"].to_numpy() + rng.normal(0.0, 1.0, len(det)) * true_sigma
    dy = img["offset_north_km"].to_numpy() + rng.normal(0.0, 1.0, len(det)) * true_sigma
    moved = perturb_on_disk(u, o, east, north, dx, dy, cfg.limb_rho_max)
    lat, lon = vectors_to_lat_lon(moved)
    q_n, q_e = quoted_errors_deg(u, o, sigma_c, cfg.quoted_foreshortening)
    lat_err = np.maximum(np.round(np.maximum(q_n, cfg.quoted_floor_deg), 1), 0.1)
    lon_err_ground = np.maximum(q_e, cfg.quoted_floor_deg)
    lon_err = np.maximum(np.round(lon_err_ground / np.maximum(np.cos(lat * DEG), 0.05), 1), 0.1)
    value, err = _intensities(site, wl, activity, rng)
    times = pd.to_datetime(img["time_utc"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    cat = pd.DataFrame(
        {
            "time_utc": times,
            "lat_deg": np.round(lat, 1),
            "lon_w_deg": np.round(lon, 1) % 360.0,
            "lat_err_deg": lat_err,
            "lon_err_deg": lon_err,
            "wavelength_um": wl,
            "intensity_gw_um_sr": value,
            "intensity_err_gw_um_sr": err,
            "observer": img["observer"].to_numpy(),
        }
    )
    order = np.lexsort((site, img["time_utc"].to_numpy()))
    cat = cat.iloc[order].reset_index(drop=True)
    cat.insert(8, "detection_id", [f"D{i + 1:05d}" for i in range(len(cat))])
    cos_e, rad_n, rad_e = radial_direction(u, o)
    sky_sigma = np.sqrt(img["nav_sigma_km"].to_numpy() ** 2 + cfg.image_jitter_km**2 + true_sigma**2)
    truth = pd.DataFrame(
        {
            "detection_id": cat["detection_id"].to_numpy(),
            "site_id": sites["site_id"].to_numpy()[site][order],
            "site_name": sites["site_name"].to_numpy()[site][order],
            "night_id": img["night_id"].to_numpy()[order],
            "image_id": img["image_id"].to_numpy()[order],
            "emission_deg": np.degrees(np.arccos(np.clip(cos_e, -1, 1)))[order],
            "sky_sigma_km": sky_sigma[order],
            "radial_north": rad_n[order],
            "radial_east": rad_e[order],
            "site_lat_deg": sites["lat_deg"].to_numpy()[site][order],
            "site_lon_w_deg": sites["lon_w_deg"].to_numpy()[site][order],
        }
    )
    counts = truth["site_id"].value_counts()
    sites = sites.assign(activity=activity, n_detections=sites["site_id"].map(counts).fillna(0).astype(int))
    return AOCatalogue(catalogue=cat[CATALOGUE_COLUMNS], truth=truth, sites=sites)


def write_ao_catalogue(result: AOCatalogue, path: str | Path) -> tuple[Path, Path, Path]:
    """Write the catalogue CSV (import format) at ``path``, its truth at ``<stem>.truth.csv`` and the sites at
    ``<stem>.sites.csv``; returns the three paths."""
    path = Path(path)
    truth_path = path.with_name(path.stem + ".truth.csv")
    sites_path = path.with_name(path.stem + ".sites.csv")
    result.catalogue.to_csv(path, index=False)
    result.truth.to_csv(truth_path, index=False)
    result.sites.to_csv(sites_path, index=False)
    return path, truth_path, sites_path


# -- statistics ----------------------------------------------------------------------------------------------


def site_medians(catalogue: pd.DataFrame, site_ids) -> pd.DataFrame:
    """Median latitude and longitude (°N, °W, longitude unwrapped around the first detection) of each site."""
    df = pd.DataFrame(
        {
            "site": np.asarray(site_ids),
            "lat": catalogue["lat_deg"].to_numpy(float),
            "lon": catalogue["lon_w_deg"],
        }
    )
    ref = df.groupby("site")["lon"].transform("first").to_numpy(float)
    df["lon"] = ref + (df["lon"].to_numpy(float) - ref + 180.0) % 360.0 - 180.0
    med = df.groupby("site").agg(lat_deg=("lat", "median"), lon_w_deg=("lon", "median"), n=("lat", "size"))
    med["lon_w_deg"] %= 360.0
    return med


def scatter_statistics(catalogue: pd.DataFrame, site_ids, *, min_detections: int = 3) -> dict[str, float]:
    """Scatter of a catalogue about its sites' median positions (sites with ≥ ``min_detections``).

    Returns a dict: ``n_detections``, ``n_sites``, ``quoted_err_median_deg`` (median of lat_err and lon_err
    on the ground), ``pull_robust_std`` (1.4826 × MAD of the north and east pulls, offset / quoted error,
    pooled),
    ``dist_median_deg``, ``dist_p90_deg``, ``dist_max_deg`` (angle to the site's median position) and
    ``frac_beyond_2p4_deg``, ``frac_beyond_4p9_deg``.
    """
    site_ids = np.asarray(site_ids)
    med = site_medians(catalogue, site_ids)
    keep = med.index[med["n"] >= min_detections]
    sel = np.isin(site_ids, keep)
    cat, sid = catalogue[sel], site_ids[sel]
    m = med.loc[sid]
    lat, lon = cat["lat_deg"].to_numpy(float), cat["lon_w_deg"].to_numpy(float)
    dlat = lat - m["lat_deg"].to_numpy()
    dlon = (lon - m["lon_w_deg"].to_numpy() + 180.0) % 360.0 - 180.0
    pulls = np.concatenate(
        [dlat / cat["lat_err_deg"].to_numpy(float), dlon / cat["lon_err_deg"].to_numpy(float)]
    )
    mad = np.median(np.abs(pulls - np.median(pulls)))
    u = unit_vectors(lat, lon)
    v = unit_vectors(m["lat_deg"].to_numpy(), m["lon_w_deg"].to_numpy())
    dist = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", u, v), -1.0, 1.0)))
    coslat = np.cos(lat * DEG)
    quoted = np.concatenate([cat["lat_err_deg"].to_numpy(float), cat["lon_err_deg"].to_numpy(float) * coslat])
    return {
        "n_detections": int(len(catalogue)),
        "n_sites": int(len(med)),
        "quoted_err_median_deg": float(np.median(quoted)),
        "pull_robust_std": float(1.4826 * mad),
        "dist_median_deg": float(np.median(dist)),
        "dist_p90_deg": float(np.percentile(dist, 90)),
        "dist_max_deg": float(dist.max()),
        "frac_beyond_2p4_deg": float(np.mean(dist > 2.4)),
        "frac_beyond_4p9_deg": float(np.mean(dist > 4.9)),
    }
