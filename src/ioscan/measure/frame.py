"""Measurement of a frame's detections (:func:`measure_frame`): surface positions with errors, spectral
radiance, foreshortening-corrected intensity and power with random and calibration errors, and each band's
detection limit. Colour temperatures need the same hot spot in two bands, which JIRAM's strips never see at
once: they are made after tracking (:mod:`ioscan.track.colour`)."""

from __future__ import annotations

from ioscan.detect.results import FrameDetections
from ioscan.geometry.backplanes import Backplanes
from ioscan.instruments import get_instrument
from ioscan.measure.config import MeasureConfig
from ioscan.measure.errors import prior_for
from ioscan.measure.intensity import set_intensities
from ioscan.measure.positions import PointingSamples, locate_detections
from ioscan.records import Frame


def measure_frame(
    frame: Frame,
    found: FrameDetections,
    geometry: dict[str, Backplanes] | None = None,
    *,
    config: MeasureConfig | None = None,
    pointing_error_px: float = 1.0,
    pointing: dict[str, PointingSamples] | None = None,
) -> FrameDetections:
    """Measure the detections of ``found`` in place (and return it).

    Args:
        frame: the frame the detections come from.
        found: :func:`ioscan.detect.detect_frame`'s result.
        geometry: band → backplanes (None: pixel results and spectral radiance sums only).
        config: measurement settings.
        pointing_error_px: 1σ pointing error of the geometry, px (added to the centroid errors, and through
            them to the intensity's geometric factor).
        pointing: band → draws of the remaining pointing error with the band's view
            (:class:`~ioscan.measure.positions.PointingSamples`): propagated into positions (with their
            lat/lon correlation), emission, range and intensities instead of ``pointing_error_px``.
    """
    cfg = config or MeasureConfig()
    geometry = geometry or {}
    prior = prior_for(get_instrument(frame.instrument).photometry, cfg)
    for name, band in frame.bands.items():
        res = found.bands.get(name)
        dets = res.detections if res is not None else []
        bp = geometry.get(name)
        if bp is not None and dets and bp.shape == band.shape:
            locate_detections(dets, bp, cfg, pointing_error_px, (pointing or {}).get(name))
        set_intensities(dets, band, prior, cfg)
    return found
