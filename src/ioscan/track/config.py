"""Tracking settings and policy (:class:`TrackConfig`): which detections may make hot spots, the association
gate, and how published catalogues are weighted and named."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ioscan.records import DetectionFlag
from ioscan.track.error_model import ErrorModelConfig
from ioscan.track.mixture import MixtureConfig
from ioscan.track.night_offsets import NightOffsetConfig

#: detections with any of these flags never make a hot spot
DEFAULT_EXCLUDED_FLAGS = ("COSMIC_RAY", "OFF_DISK", "ARTEFACT")


def _reference_err() -> dict[str, float]:
    return {"davies2024_jiram": 1.0, "davies2024_psj": 1.5, "mura2024": 1.5, "usgs_sim3168": 2.0}


@dataclass
class TrackConfig:
    """Settings of ``ioscan track`` (:func:`ioscan.workflows.track.track_catalog`).

    Attributes:
        n_sigma: association gate, as the Gaussian n-sigma probability applied to the 2-D χ².
        min_sep_km: separations below this are always consistent (hot-spot extent, systematic floor), km.
        excluded_flags: names of :class:`~ioscan.records.DetectionFlag` flags that keep a detection out.
        max_position_err_km: detections less precise than this (1σ, km) are kept but not associated: e.g.
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

    @property
    def excluded_mask(self) -> int:
        """The excluded flags as a bitmask."""
        out = 0
        for name in self.excluded_flags:
            try:
                out |= int(DetectionFlag[name])
            except KeyError:
                known = ", ".join(f.name for f in DetectionFlag if f.name and f.value)
                raise ValueError(f"unknown detection flag {name!r} (known: {known})") from None
        return out


def usable_detections(det: pd.DataFrame, cfg: TrackConfig) -> pd.DataFrame:
    """Detections that may make hot spots (the policy of :class:`~ioscan.track.config.TrackConfig`), with
    the catalogue row id as ``detection_id`` (the published one as ``imported_detection_id``)."""
    ok = (
        np.isfinite(det["lat_deg"].astype(float))
        & np.isfinite(det["lon_w_deg"].astype(float))
        & np.isfinite(det["lat_err_deg"].astype(float))
        & np.isfinite(det["lon_err_deg"].astype(float))
        & ((det["flags"].fillna(0).astype(int) & cfg.excluded_mask) == 0)
        & ~(det["position_err_km"].astype(float) > cfg.max_position_err_km)
        & ~(det["emission_deg"].astype(float) > cfg.max_emission_deg)
    )
    out = (
        det[ok]
        .rename(columns={"detection_id": "imported_detection_id"})
        .rename(columns={"id": "detection_id"})
    )
    out["value"] = out["spectral_intensity_gw_um_sr"]
    return out
