"""Tracking settings and policy (:class:`TrackConfig`): which detections may make hot spots, the association
gate, and how published catalogues are weighted and named; and the settings of the tracker's calibration steps
(:class:`ErrorModelConfig`, :class:`NightOffsetConfig`, :class:`MixtureConfig`, each used by its module), kept
here so that reading settings imports neither pandas nor scipy (numpy and pandas are imported when a function
below first runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ioscan.records import DetectionFlag

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: detections with any of these flags never make a hot spot
DEFAULT_EXCLUDED_FLAGS = ("COSMIC_RAY", "OFF_DISK", "ARTEFACT")


@dataclass(frozen=True)
class ErrorModelConfig:
    """Knobs of the calibration.

    Attributes:
        night_gap_h: a gap longer than this (hours) between detections of one observer starts a new night.
        prior_components: least shrinkage weight of "no change" (k = 1) for observer and night factors, in
            pull components.
        min_members: hot spots with fewer detections give no pulls.
        min_scale: σ_eff ≥ min_scale × quoted (1 = quoted errors are never shrunk).
        max_scale: σ_eff ≤ max_scale × quoted (and the fitted ``a`` ≤ this).
        tail_nu: Student-t degrees of freedom of the (a, b) fit.
        min_fit_components: a catalogue needs this many pull components for its own (a, b).
        max_fit_components: at most this many pull components enter a fit (evenly subsampled).
        max_iter: at most this many calibrate → re-associate rounds.
        tolerance: stop when 95 % of the effective errors changed by less than this (relative).
    """

    night_gap_h: float = 8.0
    prior_components: float = 12.0
    min_members: int = 3
    min_scale: float = 1.0
    max_scale: float = 10.0
    tail_nu: float = 4.0
    min_fit_components: int = 40
    max_fit_components: int = 5_000
    max_iter: int = 8
    tolerance: float = 0.1


@dataclass(frozen=True)
class MixtureConfig:
    """Knobs of the merge search.

    Attributes:
        nu: Student-t degrees of freedom of a detection about its site (smaller = heavier tails).
        alpha: Chinese-restaurant concentration; None = ``alpha_factor`` × the estimate from the
            association (K hot spots of N detections).
        alpha_factor: see ``alpha``.
        k_neighbours: each hot spot is tested against this many nearest hot spots.
        max_rounds: at most this many merge rounds per merge step.
        rounds: merge steps, each followed by up to ``max_reassign`` re-assignment passes.
        max_reassign: see ``rounds``.
    """

    nu: float = 6.0
    alpha: float | None = None
    alpha_factor: float = 3.0
    k_neighbours: int = 8
    max_rounds: int = 50
    rounds: int = 3
    max_reassign: int = 5


@dataclass(frozen=True)
class NightOffsetConfig:
    """Knobs of the offset estimation.

    Attributes:
        min_members: hot spots with fewer detections give no residuals.
        min_nights: a group needs this many nights with two residuals or more to have offsets at all (a
            between-night variance is not measured on fewer).
        tau_min_deg, tau_max_deg: range of the prior's standard deviation searched (log grid, plus 0).
        n_grid: points of the τ grid.
    """

    min_members: int = 3
    min_nights: int = 5
    tau_min_deg: float = 0.02
    tau_max_deg: float = 5.0
    n_grid: int = 41


def _reference_err() -> dict[str, float]:
    return {"davies2024_jiram": 1.0, "davies2024_psj": 1.5, "mura2024": 1.5, "usgs_sim3168": 2.0}


@dataclass
class TrackConfig:
    """Settings of ``ioscan track`` (:func:`ioscan.workflows.track.track_catalog`).

    Attributes:
        n_sigma: association gate, as the Gaussian n-sigma probability applied to the 2-D χ².
        min_sep_km: separations below this are always consistent (hot-spot extent, systematic floor), km.
        excluded_flags: names of :class:`~ioscan.records.DetectionFlag` flags that keep a detection out.
        max_position_err_km: detections whose error ellipse's major axis exceeds this (1σ, km) are kept but
            not associated (imported rows without ``position_err_km`` are never held back): e.g.
            JIRAM frames that could not be re-registered, whose pointing may be off by up to ~2°, would
            otherwise glue unrelated hot spots together.
        max_emission_deg: detections seen more obliquely are kept but not associated: within ~10° of the
            limb a 0.5-px centroid error moves a position by several degrees and the foreshortening
            correction exceeds ×5.7.
        reference_err_deg: per-catalogue 1σ position error assumed for published positions, degrees
            (2° for a catalogue not listed).
        name_preference: catalogues in order of preference for a hot spot's name.
        error_model: position errors calibrated on repeat detections, per catalogue / observer / night
            (:mod:`ioscan.track.error_model`); None trusts the quoted errors.
        night_offsets: per-night systematic offsets estimated and removed (:mod:`ioscan.track.night_offsets`);
            None leaves published positions as they are.
        mixture: the heavy-tailed mixture step that merges fragments of one site
            (:mod:`ioscan.track.mixture`); None skips it. All three None is the quoted-error tracker
            (``ioscan track --quoted-errors``).
        colour_window_s: hot-spot colour temperatures pair detections in two bands at most this far apart in
            time, s (:mod:`ioscan.track.colour`; JIRAM's L and M strips see a spot in different frames).
        colour_variability_per_h: fractional change of a source allowed per hour between the two times,
            added to the ratio's error (5 %/h: a ×3 brightening within a day, as in the fast 2013 outbursts,
            is ~5 %/h; Io's hot spots otherwise vary over days to months).
        colour_min_snr: no pair from a detection below this S/N.
        colour_max_emission_deg: no pair from a detection seen more obliquely.
        colour_allowed_flags: detection flags that still allow a pair (none by default: any flag excludes).
        temperature_range_k: colour temperatures outside this range are flagged and kept out of statistics,
            K (Io's hot spots: ~150 K warm flows to ~1,600 K lava fountains).
        max_total_power_gw: total powers above this are flagged and kept out of statistics, GW (the largest
            outbursts on record: 201308C at 15 to > 25 TW, de Kleer et al. 2014, Icarus 242, 352).
    """

    n_sigma: float = 3.0
    min_sep_km: float = 5.0
    excluded_flags: tuple[str, ...] = DEFAULT_EXCLUDED_FLAGS
    max_position_err_km: float = 300.0
    max_emission_deg: float = 80.0
    reference_err_deg: dict[str, float] = field(default_factory=_reference_err)
    name_preference: tuple[str, ...] = ("davies2024_psj", "davies2024_jiram", "usgs_sim3168", "mura2024")
    error_model: ErrorModelConfig | None = field(default_factory=ErrorModelConfig)
    night_offsets: NightOffsetConfig | None = field(default_factory=NightOffsetConfig)
    mixture: MixtureConfig | None = field(default_factory=MixtureConfig)

    def quoted_errors(self) -> TrackConfig:
        """This configuration with the calibration steps off (the tracker trusting quoted errors)."""
        from dataclasses import replace

        return replace(self, error_model=None, night_offsets=None, mixture=None)

    colour_window_s: float = 3600.0
    colour_variability_per_h: float = 0.05
    colour_min_snr: float = 5.0
    colour_max_emission_deg: float = 80.0
    colour_allowed_flags: tuple[str, ...] = ()
    temperature_range_k: tuple[float, float] = (150.0, 2000.0)
    max_total_power_gw: float = 1.0e5

    def __post_init__(self) -> None:
        _flag_mask(self.colour_allowed_flags)
        lo, hi = self.temperature_range_k
        if not 0 <= lo < hi:
            raise ValueError(f"temperature_range_k must be (low, high) with 0 <= low < high, got {lo}, {hi}")

    @property
    def excluded_mask(self) -> int:
        """The excluded flags as a bitmask."""
        return _flag_mask(self.excluded_flags)

    @property
    def colour_allowed_mask(self) -> int:
        """The flags that still allow a colour pair, as a bitmask."""
        return _flag_mask(self.colour_allowed_flags)


def _flag_mask(names) -> int:
    out = 0
    for name in names:
        try:
            out |= int(DetectionFlag[name])
        except KeyError:
            known = ", ".join(f.name for f in DetectionFlag if f.name and f.value)
            raise ValueError(f"unknown detection flag {name!r} (known: {known})") from None
    return out


def major_axis_err_km(det: pd.DataFrame) -> np.ndarray:
    """1σ along the major axis of each detection's error ellipse, km (from ``lat_err_deg``, ``lon_err_deg``
    and ``lat_lon_err_corr``, absent or NaN = 0); NaN where ``position_err_km`` is NaN or absent (imported
    rows: never gated, as before)."""
    import numpy as np
    import pandas as pd

    from ioscan.track.covariance import major_variance, tangent_covariance

    corr = det["lat_lon_err_corr"] if "lat_lon_err_corr" in det else np.zeros(len(det))
    vn, ve, vne = tangent_covariance(
        det["lat_deg"].astype(float),
        det["lat_err_deg"].astype(float),
        det["lon_err_deg"].astype(float),
        pd.to_numeric(corr, errors="coerce"),
    )
    pos = det["position_err_km"].astype(float).to_numpy() if "position_err_km" in det else np.nan
    return np.where(np.isfinite(pos), np.sqrt(major_variance(vn, ve, vne)), np.nan)


def usable_detections(det: pd.DataFrame, cfg: TrackConfig) -> pd.DataFrame:
    """Detections that may make hot spots (the policy of :class:`~ioscan.track.config.TrackConfig`), with
    the catalogue row id as ``detection_id`` (the published one as ``imported_detection_id``)."""
    import numpy as np

    ok = (
        np.isfinite(det["lat_deg"].astype(float))
        & np.isfinite(det["lon_w_deg"].astype(float))
        & np.isfinite(det["lat_err_deg"].astype(float))
        & np.isfinite(det["lon_err_deg"].astype(float))
        & ((det["flags"].fillna(0).astype(int) & cfg.excluded_mask) == 0)
        & ~(major_axis_err_km(det) > cfg.max_position_err_km)
        & ~(det["emission_deg"].astype(float) > cfg.max_emission_deg)
    )
    out = (
        det[ok]
        .rename(columns={"detection_id": "imported_detection_id"})
        .rename(columns={"id": "detection_id"})
    )
    out["value"] = out["spectral_intensity_gw_um_sr"]
    return out
