"""Saturated hot spots: position from the clipped core, flux from the wings around it.

A hot spot hundreds of times above saturation clips a core several pixels wide (Loki or Reiden at a few
thousand km from JIRAM). The PSF fit of :mod:`ioscan.detect.photometry` then has no usable pixel in its
stamp, and the matched-filter peaks sit on the rim of the clipped plateau, 2–4 px from the source (measured
on the demo's close-flyby frames). For a PSF symmetric about its centre the clipped region is symmetric too,
so its centroid is the source position (0.1–0.2 px in those frames); the flux is the amplitude of the full
PSF fitted, at that position, to the unclipped pixels around the core together with a local plane for the
background (the first-pass background holds the bright wings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ioscan.detect.photometry import PsfFit
from ioscan.detect.psf import PsfModel

#: a clipped region of at least this many pixels positions its source (smaller ones: the PSF fit does)
MIN_CLIPPED_PIXELS = 3
#: a clipped core of fewer pixels is left to the PSF fit when that had at least MIN_FIT_PIXELS usable pixels
#: (measured on JIRAM M frames, 3–1,000× saturation: with 6, fluxes within ±10 % and positions within
#: 0.25 px; with 8 or 9, PSF fits of 5–30× saturated cores were off by up to 70 % in flux)
WIDE_CORE_PIXELS = 6
MIN_FIT_PIXELS = 8
#: 1-σ error of a clipped region's centroid, px (its rim is quantised to pixels)
CENTROID_ERR_PX = 0.25


@dataclass
class ClippedCore:
    """One connected saturated region: centroid (sample ``x``, line ``y``), pixel count and radius."""

    x: float
    y: float
    n_pixels: int
    radius_px: float


def clipped_cores(saturated: np.ndarray) -> list[ClippedCore]:
    """Connected (8-neighbour) saturated regions of at least :data:`MIN_CLIPPED_PIXELS` pixels. Labelled on
    the bounding box of the saturated pixels (the same regions in the same order: raster order is kept by
    a shift; each region's offset added to its box's integer start, the same sums)."""
    sat = np.asarray(saturated, bool)
    rows = np.flatnonzero(sat.any(axis=1))
    if not rows.size:
        return []
    cols = np.flatnonzero(sat.any(axis=0))
    r0, c0 = int(rows[0]), int(cols[0])
    return _clipped_cores(sat[r0 : int(rows[-1]) + 1, c0 : int(cols[-1]) + 1], (r0, c0))


def _clipped_cores(saturated: np.ndarray, start: tuple[int, ...]) -> list[ClippedCore]:
    """:func:`clipped_cores` of ``saturated``, the box of the mask that starts at pixel ``start``."""
    labels, n = ndimage.label(saturated, structure=np.ones((3, 3), bool))
    out = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        ll, ss = np.nonzero(labels[sl] == k)
        if ll.size < MIN_CLIPPED_PIXELS:
            continue
        y, x = ll.mean() + (sl[0].start + start[0]), ss.mean() + (sl[1].start + start[1])
        out.append(ClippedCore(float(x), float(y), int(ll.size), float(np.sqrt(ll.size / np.pi))))
    return out


def wing_flux(
    data: np.ndarray, usable: np.ndarray, noise: np.ndarray, psf: PsfModel, core: ClippedCore
) -> tuple[float, float, int]:
    """Total flux of the source of a clipped core and its 1-σ error: F·P + a + b·Δx + c·Δy fitted by weighted
    least squares to the usable pixels within the core radius + 3 σ of the PSF's broadest component. Returns
    (flux, flux error, pixels used); NaN flux when fewer than 8 pixels are usable."""
    r = int(np.ceil(core.radius_px + 3.0 * max(psf.sigmas_px))) + 1
    nl, ns = data.shape
    cy, cx = int(round(core.y)), int(round(core.x))
    sl = (slice(max(cy - r, 0), min(cy + r + 1, nl)), slice(max(cx - r, 0), min(cx + r + 1, ns)))
    ll, ss = np.mgrid[sl]
    ok = usable[sl] & np.isfinite(data[sl]) & (np.hypot(ll - core.y, ss - core.x) <= r)
    if ok.sum() < 8:
        return float("nan"), float("nan"), int(ok.sum())
    p, _, _ = psf.stamps(
        ss[None, :1, :].astype(float), ll[None, :, :1].astype(float), np.array([core.x]), np.array([core.y])
    )
    w = 1.0 / np.maximum(noise[sl][ok].astype(float), 1e-300)
    a = np.stack([p[0][ok], np.ones(ok.sum()), ss[ok] - core.x, ll[ok] - core.y], axis=1) * w[:, None]
    b = data[sl][ok].astype(float) * w
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    cov = np.linalg.pinv(a.T @ a)
    return float(coef[0]), float(np.sqrt(max(cov[0, 0], 0.0))), int(ok.sum())


def recentre_saturated(
    fit: PsfFit, saturated: np.ndarray, data: np.ndarray, usable: np.ndarray, noise: np.ndarray, psf: PsfModel
) -> int:
    """For every clipped core, the fitted source nearest its centroid (within the core radius + 3 px) is put
    at the centroid with the wing flux, in place on the :class:`~ioscan.detect.photometry.PsfFit` — unless
    the core is small (:data:`WIDE_CORE_PIXELS`) and the PSF fit had :data:`MIN_FIT_PIXELS`. Other sources
    there stay (the artefact flags catch them as fragments). Returns how many moved."""
    moved = 0
    if len(fit.x) == 0:
        return 0
    for core in clipped_cores(saturated):
        d = np.hypot(fit.x - core.x, fit.y - core.y)
        k = int(np.argmin(d))
        if d[k] > core.radius_px + 3.0:
            continue
        if core.n_pixels < WIDE_CORE_PIXELS and fit.n_pixels[k] >= MIN_FIT_PIXELS:
            continue  # a small clipped core: the PSF fit had pixels enough and is the better measurement
        flux, err, n = wing_flux(data, usable, noise, psf, core)
        fit.x[k], fit.y[k] = core.x, core.y
        fit.x_err[k] = fit.y_err[k] = CENTROID_ERR_PX
        if np.isfinite(flux) and err > 0:
            fit.flux[k], fit.flux_err[k], fit.n_pixels[k] = flux, err, n
        moved += 1
    return moved
