"""``ioscan report``: the science outputs of a catalogue as ``report.html`` (self-contained), ``report.pdf``,
``summary.json`` (every statistic the report shows) and ``figures/*.png``.

The job (:func:`write_report`) reads the catalogue once (:func:`ioscan.analysis.catalog_view.read_catalog`),
computes the statistics (:func:`analyse_catalogue`, :func:`analyse_published`), draws the figures and writes
the documents (:mod:`ioscan.workflows.report_sections` composes the text). Random draws (bootstrap,
permutations, simulated populations, surrogates) come from one generator seeded by ``AnalysisConfig.seed``, so
a report is reproducible. Nothing is written to the catalogue.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ioscan import __version__
from ioscan.analysis.config import AnalysisConfig
from ioscan.errors import IoscanError

#: permutations per test inside a calibration (p resolved to 0.005: enough to tell p < 0.05 apart)
CALIBRATION_PERMUTATIONS = 200


class ReportError(IoscanError):
    """A catalogue the report cannot be made from (names the database and why)."""


@dataclass
class ReportResult:
    """What :func:`write_report` wrote and the summary it holds."""

    out_dir: Path
    html: Path
    pdf: Path
    summary_json: Path
    figures: list[Path] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def json_safe(obj):
    """A JSON-ready copy: numpy → Python, NaN/inf → None, Paths and timestamps → str, DataFrames → records."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return json_safe(obj.to_dict(orient="records"))
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, Path | pd.Timestamp | datetime):
        return str(obj)
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(float(obj)) else None
    if obj is pd.NA or obj is pd.NaT:
        return None
    return obj


# ------------------------------------------------------------------------------------------------- analysis
def _comparison_verdicts(test: dict, cfg: AnalysisConfig) -> None:
    from ioscan.analysis.significance import verdict

    d = test["density"]
    r0 = cfg.effect_density_ratios[0]
    power = d["power_at_ratio"].get(f"{r0:g}", float("nan"))
    detectable = (
        f"the smallest ratio detectable with {cfg.min_power:.0%} power is {d['min_detectable_ratio_up']:.2f} "
        f"(or {d['min_detectable_ratio_down']:.2f} below 1)"
    )
    short, sentence = verdict(
        d["p_value"], cfg.alpha, power, f"a density ratio of {r0:g}", cfg.min_power, detectable
    )
    test["verdict"], test["verdict_sentence"] = short, sentence
    cal = test.get("calibration") or {}
    pd_ = test["power_distribution"]
    p_eff = (cal.get("power_power_distribution_at_factor") or {}).get(
        f"{cfg.effect_power_factor:g}", float("nan")
    )
    short2, sentence2 = verdict(
        pd_["p_value"],
        cfg.alpha,
        p_eff,
        f"a factor {cfg.effect_power_factor:g} in M-band power",
        cfg.min_power,
    )
    test["power_distribution_verdict"], test["power_distribution_verdict_sentence"] = short2, sentence2


def _region_tests(hs, exposure, reference, cfg: AnalysisConfig, rng, lat_kw: dict, **columns) -> dict:
    """Every region comparison of ``hs`` against ``exposure``, each with its calibration on simulated
    populations drawn from ``reference`` and its verdicts (``lat_kw``: the regions' latitude limits;
    ``columns``: column names for the comparisons)."""
    from ioscan.analysis import distributions as dist
    from ioscan.analysis.calibration import calibrate_comparisons

    tests = {}
    for name, a, b in dist.COMPARISONS:
        tests[name] = dist.compare_regions(
            hs,
            exposure,
            a,
            b,
            alpha=cfg.alpha,
            effect_ratios=cfg.effect_density_ratios,
            min_power=cfg.min_power,
            n_permutations=cfg.n_permutations,
            n_bootstrap=cfg.n_bootstrap,
            n_brightest=cfg.n_jackknife_brightest,
            rng=rng,
            **lat_kw,
            **columns,
        )
    cal = calibrate_comparisons(
        exposure,
        len(hs),
        dist.COMPARISONS,
        reference=reference,
        n_populations=cfg.n_calibration,
        alpha=cfg.alpha,
        effect_ratios=cfg.effect_density_ratios,
        effect_power_factor=cfg.effect_power_factor,
        n_permutations=min(cfg.n_permutations, CALIBRATION_PERMUTATIONS),
        rng=rng,
        **lat_kw,
    )
    for name, test in tests.items():
        test["calibration"] = cal.get(name)
        _comparison_verdicts(test, cfg)
    return tests


def analyse_catalogue(
    view,
    cfg: AnalysisConfig,
    rng: np.random.Generator,
    *,
    external: pd.DataFrame | None = None,
    mosaics: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict, dict]:
    """Every statistic of the catalogue: returns (summary dict, artefacts for the figures)."""
    from ioscan.analysis import distributions as dist
    from ioscan.analysis.coverage import Completeness, build_exposure
    from ioscan.analysis.grids import REGIONS
    from ioscan.analysis.harmonics import cross_validated_fit, smoothed_map
    from ioscan.analysis.tidal import compare_patterns, pattern_properties
    from ioscan.analysis.timeseries import epoch_output

    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    comp = Completeness.davies2024()
    exposure = build_exposure(
        view.census_observations,
        view.frames,
        view.coverage,
        bands=cfg.bands,
        completeness=comp,
        emission_max_deg=cfg.emission_max_deg,
    )
    timings["exposure_s"] = time.perf_counter() - t
    hs = view.hotspots
    s: dict = {}
    kw = {"polar_lat_deg": cfg.polar_lat_deg, "eq_lat_deg": cfg.equatorial_lat_deg}
    say("latitude bands and regions")
    t = time.perf_counter()
    s["latitude_bands"] = dist.latitude_bands(
        hs, exposure, cfg.lat_band_edges_deg, n_bootstrap=cfg.n_bootstrap, rng=rng
    )
    s["regions"] = dist.region_summary(hs, exposure, REGIONS, **kw)
    timings["distributions_s"] = time.perf_counter() - t
    say(f"calibrating the tests on {cfg.n_calibration} simulated populations each")
    t = time.perf_counter()
    tests = _region_tests(hs, exposure, comp, cfg, rng, kw)
    s["tests"] = tests
    timings["calibration_s"] = time.perf_counter() - t

    say("thermal-emission map, spherical harmonics, tidal patterns")
    t = time.perf_counter()
    lat, lon, power = (
        hs["lat_deg"].to_numpy(float),
        hs["lon_w_deg"].to_numpy(float),
        hs["power_gw"].to_numpy(float),
    )
    smooth, lat_c, lon_c = smoothed_map(
        lat, lon, power, exposure.exposure_p_km2, sigma_deg=cfg.smoothing_deg, scale=1e3
    )
    fit_p = cross_validated_fit(
        lat,
        lon,
        power,
        exposure.exposure_p_km2,
        max_degree=cfg.sh_max_degree,
        folds=cfg.cv_folds,
        rng=rng,
        scale=1e3,
        units="W m-2",
    )
    fit_n = cross_validated_fit(
        lat,
        lon,
        np.ones(len(hs)),
        exposure.exposure_n_km2,
        max_degree=cfg.sh_max_degree,
        folds=cfg.cv_folds,
        rng=rng,
        scale=1e6,
        units="hot spots per 1e6 km2",
    )
    tidal_p = compare_patterns(
        lat,
        lon,
        power,
        exposure.exposure_p_km2,
        cfg.tidal_weights,
        alpha=cfg.alpha,
        n_simulations=cfg.n_calibration,
        n_bootstrap=cfg.n_bootstrap,
        rng=rng,
    )
    tidal_n = compare_patterns(
        lat,
        lon,
        np.ones(len(hs)),
        exposure.exposure_n_km2,
        cfg.tidal_weights,
        alpha=cfg.alpha,
        n_simulations=cfg.n_calibration,
        n_bootstrap=cfg.n_bootstrap,
        rng=rng,
    )
    s["thermal_map"] = {
        "note": "high-temperature volcanic output (M band converted to total), not total heat flow",
        "smoothing_sigma_deg": cfg.smoothing_deg,
        "total_power_gw": float(np.nansum(power)),
        "power": _fit_summary(fit_p),
        "number": _fit_summary(fit_n),
    }
    s["tidal"] = {
        "patterns": {
            n: {"weights_psi_a_b_c": list(w), **pattern_properties(w)} for n, w in cfg.tidal_weights.items()
        },
        "power_weighted": tidal_p,
        "number_weighted": tidal_n,
    }
    timings["maps_s"] = time.perf_counter() - t

    say("time series")
    t = time.perf_counter()
    epochs = epoch_output(view, cfg, comp)
    s["time_series"] = {"epochs": epochs, "external": None}
    corr = None
    if external is not None:
        corr = _correlate_external(epochs, external, cfg, rng)
        s["time_series"]["external"] = corr
    timings["time_series_s"] = time.perf_counter() - t

    mos = None
    if mosaics:
        say("mosaics of registered frames")
        t = time.perf_counter()
        from ioscan.analysis.mosaic import mosaic_frames

        mos = mosaic_frames(
            view.observations,
            view.runs,
            bands=cfg.mosaic_bands,
            cell_deg=cfg.mosaic_cell_deg,
            emission_max_deg=cfg.emission_max_deg,
            max_offset_diff_px=cfg.mosaic_max_offset_diff_px,
            workers=cfg.mosaic_workers,
        )
        s["mosaics"] = {
            "cell_deg": cfg.mosaic_cell_deg,
            "n_candidates": mos.n_candidates,
            "mosaics": [
                {
                    "instrument": m.instrument,
                    "band": m.band,
                    "n_frames": len(m.frames),
                    "frames": m.frames,
                    "filled_fraction": m.filled_fraction,
                    "best_scale_km": float(np.nanmin(m.scale_km)) if np.isfinite(m.scale_km).any() else None,
                }
                for m in mos.mosaics
            ],
            "left_out": [{"product_id": p, "reason": r} for p, r in mos.left_out],
        }
        timings["mosaics_s"] = time.perf_counter() - t

    s["coverage"] = {
        "observations_used": len(exposure.observation_ids),
        "seen_area_fraction": float(np.sum(exposure.area_km2 * exposure.seen) / exposure.area_km2.sum()),
        "mean_completeness_by_number": float(exposure.exposure_n_km2.sum() / exposure.area_km2.sum()),
        "mean_completeness_by_power": float(exposure.exposure_p_km2.sum() / exposure.area_km2.sum()),
        "completeness_reference": exposure.completeness_source,
        "observations_without_limit": exposure.n_without_limit,
        "emission_max_deg": cfg.emission_max_deg,
    }
    s["timings_s"] = timings
    artefacts = {
        "exposure": exposure,
        "smooth": (smooth, lat_c, lon_c),
        "fit_power": fit_p,
        "epochs": epochs,
        "correlation": corr,
        "mosaics": mos,
    }
    return s, artefacts


def _fit_summary(fit) -> dict:
    return {
        "degree": fit.degree,
        "supported_degree": fit.supported_degree,
        "units": fit.units,
        "cv_error": {str(k): v for k, v in fit.cv_error.items()},
        "degree_power": fit.degree_power,
        "coefficients": list(map(float, fit.coefficients)),
        "resolves_tidal_degrees": bool(fit.degree >= 2),
    }


def _correlate_external(epochs: pd.DataFrame, external: pd.DataFrame, cfg: AnalysisConfig, rng) -> dict:
    from ioscan.analysis.timeseries import _days, correlate_with_surrogates

    g = epochs[(epochs["region"] == "global") & np.isfinite(epochs["output_w_m2"])]
    out = {"n_epochs": int(len(g)), "n_external": int(len(external)), "min_epochs": cfg.min_epochs}
    if len(g) < cfg.min_epochs or len(external) < cfg.min_epochs:
        out["verdict"] = (
            f"cannot tell: {len(g)} epochs of volcanic output and {len(external)} external values; "
            f"at least {cfg.min_epochs} of each are needed for a correlation"
        )
        return out
    res = correlate_with_surrogates(
        _days(g["time_utc"]),
        g["output_w_m2"].to_numpy(),
        g["output_err_w_m2"].to_numpy(),
        _days(external["time_utc"]),
        external["value"].to_numpy(),
        external["err"].to_numpy(),
        lag_bin_d=cfg.dcf_lag_bin_d,
        max_lag_d=cfg.dcf_max_lag_d,
        n_surrogates=cfg.n_surrogates,
        alpha=cfg.alpha,
        rng=rng,
    )
    out.update({k: v for k, v in res.items() if k not in ("ou_a", "ou_b")})
    out["ou_volcanic"] = vars(res["ou_a"])
    out["ou_external"] = vars(res["ou_b"])
    sig = np.isfinite(res["p_value"]) and res["p_value"] < cfg.alpha
    out["verdict"] = (
        f"correlated: peak DCF {res['peak_dcf']:.2f} at a lag of {res['peak_lag_d']:.0f} d (global p = "
        f"{res['p_value']:.2g})"
        if sig
        else f"cannot tell: the largest |DCF| ({abs(res['peak_dcf']):.2f} at {res['peak_lag_d']:.0f} d) is "
        f"within what independent autocorrelated series give (global p = {res['p_value']:.2g})"
    )
    return out


def analyse_published(cfg: AnalysisConfig, rng: np.random.Generator) -> dict:
    """Counts as printed, conventions, edge sensitivity and the tests on each shipped table (coverage taken
    as complete: the tables give none)."""
    from ioscan.analysis import distributions as dist
    from ioscan.analysis.coverage import Completeness, Exposure
    from ioscan.analysis.published import (
        CONVENTIONS,
        band_counts,
        edge_sensitivity,
        published_tables,
        table_hotspots,
    )
    from ioscan.catalog.reference import CATALOGS

    out = {}
    uniform = Exposure.uniform(source="assumed uniform and complete (the table gives no coverage)")
    kw = {"polar_lat_deg": cfg.polar_lat_deg, "eq_lat_deg": cfg.equatorial_lat_deg}
    for name, df in published_tables().items():
        conv = CONVENTIONS.get(name, {"stated": None, "table_says": "unknown", "power": None})
        hs = table_hotspots(name, df)
        entry = {
            "citation": CATALOGS[name].citation,
            "doi": CATALOGS[name].doi,
            "n_entries": int(len(hs)),
            "latitude_convention": {
                "stated": conv["stated"],
                "table_says": conv["table_says"],
                "used": "converted to planetographic"
                if conv["stated"] == "planetocentric"
                else "as printed" + ("" if conv["stated"] else " (convention unstated)"),
            },
            "power_column": conv.get("power"),
            "power_unit": conv.get("power_unit"),
            "power_label": conv.get("power_label"),
            "band_edges_deg": list(cfg.lat_band_edges_deg),
            "counts_as_printed": band_counts(hs["lat_deg"].to_numpy(), cfg.lat_band_edges_deg),
            "counts_polar_equatorial": {
                "north_polar": int((hs["lat_deg"] >= cfg.polar_lat_deg).sum()),
                "south_polar": int((hs["lat_deg"] <= -cfg.polar_lat_deg).sum()),
                "equatorial": int((hs["lat_deg"].abs() < cfg.equatorial_lat_deg).sum()),
            },
            "edge_sensitivity": edge_sensitivity(df, cfg.lat_band_edges_deg, stated=conv["stated"]),
        }
        bands = dist.latitude_bands(
            hs,
            uniform,
            cfg.lat_band_edges_deg,
            power_col="power",
            err_col=None,
            n_bootstrap=cfg.n_bootstrap,
            rng=rng,
        )
        for b in bands:
            b["observed_area_fraction"] = None
        entry["latitude_bands"] = bands
        if conv.get("power") and name in ("davies2024_jiram", "davies2024_psj"):
            ref = Completeness.from_values(hs["spectral"], f"{name} itself")
            columns = {"power_col": "power", "err_col": None, "spectral_col": "spectral"}
            tests = _region_tests(hs, uniform, ref, cfg, rng, kw, **columns)
            entry["tests"] = tests
            p = hs["power"].to_numpy(float)
            k = int(np.nanargmax(p))
            entry["brightest"] = {
                "ref_id": str(hs["hotspot_id"].iloc[k]),
                "name": hs["name"].iloc[k],
                "power": float(p[k]),
                "share_of_total": float(p[k] / np.nansum(p)),
                "total": float(np.nansum(p)),
            }
        out[name] = entry
    return out


# ------------------------------------------------------------------------------------------------- job
def _light_curves(view, cfg: AnalysisConfig) -> list[dict]:
    """The brightest and the most variable census hot spots' M-band light curves."""
    from ioscan.track.lightcurve import lightcurve, variability_stats

    det = view.census_detections
    if det.empty:
        return []
    chosen: list[tuple[str, str, str]] = []
    hs = view.hotspots.sort_values("power_gw", ascending=False)
    counts = det.groupby(["hotspot_id", "band"]).size()
    days = (
        det.assign(day=det["time_utc"].astype(str).str[:10]).groupby(["hotspot_id", "band"])["day"].nunique()
    )
    n_each = max(1, cfg.n_top // 3)
    for min_days in (2, 1):  # prefer light curves spanning several days
        for hid in hs["hotspot_id"]:
            if len(chosen) >= n_each:
                break
            if hid not in counts.index.get_level_values(0) or hid in [c[0] for c in chosen]:
                continue
            bands = counts.loc[hid]
            band = bands.idxmax()
            if bands.max() >= 2 and days.loc[(hid, band)] >= min_days:
                chosen.append((hid, band, "brightest"))
    stats = []
    for (hid, band), n in counts.items():
        if n >= 3:
            st = variability_stats(lightcurve(det, hid, band))
            if np.isfinite(st.get("p_constant", np.nan)):
                stats.append((st["p_constant"], -np.nan_to_num(st.get("fvar", 0.0)), hid, band))
    for _, _, hid, band in sorted(stats)[:n_each]:
        if (hid, band) not in [(c[0], c[1]) for c in chosen]:
            chosen.append((hid, band, "most variable"))
    out = []
    for hid, band, why in chosen:
        lc = lightcurve(det, hid, band)
        row = hs[hs["hotspot_id"] == hid].iloc[0]
        name = row["name"] if isinstance(row["name"], str) else ""
        out.append(
            {
                "hotspot_id": hid,
                "band": band,
                "why": why,
                "name": name,
                "points": lc,
                "stats": variability_stats(lc),
                "title": f"{hid} {name} ({row['lat_deg']:.1f}°N, {row['lon_w_deg']:.1f}°W), {band} band, "
                f"{why}",
            }
        )
    return out


def write_report(
    store,
    out: Path,
    *,
    settings=None,
    external: Path | None = None,
    external_label: str = "external series",
    mosaics: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Write the report of ``store`` into folder ``out`` (module docstring)."""
    from ioscan.analysis.catalog_view import read_catalog
    from ioscan.analysis.external import read_external_series
    from ioscan.plots.document import write_html, write_pdf
    from ioscan.settings import Settings
    from ioscan.workflows.report_sections import compose_sections, draw_figures

    say = progress or (lambda _msg: None)
    settings = settings or Settings()
    cfg = settings.analysis
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ext = read_external_series(external) if external is not None else None
    t0 = time.perf_counter()
    say("reading the catalogue")
    view = read_catalog(store, cfg, settings.track)
    if view.census_observations.empty or view.hotspots.empty:
        raise ReportError(
            f"catalogue {view.url} has no "
            f"{'hot spots' if len(view.census_observations) else 'navigated observations'}"
            f" in the census bands {', '.join(cfg.bands)} (scan and track first, or choose bands with "
            f"--set analysis.bands=[...]): nothing to report"
        )
    rng = np.random.default_rng(cfg.seed)
    summary, art = analyse_catalogue(view, cfg, rng, external=ext, mosaics=mosaics, progress=say)
    say("published tables")
    t = time.perf_counter()
    summary["published"] = analyse_published(cfg, rng)
    summary["timings_s"]["published_s"] = time.perf_counter() - t
    summary["catalogue"] = _catalogue_summary(view)
    summary["power_conversion"] = _power_summary(view, cfg)
    summary["top_hotspots"] = _top_hotspots(view, cfg)
    art_lc = _light_curves(view, cfg)
    summary["light_curves"] = [{k: v for k, v in lc.items() if k != "points"} for lc in art_lc]
    summary["events"] = view.events.drop(columns=["id"], errors="ignore")
    summary["provenance"] = _provenance(view, settings, external)
    summary["notes"] = view.notes
    summary["ioscan_version"] = __version__
    summary["generated_utc"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    summary["database"] = view.url
    if ext is not None:
        summary["time_series"]["external_label"] = external_label
    say("figures")
    t = time.perf_counter()
    figures = draw_figures(out / "figures", summary, art, view, art_lc, cfg, ext, external_label)
    summary["figures"] = [str(p.relative_to(out)) for p in figures.values()]
    summary["timings_s"]["figures_s"] = time.perf_counter() - t
    say("documents")
    t = time.perf_counter()
    title = "ioscan report: Io's volcanoes in the catalogue"
    subtitle = (
        f"{view.url} — ioscan {__version__}, {summary['generated_utc']}. Latitudes planetographic °N, "
        f"longitudes west °W (0–360, increasing to the left on maps)."
    )
    sections = compose_sections(summary, figures, cfg)
    html = write_html(out / "report.html", title, sections, subtitle=subtitle)
    pdf = write_pdf(out / "report.pdf", title, sections, subtitle=subtitle)
    summary["timings_s"]["documents_s"] = time.perf_counter() - t
    summary["timings_s"]["total_s"] = time.perf_counter() - t0
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(json_safe(summary), indent=1), encoding="utf-8")
    return ReportResult(out, html, pdf, summary_path, list(figures.values()), summary)


def _catalogue_summary(view) -> dict:
    obs = view.observations
    det = view.detections
    times = (
        pd.to_datetime(obs["time_utc"].astype(str).str.rstrip("Z"), format="ISO8601") if len(obs) else None
    )
    return {
        "n_observations": int(len(obs)),
        "observations_by_instrument": obs["instrument"].value_counts().to_dict() if len(obs) else {},
        "observations_by_status": obs["status"].value_counts().to_dict() if len(obs) else {},
        "n_registered": int(obs["registered"].fillna(False).astype(bool).sum()) if len(obs) else 0,
        "n_detections": int(len(det)),
        "detections_by_band": det["band"].value_counts().to_dict() if len(det) else {},
        "n_hotspots": int(len(view.hotspots_all)),
        "n_census_observations": int(len(view.census_observations)),
        "n_census_detections": int(len(view.census_detections)),
        "n_census_hotspots": int(len(view.hotspots)),
        "n_events": view.events["kind"].value_counts().to_dict() if len(view.events) else {},
        "first_utc": str(times.min()) if times is not None else None,
        "last_utc": str(times.max()) if times is not None else None,
        "n_cross_identified": int(view.cross_ids["hotspot_id"].nunique()) if len(view.cross_ids) else 0,
    }


def _power_summary(view, cfg: AnalysisConfig) -> dict:
    from ioscan.analysis.catalog_view import HIGH_T_NOTE
    from ioscan.radiometry.power import m_band_factor_range

    f_lo, f_hi = m_band_factor_range(cfg.bracket_t_low_k, cfg.bracket_t_high_k)
    hs = view.hotspots
    return {
        "note": HIGH_T_NOTE,
        "by_source": hs["power_source"].value_counts().to_dict() if len(hs) else {},
        "bracket_t_k": [cfg.bracket_t_low_k, cfg.bracket_t_high_k],
        "bracket_factor_um": [f_lo, f_hi],
        "n_lower_limits": int(hs["power_lower_limit"].sum()) if "power_lower_limit" in hs.columns else 0,
        "total_power_gw": float(np.nansum(hs["power_gw"])) if len(hs) else 0.0,
    }


def _top_hotspots(view, cfg: AnalysisConfig) -> list[dict]:
    hs = view.hotspots.sort_values("power_gw", ascending=False).head(cfg.n_top)
    cols = [
        "hotspot_id",
        "name",
        "lat_deg",
        "lon_w_deg",
        "n_census_detections",
        "spectral_power_gw_um",
        "max_spectral_power_gw_um",
        "temperature_k",
        "power_gw",
        "power_err_gw",
        "power_source",
        "power_lower_limit",
    ]
    return hs[[c for c in cols if c in hs.columns]].to_dict(orient="records")


def _provenance(view, settings, external) -> dict:
    runs = view.runs.copy()
    return {
        "runs": runs.to_dict(orient="records"),
        "imports": view.imports.to_dict(orient="records") if len(view.imports) else [],
        "reference_catalogs": view.reference_catalogs.to_dict(orient="records")
        if len(view.reference_catalogs)
        else [],
        "report_settings": settings.to_dict()["analysis"],
        "external_series": str(external) if external else None,
    }
