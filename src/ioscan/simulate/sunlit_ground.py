"""A sunlit JIRAM L frame of the simulator's textured surface alone (no hot spots), with its noiseless truth.

Used to measure what detection's background puts under sources injected on sunlit ground (issue 14:
``benchmarks/bench_source_leak.py``, ``tests/detect/test_source_pixels.py``): label geometry (no kernels), the
simulator's surface texture and Minnaert shading, its PSF and detector, cosmic rays off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioscan.geometry.backplanes import Backplanes
from ioscan.geometry.label_provider import backplanes_from_label, camera_from_label, pose_from_label
from ioscan.instruments import jiram
from ioscan.radiometry.bands import band_response
from ioscan.records import LabelGeometry
from ioscan.simulate.psf import GaussianMixturePsf, jiram_psf
from ioscan.simulate.render_jiram import JiramDetector, apply_detector
from ioscan.simulate.scene import SurfaceModel, surface_radiance_image

#: frame size (samples, lines) and the disk centre used (px)
FRAME_SAMPLES, FRAME_LINES = 432, 128
DISK_CENTER_PX = (216.0, 64.0)


@dataclass(frozen=True)
class SunlitGround:
    """The frame: ``image`` (W m⁻² sr⁻¹, noisy), ``ground`` (noiseless truth), backplanes, PSF, detector."""

    image: np.ndarray
    ground: np.ndarray
    backplanes: Backplanes
    psf: GaussianMixturePsf
    detector: JiramDetector
    exposure_s: float


def sunlit_view_geometry(
    range_km: float, sun_lon_w_deg: float, center_sample_px: float, center_line_px: float
) -> LabelGeometry:
    """JIRAM label geometry of the sunlit test views: sub-observer point 5° N (planetographic) 200° W, the Sun
    over the equator at ``sun_lon_w_deg`` °W, north 15° from up, the disk centred at the given pixel (px)."""
    return LabelGeometry(
        sub_observer_lat_deg=5.0,
        sub_observer_lon_w_deg=200.0,
        sub_solar_lat_deg=0.0,
        sub_solar_lon_w_deg=sun_lon_w_deg,
        range_km=range_km,
        north_pa_deg=15.0,
        pixel_scale_km=range_km * jiram.IFOV_RAD,
        disk_center_sample=center_sample_px,
        disk_center_line=center_line_px,
    )


def sunlit_ground_frame(
    range_km: float, seed: int, sun_lon_w_deg: float = 215.0, exposure_s: float = 0.1, pad_px: int = 12
) -> SunlitGround:
    """Render the frame: Io's disk centred at :data:`DISK_CENTER_PX`, sub-observer point 5° N 200° W, the Sun
    over ``sun_lon_w_deg`` °W; surface texture of ``seed`` (contrast 0.35); noise drawn from ``seed`` + 100.
    The surface is rendered ``pad_px`` wider on each side so that the PSF's blur has no edge effect."""
    psf, det = jiram_psf(), JiramDetector(cosmic_rate_per_s=0.0)

    def geom(s0: float, l0: float) -> LabelGeometry:
        return sunlit_view_geometry(range_km, sun_lon_w_deg, s0, l0)

    s0, l0 = DISK_CENTER_PX
    padded = geom(s0 + pad_px, l0 + pad_px)
    raw = surface_radiance_image(
        band_response("JIRAM", "L"),
        camera_from_label(padded, FRAME_SAMPLES + 2 * pad_px, FRAME_LINES + 2 * pad_px),
        pose_from_label(padded),
        SurfaceModel(seed=seed, contrast=0.35),
    )
    ground = psf.convolve(raw)[pad_px:-pad_px, pad_px:-pad_px]
    image, _ = apply_detector("L", ground, exposure_s, det, np.random.default_rng(seed + 100))
    backplanes = backplanes_from_label(geom(s0, l0), FRAME_SAMPLES, FRAME_LINES)
    return SunlitGround(image, ground, backplanes, psf, det, exposure_s)
