"""Measurement settings (:class:`MeasureConfig`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MeasureConfig:
    """Settings of :func:`ioscan.measure.measure_frame`.

    Attributes:
        flagged_centroid_sys_px: 1-σ systematic centroid error of NEAR_LIMB and BLENDED detections, pixels,
            or half the PSF core σ if larger (limb background, PSF truncation, neighbours; foreshortening
            magnifies it on the surface).
        saturated_centroid_sys_px: 1-σ systematic centroid error of SATURATED detections, pixels (a centroid
            fitted to the wings of a clipped core, often of an extended source at close range).
        match_radius_km: two-band pairs: largest surface distance between the two detections, km.
        match_radius_px: two-band pairs without geometry: largest pixel offset.
        limit_snr: S/N of the point-source detection limit stored per band.
    """

    flagged_centroid_sys_px: float = 0.3
    saturated_centroid_sys_px: float = 1.0
    match_radius_km: float = 150.0
    match_radius_px: float = 3.0
    limit_snr: float = 5.0
