"""The simulator's residual flat field: what a detector's response keeps after flat-fielding.

A calibrated product divides by a flat field measured on the ground or in flight; what that leaves is a small
multiplicative response error R(line, sample) = 1 + ε. No document ioscan ships (JIRAM SIS, NAIF IK, the real
label) states JIRAM's flat-field accuracy, so this model is an **assumption**, of the order that calibrated
infrared arrays are quoted at (residuals of a few tenths of a per cent to ~1 %), in two parts:

* **pixel to pixel** — independent Gaussian ε per pixel, rms :attr:`FlatField.pixel_rms` (a flat measured
  with finite signal, pixels whose response drifted since);
* **column response** — a response common to each column, smooth across columns (white noise per column
  smoothed by a Gaussian of σ :attr:`FlatField.column_scale_px` columns, rescaled to rms
  :attr:`FlatField.column_rms`): the readout's column amplifiers, whose gains drift with temperature, so it is
  **drawn per image** (from a child of the frame's generator, :meth:`numpy.random.Generator.spawn`, which
  leaves the frame's own draws as they were).

The pixel part is **fixed per detector** (drawn once from :attr:`FlatField.seed`: every frame of a campaign
sees the same pixel map), defined on the whole detector's lines so that each band reads its own rows
(``first_detector_line``), mean 1 (a flat residual does not change the absolute calibration). With
``column_per_frame=False`` the column response is fixed too (drawn from the seed). The map multiplies the
signal the detector collects (surface, hot spots and their reflections), before the photon noise; cosmic
rays deposit charge directly and are not multiplied.

A fixed column response was tried first: one draw has only ~30 independent column values across the
detector, and the bright hot spots of a campaign, which Io's disk puts near the detector's middle columns,
saw 0.30–0.32 % rms where the model states 0.38 % — one draw's luck, which per-image columns average away.

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
        seed: seed of the detector's pixel map (one detector, one map).
        column_per_frame: the column response drawn per image (True) or fixed with the pixel map.
    """

    pixel_rms: float = 0.004
    column_rms: float = 0.003
    column_scale_px: float = 6.0
    seed: int = 31415
    column_per_frame: bool = True

    @property
    def perfect(self) -> bool:
        """True when the flat field has no residual at all."""
        return self.pixel_rms == 0 and self.column_rms == 0

    def response(
        self, shape: tuple[int, int], first_detector_line: int = 0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """The response R (mean ~1) of the detector lines ``first_detector_line`` … + ``shape[0]`` − 1 and
        samples 0 … ``shape[1]`` − 1: the fixed pixel map × the column response (drawn from a child of
        ``rng`` when ``column_per_frame``; fixed without ``rng``)."""
        pixel = self.pixel_response(shape, first_detector_line)
        if self.column_rms == 0:
            return pixel
        cols = max(CANONICAL_SHAPE[1], int(shape[1]))
        if self.column_per_frame and rng is not None:
            column = _column_response(self, cols, rng.spawn(1)[0])
        else:
            column = _fixed_column(self, cols)
        return pixel * column[None, : int(shape[1])]

    def pixel_response(self, shape: tuple[int, int], first_detector_line: int = 0) -> np.ndarray:
        """The fixed pixel-to-pixel part alone (mean 1; read-only), rows and samples as :meth:`response`."""
        nl, ns = int(shape[0]), int(shape[1])
        rows = max(CANONICAL_SHAPE[0], first_detector_line + nl)
        cols = max(CANONICAL_SHAPE[1], ns)
        return _pixel_map(self, rows, cols)[first_detector_line : first_detector_line + nl, :ns]


@lru_cache(maxsize=16)
def _pixel_map(flat: FlatField, rows: int, cols: int) -> np.ndarray:
    """The whole detector's pixel-to-pixel response, mean 1 (cached: one detector, one map)."""
    rng = np.random.default_rng(flat.seed)
    pixel = rng.standard_normal((rows, cols))
    out = 1.0 + flat.pixel_rms * (pixel - pixel.mean()) / max(float(pixel.std()), 1e-12)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=16)
def _fixed_column(flat: FlatField, cols: int) -> np.ndarray:
    out = _column_response(flat, cols, np.random.default_rng((flat.seed, 1)))
    out.setflags(write=False)
    return out


def _column_response(flat: FlatField, cols: int, rng: np.random.Generator) -> np.ndarray:
    """One column response: 1 + rms × (white noise smoothed over ``column_scale_px``, unit rms)."""
    from scipy.ndimage import gaussian_filter1d

    column = rng.standard_normal(cols)
    if flat.column_scale_px > 0:
        column = gaussian_filter1d(column, flat.column_scale_px, mode="wrap")
    column = (column - column.mean()) / max(float(column.std()), 1e-12)
    return 1.0 + flat.column_rms * column
