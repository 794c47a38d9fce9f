"""One product end to end: read → navigate → detect → measure → the records a catalogue stores.

:func:`analyse_product` returns the frame, its navigation and its measured detections (what ``ioscan detect``
shows); :func:`process_product` turns that into an :class:`~ioscan.records.Observation`, its
:class:`~ioscan.records.BandSummary` rows and detections, and never raises (a scan goes on past a bad
product).
"""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ioscan.errors import IoscanError
from ioscan.records import BandSummary, Detection, Observation
from ioscan.settings import Settings


@dataclass
class ProductResult:
    """What one product yields: its records, or an error.

    Attributes:
        path: the product file.
        checksum_sha256: the data's checksum (None when the product could not be read).
        observation: the observation record (None on error).
        bands: one summary per band.
        detections: measured detections of every band.
        status: the frame status, or "error".
        error: one line naming the file and the problem.
        messages: notes from navigation, detection and measurement.
    """

    path: str
    checksum_sha256: str | None = None
    observation: Observation | None = None
    bands: list[BandSummary] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    messages: list[str] = field(default_factory=list)


@lru_cache(maxsize=4)
def _anchors(spec: str):
    from ioscan.geometry.anchors import load_anchors

    return load_anchors(spec)


def analyse_product(
    path: str | Path,
    kernels: str | Path | None = None,
    settings: Settings | None = None,
    extra_anchors=None,
):
    """Read, navigate, detect, register on known hot spots if the limb did not, and measure one product:
    returns (Frame, Navigation, FrameDetections). May raise IoscanError for unreadable products, unusable
    kernels or an unusable anchor table.

    ``extra_anchors``: more known hot spots (an anchor table, :mod:`ioscan.geometry.anchors`), e.g. the
    detections of frames of the same sequence registered before (chaining)."""
    import pandas as pd

    from ioscan.detect import detect_frame
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame, register_on_hot_spots
    from ioscan.measure import measure_frame
    from ioscan.measure.positions import PointingSamples

    settings = settings or Settings()
    nav_cfg = settings.navigate
    frame = read_product(Path(path))
    nav = navigate_frame(
        frame, kernels=Path(kernels) if kernels else None, register=nav_cfg.register, config=nav_cfg
    )
    detect_cfg = dataclasses.replace(settings.detect, pointing_error_px=nav.pointing_error_px)
    found = detect_frame(frame, nav.backplanes or None, config=detect_cfg)
    if nav_cfg.register and nav_cfg.register_hot_spots and nav.views and not nav.registered:
        anchors = _anchors(nav_cfg.anchors)
        if extra_anchors is not None and len(extra_anchors):
            anchors = pd.concat([anchors, extra_anchors], ignore_index=True)
        register_on_hot_spots(frame, nav, found.detections, anchors, nav_cfg)
        if nav.registered:  # detect again with the corrected geometry (limb band, on-disk flags)
            detect_cfg = dataclasses.replace(settings.detect, pointing_error_px=nav.pointing_error_px)
            found = detect_frame(frame, nav.backplanes, config=detect_cfg)
    pointing = None
    if nav.offset_samples_px is not None and nav.views:
        pointing = {b: PointingSamples(v, nav.offset_samples_px) for b, v in nav.views.items()}
    measure_frame(
        frame,
        found,
        nav.backplanes or None,
        config=settings.measure,
        pointing_error_px=nav.pointing_error_px,
        pointing=pointing,
    )
    return frame, nav, found


def _band_summaries(frame, nav, found, settings: Settings) -> list[BandSummary]:
    from ioscan.geometry.navigate import limb_psf_sigma_px
    from ioscan.measure import detection_limit_gw_um_sr

    noise = found.noise or {}
    return [
        BandSummary(
            band=b.band,
            wavelength_um=b.wavelength_um,
            bandwidth_um=b.bandwidth_um,
            unit=b.unit,
            saturation=b.saturation,
            noise=noise.get(b.band),
            detection_limit_gw_um_sr=detection_limit_gw_um_sr(
                noise.get(b.band),
                b,
                nav.backplanes.get(b.band),
                limb_psf_sigma_px(frame, b),
                snr=settings.measure.limit_snr,
            ),
        )
        for b in frame.bands.values()
    ]


def _observation(path, frame, nav, found) -> Observation:
    from ioscan.geometry.coverage import coverage_grid, encode_grid

    navigated = bool(nav.backplanes)
    return Observation(
        product_id=frame.product_id,
        instrument=frame.instrument,
        time_utc=frame.time_utc,
        observer=frame.observer,
        mode=frame.mode,
        orbit=frame.orbit,
        exposure_s=frame.exposure_s,
        file_path=str(path),
        checksum_sha256=frame.checksum_sha256,
        base_product_id=frame.base_product_id,
        product_version=frame.product_version,
        product_created_utc=frame.product_created_utc,
        status=found.status,
        coverage_grid=encode_grid(coverage_grid(nav.backplanes.values())) if navigated else None,
        geometry_source=nav.source if navigated else "none",
        registered=bool(nav.registered) if navigated else None,
        pointing_offset_sample_px=nav.offset_px[0] if navigated else None,
        pointing_offset_line_px=nav.offset_px[1] if navigated else None,
        pointing_offset_err_px=nav.pointing_error_px if navigated else None,
        registration_method=nav.method if navigated else None,
        pointing_offset_sample_err_px=nav.offset_err_px[0] if navigated else None,
        pointing_offset_line_err_px=nav.offset_err_px[1] if navigated else None,
        pointing_offset_corr=nav.offset_corr if navigated else None,
        false_match_prob=nav.false_match_prob,
        n_anchor_matches=nav.n_matches,
        n_detections=len(found.detections),
        **nav.nearest_point(),
    )


def process_product(
    path: str | Path,
    kernels: str | Path | None = None,
    settings: Settings | None = None,
    extra_anchors=None,
) -> ProductResult:
    """Read, navigate, detect and measure one product into its records (``extra_anchors``: see
    :func:`analyse_product`). Never raises: errors come back in the result."""
    settings = settings or Settings()
    result = ProductResult(path=str(path))
    try:
        frame, nav, found = analyse_product(path, kernels, settings, extra_anchors)
        result.checksum_sha256 = frame.checksum_sha256
        result.messages += [*nav.messages, *found.messages]
        result.detections = found.detections
        result.status = found.status
        result.observation = _observation(path, frame, nav, found)
        result.bands = _band_summaries(frame, nav, found, settings)
    except IoscanError as exc:
        result.status, result.error = "error", str(exc)
    except Exception as exc:  # one bad product must never stop a run: report it with its traceback tail
        result.status = "error"
        where = traceback.format_exc(limit=-1).strip().splitlines()
        result.error = f"{Path(path).name}: unexpected {type(exc).__name__}: {exc} [{where[-3].strip()}]"
    return result
