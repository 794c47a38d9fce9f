"""The simulator's residual flat field: what a detector's response keeps after flat-fielding.

A calibrated product divides by a flat field measured on the ground or in flight; what that leaves is a small
multiplicative response error R(line, sample) = 1 + ε. No document ioscan ships (JIRAM SIS, NAIF IK, the real
label) states JIRAM's flat-field accuracy, so this model is an **assumption**, of the order that calibrated
infrared arrays are quoted at (residuals of a few tenths of a per cent to ~1 %), in two parts:

* **pixel to pixel** — independent Gaussian ε per pixel, rms :attr:`FlatField.pixel_rms` (a flat measured
  with finite signal, pixels whose response drifted since);
* **column response** — a response common to each column, smooth across columns (white noise per column
  smoothed by a Gaussian of σ :attr:`FlatField.column_scale_px` columns, rescaled to rms
  :attr:`FlatField.column_rms`): the readout's slowly varying column amplifiers, or a flat whose column
  structure changed.

Both are **fixed per detector** (drawn once from :attr:`FlatField.seed`, never from a frame's random
generator: every frame of a campaign sees the same residual flat, and a frame's noise draws are the ones it
had without it), defined on the whole detector's lines so that each band reads its own rows
(``first_detector_line``). The map has mean 1 over the detector (a flat residual does not change the
absolute calibration). It multiplies the signal the detector collects (surface, hot spots and their
reflections), before the photon noise; cosmic rays deposit charge directly and are not multiplied.

This differs on purpose from the independent renderer's detector (:mod:`ioscan.simulate.independent.detector`:
white column gains drawn per frame and, in some frames, a block of columns with a gain step; no pixel part),
so that the measurement's flat-field term (:mod:`ioscan.measure.errors`) is checked on two structures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: detector lines and samples of the canonical map (JIRAM's imager: 266 × 432); larger images get a larger map
CANONICAL_SHAPE = (266, 432)


@dataclass(frozen=True)
class FlatField:
    """A residual flat field, fixed per detector (see the module docstring).

    Attributes:
        pixel_rms: rms of the independent pixel-to-pixel response error (fraction).
        column_rms: rms of the column response error (fraction), common to a column's lines.
        column_scale_px: σ, in columns, of the Gaussian smoothing of the column response.
        seed: seed of the detector's map (one detector, one map).
    """

    pixel_rms: float = 0.004
    column_rms: float = 0.003
    column_scale_px: float = 6.0
    seed: int = 31415

    @property
    def perfect(self) -> bool:
        """True when the flat field has no residual at all."""
        return self.pixel_rms == 0 and self.column_rms == 0

    def response(self, shape: tuple[int, int], first_detector_line: int = 0) -> np.ndarray:
        """The response R (mean ~1) of the detector lines ``first_detector_line`` … + ``shape[0]`` − 1 and
        samples 0 … ``shape[1]`` − 1 (a read-only array)."""
        nl, ns = int(shape[0]), int(shape[1])
        rows = max(CANONICAL_SHAPE[0], first_detector_line + nl)
        cols = max(CANONICAL_SHAPE[1], ns)
        full = _detector_map(self, rows, cols)
        return full[first_detector_line : first_detector_line + nl, :ns]


@lru_cache(maxsize=16)
def _detector_map(flat: FlatField, rows: int, cols: int) -> np.ndarray:
    """The whole detector's response map (cached: one detector, one map)."""
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(flat.seed)
    pixel = rng.standard_normal((rows, cols))
    column = rng.standard_normal(cols)
    if flat.column_scale_px > 0:
        column = gaussian_filter1d(column, flat.column_scale_px, mode="wrap")
    column = (column - column.mean()) / max(float(column.std()), 1e-12)
    pixel = (pixel - pixel.mean()) / max(float(pixel.std()), 1e-12)
    out = (1.0 + flat.pixel_rms * pixel) * (1.0 + flat.column_rms * column)[None, :]
    out /= out.mean()
    out.setflags(write=False)
    return out
