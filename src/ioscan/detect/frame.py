"""Detection in every band of a frame (:func:`detect_frame`)."""

from __future__ import annotations

import numpy as np

from ioscan.detect.band import detect_band
from ioscan.detect.config import DetectConfig
from ioscan.detect.results import BandDetections, FrameDetections, best_status
from ioscan.errors import ProductError
from ioscan.geometry.backplanes import Backplanes
from ioscan.instruments import get_instrument
from ioscan.records import Frame


def detect_frame(
    frame: Frame,
    geometry: dict[str, Backplanes] | None = None,
    *,
    config: DetectConfig | None = None,
    keep_models: bool = False,
) -> FrameDetections:
    """Find the hot spots of every band of a frame (pixel results: positions, fluxes, S/N, flags).

    Never raises on bad pixel data: an all-NaN, saturated or Io-less frame, or a frame with no hot spot, comes
    back with a clear ``status`` and no entries; one odd source is flagged, not fatal. A band whose search
    breaks (ValueError, FloatingPointError, LinAlgError) raises :class:`~ioscan.errors.ProductError` naming
    the product, the band and the error. Measure the detections
    (surface positions, intensities, colour temperatures) with :func:`ioscan.measure.measure_frame`.

    Args:
        frame: the frame (a registered instrument; pixel values in the band's unit).
        geometry: band → backplanes of that band's image (same shape): the limb and the sunlit disk's shading
            come from it. None: the limb is found in the data.
        config: detection settings (:class:`DetectConfig`).
        keep_models: keep each band's background/noise/S/N model in ``result.bands[b].model``.

    Returns:
        :class:`FrameDetections` with status "ok", "no_io" (geometry says Io is not in view), "all_nan",
        "saturated" or "no_detections".
    """
    cfg = config or DetectConfig()
    geometry = geometry or {}
    inst = get_instrument(frame.instrument)
    plate_scale = frame.metadata.get("plate_scale_arcsec")
    results: dict[str, BandDetections] = {}
    messages: list[str] = []
    for name, band in frame.bands.items():
        try:
            res = detect_band(
                band,
                geometry.get(name),
                instrument=inst,
                config=cfg,
                keep_model=keep_models,
                plate_scale_arcsec=plate_scale,
                onboard_background_subtraction=bool(frame.metadata.get("onboard_background_subtraction")),
            )
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            # a search that breaks is a failed product, never a band "without detections" (which a scan
            # would store and count as processed, hiding the failure): the scan reports it and stores nothing
            raise ProductError(
                f"{frame.product_id}: detection failed in band {name}: {type(exc).__name__}: {exc}"
            ) from exc
        results[name] = res
        messages.extend(res.messages)
    return FrameDetections(
        product_id=frame.product_id,
        detections=[d for r in results.values() for d in r.detections],
        status=best_status([r.status for r in results.values()]),
        band_status={k: r.status for k, r in results.items()},
        noise={k: r.noise_median for k, r in results.items()},
        messages=messages,
        bands=results,
    )
