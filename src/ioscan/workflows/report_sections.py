"""The report's figures and text: :func:`draw_figures` (PNG files) and :func:`compose_sections` (the sections
the HTML and PDF writers lay out), both from the summary that ``summary.json`` also holds — so what a person
reads is what a script reads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ioscan.analysis.config import AnalysisConfig
from ioscan.plots.document import Bullets, Figure, Section, Table, Text

COMPARISON_TITLES = {
    "polar_vs_equatorial": "polar (|lat| ≥ {p:g}°) vs equatorial (|lat| < {e:g}°)",
    "north_vs_south_polar": "north polar vs south polar",
    "leading_vs_trailing": "leading (0–180°W) vs trailing (180–360°W)",
    "subjovian_vs_antijovian": "sub-Jovian (270–90°W) vs anti-Jovian (90–270°W)",
}


def f(x, digits: int = 3) -> str:
    """A number for a table: significant digits, '—' for missing."""
    if x is None:
        return "—"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "—" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def lat_text(lat_deg: float) -> str:
    """A latitude as 32°S / 0°N / 60°N (rounded to the degree)."""
    v = round(float(lat_deg))
    return f"{abs(v)}°{'N' if v >= 0 else 'S'}"


def ci(lo, hi, digits: int = 3) -> str:
    return f"[{f(lo, digits)}, {f(hi, digits)}]"


# --------------------------------------------------------------------------------------------- figures
def draw_figures(
    fig_dir: Path,
    summary: dict,
    art: dict,
    view,
    light_curves: list,
    cfg: AnalysisConfig,
    external: pd.DataFrame | None,
    external_label: str,
) -> dict[str, Path]:
    """Every figure of the report, name → PNG path."""
    from ioscan.analysis.published import published_tables, table_hotspots
    from ioscan.plots import distributions as pdist
    from ioscan.plots import maps
    from ioscan.plots.timeseries import plot_dcf, plot_hotspot_lightcurve, plot_output_series

    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    ex = art["exposure"]
    hs = view.hotspots
    figs: dict[str, Path] = {}
    figs["hotspot_map"] = maps.plot_hotspot_map(
        hs, ex.seen, fig_dir / "hotspot_map.png", title="Census hot spots (M band)"
    )
    figs["polar_maps"] = maps.plot_polar_maps(
        hs, ex.seen, fig_dir / "polar_maps.png", title="Census hot spots"
    )
    figs["coverage"] = maps.plot_coverage_maps(ex, fig_dir / "coverage.png")
    figs["latitude_bands"] = pdist.plot_latitude_bands(
        summary["latitude_bands"],
        fig_dir / "latitude_bands.png",
        title="Census hot spots by latitude band: raw and exposure-normalised densities, power, area seen",
        power_label="GW",
    )
    figs["comparisons"] = pdist.plot_comparisons(
        summary["tests"], fig_dir / "comparisons.png", title="Region comparisons (catalogue census)"
    )
    pe = summary["tests"]["polar_vs_equatorial"]
    figs["power_curve"] = pdist.plot_power_curve(
        pe,
        pe.get("calibration"),
        fig_dir / "power_curve.png",
        title="How large a polar/equatorial density ratio this census can detect",
        alpha=cfg.alpha,
        min_power=cfg.min_power,
    )
    smooth, lat_c, lon_c = art["smooth"]
    figs["emission"] = maps.plot_emission_maps(
        smooth, lat_c, lon_c, art["fit_power"], hs, fig_dir / "emission.png", sigma_deg=cfg.smoothing_deg
    )
    figs["tidal_patterns"] = maps.plot_tidal_patterns(cfg.tidal_weights, fig_dir / "tidal_patterns.png")
    epochs = art["epochs"]
    if len(epochs):
        figs["output_series"] = plot_output_series(
            epochs, fig_dir / "output_series.png", external=external, external_label=external_label
        )
    corr = art.get("correlation")
    if corr and "dcf" in corr:
        figs["dcf"] = plot_dcf(corr, fig_dir / "dcf.png", title=f"Volcanic output vs {external_label}")
    mos = art.get("mosaics")
    for m in mos.mosaics if mos else []:
        figs[f"mosaic_{m.instrument}_{m.band}"] = maps.plot_mosaic(
            m, fig_dir / f"mosaic_{m.instrument}_{m.band}.png"
        )
    for lc in light_curves:
        pts = lc["points"]
        ev = view.events
        ev = ev[(ev["hotspot_id"] == lc["hotspot_id"]) & (ev["band"] == lc["band"])] if len(ev) else None
        figs[f"lightcurve_{lc['hotspot_id']}_{lc['band']}"] = plot_hotspot_lightcurve(
            pts, fig_dir / f"lightcurve_{lc['hotspot_id']}_{lc['band']}.png", title=lc["title"], events=ev
        )
    tables = published_tables()
    for name in ("davies2024_jiram", "davies2024_psj"):
        if name not in summary.get("published", {}):
            continue
        pub = summary["published"][name]
        th = table_hotspots(name, tables[name])
        label = pub["power_label"]
        figs[f"{name}_map"] = maps.plot_hotspot_map(
            th, None, fig_dir / f"{name}_map.png", title=name, power_col="power", label=label
        )
        figs[f"{name}_polar"] = maps.plot_polar_maps(
            th, None, fig_dir / f"{name}_polar.png", title=name, power_col="power", label=label
        )
        figs[f"{name}_bands"] = pdist.plot_latitude_bands(
            pub["latitude_bands"],
            fig_dir / f"{name}_bands.png",
            title=f"{name}: hot spots by latitude band as printed (coverage taken as complete)",
            power_label=pub["power_unit"].split(" ")[0],
        )
    return figs


# --------------------------------------------------------------------------------------------- text
def _band_table(bands: list[dict], power_unit: str = "GW") -> Table:
    rows = [
        [
            f"{b['lat_min_deg']:g} to {b['lat_max_deg']:g}",
            b["n_hotspots"],
            f(b["expected_n_uniform"]),
            f(b["observed_area_fraction"]),
            f(b["density_per_1e6_km2"]),
            ci(b["ci_low"], b["ci_high"]),
            f(b["power_gw"]),
            ci(b["power_ci_low_gw"], b["power_ci_high_gw"]),
            f(b["power_fraction"]),
            f(b["power_per_area_w_m2"]),
        ]
        for b in bands
    ]
    return Table(
        [
            "latitude (°N)",
            "hot spots",
            "expected if uniform",
            "area seen",
            "density /1e6 km²",
            "95 % (Garwood)",
            f"power ({power_unit})",
            "95 % (bootstrap)",
            "share of power",
            {"GW": "power per area (W m⁻²)", "GW/um": "power per area (W m⁻² µm⁻¹)"}.get(
                power_unit, f"per area ({power_unit} per 1e-3 km²)"
            ),
        ],
        rows,
    )


def _tests_table(tests: dict, cfg: AnalysisConfig) -> Table:
    r0 = f"{cfg.effect_density_ratios[0]:g}"
    r1 = f"{cfg.effect_density_ratios[-1]:g}"
    rows = []
    for name, t in tests.items():
        d, cal = t["density"], t.get("calibration") or {}
        rows.append(
            [
                COMPARISON_TITLES[name].format(p=cfg.polar_lat_deg, e=cfg.equatorial_lat_deg),
                f"{d['n_a']} / {d['n_b']}",
                f(d["raw_ratio"]),
                f(d["ratio"]),
                ci(d["ratio_ci_low"], d["ratio_ci_high"]),
                f(d["p_value"]),
                f"{f(cal.get('false_positive_rate_density'))} "
                f"{ci(*cal.get('false_positive_rate_density_ci', (None, None)), 2)}"
                if cal
                else "—",
                f(cal.get("false_positive_rate_density_area_only")) if cal else "—",
                f"{f(d['power_at_ratio'].get(r0))} / {f((cal.get('power_density_at_ratio') or {}).get(r0))}",
                f"{f(d['power_at_ratio'].get(r1))} / {f((cal.get('power_density_at_ratio') or {}).get(r1))}",
                f"{f(d['min_detectable_ratio_up'])} / {f(d['min_detectable_ratio_down'])}",
                t["verdict"],
            ]
        )
    return Table(
        [
            "comparison (A vs B)",
            "n A / B",
            "raw ratio",
            "density ratio",
            f"{1 - cfg.alpha:.0%} interval",
            "p",
            f"false-positive rate at α={cfg.alpha:g} (simulated, 95 %)",
            "FPR area-only test",
            f"power at {r0} (exact / simulated)",
            f"power at {r1} (exact / simulated)",
            f"detectable ratio ({cfg.min_power:.0%} power) up / down",
            "verdict",
        ],
        rows,
        "Hot-spot densities (exposure-normalised), exact conditional Poisson test",
    )


def _power_tests_table(tests: dict, cfg: AnalysisConfig, unit: str) -> Table:
    rows = []
    for name, t in tests.items():
        pd_, w, cal = t["power_distribution"], t["power_weighted"], t.get("calibration") or {}
        jk = "; ".join(
            f"−{j['name'] or j['id']}: {f(j['ratio_without'])} ({f(j['share_of_total'], 2)} of all)"
            for j in w["jackknife_brightest"]
        )
        rows.append(
            [
                COMPARISON_TITLES[name].format(p=cfg.polar_lat_deg, e=cfg.equatorial_lat_deg),
                f"{pd_['n_a']} / {pd_['n_b']}",
                f"{f(pd_['median_a'])} / {f(pd_['median_b'])}",
                f(pd_["statistic"]),
                f(pd_["p_value"]),
                f(cal.get("false_positive_rate_power_distribution")) if cal else "—",
                f(next(iter((cal.get("power_power_distribution_at_factor") or {None: None}).values())))
                if cal
                else "—",
                f(w["ratio"]),
                ci(w["ratio_ci_low"], w["ratio_ci_high"]),
                f(w["jackknife_se"]),
                jk,
                t["power_distribution_verdict"],
            ]
        )
    return Table(
        [
            "comparison",
            "n above common limit A / B",
            f"median M-band power A / B ({unit})",
            "Δ mean log₁₀",
            "p (permutation)",
            "FPR (simulated)",
            f"power at ×{cfg.effect_power_factor:g}",
            "power-per-area ratio",
            "95 % (bootstrap)",
            "jackknife σ",
            "without the brightest",
            "verdict (distributions)",
        ],
        rows,
        "Power: distributions (permutation test on hot spots above the regions' common 95 % detection "
        "limit) and power per area (bootstrap; jackknife over the brightest sources)",
    )


def _findings(s: dict, cfg: AnalysisConfig) -> list[str]:
    t = s["tests"]["polar_vs_equatorial"]
    d = t["density"]
    cal = t.get("calibration") or {}
    items = [
        f"Census: {s['catalogue']['n_census_hotspots']} hot spots with usable M-band detections in "
        f"{s['catalogue']['n_census_observations']} observations; "
        f"{s['coverage']['seen_area_fraction']:.0%} of Io "
        f"seen (emission < {cfg.emission_max_deg:g}°).",
        f"Polar vs equatorial hot-spot density (per exposure): ratio {f(d['ratio'])} "
        f"{ci(d['ratio_ci_low'], d['ratio_ci_high'])}, p = {f(d['p_value'])}"
        + (
            f" (false-positive rate {f(cal['false_positive_rate_density'])} on {cal['n_populations']} "
            "simulated "
            "populations without an effect)"
            if cal
            else ""
        )
        + f" — {t['verdict_sentence']}",
    ]
    for name in ("north_vs_south_polar", "leading_vs_trailing", "subjovian_vs_antijovian"):
        tt = s["tests"][name]
        items.append(
            f"{COMPARISON_TITLES[name]}: density ratio {f(tt['density']['ratio'])}, p = "
            f"{f(tt['density']['p_value'])} — {tt['verdict']}."
        )
    tp = s["tidal"]["power_weighted"]
    items.append(
        f"Tidal heating (power-weighted): {tp['verdict']}"
        + (
            f" (p deep mantle = {f(tp['p_value'].get('deep_mantle'))}, p asthenosphere = "
            f"{f(tp['p_value'].get('asthenosphere'))})"
            if "p_value" in tp
            else ""
        )
        + f"; spherical-harmonic degree supported by cross-validation: {s['thermal_map']['power']['degree']}."
    )
    ext = s["time_series"].get("external")
    if ext:
        items.append(f"External series: {ext['verdict']}.")
    jr = s.get("published", {}).get("davies2024_jiram")
    if jr:
        c = jr["counts_polar_equatorial"]
        dj = jr["tests"]["polar_vs_equatorial"]
        p, e = cfg.polar_lat_deg, cfg.equatorial_lat_deg
        items.append(
            f"Davies et al. (2024) JIRAM list as printed: {c['north_polar']} hot spots at ≥ {p:g}°N, "
            f"{c['south_polar']} at ≤ −{p:g}°, {c['equatorial']} within ±{e:g}°; polar/equatorial density "
            f"ratio {f(dj['density']['ratio'])}, p = {f(dj['density']['p_value'])} — "
            f"{dj['verdict_sentence']} "
            f"M-band powers, polar vs equatorial: permutation p = {f(dj['power_distribution']['p_value'])} — "
            f"{dj['power_distribution_verdict']}."
        )
    items.append(s["power_conversion"]["note"])
    return items


def compose_sections(s: dict, figs: dict[str, Path], cfg: AnalysisConfig) -> list[Section]:
    """The report's sections from the summary (module docstring)."""
    from ioscan.analysis.tidal import CITATIONS as TIDAL_CITATIONS

    secs: list[Section] = [Section("Key findings", [Bullets(_findings(s, cfg))])]
    c = s["catalogue"]
    secs.append(
        Section(
            "Catalogue",
            [
                Table(
                    ["quantity", "value"],
                    [
                        [
                            "observations (by instrument)",
                            f"{c['n_observations']} ({json.dumps(c['observations_by_instrument'])})",
                        ],
                        ["registered on the limb", c["n_registered"]],
                        [
                            "detections (by band)",
                            f"{c['n_detections']} ({json.dumps(c['detections_by_band'])})",
                        ],
                        ["hot spots (all bands)", c["n_hotspots"]],
                        [
                            "census: observations / detections / hot spots",
                            f"{c['n_census_observations']} / "
                            f"{c['n_census_detections']} / {c['n_census_hotspots']}",
                        ],
                        ["cross-identified hot spots", c["n_cross_identified"]],
                        ["events", json.dumps(c["n_events"])],
                        ["time span (UTC)", f"{c['first_utc']} – {c['last_utc']}"],
                    ],
                ),
                Bullets(
                    [
                        *s.get("notes", []),
                        f"Census bands: {', '.join(cfg.bands)}; detections follow the tracking policy "
                        "(flags, position error, emission angle) of the settings' [track] section.",
                    ]
                ),
            ],
        )
    )
    pc = s["power_conversion"]
    secs.append(
        Section(
            "Power of each hot spot",
            [
                Text(
                    pc["note"]
                    + " Per hot spot: the mean M-band spectral radiant power of its unsaturated detections "
                    "(foreshortening-corrected), converted to total power with f(T) = σT⁴/(πL̄_M(T)) "
                    "(or the two-band colour fit's own total power, from the hot spot's L and M detections "
                    "close in time): at its colour "
                    "temperature where a plausible one exists "
                    f"({cfg.colour_t_min_k:g}–{cfg.colour_t_max_k:g} K, relative error "
                    f"≤ {cfg.colour_t_max_rel_err:g}), else for T anywhere in "
                    f"{pc['bracket_t_k'][0]:g}–{pc['bracket_t_k'][1]:g} K "
                    f"(f = {pc['bracket_factor_um'][0]:.2f}–{pc['bracket_factor_um'][1]:.2f} µm; central "
                    "value their geometric "
                    "mean, the half range as 1σ)."
                ),
                Table(
                    ["power source", "hot spots"],
                    [[k, v] for k, v in pc["by_source"].items()]
                    + [
                        ["seen only saturated (lower limits)", pc["n_lower_limits"]],
                        ["summed power (GW)", f(pc["total_power_gw"])],
                    ],
                ),
            ],
        )
    )
    cov = s["coverage"]
    secs.append(
        Section(
            "Coverage and exposure",
            [
                Text(
                    f"{cov['observations_used']} census observations; {cov['seen_area_fraction']:.1%} of "
                    "Io seen at emission "
                    f"< {cov['emission_max_deg']:g}°. Completeness at each cell's best 5σ limit against "
                    "the reference "
                    f"luminosity function ({cov['completeness_reference']}): mean "
                    f"{cov['mean_completeness_by_number']:.2f} by "
                    f"number, {cov['mean_completeness_by_power']:.2f} by power (over all of Io, unseen = "
                    "0). Exposure = area × "
                    "completeness; densities below are per exposure."
                ),
                Figure(
                    figs["coverage"],
                    "Coverage: observations per 2° cell, lowest emission angle, best pixel scale and "
                    "lowest 5σ detection limit (M-band spectral radiant power).",
                ),
            ],
        )
    )
    blocks = [
        Figure(
            figs["hotspot_map"],
            "Census hot spots, sized and coloured by total power (log), over the "
            "area seen (grey). West longitude increases to the left.",
        ),
        Figure(figs["polar_maps"], "Polar stereographic views (poleward of 45°)."),
    ]
    mos = s.get("mosaics")
    if mos:
        for m in mos["mosaics"]:
            key = f"mosaic_{m['instrument']}_{m['band']}"
            blocks.append(
                Figure(
                    figs[key],
                    f"{m['instrument']} {m['band']} mosaic: {m['n_frames']} registered frames, "
                    f"{m['filled_fraction']:.0%} of Io, best resolution per {mos['cell_deg']:g}° cell.",
                )
            )
        if mos["left_out"]:
            blocks.append(
                Table(
                    ["product", "left out of the mosaics because"],
                    [[x["product_id"], x["reason"]] for x in mos["left_out"]],
                )
            )
    secs.append(Section("Maps and mosaics", blocks))
    secs.append(
        Section(
            "Latitude bands",
            [
                Text(
                    "Counts and power per band, raw and normalised by exposure. Densities are per 10⁶ km² "
                    "of exposure "
                    "with 95 % Garwood intervals; power sums have bootstrap intervals (hot spots "
                    "resampled, each power drawn "
                    "within its uncertainty)."
                ),
                _band_table(s["latitude_bands"]),
                Figure(
                    figs["latitude_bands"],
                    "Latitude bands: densities (raw ◆ and per exposure with 95 % intervals), "
                    "power and the fraction of each band seen.",
                ),
            ],
        )
    )
    secs.append(
        Section(
            "Hemispheres, poles and the tests",
            [
                Table(
                    [
                        "region",
                        "hot spots",
                        "area seen",
                        "density /1e6 km²",
                        "95 %",
                        "power (GW)",
                        "power per area (W m⁻²)",
                    ],
                    [
                        [
                            r["region"],
                            r["n_hotspots"],
                            f(r["observed_area_fraction"]),
                            f(r["density_per_1e6_km2"]),
                            ci(r["ci_low"], r["ci_high"]),
                            f(r["power_gw"]),
                            f(r["power_per_area_w_m2"]),
                        ]
                        for r in s["regions"]
                    ],
                ),
                _tests_table(s["tests"], cfg),
                Bullets(
                    [
                        f"{COMPARISON_TITLES[n].format(p=cfg.polar_lat_deg, e=cfg.equatorial_lat_deg)}: "
                        f"{t['verdict_sentence']}"
                        for n, t in s["tests"].items()
                    ]
                ),
                _power_tests_table(s["tests"], cfg, "GW µm⁻¹"),
                Figure(
                    figs["comparisons"],
                    "Ratios of region A to region B: hot-spot density per exposure (blue) and power "
                    "per area (red), with intervals.",
                ),
                Figure(
                    figs["power_curve"],
                    "Power of the polar/equatorial density test for this census (line: exact; points: "
                    "simulated populations with the real coverage and limits).",
                ),
            ],
        )
    )
    tm, td = s["thermal_map"], s["tidal"]
    tp, tn = td["power_weighted"], td["number_weighted"]
    pat_rows = [
        [
            n,
            ", ".join(f"{x:.3g}" for x in p["weights_psi_a_b_c"]),
            f(p["pole_over_mean"]),
            f"{f(p['max_over_mean'])} at {lat_text(p['max_at_lat_deg'])} {p['max_at_lon_w_deg']:.0f}°W",
            f"{f(p['min_over_mean'])} at {lat_text(p['min_at_lat_deg'])} {p['min_at_lon_w_deg']:.0f}°W",
        ]
        for n, p in td["patterns"].items()
    ]
    cmp_rows = []
    for label, r in (("power-weighted", tp), ("number-weighted", tn)):
        for n in td["patterns"]:
            cmp_rows.append(
                [
                    label,
                    n,
                    f(r.get("excess", {}).get(n)),
                    f(r.get("z", {}).get(n)),
                    f(r.get("p_value", {}).get(n)),
                    f(r.get("fits", {}).get(n)),
                ]
            )
    diff_text = "; ".join(
        f"{label}: {r['difference']['of']} = {f(r['difference']['value'])} "
        f"{ci(r['difference']['ci_low'], r['difference']['ci_high'])}"
        for label, r in (("power", tp), ("number", tn))
        if "difference" in r
    )
    secs.append(
        Section(
            "Thermal emission and tidal heating",
            [
                Text(
                    f"{tm['note'][0].upper() + tm['note'][1:]}. Smoothed map: Gaussian kernel σ = "
                    f"{tm['smoothing_sigma_deg']:g}°, corrected for "
                    "coverage and completeness. Spherical-harmonic expansion: degree chosen by "
                    f"{cfg.cv_folds}-fold cross-validation over hot spots — {tm['power']['degree']} for "
                    "power "
                    f"(coverage supports ≤ {tm['power']['supported_degree']}), {tm['number']['degree']} "
                    "for numbers."
                    + (
                        ""
                        if tm["power"]["resolves_tidal_degrees"]
                        else " The data do not support degree 2 in the power map: its large-scale pattern is "
                        "not resolved, so any comparison with tidal patterns (degrees 2 and 4) rests on the "
                        "targeted test below."
                    )
                ),
                Figure(
                    figs["emission"],
                    "Volcanic thermal emission per unit area (W m⁻²): kernel-smoothed, and its "
                    "spherical-harmonic expansion at the cross-validated degree.",
                ),
                Figure(
                    figs["tidal_patterns"],
                    "End-member tidal-heating patterns (Beuthe 2013 angular functions; see methods).",
                ),
                Table(
                    ["pattern", "weights Ψ_A, Ψ_B, Ψ_C", "pole / mean", "maximum / mean", "minimum / mean"],
                    pat_rows,
                ),
                Table(
                    ["weighting", "pattern", "excess at hot spots", "z", "p (vs no pattern)", "fits"],
                    cmp_rows,
                    f"Comparison with {tp.get('n_simulations', 0)} simulated censuses without a pattern",
                ),
                Text(
                    f"Verdict (power-weighted): {tp['verdict']}. Verdict (number-weighted): {tn['verdict']}. "
                    f"Differences: {diff_text or '—'}."
                ),
            ],
        )
    )
    ts = s["time_series"]
    ep = ts["epochs"]
    g = ep[ep["region"] == "global"] if len(ep) else ep
    blocks = [
        Text(
            "Output per epoch (Juno orbit or ground-based night) per unit area looked at, W m⁻² (summed "
            "total "
            "power of the hot spots detected ÷ area seen × power completeness)."
        ),
        Table(
            [
                "epoch",
                "time (UTC)",
                "observations",
                "hot spots",
                "power (GW)",
                "area seen",
                "output (W m⁻²)",
                "±1σ",
            ],
            [
                [
                    r.epoch,
                    str(r.time_utc)[:19],
                    r.n_observations,
                    r.n_hotspots,
                    f(r.power_gw),
                    f(r.observed_area_fraction),
                    f(r.output_w_m2),
                    f(r.output_err_w_m2),
                ]
                for r in g.itertuples()
            ],
        ),
    ]
    if "output_series" in figs:
        blocks.append(Figure(figs["output_series"], "Output per epoch and region (and the external series)."))
    ext = ts.get("external")
    if ext:
        blocks.append(
            Text(f"Correlation with {ts.get('external_label', 'the external series')}: {ext['verdict']}.")
        )
        if "dcf" in figs:
            blocks.append(
                Figure(
                    figs["dcf"],
                    "Discrete correlation function with the 95 % envelope of surrogate "
                    "pairs that keep each series' autocorrelation (damped random walks fitted to each).",
                )
            )
    else:
        blocks.append(Text("No external series given (ioscan report --external FILE.csv)."))
    secs.append(Section("Volcanic output through time", blocks))
    secs.append(
        Section(
            "Top hot spots",
            [
                Table(
                    [
                        "hot spot",
                        "name",
                        "lat °N",
                        "lon °W",
                        "detections",
                        "mean M (GW µm⁻¹)",
                        "max M (GW µm⁻¹)",
                        "T (K)",
                        "power (GW)",
                        "±1σ",
                        "source",
                        "lower limit",
                    ],
                    [
                        [
                            r["hotspot_id"],
                            r.get("name") or "",
                            f(r["lat_deg"], 4),
                            f(r["lon_w_deg"], 4),
                            r["n_census_detections"],
                            f(r["spectral_power_gw_um"]),
                            f(r["max_spectral_power_gw_um"]),
                            f(r.get("temperature_k")),
                            f(r["power_gw"]),
                            f(r["power_err_gw"]),
                            r["power_source"],
                            f(r["power_lower_limit"]),
                        ]
                        for r in s["top_hotspots"]
                    ],
                )
            ],
        )
    )
    blocks = [
        Table(
            ["hot spot", "band", "why", "points", "χ²/dof vs constant", "p(constant)", "F_var"],
            [
                [
                    lc["hotspot_id"],
                    lc["band"],
                    lc["why"],
                    lc["stats"]["n"],
                    f(lc["stats"]["chi2_dof"]),
                    f(lc["stats"]["p_constant"]),
                    f(lc["stats"]["fvar"]),
                ]
                for lc in s["light_curves"]
            ],
        )
    ]
    blocks += [
        Figure(figs[f"lightcurve_{lc['hotspot_id']}_{lc['band']}"], lc["title"]) for lc in s["light_curves"]
    ]
    secs.append(Section("Light curves of the brightest and most variable", blocks))
    ev = s["events"]
    secs.append(
        Section(
            "Events",
            [
                Table(
                    ["hot spot", "band", "kind", "time (UTC)", "value", "criterion"],
                    [
                        [e.hotspot_id, e.band, e.kind, e.time_utc, f(e.value), e.criterion]
                        for e in ev.itertuples()
                    ],
                )
            ]
            if len(ev)
            else [Text("No events.")],
        )
    )
    secs.append(_published_section(s, figs, cfg))
    secs.append(Section("Methods and citations", [Bullets(_methods(cfg) + list(TIDAL_CITATIONS))]))
    secs.append(_provenance_section(s))
    return secs


def _published_section(s: dict, figs: dict, cfg: AnalysisConfig) -> Section:
    blocks = [
        Text(
            "The shipped published tables, binned as they give their latitudes (a band edge belongs to the "
            "band on its poleward side). A table stating planetocentric latitudes would be converted to "
            "planetographic first; none of these states its convention, so each is binned as printed and the "
            "counts are also given for the other reading. Coverage is not given by the tables: exposure = "
            "area."
        )
    ]
    edges = cfg.lat_band_edges_deg
    labels = [f"{lo:g}…{hi:g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    rows = []
    for name, p in s.get("published", {}).items():
        es = p["edge_sensitivity"]
        rows.append(
            [
                name,
                p["n_entries"],
                p["latitude_convention"]["table_says"],
                p["latitude_convention"]["used"],
                " / ".join(map(str, p["counts_as_printed"])),
                es["n_within"],
                " / ".join(map(str, es["counts_if_planetocentric"])),
                es["n_changing_band"],
            ]
        )
    blocks.append(
        Table(
            [
                "table",
                "entries",
                "latitude convention (table)",
                "used",
                f"counts {' / '.join(labels)}",
                f"within {cfg.lat_band_edges_deg and 0.5:g}° of an edge",
                "counts if planetocentric",
                "entries changing band",
            ],
            rows,
        )
    )
    for name, p in s.get("published", {}).items():
        if "tests" not in p:
            continue
        b = p["brightest"]
        blocks.append(
            Text(
                f"{name} ({p['citation']}): power column {p['power_column']} in {p['power_unit']}; the "
                f"brightest source ({b['name'] or b['ref_id']}) gives {b['share_of_total']:.1%} of the total "
                f"{f(b['total'])} {p['power_unit'].split(' ')[0]}. The table gives no detection limits, so "
                "the power-distribution tests below compare all its hot spots: a difference there may "
                "reflect different sensitivity in the two regions as well as different volcanoes."
            )
        )
        blocks.append(_band_table(p["latitude_bands"], p["power_unit"].split(" ")[0]))
        blocks.append(_tests_table(p["tests"], cfg))
        blocks.append(Bullets([f"{n}: {t['verdict_sentence']}" for n, t in p["tests"].items()]))
        blocks.append(_power_tests_table(p["tests"], cfg, p["power_unit"].split(" ")[0]))
        for key, cap in (
            (f"{name}_map", "as printed"),
            (f"{name}_polar", "polar views"),
            (f"{name}_bands", "latitude bands"),
        ):
            if key in figs:
                blocks.append(Figure(figs[key], f"{name}: {cap}."))
    return Section("Published tables", blocks)


def _methods(cfg: AnalysisConfig) -> list[str]:
    return [
        "Coordinates: planetographic latitude °N (SPICE recpgr for Io), west longitude 0–360°W; areas on "
        "the mean "
        "sphere (R = 1821.49 km) between planetocentric latitudes of the planetographic edges.",
        "Exposure: 2° cells seen by the census observations (coverage grids, emission < 80°), each at its "
        "best 5σ "
        "limit (the stored limit at the nearest disk point scaled by (range ratio)² / cos e) and "
        "completeness against "
        "the Davies et al. (2024) JIRAM M-band luminosity function, by number and by power.",
        "Densities: exact conditional test of two Poisson rates with exposures (Binomial given the total); "
        "Clopper–Pearson interval of the ratio; exact power; Garwood intervals for counts.",
        "Power distributions: two-sided permutation test of the difference in mean log₁₀ M-band spectral "
        "power "
        f"({cfg.n_permutations} permutations) among hot spots above the two regions' common 95 % detection "
        "limit.",
        f"Power sums: bootstrap ({cfg.n_bootstrap} resamples of hot spots, powers drawn within their "
        "errors); "
        f"jackknife over the {cfg.n_jackknife_brightest} brightest sources and leave-one-out standard "
        "errors.",
        f"Calibration: {cfg.n_calibration} simulated censuses per test and effect, drawn through the real "
        "coverage and "
        "detection limits, without an effect (false-positive rate) and with named effects (density ratios "
        f"{', '.join(f'{r:g}' for r in cfg.effect_density_ratios)}; power ×{cfg.effect_power_factor:g}).",
        "Spherical harmonics: real orthonormal basis, weighted least squares on seen cells, degree by "
        "cross-validation "
        "over hot spots; a degree counts as supported by the coverage when the weighted design's condition "
        "number "
        "is below 1e4.",
        "Time series: discrete correlation function (Edelson & Krolik 1988, ApJ 333, 646); significance "
        "from damped "
        "random-walk surrogates fitted to each series by maximum likelihood, drawn at the observed times.",
        "Davies, A.G. et al. (2024), Nature Astronomy 8, 94-100, doi:10.1038/s41550-023-02123-5 (JIRAM hot "
        "spots); "
        "Davies, A.G. et al. (2024), PSJ 5:121, doi:10.3847/PSJ/ad4346 (Table 10).",
    ]


def _provenance_section(s: dict) -> Section:
    prov = s["provenance"]
    runs = [
        [
            r.get("id"),
            r.get("command"),
            r.get("ioscan_version"),
            r.get("started_utc"),
            r.get("finished_utc"),
            r.get("status"),
            json.dumps(r.get("parameters"), default=str)[:160],
        ]
        for r in prov["runs"]
    ]
    blocks = [
        Table(
            ["run", "command", "ioscan", "started (UTC)", "finished (UTC)", "status", "inputs"],
            runs,
            "Runs that made the catalogue",
        )
    ]
    for r in prov["runs"]:
        if r.get("settings"):
            blocks.append(
                Text(f"Settings of run {r['id']} ({r['command']}): {json.dumps(r['settings'], default=str)}")
            )
    if prov["imports"]:
        blocks.append(
            Table(
                ["source", "file", "rows", "imported (UTC)"],
                [[i["source"], i["file_name"], i["n_rows"], i["imported_utc"]] for i in prov["imports"]],
                "Imported published detections",
            )
        )
    if prov["reference_catalogs"]:
        blocks.append(
            Table(
                ["catalogue", "entries", "citation"],
                [[c["name"], c["n_entries"], c["citation"]] for c in prov["reference_catalogs"]],
                "Reference catalogues in the database",
            )
        )
    blocks.append(Text(f"Report settings: {json.dumps(prov['report_settings'], default=str)}"))
    if prov.get("external_series"):
        blocks.append(Text(f"External series: {prov['external_series']}"))
    return Section("Provenance", blocks)
