"""Source finding on a matched-filter S/N map: peaks, sub-pixel centroids, deblending, spike test."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ioscan.detect.background import BROAD_PSF_SIGMA_PX
from ioscan.detect.psf import PsfModel

#: fraction of true sources at the detection threshold the calibrated spike test may flag
SPIKE_FALSE_FLAG_RATE = 3e-2
#: pixels the spike model frees besides the brightest, each touching those freed: hits are 1–3 pixels
SPIKE_NEIGHBOURS = 2
#: a source with another within this distance (px) frees only its brightest pixel's 8-neighbours in the spike
#: test (the other's wings would be taken for a track)
SPIKE_ISOLATION_PX = 6.0
#: the calibrated spike threshold is never below this χ² advantage
MIN_SPIKE_DCHI2 = 9.0
#: the spike test takes off a source's stamp the fitted light of the other sources within this distance, px
#: (:class:`SpikeNeighbours`)
NEIGHBOUR_REACH_PX = 8.0
#: … unless one of them is fitted this badly (χ²/dof: a saturated or far-from-model source, whose fitted light
#: does not describe its wings; the stamp is then tested as it is, with the source's fitted flux)
NEIGHBOUR_MAX_CHI2_DOF = 25.0


@dataclass(frozen=True)
class SpikeNeighbours:
    """The fitted sources around those the spike test reads (:func:`spike_dchi2`): their positions (sample
    ``x``, line ``y``), fitted fluxes, fits' χ²/dof, the PSF they were fitted with, the relative error of its
    light (``model_error``: their light's variance (model_error · light)² is added to the pixels' noise
    variance), and each tested source's own index among them (``self_index``)."""

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    chi2_dof: np.ndarray
    psf: PsfModel
    model_error: float
    self_index: np.ndarray
    #: sources the spike test flags (None: none known): not PSF-shaped, their fitted light is not taken off
    hit: np.ndarray | None = None

    def beside(self, mask: np.ndarray) -> np.ndarray:
        """For each tested source, whether another of ``mask`` (over all sources) lies within
        :data:`NEIGHBOUR_REACH_PX`."""
        nx, ny = np.asarray(self.x, float), np.asarray(self.y, float)
        i = np.asarray(self.self_index)
        d = np.hypot(nx[i][:, None] - nx[None, :], ny[i][:, None] - ny[None, :])
        d[np.arange(len(i)), i] = np.inf
        return np.any((d < NEIGHBOUR_REACH_PX) & np.asarray(mask, bool)[None, :], axis=1)

    def pairs(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the tested source (row) and the neighbour (index among all) of each pair whose fitted light is
        taken off, row-major; which tested sources have a badly fitted neighbour, or one of :attr:`hit`,
        within :data:`NEIGHBOUR_REACH_PX` (none of their pairs taken))."""
        n = len(x)
        nx, ny, nf = (np.asarray(a, float) for a in (self.x, self.y, self.flux))
        d = np.hypot(np.asarray(x, float)[:, None] - nx[None, :], np.asarray(y, float)[:, None] - ny[None, :])
        d[np.arange(n), np.asarray(self.self_index)] = np.inf
        within = d < NEIGHBOUR_REACH_PX
        bad = ~(np.asarray(self.chi2_dof, float) <= NEIGHBOUR_MAX_CHI2_DOF) | ~np.isfinite(nf)
        if self.hit is not None:
            bad = bad | np.asarray(self.hit, bool)
        spoilt = np.any(within & bad[None, :], axis=1)
        k, j = np.nonzero(within & ~spoilt[:, None])
        return k, j, spoilt

    def pair_light(self, lic: np.ndarray, sjc: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the core of unit flux of each neighbour ``j`` on its pair's stamp pixels (``lic``, ``sjc``: (p, m,
        1), (p, 1, m)); its weight × the neighbour's flux)."""
        core, weight = self.core
        nx, ny, nf = (np.asarray(a, float) for a in (self.x, self.y, self.flux))
        return core.stamp_values(sjc.astype(float), lic.astype(float), nx[j], ny[j]), weight * nf[j]

    def light(self, lic: np.ndarray, sjc: np.ndarray, x: np.ndarray, y: np.ndarray):
        """(the other sources' fitted light on each tested source's stamp pixels (``lic``, ``sjc``: (n, m, 1),
        (n, 1, m)), which tested sources have a badly fitted one, or one of :attr:`hit`, within
        :data:`NEIGHBOUR_REACH_PX` (their light left at 0))."""
        out = np.zeros((len(x), lic.shape[1], sjc.shape[2]))
        k, j, spoilt = self.pairs(x, y)
        if k.size:
            p, c = self.pair_light(lic[k], sjc[k], j)
            np.add.at(out, k, c[:, None, None] * p)
        return out, spoilt

    @property
    def core(self) -> tuple[PsfModel, float]:
        """(the PSF's core alone, of unit flux; its weight): the neighbours' light taken off is their core's.
        A broad component (JIRAM's 2.5-px halo) is smooth over the 5 × 5 pixels tested and the background
        under the residual has taken it already (beside a source of S/N ~10⁴ on the project's simulator the
        halo's 0.3–3 σ per pixel were absent from the residual: taken off again, they left every pixel
        2–5 σ low and a faint true source sharper than the PSF, flagged COSMIC_RAY)."""
        return _core_of(self.psf)


@lru_cache(maxsize=32)
def _core_of(psf: PsfModel) -> tuple[PsfModel, float]:
    """:attr:`SpikeNeighbours.core` of ``psf``, made once per model (the model is frozen)."""
    w, s = np.asarray(psf.weights, float), np.asarray(psf.sigmas_px, float)
    c = int(np.argmax(w * w / (s * s)))
    return PsfModel((1.0,), (float(s[c]),), elongation=psf.elongation), float(w[c])


@dataclass
class Peaks:
    """Local maxima of the S/N map above threshold (arrays of equal length, brightest first).

    Attributes:
        line, sample: integer pixel of the maximum.
        y, x: sub-pixel position (line, sample) from a 3-point Gaussian fit of the S/N map.
        snr: matched-filter S/N at the maximum.
        blended: True when another kept maximum lies within the deblending distance.
    """

    line: np.ndarray
    sample: np.ndarray
    y: np.ndarray
    x: np.ndarray
    snr: np.ndarray
    blended: np.ndarray

    def __len__(self) -> int:
        return len(self.line)


def _three_point(m: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Sub-pixel offset of a peak from its values at −1, 0, +1: Gaussian (log) fit, else a parabola."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lm, lc, lp = np.log(np.maximum(m, 1e-30)), np.log(np.maximum(c, 1e-30)), np.log(np.maximum(p, 1e-30))
        dg = 0.5 * (lm - lp) / (lm - 2 * lc + lp)
        dq = 0.5 * (m - p) / (m - 2 * c + p)
    d = np.where((m > 0) & (p > 0) & (c > 0), dg, dq)
    return np.clip(np.nan_to_num(d), -0.5, 0.5)


def find_peaks(
    snr: np.ndarray,
    threshold: float,
    *,
    search: np.ndarray | None = None,
    sigma_px: float = 1.0,
    saddle_snr: float = 1.5,
    max_peaks: int = 500,
    valid: np.ndarray | None = None,
) -> Peaks:
    """Local maxima of ``snr`` above ``threshold`` inside ``search``, deblended with a saddle criterion.

    Two maxima closer than 4 σ√2 + 1 px are one source (the fainter dropped) unless the S/N along the segment
    joining them dips below the fainter peak by at least max(``saddle_snr``, 10 % of that peak; 30 % for broad
    PSFs) — on ``valid`` pixels only (a masked saturated core is no dip); kept close pairs are marked
    ``blended``.
    """
    rmax = 4.0 * sigma_px * np.sqrt(2.0) + 1.0
    # broad PSFs (ground AO): texture, the rings a tight background leaves around bright sources and the
    # per-pixel choice between filters make shallow dips; a neighbour must be resolved (a dip of ≥ 30 % of the
    # fainter peak, as two equal sources ≥ ~3 σ apart give)
    rel = 0.3 if sigma_px >= BROAD_PSF_SIGMA_PX else 0.1
    if _compiled_peaks(snr, threshold, saddle_snr, search, valid):
        found = _peaks_compiled(snr, threshold, search, valid, rmax, saddle_snr, rel)
    else:
        found = _peaks_numpy(snr, threshold, search, valid, rmax, saddle_snr, rel)
    if found is None:  # no pixel above the threshold
        e = np.zeros(0)
        return Peaks(e.astype(int), e.astype(int), e, e, e, e.astype(bool))
    ly, sx, c, blended = found
    if ly.size > max_peaks:
        ly, sx, c, blended = ly[:max_peaks], sx[:max_peaks], c[:max_peaks], blended[:max_peaks]
    # the 3-point fits' neighbours (−inf beyond the map, as np.pad's): the map's type
    nl, ns = snr.shape
    edge = np.full(1, -np.inf, snr.dtype)[0]
    up, down = np.maximum(ly - 1, 0), np.minimum(ly + 1, nl - 1)
    left, right = np.maximum(sx - 1, 0), np.minimum(sx + 1, ns - 1)
    dy = _three_point(np.where(ly > 0, snr[up, sx], edge), c, np.where(ly < nl - 1, snr[down, sx], edge))
    dx = _three_point(np.where(sx > 0, snr[ly, left], edge), c, np.where(sx < ns - 1, snr[ly, right], edge))
    return Peaks(ly, sx, ly + dy, sx + dx, c, blended)


def _compiled_peaks(snr, threshold, saddle_snr, search, valid) -> bool:
    """Whether :func:`_peaks_compiled` takes the map: a 2-D float32 or float64 map, Python-number threshold
    and saddle (numpy compares them in the map's type, as the kernels are given them), boolean masks."""
    return (
        isinstance(snr, np.ndarray)
        and snr.ndim == 2
        and snr.dtype in (np.float32, np.float64)
        and type(threshold) in (float, int)
        and type(saddle_snr) in (float, int)
        and all(m is None or (isinstance(m, np.ndarray) and m.dtype == bool and m.shape == snr.shape)
                for m in (search, valid))
    )  # fmt: skip


def _peaks_compiled(snr, threshold, search, valid, rmax, saddle_snr, rel):
    """(lines, samples, S/N, blended) of the kept maxima, brightest first (None: no pixel above the
    threshold): :func:`_peaks_numpy`'s values,
    the maxima and the deblending compiled (:func:`~ioscan.detect.fit_kernels.peak_pixels`,
    :func:`~ioscan.detect.fit_kernels.deblend_peaks`), the sort numpy's."""
    from ioscan.detect.fit_kernels import deblend_peaks, peak_pixels

    one = snr.dtype.type
    snr = np.ascontiguousarray(snr)
    no = np.zeros((1, 1), bool)
    ly, sx, some = peak_pixels(snr, one(threshold), no if search is None else search, search is not None)
    if not some:
        return None
    c = snr[ly, sx]
    order = np.argsort(-c)
    ly, sx, c = ly[order], sx[order], c[order]
    keep, blended = deblend_peaks(
        snr, no if valid is None else valid, valid is not None, ly, sx, c, float(rmax), one(saddle_snr),
        one(rel), float(saddle_snr),
    )  # fmt: skip
    return ly[keep], sx[keep], c[keep], blended[keep]


def _peaks_numpy(snr, threshold, search, valid, rmax, saddle_snr, rel):
    """(lines, samples, S/N, blended) of the kept maxima, brightest first (:func:`find_peaks`; None: no
    pixel above the threshold), in numpy: the reference the compiled form equals, and its fall-back."""
    nl, ns = snr.shape
    pad = np.pad(snr, 1, mode="constant", constant_values=-np.inf)
    above = snr > threshold
    if search is not None:
        above &= search
    ly, sx = np.nonzero(above)
    if ly.size == 0:
        return None
    c = snr[ly, sx]
    is_max = np.ones(ly.size, bool)
    for dl in (-1, 0, 1):
        for ds in (-1, 0, 1):
            if dl == 0 and ds == 0:
                continue
            nb = pad[ly + 1 + dl, sx + 1 + ds]
            # strict on one side, non-strict on the other: exactly one pixel of a flat top survives
            is_max &= (c > nb) if (dl, ds) < (0, 0) else (c >= nb)
    ly, sx, c = ly[is_max], sx[is_max], c[is_max]
    order = np.argsort(-c)
    ly, sx, c = ly[order], sx[order], c[order]
    # deblending: walk from the brightest, compare with kept neighbours
    keep = np.ones(ly.size, bool)
    blended = np.zeros(ly.size, bool)
    for i in range(ly.size):
        if not keep[i]:
            continue
        d = np.hypot(ly[i + 1 :] - ly[i], sx[i + 1 :] - sx[i])
        for j in np.flatnonzero(d <= rmax) + i + 1:
            if not keep[j]:
                continue
            n = int(np.ceil(d[j - i - 1] * 2)) + 1
            t = np.linspace(0.0, 1.0, n)
            yy = np.rint(ly[i] + t * (ly[j] - ly[i])).astype(int)
            xx = np.rint(sx[i] + t * (sx[j] - sx[i])).astype(int)
            along = snr[yy, xx] if valid is None else snr[yy, xx][valid[yy, xx]]
            dip = c[j] - float(along.min()) if along.size else 0.0
            if dip < max(saddle_snr, rel * c[j]):
                keep[j] = False
            else:
                blended[i] = blended[j] = True
    return ly[keep], sx[keep], c[keep], blended[keep]
    dy = _three_point(pad[ly, sx + 1], c, pad[ly + 2, sx + 1])
    dx = _three_point(pad[ly + 1, sx], c, pad[ly + 1, sx + 2])
    return Peaks(ly, sx, ly + dy, sx + dx, c, blended)


def spike_dchi2(
    resid: np.ndarray,
    noise: np.ndarray,
    valid: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    flux: np.ndarray,
    psf: PsfModel,
    crowded: np.ndarray | None = None,
    neighbours: SpikeNeighbours | None = None,
    fit_amplitude: bool | np.ndarray = False,
) -> np.ndarray:
    """χ²(PSF) − χ²(spike) on the 5×5 pixels around each source's brightest pixel.

    The spike model frees the brightest pixel and, :data:`SPIKE_NEIGHBOURS` times, the brightest positive
    pixel touching those freed (hits are 1–3 connected pixels: a straight or diagonal track whose brightest
    pixel is an end is freed whole; within :data:`SPIKE_ISOLATION_PX` of another source, only 8-neighbours of
    the brightest);
    the PSF model is the fitted source (amplitude ``flux`` at x, y). Large positive values mean the source is
    far sharper than the PSF: a cosmic-ray hit, not a hot spot.

    Broad PSFs (core σ ≥ :data:`~ioscan.detect.background.BROAD_PSF_SIGMA_PX`, ground-based AO) get 0: there
    the residual around a bright source is the PSF minus the part its own background annulus takes, which the
    plain PSF model does not describe, so the test would flag bright hot spots; a hit is then caught by the
    Laplacian outlier test (a 1–2-pixel hit is hundreds of times sharper than the core) and the 5 × 5 pixel
    count of :mod:`ioscan.detect.measure`.

    ``crowded``: for each source, whether another lies within :data:`SPIKE_ISOLATION_PX` (:func:`crowded`;
    None: among these sources). Each source's value is its own: a subset of sources with their ``crowded``
    of the whole set gets the whole set's values.

    ``fit_amplitude`` (for all, or per source): the PSF's amplitude is fitted on the 5 × 5 pixels tested
    (least squares; ``flux`` may then be None) where a fit elsewhere does not describe those pixels (at the
    frame's edge: a stamp cut by it, the edge's reflected background). ``neighbours``: the other sources'
    fitted light is taken off each stamp first, its model error added to the noise, and the amplitude
    fitted on the stamp (:class:`SpikeNeighbours`): a faint source beside a bright one is otherwise judged
    on the bright one's wings (an elongated core's reach further along the lines) and a flux the joint fit
    shared with it; where a neighbour's fit is bad the stamp is tested as it is, with the given ``flux``.
    The calibration (:func:`spike_threshold`) has neither (isolated sources, the true flux): the fitted
    amplitude only lowers the advantage.
    """
    n = len(x)
    if n == 0 or psf.core_sigma_px >= BROAD_PSF_SIGMA_PX:
        return np.zeros(n)
    if neighbours is not None and _compiled_spike(resid, noise, valid):
        return _spike_dchi2_compiled(resid, noise, valid, x, y, flux, psf, crowded, neighbours, fit_amplitude)
    return _spike_dchi2_numpy(resid, noise, valid, x, y, flux, psf, crowded, neighbours, fit_amplitude)


def _compiled_spike(resid, noise, valid) -> bool:
    """Whether :func:`_spike_dchi2_compiled` takes the maps: 2-D float32 or float64 residual and noise and a
    boolean ``valid`` of one shape."""
    return (
        all(isinstance(a, np.ndarray) and a.ndim == 2 for a in (resid, noise, valid))
        and resid.shape == noise.shape == valid.shape
        and resid.dtype in (np.float32, np.float64)
        and noise.dtype in (np.float32, np.float64)
        and valid.dtype == bool
    )


def _spike_dchi2_compiled(resid, noise, valid, x, y, flux, psf, crowded, neighbours, fit_amplitude):
    """:func:`_spike_dchi2_numpy`'s values with ``neighbours``: the stamps' pixels and the test in two
    compiled calls (:func:`~ioscan.detect.fit_kernels.spike_stamp_pixels`, ``spike_advantage``) around the
    PSF's values (scipy's erf: :meth:`PsfModel.stamp_values`) at the sources and at each neighbour pair."""
    from ioscan.detect.fit_kernels import spike_advantage, spike_stamp_pixels

    n = len(x)
    nl, ns = resid.shape
    ci = np.clip(np.rint(y).astype(int), 0, nl - 1).astype(np.int64)
    cj = np.clip(np.rint(x).astype(int), 0, ns - 1).astype(np.int64)
    lic, sjc, inl, ins = spike_stamp_pixels(resid, valid, ci, cj, 2)
    li3, sj3 = lic[:, :, None], sjc[:, None, :]
    p = psf.stamp_values(sj3.astype(float), li3.astype(float), x, y)
    flux = np.zeros(n) if flux is None else np.asarray(flux, float)
    fit_here = np.broadcast_to(np.asarray(fit_amplitude, bool), (n,)).copy()
    if crowded is None:
        crowded = _crowded(np.asarray(x, float), np.asarray(y, float), SPIKE_ISOLATION_PX)
    k, j, spoilt = neighbours.pairs(x, y)
    if k.size:
        pp, pc = neighbours.pair_light(li3[k], sj3[k], j)
    else:
        pp, pc = np.zeros((0, 5, 5)), np.zeros(0)
    return spike_advantage(
        resid, noise, valid, lic, sjc, inl, ins, p, k.astype(np.int64), pp, pc, spoilt, flux, fit_here,
        np.asarray(crowded, bool), float(neighbours.model_error), SPIKE_NEIGHBOURS,
    )  # fmt: skip


def _spike_dchi2_numpy(resid, noise, valid, x, y, flux, psf, crowded, neighbours, fit_amplitude):
    """:func:`spike_dchi2` in numpy (sources present, a narrow PSF): the reference of its compiled form,
    and the path without neighbours (the calibration's)."""
    n = len(x)
    nl, ns = resid.shape
    r = 2
    off = np.arange(-r, r + 1)
    ci = np.clip(np.rint(y).astype(int), 0, nl - 1)
    cj = np.clip(np.rint(x).astype(int), 0, ns - 1)
    best_i, best_j = _brightest_beside(resid, valid, ci, cj)
    li = best_i[:, None, None] + off[None, :, None]
    sj = best_j[:, None, None] + off[None, None, :]
    inside = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
    lic, sjc = np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)
    rr = np.where(inside, resid[lic, sjc], 0.0)
    sg = np.where(inside & valid[lic, sjc], noise[lic, sjc], np.inf)
    flux = np.zeros(n) if flux is None else np.asarray(flux, float)
    fit_here = np.broadcast_to(np.asarray(fit_amplitude, bool), (n,)).copy()
    if neighbours is not None:
        light, spoilt = neighbours.light(lic, sjc, x, y)
        rr = rr - light
        sg = np.sqrt(sg * sg + (neighbours.model_error * light) ** 2)
        fit_here = (fit_here | np.any(light != 0.0, axis=(1, 2))) & ~spoilt
    w = 1.0 / np.maximum(sg, 1e-30) ** 2
    p = psf.stamp_values(sjc.astype(float), lic.astype(float), x, y)
    if fit_here.any():  # the amplitude fitted on the pixels tested (least squares)
        flux = flux.copy()
        den = np.sum(w * p * p, axis=(1, 2))
        ls = np.sum(w * p * rr, axis=(1, 2)) / np.where(den > 0, den, 1.0)
        flux[fit_here] = np.where(den > 0, ls, 0.0)[fit_here]
    chi_psf = np.sum(w * (rr - flux[:, None, None] * p) ** 2, axis=(1, 2))
    chi_all = w * rr * rr
    # the pixels freed: the brightest, then SPIKE_NEIGHBOURS times the brightest positive pixel touching those
    # freed (hits are 1–3 connected pixels: single, pairs, straight, diagonal and bent tracks, whose brightest
    # pixel may be an end); only connected ones, so that a bright neighbour's wings are never taken for it
    # beside another source the wings of that one rise away from the brightest pixel: there only its
    # 8-neighbours are freed
    free = np.zeros(rr.shape, bool)
    free[:, r, r] = True
    rows = np.arange(n)
    ring = np.zeros(rr.shape[1:], bool)
    ring[r - 1 : r + 2, r - 1 : r + 2] = True
    if crowded is None:
        crowded = _crowded(np.asarray(x, float), np.asarray(y, float), SPIKE_ISOLATION_PX)
    for _ in range(SPIKE_NEIGHBOURS):
        touch = _touching(free)
        touch[crowded] &= ring
        cand = np.where(touch & ~free & (rr > 0), rr, -np.inf).reshape(n, -1)
        k = np.argmax(cand, axis=1)
        ok = np.isfinite(cand[rows, k])
        free.reshape(n, -1)[rows[ok], k[ok]] = True
    freed = np.sum(np.where(free, chi_all, 0.0), axis=(1, 2))
    chi_spike = np.sum(chi_all, axis=(1, 2)) - freed
    return chi_psf - chi_spike


def _brightest_beside(
    resid: np.ndarray, valid: np.ndarray, ci: np.ndarray, cj: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(line, sample) of each source's brightest ``valid`` pixel of ``resid`` in the 3 × 3 (clipped to the
    map) around (ci, cj): the first largest in row-major order, NaN never taken; (ci, cj) itself where none
    is valid. All sources' 9 pixels read at once."""
    nl, ns = resid.shape
    ii = np.clip(ci[:, None] + _NINE[0], 0, nl - 1)
    jj = np.clip(cj[:, None] + _NINE[1], 0, ns - 1)
    v = np.where(valid[ii, jj], resid[ii, jj], -np.inf)
    v[np.isnan(v)] = -np.inf
    k = np.argmax(v, axis=1)
    rows = np.arange(ci.size)
    some = v[rows, k] > -np.inf
    return np.where(some, ii[rows, k], ci), np.where(some, jj[rows, k], cj)


#: (line, sample) offsets of the 3 × 3 pixels around a pixel, row-major
_NINE = (np.repeat([-1, 0, 1], 3), np.tile([-1, 0, 1], 3))


def _touching(free: np.ndarray) -> np.ndarray:
    """Pixels of the stamps ``free`` (n, m, m) with a True pixel among their 3 × 3 (themselves included; none
    beyond the stamp): the OR of the 3 shifts along the lines, then of those along the samples."""
    n, m, _ = free.shape
    along = free.copy()
    along[:, 1:] |= free[:, :-1]
    along[:, :-1] |= free[:, 1:]
    out = along.copy()
    out[:, :, 1:] |= along[:, :, :-1]
    out[:, :, :-1] |= along[:, :, 1:]
    return out


def crowded(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True for each source (sample ``x``, line ``y``) with another within :data:`SPIKE_ISOLATION_PX`: the
    spike test's isolation (:func:`spike_dchi2`)."""
    return _crowded(np.asarray(x, float), np.asarray(y, float), SPIKE_ISOLATION_PX)


def _crowded(x: np.ndarray, y: np.ndarray, radius_px: float) -> np.ndarray:
    """True for each point with another within ``radius_px`` (np.hypot distance): all pairs for few points
    (or non-finite ones), else only the pairs a KD-tree finds within a hair more than the radius (the
    spike test's calibration has 4,096 sources: an n² distance matrix took most of its time)."""
    n = len(x)
    if n < 2:
        return np.zeros(n, bool)
    if n <= 256 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        d_other = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) + np.diag(np.full(n, np.inf))
        return np.min(d_other, axis=1) < radius_px
    from scipy.spatial import cKDTree

    pairs = cKDTree(np.column_stack([x, y])).query_pairs(radius_px * (1 + 1e-6) + 1e-9, output_type="ndarray")
    out = np.zeros(n, bool)
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        close = np.hypot(x[i] - x[j], y[i] - y[j]) < radius_px
        out[i[close]] = True
        out[j[close]] = True
    return out


def calibration_field(
    psf: PsfModel,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The spike test's calibration field (seeded): unit white noise (576 × 576 px) and 4,096 sources at
    random sub-pixel positions on a 9-px grid. Returns (noise, line index, sample index, PSF stamps
    (n, 9, 9), x, y): a source of flux f adds f × stamp at (line index, sample index)."""
    n_side, size = 64, 9
    rng = np.random.default_rng(12345)
    n = n_side * n_side
    cx = (np.arange(n) % n_side) * size + size // 2 + rng.uniform(-0.5, 0.5, n)
    cy = (np.arange(n) // n_side) * size + size // 2 + rng.uniform(-0.5, 0.5, n)
    off = np.arange(size * n_side, dtype=float)
    noise = rng.normal(0.0, 1.0, (size * n_side, size * n_side))
    o = np.arange(-4, 5)
    li = np.rint(cy).astype(int)[:, None, None] + o[None, :, None]
    sj = np.rint(cx).astype(int)[:, None, None] + o[None, None, :]
    p = psf.stamp_values(off[sj[:, :1, :]], off[li[:, :, :1]], cx, cy)
    return noise, li, sj, p, cx, cy


@lru_cache(maxsize=32)
def spike_threshold(psf: PsfModel, snr: float, false_flag_rate: float = SPIKE_FALSE_FLAG_RATE) -> float:
    """The spike test's χ² advantage (:func:`spike_dchi2`) that a true point source of matched-filter S/N
    ``snr`` exceeds with probability ``false_flag_rate``, under white noise and this PSF: calibrated by
    simulation (seeded, 4,000 sources at random sub-pixel positions), at least :data:`MIN_SPIKE_DCHI2`.
    A wider PSF puts more of a faint source's power outside its two brightest pixels, so the test can be
    sharper there."""
    img, li, sj, p, cx, cy = calibration_field(psf)
    flux = snr / np.sqrt(np.sum(p**2, axis=(1, 2)))
    add_sources(img, li, sj, flux[:, None, None] * p)
    ones = np.ones(img.shape)
    d = spike_dchi2(img, ones, ones.astype(bool), cx, cy, flux, psf)
    return max(float(np.quantile(d, 1.0 - false_flag_rate)), MIN_SPIKE_DCHI2)


def add_sources(img: np.ndarray, li: np.ndarray, sj: np.ndarray, values: np.ndarray) -> None:
    """``np.add.at(img, (li, sj), values)`` with ``li``, ``sj`` broadcast to ``values``' (n, m, m): compiled
    (:func:`ioscan.detect.second_pass_kernels.add_at`, np.add.at's additions in its order)."""
    from ioscan.detect.second_pass_kernels import add_at

    li, sj = (np.ascontiguousarray(np.broadcast_to(a, values.shape), np.intp).ravel() for a in (li, sj))
    add_at(img, li, sj, np.ascontiguousarray(values, np.float64).ravel())


def unresolved_duplicates(x: np.ndarray, y: np.ndarray, snr: np.ndarray, sigma_px: float) -> np.ndarray:
    """True for fitted sources that are duplicates: for broad PSFs (core σ ≥ ``BROAD_PSF_SIGMA_PX``, ground
    AO) a source whose fitted position lies within the core FWHM (2.355 σ) of a brighter one's — one source
    split into two peaks (e.g. where the per-pixel filter choice changes across it), unresolvable anyway.
    All False for narrower PSFs."""
    dup = np.zeros(len(x), bool)
    if sigma_px < BROAD_PSF_SIGMA_PX or len(x) < 2:
        return dup
    fwhm = 2.3548200450309493 * sigma_px
    for i in np.argsort(-np.asarray(snr)):
        if dup[i]:
            continue
        d = np.hypot(x - x[i], y - y[i])
        fainter = (snr < snr[i]) | ((snr == snr[i]) & (np.arange(len(x)) > i))
        dup |= (d < fwhm) & fainter
    return dup
