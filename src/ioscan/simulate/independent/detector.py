"""Detector model of the independent renderer (values in band radiance, W m⁻² sr⁻¹, throughout).

Order of operations on the noiseless sky image S (per band):

1. column gain: ``S · g[col]`` with ``g = 1 + N(0, gain_rms)`` and, optionally, a step (a block of columns
   with a different gain, as after a readout-channel change);
2. shot noise: Gaussian with variance ``S·g · q`` where q = saturation / full_well is the radiance of one
   electron; read noise: Gaussian σ_read;
3. column offsets: ``N(0, column_offset_rms)`` per column (a fixed pattern, not noise);
4. cosmic rays: 1–3 pixel hits, amplitude log-uniform from 5 σ_read to the saturation level, a fraction of
   them at full well;
5. clipping at the raw saturation level;
6. on-board background subtraction: the raw frame also holds an instrument background B
   (``bg_subtracted``, which adds its shot noise) that is subtracted on board, so the product's saturation
   level is ``saturation − B``; ``bg_residual`` is what the subtraction leaves (a constant offset, either
   sign).

The true per-pixel noise σ = sqrt((S·g + B)·q + σ_read²) is part of the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: cosmic-ray hit shapes, (line, sample) offsets
CR_SHAPES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 0),),
    ((0, 0), (0, 1)),
    ((0, 0), (1, 0)),
    ((0, 0), (1, 1)),
    ((0, 0), (0, 1), (0, 2)),
    ((0, 0), (1, 0), (1, 1)),
    ((0, 0), (1, 1), (2, 2)),
)


@dataclass(frozen=True)
class DetectorParams:
    """One frame's detector.

    Attributes:
        read_noise_w_m2_sr: read-noise σ.
        full_well_e: full well, electrons (sets the shot noise through saturation / full_well).
        saturation_w_m2_sr: raw saturation level (before on-board background subtraction).
        column_offset_rms_w_m2_sr: rms of the per-column offsets.
        column_gain_rms: rms of the per-column relative gain.
        gain_step: (first column, last column + 1, gain factor) of a block of columns, or None.
        cosmic_rays_mean: mean number of hits per band image.
        cosmic_full_well_fraction: fraction of hits at full well.
        bg_subtracted_w_m2_sr: instrument background removed by the on-board subtraction (0: off).
        bg_residual_w_m2_sr: constant offset left by it.
    """

    read_noise_w_m2_sr: float = 4e-5
    full_well_e: float = 2.5e5
    saturation_w_m2_sr: float = 0.06
    column_offset_rms_w_m2_sr: float = 1e-5
    column_gain_rms: float = 0.005
    gain_step: tuple[int, int, float] | None = None
    cosmic_rays_mean: float = 4.0
    cosmic_full_well_fraction: float = 0.25
    bg_subtracted_w_m2_sr: float = 0.0
    bg_residual_w_m2_sr: float = 0.0

    @property
    def radiance_per_electron(self) -> float:
        return self.saturation_w_m2_sr / self.full_well_e

    @property
    def product_saturation_w_m2_sr(self) -> float:
        """Value a saturated pixel has in the product."""
        return self.saturation_w_m2_sr - self.bg_subtracted_w_m2_sr + self.bg_residual_w_m2_sr


def column_gains(rng: np.random.Generator, det: DetectorParams, n_samples: int) -> np.ndarray:
    """Per-column gain factors."""
    g = 1.0 + rng.normal(0.0, det.column_gain_rms, n_samples)
    if det.gain_step is not None:
        a, b, f = det.gain_step
        g[a:b] *= f
    return g


def cosmic_rays(
    rng: np.random.Generator, det: DetectorParams, shape: tuple[int, int], line_offset: int = 0
) -> pd.DataFrame:
    """Random hits: one row per pixel (line in product lines, sample, amplitude, hit id, full_well)."""
    n = rng.poisson(det.cosmic_rays_mean)
    rows = []
    lo, hi = np.log(5 * det.read_noise_w_m2_sr), np.log(det.saturation_w_m2_sr)
    for k in range(n):
        shape_k = CR_SHAPES[rng.integers(len(CR_SHAPES))]
        flip = rng.choice([-1, 1], size=2)
        l0, s0 = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        full = bool(rng.random() < det.cosmic_full_well_fraction)
        amp = det.saturation_w_m2_sr if full else float(np.exp(rng.uniform(lo, hi)))
        for j, (dl, ds) in enumerate(shape_k):
            li, si = l0 + flip[0] * dl, s0 + flip[1] * ds
            if 0 <= li < shape[0] and 0 <= si < shape[1]:
                frac = 1.0 if (j == 0 or full) else float(rng.uniform(0.3, 1.0))
                rows.append((k, li + line_offset, si, amp * frac, full))
    df = pd.DataFrame(rows, columns=["hit", "line", "sample", "amplitude_w_m2_sr", "full_well"])
    return df.astype({"hit": int, "line": int, "sample": int, "amplitude_w_m2_sr": float, "full_well": bool})


def noise_sigma(sky: np.ndarray, gains: np.ndarray, det: DetectorParams) -> np.ndarray:
    """True per-pixel noise σ of a sky image: sqrt(shot variance + read variance), W m⁻² sr⁻¹."""
    signal = np.clip(sky * gains[None, :], 0.0, None) + det.bg_subtracted_w_m2_sr
    return np.sqrt(signal * det.radiance_per_electron + det.read_noise_w_m2_sr**2)


def expected_product(
    sky: np.ndarray, gains: np.ndarray, offsets: np.ndarray, det: DetectorParams
) -> np.ndarray:
    """Noise-free, hit-free product image of a sky image (gain, offsets, clipping, on-board subtraction)."""
    raw = sky * gains[None, :] + offsets[None, :] + det.bg_subtracted_w_m2_sr
    return np.minimum(raw, det.saturation_w_m2_sr) - det.bg_subtracted_w_m2_sr + det.bg_residual_w_m2_sr


def apply_detector(
    rng: np.random.Generator,
    sky: np.ndarray,
    det: DetectorParams,
    gains: np.ndarray,
    offsets: np.ndarray,
    hits: pd.DataFrame,
    line_offset: int = 0,
) -> np.ndarray:
    """Noisy product image (float64) of a sky image: steps 1–6 of the module docstring.

    ``hits`` as from :func:`cosmic_rays`; ``line_offset`` is the product line of the image's first row.
    """
    raw = sky * gains[None, :] + det.bg_subtracted_w_m2_sr + offsets[None, :]
    raw += rng.normal(size=sky.shape) * noise_sigma(sky, gains, det)
    if len(hits):
        li = hits["line"].to_numpy() - line_offset
        si = hits["sample"].to_numpy()
        np.add.at(raw, (li, si), hits["amplitude_w_m2_sr"].to_numpy())
        full = hits["full_well"].to_numpy().astype(bool)
        raw[li[full], si[full]] = det.saturation_w_m2_sr
    raw = np.minimum(raw, det.saturation_w_m2_sr)
    return raw - det.bg_subtracted_w_m2_sr + det.bg_residual_w_m2_sr
