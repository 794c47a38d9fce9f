"""Settings of the science outputs (:class:`AnalysisConfig`, the ``[analysis]`` section of a settings file).

Kept free of heavy imports (it is loaded with :mod:`ioscan.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _tidal_weights() -> dict[str, tuple[float, float, float]]:
    # Beuthe (2013) weights (Ψ_A, Ψ_B, Ψ_C) of the surface-flux patterns; see ioscan.analysis.tidal
    return {"deep_mantle": (2.0 / 3.0, 0.0, 1.0), "asthenosphere": (0.0, 1.0, 0.0)}


@dataclass
class AnalysisConfig:
    """Settings of ``ioscan report`` (:func:`ioscan.workflows.report.write_report`).

    Attributes:
        bands: bands whose detections make the census (M-band-like: JIRAM M, NIRC2 Ms); hot spots, exposure
            and powers all refer to these bands.
        lat_band_edges_deg: latitude band edges, planetographic °N (the bands of Davies et al. 2024).
        polar_lat_deg: |latitude| ≥ this is "polar", °.
        equatorial_lat_deg: |latitude| < this is "equatorial", °.
        emission_max_deg: a cell counts as seen below this emission angle, ° (as the coverage grids).
        alpha: significance level of every test.
        effect_density_ratios: named effect sizes of the density tests (ratio of densities, first is the one
            quoted in verdicts).
        effect_power_factor: named effect size of the power-distribution tests (multiplier of the M-band
            spectral power of one region's hot spots).
        min_power: power of a test needed to call a difference "absent" rather than "cannot tell".
        n_permutations: permutations per permutation test.
        n_bootstrap: bootstrap resamples for intervals.
        n_calibration: simulated populations per calibration of a false-positive rate or a power (≥ 200).
        n_jackknife_brightest: brightest sources removed one by one in the jackknife.
        colour_t_min_k, colour_t_max_k, colour_t_max_rel_err: a colour temperature (and its total power) is
            used only inside this range and below this relative error.
        bracket_t_low_k, bracket_t_high_k: temperature range assumed for M-band-only hot spots, K.
        sh_max_degree: highest spherical-harmonic degree tried.
        cv_folds: folds (of hot spots) of the cross-validation choosing the degree.
        smoothing_deg: Gaussian σ of the smoothed emission map, degrees of arc.
        tidal_weights: pattern name → weights of Beuthe's (2013) angular functions (Ψ_A, Ψ_B, Ψ_C).
        mosaic_bands: bands mosaicked from registered frames.
        mosaic_cell_deg: mosaic cell size, °.
        mosaic_max_offset_diff_px: a re-navigated frame whose registration differs from the stored one by
            more than this stays out of the mosaic, px.
        mosaic_workers: processes re-navigating frames for the mosaics (1: in the report's process).
        dcf_lag_bin_d: lag bin of the discrete correlation function, days (0: from the sampling).
        dcf_max_lag_d: largest lag, days (0: half the common time span).
        n_surrogates: surrogate pairs for the correlation significance (≥ 200).
        min_epochs: fewest epochs for a correlation with an external series.
        n_top: hot spots in the top table and light-curve figures.
        seed: random seed of every resampling and simulation (reports are reproducible).
    """

    bands: tuple[str, ...] = ("M", "Ms")
    lat_band_edges_deg: tuple[float, ...] = (-90.0, -60.0, -30.0, 30.0, 60.0, 90.0)
    polar_lat_deg: float = 60.0
    equatorial_lat_deg: float = 30.0
    emission_max_deg: float = 80.0
    alpha: float = 0.05
    effect_density_ratios: tuple[float, ...] = (1.5, 2.0)
    effect_power_factor: float = 2.0
    min_power: float = 0.8
    n_permutations: int = 1000
    n_bootstrap: int = 1000
    n_calibration: int = 200
    n_jackknife_brightest: int = 3
    colour_t_min_k: float = 300.0
    colour_t_max_k: float = 2000.0
    colour_t_max_rel_err: float = 0.3
    bracket_t_low_k: float = 600.0
    bracket_t_high_k: float = 1200.0
    sh_max_degree: int = 8
    cv_folds: int = 5
    smoothing_deg: float = 8.0
    tidal_weights: dict[str, tuple[float, float, float]] = field(default_factory=_tidal_weights)
    mosaic_bands: tuple[str, ...] = ("M", "Ms")
    mosaic_cell_deg: float = 0.5
    mosaic_max_offset_diff_px: float = 1.0
    mosaic_workers: int = 2
    dcf_lag_bin_d: float = 0.0
    dcf_max_lag_d: float = 0.0
    n_surrogates: int = 500
    min_epochs: int = 8
    n_top: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        self.lat_band_edges_deg = tuple(float(e) for e in self.lat_band_edges_deg)
        self.effect_density_ratios = tuple(float(r) for r in self.effect_density_ratios)
        self.tidal_weights = {str(k): tuple(float(x) for x in v) for k, v in self.tidal_weights.items()}
        edges = list(self.lat_band_edges_deg)
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError(f"lat_band_edges_deg must increase: {self.lat_band_edges_deg}")
        if edges[0] < -90.0 or edges[-1] > 90.0:
            raise ValueError(f"lat_band_edges_deg must lie in [-90, 90]: {self.lat_band_edges_deg}")
        if not 0.0 < self.equatorial_lat_deg <= self.polar_lat_deg < 90.0:
            raise ValueError("need 0 < equatorial_lat_deg ≤ polar_lat_deg < 90")
        if not 0.0 < self.alpha < 0.5:
            raise ValueError(f"alpha must lie in (0, 0.5), got {self.alpha}")
        if self.n_calibration < 1 or self.n_permutations < 1 or self.n_bootstrap < 1:
            raise ValueError("n_calibration, n_permutations and n_bootstrap must be ≥ 1")
        if not self.effect_density_ratios or any(r <= 0 for r in self.effect_density_ratios):
            raise ValueError("effect_density_ratios must be positive numbers")
        for name, w in self.tidal_weights.items():
            if len(tuple(w)) != 3 or min(w) < 0 or sum(w) <= 0:
                raise ValueError(
                    f"tidal_weights[{name!r}] must be three non-negative weights (Ψ_A, Ψ_B, Ψ_C)"
                )
        if self.mosaic_cell_deg <= 0 or 180.0 / self.mosaic_cell_deg != int(180.0 / self.mosaic_cell_deg):
            raise ValueError(f"mosaic_cell_deg must divide 180: {self.mosaic_cell_deg}")
