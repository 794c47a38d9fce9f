"""Detection in every band of a frame (:func:`detect_frame`)."""

from __future__ import annotations

import numpy as np

from ioscan.detect.background import BROAD_PSF_SIGMA_PX
from ioscan.detect.band import detect_band
from ioscan.detect.config import DetectConfig
from ioscan.detect.misfits import flag_along_limb, flag_edge_plateaus
from ioscan.detect.results import BandDetections, FrameDetections, best_status
from ioscan.errors import ProductError
from ioscan.geometry.backplanes import Backplanes
from ioscan.instruments import get_instrument
from ioscan.records import BandImage, Frame


def _flag_model_misfits(res: BandDetections, band: BandImage, cfg: DetectConfig) -> None:
    """The background-misfit tests that read a band's whole model (:mod:`ioscan.detect.misfits`): a residual
    that runs along the limb (``along_limb_test``; narrow PSFs, a limb distance map), a plateau along the
    frame edge (``edge_plateau_test``)."""
    model = res.model
    if model is None or not res.detections:
        return
    if res.detections[0].extra.get("psf_core_sigma_px", 0.0) >= BROAD_PSF_SIGMA_PX:
        return
    if cfg.along_limb_test and model.limb_distance_px is not None:
        n = flag_along_limb(
            res.detections, band.data, model.background, model.sigma_white, model.limb_distance_px,
            res.offset, band.line_offset, cfg.along_limb_max_fraction,
        )  # fmt: skip
        if n:
            res.messages.append(
                f"band {band.band}: {n} detections whose residual runs along the limb flagged ARTEFACT"
            )
    if cfg.edge_plateau_test:
        n = flag_edge_plateaus(
            res.detections, band.data, model.background, model.sigma_white, res.offset, band.line_offset,
            cfg.edge_plateau_max_fraction,
        )  # fmt: skip
        if n:
            res.messages.append(
                f"band {band.band}: {n} detections on a plateau along the frame edge flagged ARTEFACT"
            )


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
                keep_model=True,  # the misfit tests below read it; dropped after them unless asked for
                plate_scale_arcsec=plate_scale,
                onboard_background_subtraction=bool(frame.metadata.get("onboard_background_subtraction")),
            )
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            # a search that breaks is a failed product, never a band "without detections" (which a scan
            # would store and count as processed, hiding the failure): the scan reports it and stores nothing
            raise ProductError(
                f"{frame.product_id}: detection failed in band {name}: {type(exc).__name__}: {exc}"
            ) from exc
        _flag_model_misfits(res, band, cfg)
        if not keep_models:
            res.model = None
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
