"""PSF model (a sum of Gaussians, pixel-integrated; the core optionally elongated along the lines), its stamps
with derivatives, matched filter."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ioscan.instruments.psf import GaussianMixture

_SQRT2 = np.sqrt(2.0)
_SQRT2PI = np.sqrt(2 * np.pi)


def kernel1d(sigma_px: float, shift_px: float = 0.0) -> np.ndarray:
    """1-D pixel-integrated Gaussian of unit sum centred at ``shift_px`` (|shift| ≤ 0.5), on an odd number of
    pixels centred at 0 (radius ceil(4σ), one more when shifted). Made once per (σ, shift) given as Python
    or float64 numbers (the background and the matched filter ask for the same few again and again; each
    caller gets its own copy), other types each time."""
    if type(sigma_px) in _PLAIN_FLOATS and type(shift_px) in _PLAIN_FLOATS:
        return _kernel1d_kept(float(sigma_px), float(shift_px)).copy()
    return _kernel1d(sigma_px, shift_px)


_PLAIN_FLOATS = (float, int, np.float64)


@lru_cache(maxsize=256)
def _kernel1d_kept(sigma_px: float, shift_px: float) -> np.ndarray:
    """:func:`_kernel1d`, kept (read-only)."""
    k = _kernel1d(sigma_px, shift_px)
    k.setflags(write=False)
    return k


def _kernel1d(sigma_px: float, shift_px: float = 0.0) -> np.ndarray:
    """:func:`kernel1d` made anew."""
    from scipy.special import erf  # (here and below: settings import this module and need none of scipy)

    r = max(1, int(np.ceil(4.0 * sigma_px))) + (1 if shift_px else 0)
    x = np.arange(-r, r + 1, dtype=float) - shift_px
    k = 0.5 * (erf((x + 0.5) / (_SQRT2 * sigma_px)) - erf((x - 0.5) / (_SQRT2 * sigma_px)))
    return k / k.sum()


def _integrated_1d(u: np.ndarray, sigma_px: float):
    """Pixel-integrated 1-D Gaussian at offsets u (pixel − source) and its derivative w.r.t. the source."""
    from scipy.special import erf

    a = (u + 0.5) / (_SQRT2 * sigma_px)
    b = (u - 0.5) / (_SQRT2 * sigma_px)
    val = 0.5 * (erf(a) - erf(b))
    g = np.exp(-(a * a)) - np.exp(-(b * b))
    dval = -g / (np.sqrt(2 * np.pi) * sigma_px)  # d/d(source position) = −d/du
    return val, dval


@dataclass(frozen=True)
class PsfModel(GaussianMixture):
    """A PSF of unit total flux: Σ_k w_k · (pixel-integrated Gaussian of σ_k), Σ w_k = 1.

    The matched filter uses the *core* (the component that dominates Σ P²); photometry fits the whole model,
    so the fitted amplitude is the source's total flux (wings and halo included). ``elongation`` = σ_line /
    σ_sample of the core (1: round): the core is then σ_k·√e along the lines and σ_k/√e across (its
    geometric-mean width stays σ_k; still separable, so filtering costs the same); other components stay
    round.
    """

    elongation: float = 1.0

    @classmethod
    def gaussian(cls, sigma_px: float) -> PsfModel:
        return cls((1.0,), (float(sigma_px),))

    @cached_property
    def core_sigma_px(self) -> float:
        """σ of the component with the largest w²/σ² (the one a matched filter should use; computed once per
        model: the model is frozen)."""
        w = np.asarray(self.weights)
        s = np.asarray(self.sigmas_px)
        return float(s[np.argmax(w * w / (s * s))])

    def axis_sigmas_px(self, sigma_px: float) -> tuple[float, float]:
        """(σ_line, σ_sample) px of the component of width ``sigma_px`` (the core elongated, others round)."""
        if self.elongation == 1.0 or sigma_px != self.core_sigma_px:
            return float(sigma_px), float(sigma_px)
        r = float(np.sqrt(self.elongation))
        return float(sigma_px) * r, float(sigma_px) / r

    @property
    def core_axis_sigmas_px(self) -> tuple[float, float]:
        """(σ_line, σ_sample) of the core, px."""
        return self.axis_sigmas_px(self.core_sigma_px)

    @property
    def fit_radius_px(self) -> int:
        """Half-size of the photometry stamp: 3 σ of the core, and 1 σ of any component holding ≥ 10 %."""
        r = max(2.0, 3.0 * self.core_sigma_px)
        for w, s in zip(self.weights, self.sigmas_px, strict=True):
            if w >= 0.1:
                r = max(r, s)
        return int(np.ceil(r))

    def correlate(self, image: np.ndarray, mode: str = "constant") -> np.ndarray:
        """``image`` correlated with the pixel-integrated PSF (Σ_k w_k · separable Gaussian of σ_k): the
        matched filter of a point source at every pixel, or an extended scene blurred by the PSF (the PSF is
        symmetric). ``mode`` as in :func:`scipy.ndimage.correlate1d` for the frame edges; for a 2-D image and
        ``nearest`` or ``constant`` (0 beyond) the passes are compiled
        (:func:`ioscan.detect.background_kernels.correlate_lines`, ``correlate_samples``: scipy's values)."""
        from scipy import ndimage  # (here: settings import this module and need none of it)

        x = np.asarray(image, dtype=float)
        out = np.zeros_like(x)
        compiled = x.ndim == 2 and x.size > 0 and mode in ("nearest", "constant")
        if compiled:
            from ioscan.detect.background_kernels import correlate_lines, correlate_samples

            x = np.ascontiguousarray(x)
            nl, ns = x.shape
        for w, s in zip(self.weights, self.sigmas_px, strict=True):
            s_l, s_s = self.axis_sigmas_px(s)
            kl, ks = kernel1d(s_l), kernel1d(s_s)
            if compiled:
                rows = correlate_lines(x, kl, mode == "nearest", 0.0, 0, nl)
                out += w * correlate_samples(rows, ks, mode == "nearest", 0.0, 0, ns)
            else:
                rows = ndimage.correlate1d(x, kl, axis=0, mode=mode)
                out += w * ndimage.correlate1d(rows, ks, axis=1, mode=mode)
        return out

    def stamps(self, xs: np.ndarray, ys: np.ndarray, x0: np.ndarray, y0: np.ndarray):
        """PSF values and derivatives on stamp pixels.

        Args:
            xs: pixel-centre samples (n, 1, m) or (1, 1, m); ys: pixel-centre lines (n, m, 1) or (1, m, 1).
            x0, y0: source positions (n,) (sample, line).

        Returns:
            (P, dP/dx0, dP/dy0), each (n, m, m).

        Square stamps of float64 offsets (xs (n or 1, 1, m), ys (n or 1, m, 1)) are made by
        :meth:`stamp_grid` (compiled, the same values; the three are views of one array), others by
        :meth:`stamps_numpy`.
        """
        ux, uy = xs - x0[:, None, None], ys - y0[:, None, None]
        if _square_offsets(ux, uy):
            p, dx, dy = self._grid_of_offsets(ux, uy, True)
            return p, dx, dy
        return self.stamps_numpy(xs, ys, x0, y0)

    def stamp_values(self, xs: np.ndarray, ys: np.ndarray, x0: np.ndarray, y0: np.ndarray) -> np.ndarray:
        """``stamps(xs, ys, x0, y0)[0]``, the PSF's values alone (n, m, m), the same bits: for square stamps
        without the derivatives' planes and their exponentials (:func:`ioscan.detect.fit_kernels.
        psf_values_into`), else :meth:`stamps`' own."""
        ux, uy = xs - x0[:, None, None], ys - y0[:, None, None]
        if _square_offsets(ux, uy):
            erf, fk = _profile_kernels()
            n, m = ux.shape[0], ux.shape[2]
            sig, weights = self._profile_constants
            ab, _ = fk.profile_arguments(np.stack([ux.reshape(-1), uy.reshape(-1)]), sig, _SQRT2)
            args, idx = fk.shared_erf_arguments(ab)
            out = np.empty((n, m, m))
            fk.psf_values_into(erf(args), idx, weights, n, m, out)
            return out
        return self.stamps(xs, ys, x0, y0)[0]

    def stamps_numpy(self, xs: np.ndarray, ys: np.ndarray, x0: np.ndarray, y0: np.ndarray):
        """:meth:`stamps` in numpy, any broadcastable shapes (the reference of its compiled form)."""
        p = dx = dy = 0.0
        ux, uy = xs - x0[:, None, None], ys - y0[:, None, None]  # (the same for every component)
        for w, s in zip(self.weights, self.sigmas_px, strict=True):
            s_l, s_s = self.axis_sigmas_px(s)
            px, dpx = _integrated_1d(ux, s_s)
            py, dpy = _integrated_1d(uy, s_l)
            p = p + w * px * py
            dx = dx + w * dpx * py
            dy = dy + w * px * dpy
        return p, dx, dy

    def stamp_grid(
        self, xs: np.ndarray, ys: np.ndarray, x0: np.ndarray, y0: np.ndarray, derivatives: bool = True
    ) -> np.ndarray:
        """``np.stack(self.stamps(xs, ys, x0, y0))`` for one square stamp per source (xs (n, 1, m), ys
        (n, m, 1); returns (3, n, m, m): P, dP/dx0, dP/dy0), the same arithmetic with fewer calls: every
        component's 1-D profiles along both axes at once (:func:`_integrated_1d`'s operations, compiled around
        one erf call on the distinct arguments and one exp call: :func:`ioscan.detect.fit_kernels.
        profile_arguments`, ``shared_erf_arguments``, ``profile_values_shared``), the products and sums in one
        compiled loop (:func:`ioscan.detect.fit_kernels.psf_stamps`).
        ``derivatives`` False: P alone, the derivatives' places 0."""
        ux, uy = xs - x0[:, None, None], ys - y0[:, None, None]
        return self._grid_of_offsets(ux, uy, derivatives)

    @cached_property
    def _profile_constants(self) -> tuple[np.ndarray, np.ndarray]:
        """(σ of each component along (samples, lines) (k, 2), px; weights (k,)) as :meth:`_grid_of_offsets`
        reads them, made once per model (the model is frozen; the arrays are not written to)."""
        comps = [(w, *self.axis_sigmas_px(s)) for w, s in zip(self.weights, self.sigmas_px, strict=True)]
        sig = np.array([[s_s, s_l] for _, s_l, s_s in comps])
        return sig, np.array([w for w, _, _ in comps])

    def _grid_of_offsets(self, ux: np.ndarray, uy: np.ndarray, derivatives: bool) -> np.ndarray:
        """:meth:`stamp_grid` from the offsets pixel − source: ux (n, 1, m) samples, uy (n, m, 1) lines."""
        erf, fk = _profile_kernels()
        n, m = ux.shape[0], ux.shape[2]
        sig, weights = self._profile_constants
        # _integrated_1d's operations, numpy's erf and exp on all the arguments at once (erf once per distinct
        # argument: a pixel's upper edge is most often its neighbour's lower one)
        ab, nsq = fk.profile_arguments(np.stack([ux.reshape(-1), uy.reshape(-1)]), sig, _SQRT2)
        args, idx = fk.shared_erf_arguments(ab)
        return fk.psf_stamps_shared(erf(args), idx, np.exp(nsq), sig, _SQRT2PI, weights, n, m, derivatives)

    def stamp_grid_at(
        self,
        sj0: np.ndarray,
        li0: np.ndarray,
        m: int,
        x0: np.ndarray,
        y0: np.ndarray,
        derivatives: bool = True,
    ) -> np.ndarray:
        """:meth:`stamp_grid` of square stamps of ``m`` pixels whose first sample and line are the integers
        ``sj0``, ``li0`` (n,): xs = sj0 + 0…m−1 as float64 (n, 1, m), ys likewise (n, m, 1); the same values
        in two compiled calls around numpy's erf and exp (:func:`ioscan.detect.fit_kernels.
        grid_erf_arguments`, ``psf_stamps_shared``)."""
        erf, fk = _profile_kernels()
        sig, weights = self._profile_constants
        x0, y0 = np.asarray(x0, np.float64), np.asarray(y0, np.float64)
        args, idx, nsq = fk.grid_erf_arguments(
            np.asarray(sj0, np.int64), np.asarray(li0, np.int64), m, x0, y0, sig, _SQRT2
        )
        if not derivatives:  # P alone (the same bits), the derivatives' planes 0, no exponentials
            out = np.zeros((3, x0.shape[0], m, m))
            fk.psf_values_into(erf(args), idx, weights, x0.shape[0], m, out[0])
            return out
        return fk.psf_stamps_shared(
            erf(args), idx, np.exp(nsq), sig, _SQRT2PI, weights, x0.shape[0], m, derivatives
        )


_KERNELS: tuple | None = None


def _square_offsets(ux: np.ndarray, uy: np.ndarray) -> bool:
    """Whether sample and line offsets are square float64 stamps, (n, 1, m) and (n, m, 1): what the compiled
    stamp kernels take."""
    return (
        ux.ndim == 3
        and uy.ndim == 3
        and ux.dtype == uy.dtype == np.float64
        and ux.shape[1] == 1
        and uy.shape[2] == 1
        and ux.shape[2] == uy.shape[1] > 0
        and ux.shape[0] == uy.shape[0] > 0
    )


def _profile_kernels():
    """(scipy's erf, :mod:`ioscan.detect.fit_kernels`), imported on first use (settings import this module
    and need neither scipy nor numba)."""
    global _KERNELS
    if _KERNELS is None:
        from scipy.special import erf

        from ioscan.detect import fit_kernels

        _KERNELS = (erf, fit_kernels)
    return _KERNELS
