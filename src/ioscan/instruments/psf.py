"""The one PSF description the simulator and the detector share: a normalised sum of circular Gaussians."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaussianMixture:
    """Weights w_k (normalised to Σ w_k = 1 on construction) and widths σ_k in pixels."""

    weights: tuple[float, ...]
    sigmas_px: tuple[float, ...]

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, float)
        s = np.asarray(self.sigmas_px, float)
        if w.shape != s.shape or w.size == 0 or np.any(w < 0) or w.sum() <= 0 or np.any(s <= 0):
            raise ValueError(f"bad PSF model: weights {self.weights}, sigmas {self.sigmas_px}")
        object.__setattr__(self, "weights", tuple(float(x) for x in w / w.sum()))
        object.__setattr__(self, "sigmas_px", tuple(float(x) for x in s))
