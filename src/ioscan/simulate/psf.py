"""Point-spread functions as normalised sums of circular Gaussians, integrated over square pixels.

A :class:`GaussianMixturePsf` has weights w_k (Σ w_k = 1) and widths σ_k in pixels. A point source at a
sub-pixel position is rendered by integrating each Gaussian exactly over every pixel of a patch (erf
differences, separable), truncated at ``radius_px`` and renormalised so the patch sums to exactly 1: the
PSF conserves energy (flux that falls outside the image is lost, as on a detector). Extended scenes are
convolved with the same Gaussians (``scipy.ndimage.gaussian_filter``, the scene reflected at the edges).

Models:

* :func:`jiram_psf`: the registry's JIRAM model (:mod:`ioscan.instruments.jiram`: core σ 0.6 px, 96 %, plus
  weak wings σ 2.5 px, 4 % — a model, not a calibration), with its parameters free for PSF-mismatch studies.
* :func:`ao_psf`: Keck-like adaptive-optics PSF, a diffraction core (Gaussian σ = 0.42 λ/D, weight =
  Strehl ratio) plus a seeing halo (FWHM ``halo_fwhm_arcsec``, weight 1 − Strehl), with the registry's
  diffraction-core formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import erf

from ioscan.instruments import jiram
from ioscan.instruments.base import FWHM_TO_SIGMA, diffraction_core_sigma_px
from ioscan.instruments.psf import GaussianMixture

ARCSEC_RAD = np.pi / 180.0 / 3600.0


@dataclass(frozen=True)
class GaussianMixturePsf(GaussianMixture):
    """Sum of circular Gaussians: ``weights`` (normalised on construction) and ``sigmas_px``."""

    @property
    def radius_px(self) -> int:
        """Patch half-size, pixels (6 σ of the widest Gaussian)."""
        return int(np.ceil(6.0 * max(self.sigmas_px)))

    def _profile_1d(self, offsets: np.ndarray, sigma: float) -> np.ndarray:
        """Fraction of a unit 1-D Gaussian (centre 0) falling in pixels centred at ``offsets`` (…, n)."""
        k = 1.0 / (np.sqrt(2.0) * sigma)
        return 0.5 * (erf((offsets + 0.5) * k) - erf((offsets - 0.5) * k))

    def patches(self, samples, lines) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel-integrated PSFs around many (sample, line) positions at once.

        Returns (first lines (n,), first samples (n,), patches (n, 2r+1, 2r+1)), each patch summing to 1.
        """
        r = self.radius_px
        s = np.atleast_1d(np.asarray(samples, float))
        ln = np.atleast_1d(np.asarray(lines, float))
        s0 = np.floor(s + 0.5).astype(int) - r
        l0 = np.floor(ln + 0.5).astype(int) - r
        grid = np.arange(2 * r + 1)
        ds = (s0[:, None] + grid[None, :]) - s[:, None]
        dl = (l0[:, None] + grid[None, :]) - ln[:, None]
        p = np.zeros((s.size, 2 * r + 1, 2 * r + 1))
        for w, sig in zip(self.weights, self.sigmas_px, strict=True):
            p += w * self._profile_1d(dl, sig)[:, :, None] * self._profile_1d(ds, sig)[:, None, :]
        p /= p.sum(axis=(1, 2), keepdims=True)
        return l0, s0, p

    def patch(self, sample: float, line: float) -> tuple[int, int, np.ndarray]:
        """Pixel-integrated PSF around (sample, line): (first line, first sample, patch summing to 1)."""
        l0, s0, p = self.patches([sample], [line])
        return int(l0[0]), int(s0[0]), p[0]

    def add_point_sources(self, image: np.ndarray, samples, lines, fluxes) -> np.ndarray:
        """Add point sources to ``image`` in place (flux spread over the PSF; off-image parts lost)."""
        nl, ns = image.shape
        r = self.radius_px
        s = np.atleast_1d(np.asarray(samples, float))
        ln = np.atleast_1d(np.asarray(lines, float))
        f = np.atleast_1d(np.asarray(fluxes, float))
        keep = (
            np.isfinite(s)
            & np.isfinite(ln)
            & (f != 0)
            & (s > -r - 1)
            & (s < ns + r)
            & (ln > -r - 1)
            & (ln < nl + r)
        )
        if not keep.any():
            return image
        l0, s0, p = self.patches(s[keep], ln[keep])
        for a, b, patch, flux in zip(l0, s0, p, f[keep], strict=True):
            la, lb = max(a, 0), min(a + patch.shape[0], nl)
            sa, sb = max(b, 0), min(b + patch.shape[1], ns)
            if la < lb and sa < sb:
                image[la:lb, sa:sb] += flux * patch[la - a : lb - a, sa - b : sb - b]
        return image

    def convolve(self, image: np.ndarray) -> np.ndarray:
        """Convolve an extended scene with the PSF.

        The scene is extended beyond the image by reflection (a surface that continues past the frame edge
        keeps its level there instead of fading towards zero); the total flux is conserved."""
        out = np.zeros_like(image, dtype=float)
        for w, sig in zip(self.weights, self.sigmas_px, strict=True):
            out += w * gaussian_filter(np.asarray(image, float), sig, mode="reflect", truncate=4.0)
        return out


def jiram_psf(
    core_sigma_px: float = jiram.PSF_SIGMAS_PX[0],
    wing_sigma_px: float = jiram.PSF_SIGMAS_PX[1],
    wing_fraction: float = jiram.PSF_WEIGHTS[1],
):
    """JIRAM imager PSF model: Gaussian core plus weak Gaussian wings (defaults: the registry's model)."""
    return GaussianMixturePsf((1.0 - wing_fraction, wing_fraction), (core_sigma_px, wing_sigma_px))


def ao_psf(
    wavelength_um: float,
    plate_scale_arcsec: float,
    *,
    strehl: float = 0.4,
    halo_fwhm_arcsec: float = 0.35,
    aperture_m: float = 10.0,
) -> GaussianMixturePsf:
    """AO PSF: diffraction core (σ = 0.42 λ/D, weight Strehl) + seeing halo (weight 1 − Strehl)."""
    if not 0 < strehl <= 1:
        raise ValueError(f"Strehl ratio must be in (0, 1], got {strehl}")
    core = diffraction_core_sigma_px(wavelength_um, aperture_m, plate_scale_arcsec)
    halo = halo_fwhm_arcsec * FWHM_TO_SIGMA / plate_scale_arcsec
    if strehl >= 1:
        return GaussianMixturePsf((1.0,), (core,))
    return GaussianMixturePsf((strehl, 1.0 - strehl), (core, halo))
