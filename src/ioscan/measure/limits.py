"""Point-source detection limits, in spectral intensity at normal view."""

from __future__ import annotations

import numpy as np

from ioscan.geometry.backplanes import Backplanes
from ioscan.records import BAND_RADIANCE_UNIT, BandImage


def detection_limit_gw_um_sr(
    noise: float | None, band: BandImage, bp: Backplanes | None, psf_sigma_px: float, snr: float = 5.0
) -> float | None:
    """``snr``-σ point-source limit in spectral intensity at the frame's nearest on-disk pixel (normal view),
    GW µm⁻¹ sr⁻¹; None without noise or disk.

    A matched filter on a Gaussian PSF of σ pixels reaches S/N = flux / (noise · √(4πσ²)).
    """
    if noise is None or bp is None or not np.isfinite(noise) or not bp.on_disk.any():
        return None
    scale_km = _disk_min(bp["pixel_scale_km"], bp.on_disk)
    spectral = noise / band.bandwidth_um if band.unit == BAND_RADIANCE_UNIT else noise
    effective_area_px = 4.0 * np.pi * psf_sigma_px**2
    return float(snr * spectral * np.sqrt(effective_area_px) * (scale_km * 1e3) ** 2 / 1e9)


def _disk_min(values: np.ndarray, on_disk: np.ndarray) -> float:
    """``np.nanmin`` of ``values`` where ``on_disk`` (some pixel is), the same value: the smallest non-NaN
    value over the disk pixels alone (no full-frame copy with NaN off the disk); NaN when they are all NaN."""
    least = float(np.fmin.reduce(values, axis=None, where=on_disk, initial=np.inf))
    if least == np.inf:  # every disk value NaN (or infinite): as before
        return float(np.nanmin(np.where(on_disk, values, np.nan)))
    return least
