"""The spike test's threshold as a function of each source's own S/N.

The spike test (:func:`ioscan.detect.find.spike_dchi2`) compares a 1–3-pixel hit with the PSF. For a true
point source its χ² advantage falls as the S/N rises (the PSF's wings, which a hit lacks, stand out of the
noise), while a hit's grows as S/N². One threshold calibrated at the detection threshold
(:func:`ioscan.detect.find.spike_threshold`, ~11 for a Gaussian core of σ 0.8 px at S/N 5.2) is therefore
loose for sources a little brighter: faint 2–3-pixel hits of matched-filter S/N 7–11 with advantages of
5–11 passed it and were catalogued (on the independent renderer's night frames, most of the false detections
of some seeds). Here the threshold is calibrated on a grid of S/N — the same simulation, the same false-flag
rate, at each S/N — and interpolated at each source's matched-filter S/N; a floor
(:attr:`ioscan.detect.config.DetectConfig.cosmic_ray_dchi2_floor`) keeps it from falling to where PSF-model
mismatch and background errors, which the white-noise simulation does not hold, would flag true sources.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ioscan.detect.find import SPIKE_FALSE_FLAG_RATE, add_sources, calibration_field, spike_dchi2
from ioscan.detect.psf import PsfModel

#: matched-filter S/N (above the detection threshold) at which the threshold is calibrated; beyond the last
#: the floor holds anyway (a true source's advantage is far below it)
SNR_GRID = (0.0, 0.75, 1.75, 2.75, 4.75, 8.75, 14.75)


@lru_cache(maxsize=32)
def spike_threshold_table(
    psf: PsfModel, threshold_snr: float, false_flag_rate: float = SPIKE_FALSE_FLAG_RATE
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(S/N grid, χ² advantage that a true point source of that matched-filter S/N exceeds with probability
    ``false_flag_rate``) under white noise and this PSF; the grid starts at ``threshold_snr``. One seeded
    simulation (4,096 sources at random sub-pixel positions, the noise shared by all S/N)."""
    noise, li, sj, p, cx, cy = calibration_field(psf)
    unit = 1.0 / np.sqrt(np.sum(p**2, axis=(1, 2)))
    signal = np.zeros_like(noise)
    add_sources(signal, li, sj, unit[:, None, None] * p)  # (np.add.at's sums, compiled)
    ones = np.ones(noise.shape)
    valid = ones.astype(bool)
    snrs = tuple(threshold_snr + s for s in SNR_GRID)
    levels = []
    for snr in snrs:
        d = spike_dchi2(noise + snr * signal, ones, valid, cx, cy, snr * unit, psf)
        levels.append(float(np.quantile(d, 1.0 - false_flag_rate)))
    return snrs, tuple(levels)


def spike_thresholds(psf: PsfModel, threshold_snr: float, snr: np.ndarray, floor: float) -> np.ndarray:
    """The spike test's threshold (χ² advantage) for sources of matched-filter S/N ``snr``: the calibrated
    table interpolated (held at its ends), never below ``floor`` nor above the threshold at
    ``threshold_snr`` (a floor at or above it: that single threshold for all, as before the table)."""
    grid, levels = spike_threshold_table(psf, float(threshold_snr))
    return np.maximum(np.interp(np.asarray(snr, float), grid, levels), min(floor, levels[0]))
