"""PSF photometry of detected sources (pixel units; the conversion to physical units is
:mod:`ioscan.measure`).

Pixel photometry: a weighted least-squares fit of the *effective* PSF (the PSF minus what the background
kernel takes from it; amplitude = total net flux, and position) to the background-subtracted stamp,
neighbours' models subtracted (Jacobi rounds). Pixel variance = the local noise². Saturated or invalid pixels
get zero weight, so saturated sources are measured from their unsaturated wings. With
``detect.keep_source_pixels`` the background under each source (not a cosmic-ray hit) is made again with its
own outlier pixels as they are (:func:`fit_sources`), so the ground under it is the ground, not the mean of
the ground around its hole.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from ioscan.detect.background import PHASES, BandModel, background_kernel
from ioscan.detect.config import DetectConfig
from ioscan.detect.fit_kernels import (
    along_limb_centres,
    centres_touched,
    copies_ok,
    copy_box_sums,
    copy_deltas,
    fill_box_sums,
    fill_data,
    fill_errors,
    fill_plan,
    fill_spread_medians,
    fill_unclean,
    flux_inflation_sums,
    hole_offsets,
    linear_flux,
    pixel_ranks,
    source_fit_sums,
    spread_weights,
    stamp_sums,
    stamp_weights,
    weighted_chi2,
)
from ioscan.detect.psf import PsfModel
from ioscan.robust import MAD_TO_SIGMA, median_or_nan


@dataclass
class PsfFit:
    """Per-source fit results (arrays of length n)."""

    x: np.ndarray
    y: np.ndarray
    x_err: np.ndarray
    y_err: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    n_pixels: np.ndarray
    chi2_dof: np.ndarray
    converged: np.ndarray


def fit_radius_px(psf: PsfModel) -> int:
    """Half-size of the photometry stamp: 2.5 σ of the core (at least 2 px)."""
    return max(2, int(np.ceil(2.5 * psf.core_sigma_px)))


def _clip(a: np.ndarray, lo, hi) -> np.ndarray:
    """``np.clip(a, lo, hi)``'s values (NaN kept) without its per-call checks: min(max(a, lo), hi)."""
    return np.minimum(np.maximum(a, lo), hi)


@lru_cache(maxsize=16)
def _stamp_operator(kernel_bytes: bytes, size: int, r: int) -> np.ndarray:
    """((2r+1+2h)², (2r+1)²) matrix: a (2r+1+2h)² patch (flattened) → its correlation with the kernel (size
    2h+1, given as float64 bytes) at the (2r+1)² inner pixels (flattened)."""
    kernel = np.frombuffer(kernel_bytes, dtype=np.float64).reshape(size, size)
    m, w = 2 * r + 1, 2 * r + size
    op = np.zeros((w, w, m, m))
    for i in range(m):
        for j in range(m):
            op[i : i + size, j : j + size, i, j] = kernel
    op = op.reshape(w * w, m * m)
    op.setflags(write=False)
    return op


@lru_cache(maxsize=16)
def _scatter_weights(kernel_bytes: bytes, size: int, m: int) -> np.ndarray:
    """(m², m+size−1, m+size−1): the kernel (size², float64 bytes) placed at each of the m² pixels (row-major)
    of an m² stamp inside its padded frame, weights of magnitude ≤ DBL_EPSILON set to 0 (ndimage.correlate
    leaves them out of its footprint)."""
    kernel = np.frombuffer(kernel_bytes, dtype=np.float64).reshape(size, size)
    kernel = np.where(np.abs(kernel) > np.finfo(np.float64).eps, kernel, 0.0)
    big = m + size - 1
    out = np.zeros((m, m, big, big))
    for i in range(m):
        for j in range(m):
            out[i, j, i : i + size, j : j + size] = kernel
    out = out.reshape(m * m, big, big)
    out.setflags(write=False)
    return out


def _padded_convolve(a: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ap, ndimage.convolve(ap, kernel[None], mode="constant")) with ap = ``a`` (n, m, m) padded by the
    kernel's half size with zeros, the convolution equal but for the sign of zeros: ndimage sums, at every
    pixel, input × weight over its footprint in ascending input position starting from 0.0; the terms of
    the zero padding add ±0, so the same sums are made over the m² pixels of ``a`` alone (row-major,
    sequential, as np.cumsum adds), all pixels at once."""
    n, m, _ = a.shape
    size = kernel.shape[0]
    hk = size // 2
    ap = np.zeros((n, m + 2 * hk, m + 2 * hk))
    ap[:, hk : hk + m, hk : hk + m] = a
    wk = _scatter_weights(np.ascontiguousarray(kernel, np.float64).tobytes(), size, m)
    terms = a.reshape(n, m * m, 1, 1) * wk[None]
    # np.cumsum(terms, axis=1)[:, -1] without the partial sums it keeps: the same sequential additions
    acc = terms[:, 0].copy()
    for k in range(1, m * m):
        acc += terms[:, k]
    return ap, acc


def _fill_plan(c: np.ndarray, lo: int, w: int, hf: int):
    """What :func:`effective_psf` needs to replace the pixels that are not clean (``c`` = 0; c: (n, B, B)
    clean flags as floats) in the kernel windows' region [lo, lo + w)² of each stamp by the (2hf+1)² box mean
    of the clean ones: (stamps holding such a pixel there, their c, which of their region's lines hold one
    (index into (stamp, line) pairs of those stamps), clean flags of those lines, max(box mean of c, 1e-9) on
    them, index of those lines in all stamps' (stamp, line) pairs); None when the region is clean everywhere.
    numpy's form of :func:`ioscan.detect.fit_kernels.fill_plan`, which :func:`effective_psf` calls (kept as
    its reference, ``tests/detect/test_fit_kernels.py``).
    """
    fw = 2 * hf + 1
    creg = c[:, lo : lo + w, lo : lo + w] > 0
    line_has = ~creg.all(axis=2)  # (n, w)
    sub = np.flatnonzero(line_has.any(axis=1))
    if not sub.size:
        return None
    cs = c[sub]
    den = ndimage.uniform_filter1d(cs, fw, axis=1, mode="constant")[:, lo : lo + w, :]
    den = ndimage.uniform_filter1d(den, fw, axis=2, mode="constant")[..., lo : lo + w]
    lines = np.flatnonzero(line_has[sub].reshape(-1))
    at = np.flatnonzero(line_has.reshape(-1))
    keep = creg[sub].reshape(-1, w)[lines]
    den = np.maximum(den.reshape(-1, w)[lines], 1e-9)
    return sub, cs, lines, keep, den, at


def _stamp_stack(
    psf: PsfModel,
    sj: np.ndarray,
    li: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    derivatives: bool,
    memo: dict | None,
) -> np.ndarray:
    """``psf.stamp_grid`` of the stamps of samples ``sj`` and lines ``li`` (n, B, B) at sources (x, y); with a
    ``memo`` (the fit's) the stack is kept, derivatives made even when not asked for, and returned again while
    the positions and pixels stay: the fit's first two rounds (the linear fluxes, then the first step) use
    the same positions. P is the same with or without the derivatives' planes (:func:`psf_stamps` makes it
    alike), so only the planes asked for count; the stack is not written to."""
    sj0, li0, m = sj[:, 0, 0], li[:, 0, 0], sj.shape[2]  # (the stamps' first sample and line: sj0 + 0…m−1)
    if memo is None:
        return psf.stamp_grid_at(sj0, li0, m, x, y, derivatives)
    key = (psf, m, x.tobytes(), y.tobytes(), sj0.tobytes(), li0.tobytes())
    kept = memo.get("stack")
    if kept is not None and kept[0] == key:
        return kept[1]
    stack = psf.stamp_grid_at(sj0, li0, m, x, y, True)
    memo["stack"] = (key, stack)
    return stack


def effective_psf(
    psf: PsfModel,
    x: np.ndarray,
    y: np.ndarray,
    kernel: np.ndarray,
    shape: tuple[int, int],
    r: int,
    clean: np.ndarray | None = None,
    memo: dict | None = None,
    derivatives: bool = True,
):
    """PSF stamps as the residual sees them, with the position derivatives, on (2r+1)² stamps centred at the
    nearest pixels of (x, y). ``memo``: a dict kept between calls with the same ``kernel``, ``shape``, ``r``
    and ``clean`` (the fit's iterations): what depends on the stamps' centre pixels alone is reused while
    they stay.

    The background is linear in the data: the image correlated with ``kernel`` (the background kernel of
    :mod:`ioscan.detect.background`), after outliers (pixels not ``clean``: bright sources' cores) were
    replaced by their surroundings. Applying the same to the PSF, a source of flux F leaves
    F·(P − K⋆(P with its unclean pixels replaced)) in the residual: the wings that reach the annulus are
    modelled, and the fitted F is the total flux.

    Returns (P_eff, dP_eff/dx, dP_eff/dy, line index, sample index, inside), each (n, 2r+1, 2r+1); the
    derivatives None when not ``derivatives`` (P_eff the same: the stamp operator's product is made on the
    same (3n, ·) matrix, the derivatives' rows 0).
    """
    if memo is None:
        return _effective_psf(psf, x, y, kernel, shape, r, clean, None, derivatives)
    # with a memo the derivatives are always made and the result kept while the positions stay: the fit's
    # first round (the linear fluxes, no derivatives) and its second (the first step) ask at the same
    # positions (P is the same either way: the stamp operator's product is made on the same (3n, ·) matrix,
    # whatever its derivatives' rows hold, and each plane's fill is its own)
    at = (x.tobytes(), y.tobytes())
    done = memo.get("out")
    if done is None or done[0] != at:
        done = (at, _effective_psf(psf, x, y, kernel, shape, r, clean, memo, True))
        memo["out"] = done
    res = done[1]
    return res if derivatives else (res[0], None, None, *res[3:])


def _effective_psf(
    psf: PsfModel,
    x: np.ndarray,
    y: np.ndarray,
    kernel: np.ndarray,
    shape: tuple[int, int],
    r: int,
    clean: np.ndarray | None,
    memo: dict | None,
    derivatives: bool,
):
    """:func:`effective_psf` made (with a ``memo``: what the stamps' centre pixels alone decide kept)."""
    h = kernel.shape[0] // 2
    hf = h + 2  # pixels that are not clean were replaced by the mean of the clean ones in a (2hf+1)² box
    big = r + h + (hf if clean is not None else 0)
    nl, ns = shape
    off = np.arange(-big, big + 1)
    ci, cj = np.rint(y).astype(int), np.rint(x).astype(int)
    key = (ci.tobytes(), cj.tobytes())
    cached = memo is not None and memo.get("key") == key
    if cached:
        li, sj = memo["li"], memo["sj"]
    else:  # the stamps' lines (n, B, 1) and samples (n, 1, B)
        li = ci[:, None, None] + off[None, :, None]
        sj = cj[:, None, None] + off[None, None, :]
    stack = _stamp_stack(psf, sj, li, x, y, derivatives, memo)
    nd = 3 if derivatives else 1  # the planes of the stack that are made
    # the background model at the stamp's (2r+1)² pixels only: their kernel windows lie inside the big stamp,
    # so this equals ndimage.correlate(fed, kernel)[inner] at a small fraction of the cost
    inner = (slice(None), slice(big - r, big + r + 1), slice(big - r, big + r + 1))
    lo = big - r - h
    m, w = 2 * r + 1, 2 * r + 1 + 2 * h
    reg = (Ellipsis, slice(lo, lo + w), slice(lo, lo + w))
    fed = np.ascontiguousarray(stack[reg])
    if clean is not None:
        if cached:
            fill = memo["fill"]
        else:  # (compiled: fit_kernels.fill_plan, _fill_plan's values from the clean map itself)
            plan = fill_plan(np.ascontiguousarray(clean, bool), ci, cj, big, lo, w, h + 2)
            fill = plan if plan[0].size else None
        if fill is not None:
            # pixels that are not clean take the (2hf+1)² box mean of the clean ones (ndimage.uniform_filter's
            # two 1-D passes, lines then samples), made only on the stamps and lines that hold such a pixel
            # in the kernel windows' region: each 1-D pass treats every line alone, so the values are those
            # of the whole stack's filter
            # (compiled: fit_kernels.fill_unclean, the same running sums as uniform_filter1d's)
            sub, cs, lines, keep, den, at = fill
            fill_unclean(stack, cs, sub, lines, keep, den, at, lo, h + 2, nd, fed)
    if memo is not None and not cached:
        kept = memo.get("stack")  # (kept: it holds its own pixels' key)
        memo.clear()
        memo.update(key=key, li=li, sj=sj, stack=kept)
        if clean is not None:
            memo.update(fill=fill)
    region = fed.reshape(fed.shape[0] * fed.shape[1], w * w)
    op = _stamp_operator(np.ascontiguousarray(kernel, np.float64).tobytes(), kernel.shape[0], r)
    bgp = (region @ op).reshape(fed.shape[:2] + (m, m))
    planes = stack[(slice(None, nd), *inner)] - bgp[:nd]  # (each plane's values as one subtraction each)
    out = [planes[k] for k in range(nd)] + [None] * (3 - nd)
    if cached and "pix" in memo:
        return (*out, *memo["pix"])
    lin, sin = li[:, big - r : big + r + 1, :], sj[:, :, big - r : big + r + 1]  # (n, m, 1), (n, 1, m)
    inside = (lin >= 0) & (lin < nl) & (sin >= 0) & (sin < ns)
    pix = (np.repeat(_clip(lin, 0, nl - 1), m, axis=2), np.repeat(_clip(sin, 0, ns - 1), m, axis=1), inside)
    if memo is not None:
        memo["pix"] = pix
    return (*out, *pix)


def psf_photometry(
    resid: np.ndarray,
    noise: np.ndarray,
    usable: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    psf: PsfModel,
    kernel: np.ndarray,
    *,
    clean: np.ndarray | None = None,
    n_iter: int = 4,
    max_shift_px: float = 1.5,
) -> PsfFit:
    """Weighted least-squares fit of flux and position of the effective PSF (:func:`effective_psf`) at every
    source, neighbours' models subtracted (Jacobi rounds); errors from the Hessian. Pixels that are not
    ``usable`` (saturated, NaN, limb band) get zero weight, so a saturated source is measured from its wings.
    """
    n = len(x0)
    r = fit_radius_px(psf)
    x, y = np.asarray(x0, float).copy(), np.asarray(y0, float).copy()
    flux = np.zeros(n)
    shape = resid.shape
    conv = np.ones(n, bool)
    h = np.zeros((n, 3, 3))
    memo: dict = {}  # what the stamps' centre pixels alone decide, while they stay
    pix = None  # the stamps' pixels of the last call, and what depends on them alone
    for it in range(n_iter + 1):
        p, dpx, dpy, li, sj, inside = effective_psf(
            psf, x, y, kernel, shape, r, clean, memo, derivatives=it > 0
        )
        if pix is None or pix[0] is not li:
            # compiled (fit_kernels.stamp_weights): inside & usable, 1/max(σ, 1e-150)² and the residual there
            ok, w, data0 = stamp_weights(li, sj, inside, usable, noise, resid)
            # the stamps' pixels inside the image, numbered by flat index (a pixel's number is its rank;
            # compiled: fit_kernels.pixel_ranks, np.unique's inverse)
            inv, n_flat = pixel_ranks(li, sj, inside, shape[1])
            pix = (li, ok, w, data0, n_flat, inv)
        _, ok, w, data0, n_flat, inv = pix
        if it == 0:
            data = data0
            flux = linear_flux(p, w, data)
            continue
        # compiled (fit_kernels.source_fit_sums): the neighbours' current models subtracted (Σ of every
        # source's model per pixel in source order), the normal matrix of the Jacobian [P, F·dP/dx, F·dP/dy]
        # and its gradient, np.einsum's sums
        data, h, g = source_fit_sums(p, dpx, dpy, w, data0, ok, inside, inv, n_flat, flux, n > 1, it < n_iter)
        if it == n_iter:
            break
        reg = np.eye(3)[None] * 1e-12 * np.maximum(np.abs(h).max(axis=(1, 2)), 1e-300)[:, None, None]
        step = np.linalg.solve(h + reg, g[..., None])[..., 0]
        step[:, 1:] = _clip(step[:, 1:], -0.5, 0.5)
        flux = flux + step[:, 0]
        x = np.where(np.abs(x + step[:, 1] - x0) <= max_shift_px, x + step[:, 1], x)
        y = np.where(np.abs(y + step[:, 2] - y0) <= max_shift_px, y + step[:, 2], y)
    chi2 = weighted_chi2(w, data, flux, p)
    npix = ok.sum(axis=(1, 2))
    cov = np.full((n, 3, 3), np.nan)
    try:  # all at once (the same LAPACK call per matrix); one by one only when one is singular
        cov[:] = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        for k in range(n):
            try:
                cov[k] = np.linalg.inv(h[k])
            except np.linalg.LinAlgError:
                conv[k] = False
    bad = ~np.isfinite(flux) | (flux <= 0) | ~(cov[:, 0, 0] > 0) | ~np.isfinite(cov[:, 1, 1])
    if np.any(bad):  # fixed position at the S/N peak, linear amplitude
        conv[bad] = False
        x[bad], y[bad] = x0[bad], y0[bad]
        pb, _, _, lb, sb, ib = effective_psf(psf, x[bad], y[bad], kernel, shape, r, clean, derivatives=False)
        okb = ib & usable[lb, sb]
        wb = np.where(okb, 1.0 / np.maximum(noise[lb, sb].astype(np.float64), 1e-150) ** 2, 0.0)
        sp2 = np.maximum(np.sum(wb * pb * pb, axis=(1, 2)), 1e-300)
        flux[bad] = np.sum(wb * pb * np.where(okb, resid[lb, sb], 0.0), axis=(1, 2)) / sp2
        cov[bad] = 0.0
        cov[bad, 0, 0] = 1.0 / sp2
        pos = np.sqrt(2.0) * psf.core_sigma_px / np.maximum(np.abs(flux[bad]) * np.sqrt(sp2), 1e-3)
        cov[bad, 1, 1] = cov[bad, 2, 2] = np.minimum(pos, 1.0) ** 2
    # the background is itself a noisy estimate made from the pixels around: the flux estimator Σ a·r with
    # r = (δ − K)⋆data has variance Σ ((δ − K)ᵀa)² σ², larger than Σ a² σ² (the fit's own error)
    num, den = _inflation_sums(p, w, ok, kernel)
    infl = np.sqrt(num / np.maximum(den, 1e-300))
    infl = np.where(np.isfinite(infl) & (infl > 0), infl, 1.0)
    cov = cov * (infl * infl)[:, None, None]
    dof = np.maximum(npix - 3, 1)
    return PsfFit(
        x=x,
        y=y,
        x_err=np.sqrt(np.abs(cov[:, 1, 1])),
        y_err=np.sqrt(np.abs(cov[:, 2, 2])),
        flux=flux,
        flux_err=np.sqrt(np.abs(cov[:, 0, 0])),
        n_pixels=npix,
        chi2_dof=chi2 / dof,
        converged=conv,
    )


def _inflation_sums_numpy(
    p: np.ndarray, w: np.ndarray, ok: np.ndarray, kernel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(Σ g²σ², Σ a²σ²) per stamp of :func:`psf_photometry`'s background inflation in numpy (the reference
    of :func:`ioscan.detect.fit_kernels.flux_inflation_sums`, which :func:`_inflation_sums` calls): a =
    P/ΣwP² on ok pixels, g = (δ − K)ᵀa on the padded stamp, σ² = 1/w padded by its edge values."""
    a = np.where(ok, w * p, 0.0) / np.maximum(np.sum(w * p * p, axis=(1, 2)), 1e-300)[:, None, None]
    hk = kernel.shape[0] // 2
    ap, bg_a = _padded_convolve(a, kernel)
    g = ap - bg_a
    edge = np.clip(np.arange(-hk, a.shape[1] + hk), 0, a.shape[1] - 1)  # np.pad's "edge" mode
    sig2 = np.where(ok, 1.0 / np.where(ok, w, 1.0), 0.0)[:, edge[:, None], edge[None, :]]
    return np.sum(g * g * sig2, axis=(1, 2)), np.sum(ap * ap * sig2, axis=(1, 2))


def _inflation_sums(
    p: np.ndarray, w: np.ndarray, ok: np.ndarray, kernel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_inflation_sums_numpy`'s values, compiled (:func:`fit_kernels.flux_inflation_sums` on the
    kernel's scatter weights, made once per kernel and stamp size)."""
    wk = _scatter_weights(np.ascontiguousarray(kernel, np.float64).tobytes(), kernel.shape[0], p.shape[1])
    return flux_inflation_sums(p, w, ok, wk)


def source_pixels(
    unclean: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    reach_px: int,
    others: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The sources' own outlier pixels: of the ``unclean`` pixels (the outlier test's, 8-connected), the
    groups that touch the 3 × 3 pixels nearest to a source (x, y), within ``reach_px`` (Chebyshev) of it and
    nearer to it than to any of the ``others`` (x, y) — an outlier group apart from it (a cosmic-ray hit, a
    dark spot) or a neighbour's part of a shared group stays replaced."""
    shape = unclean.shape
    li = np.clip(np.rint(y).astype(int), 0, shape[0] - 1)
    sj = np.clip(np.rint(x).astype(int), 0, shape[1] - 1)
    at = np.zeros(shape, np.uint8)
    at[li, sj] = 1
    box = ndimage.maximum_filter(at, 2 * reach_px + 1, mode="constant") > 0
    centre = ndimage.maximum_filter(at, 3, mode="constant") > 0
    labels, n = ndimage.label(unclean & box, structure=np.ones((3, 3), bool))
    lut = np.zeros(n + 1, bool)
    lut[labels[centre & unclean]] = True
    lut[0] = False
    out = lut[labels]
    if others is not None and len(others[0]) and out.any():
        from scipy.spatial import cKDTree

        pl, ps = np.nonzero(out)
        pts = np.column_stack([pl, ps]).astype(float)
        d_own, _ = cKDTree(np.column_stack([y, x])).query(pts)
        d_other, _ = cKDTree(np.column_stack([others[1], others[0]])).query(pts)
        theirs = d_other < d_own
        out[pl[theirs], ps[theirs]] = False
    return out


def kept_sources(
    own: np.ndarray, x: np.ndarray, y: np.ndarray, snr: np.ndarray, has_hole: np.ndarray, min_gap_px: float
) -> np.ndarray:
    """Of the candidate sources ``own`` (indices), those whose own outlier pixels may feed their background:
    the ones with outlier pixels at their centre (``has_hole``), brightest first, each farther than
    ``min_gap_px`` from every one taken before it (so that their stamps, each on its own background, do not
    overlap)."""
    cand = own[has_hole[own]]
    cand = cand[np.argsort(-snr[cand], kind="stable")]
    taken: list[int] = []
    for i in cand:
        if all(np.hypot(x[i] - x[j], y[i] - y[j]) > min_gap_px for j in taken):
            taken.append(int(i))
    return np.array(sorted(taken), dtype=np.intp)


#: a source's own outlier pixels are taken within this many pixels of it (Chebyshev): its core and first
#: wings; beyond, a ghost or a reflection down its column shares the outlier group and stays replaced
OWN_RADIUS_PX = 3


def _own_pixel_residual(
    model: BandModel, k: int, own: np.ndarray, x0: np.ndarray, y0: np.ndarray, reach: int, r: int
) -> tuple[np.ndarray, np.ndarray]:
    """Option ``k``'s residual where each stamp (half-size ``r``: where the fit may move it) of the sources
    ``own`` is its background
    made with that source's own outlier pixels as they are (every other source's, a hit's or a ghost's,
    replaced as before), and the pixels that fed a background as they are (for the effective PSF)."""
    from ioscan.detect.background import source_residual

    unclean = model.outliers
    resid = model.residuals[k].copy()
    clean = model.clean.copy()
    nl, ns = resid.shape
    for i in own:
        rest = np.ones(len(x0), bool)
        rest[i] = False
        near = source_pixels(
            unclean, x0[i : i + 1], y0[i : i + 1], min(reach, OWN_RADIUS_PX), (x0[rest], y0[rest])
        )
        if not near.any():
            continue
        r_i, c_i = source_residual(model, k, near)
        li, sj = int(np.rint(y0[i])), int(np.rint(x0[i]))
        st = (slice(max(li - r, 0), min(li + r + 1, nl)), slice(max(sj - r, 0), min(sj + r + 1, ns)))
        resid[st] = r_i[st]
        clean |= c_i
    return resid, clean


def fit_sources(model: BandModel, peaks, psf: PsfModel, keep: np.ndarray | None = None) -> PsfFit:
    """PSF fits of the ``peaks`` (:class:`~ioscan.detect.find.Peaks`), each source on the residual of the
    annulus chosen at its S/N peak (pixel noise: the local effective noise); each fit starts at the peak
    pixel shifted by the best sub-pixel phase. ``keep`` (a bool per peak; with ``model.refit``,
    ``detect.keep_source_pixels``): the own outlier pixels (:func:`source_pixels`, within the stamp +
    annulus reach, which must lie on usable pixels of the crop) of those sources (:func:`kept_sources`:
    stamps that do not overlap) feed their own stamp's background as they are, every other source's pixels
    replaced there (:func:`ioscan.detect.background.source_residual`), and the effective PSF models that
    mask."""
    ph = np.array(PHASES)[model.phase[peaks.line, peaks.sample]]
    y0, x0 = peaks.line + ph[:, 0], peaks.sample + ph[:, 1]
    k_of = model.choice[peaks.line, peaks.sample]
    keep = None if keep is None or model.refit is None else np.asarray(keep, bool)
    fits = []
    for k, (h0, h1, degree) in enumerate(model.annuli):
        sel = np.flatnonzero(k_of == k)
        if sel.size:
            kern = background_kernel(h0, h1, degree)
            resid, clean = model.residuals[k], model.clean
            own = sel if keep is None else sel[keep[sel]]
            reach = fit_radius_px(psf) + h1
            if keep is not None and own.size:
                # only where the background's reach stays on usable pixels of the crop: across the frame edge
                # (point reflection), the limb band or a saturated core the effective PSF does not hold
                inside = ndimage.minimum_filter(model.usable.view(np.uint8), 2 * reach + 1, mode="constant")
                own = own[inside[peaks.line[own], peaks.sample[own]] > 0]
            if keep is not None and own.size:
                unclean = model.outliers
                at = (peaks.line, peaks.sample)
                has_hole = ndimage.maximum_filter(unclean.view(np.uint8), 3, mode="constant")[at] > 0
                # kept sources' stamps, wherever the fit moves them (≤ 1.5 px, a stamp ≤ 2 px), do not
                # overlap: each stamp's residual is its own source's
                r_moved = fit_radius_px(psf) + 2
                own = kept_sources(own, x0, y0, peaks.snr, has_hole, 2 * r_moved + 1)
            if keep is not None and own.size:
                resid, clean = _own_pixel_residual(model, k, own, x0, y0, reach, r_moved)
            fit = psf_photometry(resid, model.noise, model.usable, x0[sel], y0[sel], psf, kern, clean=clean)
            fits.append((sel, fit))
    if len(fits) == 1:
        return fits[0][1]
    n = len(peaks)
    merged = {}
    for name in fits[0][1].__dataclass_fields__:
        arr = np.zeros(n, dtype=getattr(fits[0][1], name).dtype)
        for sel, f in fits:
            arr[sel] = getattr(f, name)
        merged[name] = arr
    return type(fits[0][1])(**merged)


#: directions of the displaced copies of a source's outlier hole (:func:`fill_flux_err`), per ring
FILL_SHIFT_ANGLES = 12
#: fewer usable displaced copies than this: the fill's error is not stated (nan)
FILL_MIN_SHIFTS = 6


@lru_cache(maxsize=16)
def _kernel_nonzero(kernel_bytes: bytes, size: int) -> np.ndarray:
    """The kernel (size², float64 bytes) with its weights of magnitude ≤ DBL_EPSILON set to 0 (made once per
    kernel)."""
    kern = np.frombuffer(kernel_bytes, dtype=np.float64).reshape(size, size)
    kz = np.where(np.abs(kern) > np.finfo(np.float64).eps, kern, 0.0)
    kz.setflags(write=False)
    return kz


def _kernel_spread_at(
    a: np.ndarray, kern: np.ndarray, dl: np.ndarray, ds: np.ndarray, stamp_l: np.ndarray, stamp_s: np.ndarray
) -> np.ndarray:
    """(a ∗ K) at the pixels (dl, ds) (offsets from the stamp's centre pixel; a: the m² stamp, its offsets
    stamp_l, stamp_s flattened row-major; K: the kernel, size 2h+1): Σ_p a_p K[d − p + h], by a direct sum
    over the stamp. Kernel weights of magnitude ≤ DBL_EPSILON count as 0, as ``ndimage.convolve`` leaves
    them out of its footprint."""
    kz = _kernel_nonzero(np.ascontiguousarray(kern, np.float64).tobytes(), kern.shape[0])
    w = spread_weights(kz, dl, ds, stamp_l, stamp_s)  # (compiled: the weights picked, 0 beyond the kernel)
    return _dot_in_order(w, a.ravel())


def _dot_in_order(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a @ v`` (a: (rows, k ≥ 1), v: (k,)) with each row's terms a·v summed in order from the first
    (np.cumsum's sequential sums): the fill error's products as its compiled loop
    (:func:`ioscan.detect.fit_kernels.fill_errors`) makes them, not BLAS's (whose order is its own)."""
    return np.cumsum(a * v[None, :], axis=1)[:, -1]


def _matmul_in_order(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (a: (rows, k ≥ 1), b: (k, cols)) with each element's terms summed in order from the
    first (:func:`_dot_in_order`'s sums)."""
    return np.cumsum(a[:, :, None] * b[None, :, :], axis=1)[:, -1, :]


def _fill_data(model: BandModel) -> np.ndarray:
    """The data as the background saw it (background + the residual of the annulus chosen at each pixel;
    0 where not usable), float64."""
    res = model.residuals
    if len(res) == 2 and all(a.dtype == model.background.dtype == np.float32 for a in res):
        # compiled (fit_kernels.fill_data): the same float32 sum per pixel in one pass
        return fill_data(model.background, res[0], res[1], model.choice, model.usable)
    return _fill_data_numpy(model)


def _fill_data_numpy(model: BandModel) -> np.ndarray:
    """:func:`_fill_data` in numpy (the reference of its compiled form, and any number of options)."""
    res = model.residuals
    # each pixel's chosen residual (the values np.stack + take_along_axis pick, without the stack)
    chosen = np.array(res[0], dtype=np.result_type(*res), copy=True)
    for k in range(1, len(res)):
        np.copyto(chosen, res[k], where=model.choice == k)
    data = model.background + chosen
    return np.where(model.usable, data, 0.0).astype(np.float64)


def _fill_box_sums(
    data: np.ndarray,
    fed: np.ndarray,
    li: np.ndarray,
    sj: np.ndarray,
    dl: np.ndarray,
    ds: np.ndarray,
    e: int,
    hf: int,
    hole_fed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the hole (dl, ds; reach e from the centre) copied to each centre (li, sj): the sum of the data
    over the pixels that feed the fill (``fed``, each copy's own hole left out) in the (2hf+1)² box around
    each hole pixel, their number, and the data at the hole pixels; each (copies, hole pixels).

    One summed-area table over the region all copies' windows ((2(e + hf) + 1)², inside the image) cover
    gives each box's sum over ``fed``; the copy's own hole pixels (all of them ``fed``: the copies are put on
    clean pixels of the source's side, or with ``hole_fed`` (copies, hole pixels) those of them that do)
    are then taken out of it: Σ over the hole pixels within the box."""
    half = e + hf
    l0, l1 = int(li.min()) - half, int(li.max()) + half + 1
    s0, s1 = int(sj.min()) - half, int(sj.max()) + half + 1
    # compiled (fit_kernels.fill_box_sums): the two tables (np.cumsum's sequential sums) and their box reads
    box, d_hole = fill_box_sums(data, fed, l0, l1, s0, s1, li, sj, dl, ds, hf)
    near = (np.abs(dl[:, None] - dl[None]) <= hf) & (np.abs(ds[:, None] - ds[None]) <= hf)
    near = near.astype(np.float64)  # hole pixel q within the box of hole pixel p (symmetric)
    if hole_fed is None:
        return box[0] - _matmul_in_order(d_hole, near), box[1] - near.sum(axis=0), d_hole
    m = hole_fed.astype(np.float64)
    return box[0] - _matmul_in_order(d_hole * m, near), box[1] - m @ near, d_hole  # (counts: exact)


#: sources within this many pixels of the limb (either side) also get copies of their hole along it
#: (:func:`fill_flux_err`): the limb profile's zone and the annulus' reach into it
FILL_ALONG_LIMB_PX = DetectConfig.fill_along_limb_px
#: rings of copy centres searched along the limb (:func:`_along_limb_centres`), 2 px apart from 2e + 2
FILL_LIMB_RINGS = 20
#: directions per ring searched for copy centres at the source's limb distance
FILL_LIMB_ANGLES = 72
#: a copy's centre lies within this many pixels of the source's limb distance
FILL_LIMB_TOLERANCE_PX = 0.5
#: the copies along the limb kept, nearest first
FILL_LIMB_COPIES = 24


@lru_cache(maxsize=64)
def _limb_ring_offsets(e: int) -> tuple[np.ndarray, np.ndarray]:
    """(line, sample) offsets of :func:`_along_limb_centres`' candidate centres for a hole of reach ``e``:
    rings 2e + 2, 2e + 4, … px, :data:`FILL_LIMB_ANGLES` directions each (made once per reach)."""
    rho = np.repeat(2 * e + 2 + 2 * np.arange(FILL_LIMB_RINGS), FILL_LIMB_ANGLES)
    ang = 2 * np.pi * np.tile(np.arange(FILL_LIMB_ANGLES), FILL_LIMB_RINGS) / FILL_LIMB_ANGLES
    out = (np.rint(rho * np.sin(ang)).astype(np.intp), np.rint(rho * np.cos(ang)).astype(np.intp))
    for a in out:
        a.setflags(write=False)
    return out


@lru_cache(maxsize=64)
def _fill_ring_offsets(e: int) -> tuple[np.ndarray, np.ndarray]:
    """(line, sample) offsets of :func:`fill_flux_err`'s copy centres for a hole of reach ``e``: two rings,
    2e + 2 and 2e + 6 px, :data:`FILL_SHIFT_ANGLES` directions each, the second turned by half a step (made
    once per reach)."""
    rho = np.repeat([2 * e + 2, 2 * e + 6], FILL_SHIFT_ANGLES)
    t = np.tile(np.arange(FILL_SHIFT_ANGLES), 2)
    ang = 2 * np.pi * (t + 0.5 * (rho > 2 * e + 2)) / FILL_SHIFT_ANGLES
    out = (np.rint(rho * np.sin(ang)).astype(np.intp), np.rint(rho * np.cos(ang)).astype(np.intp))
    for a in out:
        a.setflags(write=False)
    return out


def _along_limb_centres(
    dist: np.ndarray, ci: int, cj: int, e: int, pad: int
) -> tuple[np.ndarray, np.ndarray]:
    """Centres (lines, samples) of the hole's copies for a source near the limb at pixel (ci, cj): on rings
    2e + 2, 2e + 4, … px away (:data:`FILL_LIMB_RINGS`), where the limb distance ``dist`` is the source's to
    :data:`FILL_LIMB_TOLERANCE_PX` (along the limb, both ways), each copy's window (half-size ``pad``) inside
    the crop; at most :data:`FILL_LIMB_COPIES`, nearest first, each centre once."""
    dli, dsj = _limb_ring_offsets(e)
    # compiled (fit_kernels.along_limb_centres): the candidates in order, each pixel at its first occurrence
    return along_limb_centres(
        np.ascontiguousarray(dist),
        ci,
        cj,
        dli,
        dsj,
        pad,
        FILL_LIMB_TOLERANCE_PX,
        FILL_LIMB_COPIES,
    )


def fill_flux_err(
    model: BandModel,
    x: np.ndarray,
    y: np.ndarray,
    psf: PsfModel,
    along_limb_px: float = FILL_ALONG_LIMB_PX,
    compiled: bool = True,
) -> np.ndarray:
    """1σ flux error (image units) of what the outlier fill puts under each source (x, y: its fitted
    position, crop pixels): 0 where no outlier pixel touches its 3 × 3 centre pixels, nan where too few
    displaced copies could be made (:data:`FILL_MIN_SHIFTS`). Nothing of the detection changes.

    A bright source's core and wings fail the outlier test; those pixels (the hole: every outlier pixel
    within the stamp's background reach, r + h) are replaced by the mean of the clean pixels of a
    (2(h + 2) + 1)² box before the background kernel (half-size h, of the annulus chosen at the source) is
    applied. The ground the fill misses, δ = fill − ground on the hole, moves the background under the stamp
    by K⋆δ and the fitted flux by −Σ a·(K⋆δ) = −Σ_hole (a ∗ K)·δ, a = P/ΣP² (the PSF at the source's phase,
    uniform weights). The hole is copied to ground around the source (two rings, 2e + 2 and 2e + 6 px away,
    e the hole's reach from the centre; a copy's hole must lie on clean pixels of the source's side of the
    limb and its stamp on usable pixels inside the crop), each copy filled as detection fills it (the box
    mean of the clean pixels of that side) and δ read against the data there; the variance is the copies'
    robust spread² (1.4826 × MAD) plus their median², less what the data's own white noise on the hole adds
    (median of Σ (a ∗ K)² σ_white²), floored at 0. The shading normalisation the fill
    works under is left out (the ground's shading varies little over a hole).

    Within ``along_limb_px`` of the limb (either side; 0: never) the rings' copies lie farther from the
    limb, or nearer, than the source: there the fill's box is cut by the limb band and the limb profile
    changes across the hole, and the rings' copies, on flatter or cut ground, understated the miss (injected
    sources on the independent renderer's sunlit M ground, 3–20 px inside the limb: pulls over the fit's
    error ⊕ this term 1.24–1.53 at S/N 300–1,000, where 20–40 px inside read 1.07–1.10). There the hole is
    also copied along the limb, to centres at the source's limb distance (:func:`_along_limb_centres`:
    their stamps cross the limb band as the source's does, hole pixels falling in the band left out), and
    the larger of the two variances is taken (the same sources: 0.96–1.08). With :data:`LIMB_MISFIT` (off)
    the band model's misfit of the ground at the source's limb distance, beyond what the fit's noise map
    states, is added to it (:func:`limb_misfit_variance`: the PSF-weighted residual's robust spread and
    median over copies of the stamp along the limb, less the stated noise's share): ≈ 0 where the model fits
    the limb, the misfit where it does not; the sum is floored at 0, not each part (an estimate ≈ 0 scatters
    both ways: floored alone, its positive half would be added to every near-limb source).

    ``compiled`` (the default): the loop over the sources in one compiled call
    (:func:`ioscan.detect.fit_kernels.fill_errors`; with :data:`LIMB_MISFIT` each source's steps compiled,
    :func:`_fill_variance_compiled`), the same values as the numpy form (False). The products (the kernel's
    spread of a, the copies' hole sums, their flux misses and noise terms) sum their terms in order
    (:func:`_dot_in_order`), not BLAS's order: the values moved by ≤ 2e-14 relative (issue 15)."""
    n = len(x)
    out = np.zeros(n)
    if not n:
        return out
    unclean = model.outliers
    if not unclean.any():
        return out
    nl, ns = unclean.shape
    r = fit_radius_px(psf)
    fin = np.isfinite(x) & np.isfinite(y)
    # centre pixels (−1 or the size where outside the crop)
    cen_l = np.clip(np.rint(np.where(fin, y, -1.0)), -1, nl).astype(np.intp)
    cen_s = np.clip(np.rint(np.where(fin, x, -1.0)), -1, ns).astype(np.intp)
    on = fin & (cen_l >= 0) & (cen_l < nl) & (cen_s >= 0) & (cen_s < ns)
    out[~on] = np.nan
    idx = np.flatnonzero(on)
    if compiled:
        # only the sources whose 3 × 3 centre touches an outlier have a hole (the others keep 0): the PSF's
        # stamps and the rest are made for them alone (each source's values are its own)
        touched = idx[centres_touched(unclean, cen_l[idx], cen_s[idx])] if idx.size else idx
        if touched.size:
            stamps = _centre_stamps(psf, x, y, cen_l, cen_s, touched, r)
            _fill_errors_compiled(model, touched, cen_l, cen_s, stamps, r, along_limb_px, out)
        return out
    data = None  # the data (background + the chosen annulus' residual), made when a source first needs it
    # the fill takes the clean pixels of the source's own region: with a limb, its side of it
    side = None if model.limb_distance_px is None else model.limb_distance_px > 0
    dist = model.limb_distance_px
    stamp_l, stamp_s = _stamp_offsets(r)  # a stamp's offsets
    fed_on = None if side is None else {True: model.clean & side, False: model.clean & ~side}
    # the PSF at each source on its stamp around its centre pixel, all sources at once
    stamps = np.zeros((n, 2 * r + 1, 2 * r + 1))
    if idx.size:
        stamps[idx] = _centre_stamps(psf, x, y, cen_l, cen_s, idx, r)
    for i in idx.tolist():
        ci, cj = int(cen_l[i]), int(cen_s[i])
        if not unclean[max(ci - 1, 0) : ci + 2, max(cj - 1, 0) : cj + 2].any():
            continue
        h0, h1, degree = model.annuli[int(model.choice[ci, cj])]
        kern = background_kernel(h0, h1, degree)
        h = kern.shape[0] // 2
        hf = h + 2
        reach = r + h
        l0, l1 = max(ci - reach, 0), min(ci + reach + 1, nl)
        s0, s1 = max(cj - reach, 0), min(cj + reach + 1, ns)
        hl, hs = np.nonzero(unclean[l0:l1, s0:s1])
        dl, ds = hl + l0 - ci, hs + s0 - cj  # the hole, relative to the centre pixel
        e = int(max(np.max(np.abs(dl)), np.max(np.abs(ds))))
        # a = P/ΣP² on the stamp, spread by the kernel: the flux's weight of each pixel's background input
        p = stamps[i]
        a = p / max(float(np.sum(p * p)), 1e-300)
        gw = _kernel_spread_at(a, kern, dl, ds, stamp_l, stamp_s)  # g = a ∗ K at the hole pixels
        pad = r + h + hf  # the copy's window: its fill boxes around the hole
        # the copies' centres, ring by ring, angle by angle; kept where the copy's window lies inside the
        # crop, its hole on clean pixels, its stamp on usable ones, and (with a limb) on the source's side
        near = along_limb_px > 0 and dist is not None and abs(float(dist[ci, cj])) < along_limb_px
        dli, dsj = _fill_ring_offsets(e)
        li, sj = ci + dli, cj + dsj
        inside = (li - pad >= 0) & (sj - pad >= 0) & (li + pad < nl) & (sj + pad < ns)
        if data is None:
            data = _fill_data(model)
        fed = model.clean if side is None else fed_on[bool(side[ci, cj])]
        args = (model, data, fed, side, ci, cj, dl, ds, e, hf, gw, stamp_l, stamp_s)
        var = _copies_variance(*args, li[inside], sj[inside], False)
        if near:  # near the limb also copies along it (its profile's reach), the larger of the two
            la, sa = _along_limb_centres(dist, ci, cj, e, pad)
            var = np.fmax(var, _copies_variance(*args, la, sa, True))
            if LIMB_MISFIT:  # and the band model's misfit of the ground there, beyond what the fit states
                k = int(model.choice[ci, cj])
                mis = limb_misfit_variance(model, k, kern, a, la, sa, (ci + dl, cj + ds), stamp_l, stamp_s)
                var = _add_variances(var, mis)
        out[i] = np.sqrt(max(var, 0.0)) if np.isfinite(var) else np.nan
    return out


@lru_cache(maxsize=8)
def _stamp_offsets(r: int) -> tuple[np.ndarray, np.ndarray]:
    """(line, sample) offsets of a (2r+1)² stamp's pixels from its centre, row-major (made once per r; not
    written to: left writeable, as the compiled kernels they are passed to were typed for)."""
    return tuple(g.ravel() for g in np.mgrid[-r : r + 1, -r : r + 1])


def _centre_stamps(
    psf: PsfModel,
    x: np.ndarray,
    y: np.ndarray,
    cen_l: np.ndarray,
    cen_s: np.ndarray,
    idx: np.ndarray,
    r: int,
) -> np.ndarray:
    """The PSF of the sources ``idx`` (at x, y) on the (2r+1)² stamps around their centre pixels (cen_l,
    cen_s), (len(idx), 2r+1, 2r+1); each stamp's values its own (the same for any set of sources)."""
    return psf.stamp_grid_at(cen_s[idx] - r, cen_l[idx] - r, 2 * r + 1, x[idx], y[idx], False)[0]


def _fill_errors_compiled(
    model: BandModel,
    touched: np.ndarray,
    cen_l: np.ndarray,
    cen_s: np.ndarray,
    stamps: np.ndarray,
    r: int,
    along_limb_px: float,
    out: np.ndarray,
) -> None:
    """:func:`fill_flux_err`'s loop over the sources ``touched`` (centre pixels inside the crop, their 3 × 3
    centre touching an outlier: :func:`fit_kernels.centres_touched`; ``stamps`` the PSF at each, in that
    order) with its per-source steps compiled: the hole (:func:`fit_kernels.hole_offsets`), the copies and
    their sums (:func:`_fill_variance_compiled`); without :data:`LIMB_MISFIT` all of it in one compiled call
    (:func:`_fill_errors_one_call`, the same values). Writes ``out`` at those sources."""
    unclean = model.outliers
    data = _fill_data(model)
    side = None if model.limb_distance_px is None else model.limb_distance_px > 0
    dist = model.limb_distance_px
    fed_on = None if side is None else {True: model.clean & side, False: model.clean & ~side}
    stamp_l, stamp_s = _stamp_offsets(r)
    sq = stamps * stamps
    p2 = stamp_sums(sq)  # np.sum(p * p) of each stamp, the same pairwise sums
    if not LIMB_MISFIT:  # the whole loop in one compiled call (fit_kernels.fill_errors), the same values
        _fill_errors_one_call(model, data, side, dist, fed_on, touched, cen_l, cen_s, stamps, p2, r,
                              along_limb_px, out)  # fmt: skip
        return
    kernels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for t, i in enumerate(touched.tolist()):
        ci, cj = int(cen_l[i]), int(cen_s[i])
        k = int(model.choice[ci, cj])
        if k not in kernels:
            kern = background_kernel(*model.annuli[k])
            kernels[k] = (
                kern,
                _kernel_nonzero(np.ascontiguousarray(kern, np.float64).tobytes(), kern.shape[0]),
            )
        kern, kz = kernels[k]
        h = kern.shape[0] // 2
        hf = h + 2
        dl, ds, e = hole_offsets(unclean, ci, cj, r + h)
        a = stamps[t] / max(float(p2[t]), 1e-300)
        gw = _dot_in_order(spread_weights(kz, dl, ds, stamp_l, stamp_s), a.ravel())  # g = a ∗ K at the hole
        pad = r + h + hf
        near = along_limb_px > 0 and dist is not None and abs(float(dist[ci, cj])) < along_limb_px
        dli, dsj = _fill_ring_offsets(e)
        fed = model.clean if side is None else fed_on[bool(side[ci, cj])]
        args = (model, data, fed, side, ci, cj, dl, ds, e, hf, gw, stamp_l, stamp_s)
        var = _fill_variance_compiled(*args, ci + dli, cj + dsj, False, pad)
        if near:
            la, sa = _along_limb_centres(dist, ci, cj, e, pad)
            var = np.fmax(var, _fill_variance_compiled(*args, la, sa, True, pad))
            if LIMB_MISFIT:
                mis = limb_misfit_variance(model, k, kern, a, la, sa, (ci + dl, cj + ds), stamp_l, stamp_s)
                var = _add_variances(var, mis)
        out[i] = np.sqrt(max(var, 0.0)) if np.isfinite(var) else np.nan


def _fill_errors_one_call(
    model: BandModel,
    data: np.ndarray,
    side: np.ndarray | None,
    dist: np.ndarray | None,
    fed_on: dict | None,
    touched: np.ndarray,
    cen_l: np.ndarray,
    cen_s: np.ndarray,
    stamps: np.ndarray,
    p2: np.ndarray,
    r: int,
    along_limb_px: float,
    out: np.ndarray,
) -> None:
    """:func:`_fill_errors_compiled`'s loop (without :data:`LIMB_MISFIT`) in one compiled call
    (:func:`ioscan.detect.fit_kernels.fill_errors`): the annuli's kernels (weights ≤ DBL_EPSILON 0)
    zero-padded to one array, the copies' ring offsets of every reach the holes can have."""
    ks = [background_kernel(*a) for a in model.annuli]
    size = max(k.shape[0] for k in ks)
    kernels = np.zeros((len(ks), size, size))
    for k, kern in enumerate(ks):
        n = kern.shape[0]
        kernels[k, :n, :n] = _kernel_nonzero(np.ascontiguousarray(kern, np.float64).tobytes(), n)
    half = np.array([k.shape[0] // 2 for k in ks], np.intp)
    reaches = range(r + int(half.max()) + 1)  # a hole's reach e ≤ r + h
    ring_l, ring_s = (np.array([_fill_ring_offsets(e)[a] for e in reaches]) for a in (0, 1))
    limb_l, limb_s = (np.array([_limb_ring_offsets(e)[a] for e in reaches]) for a in (0, 1))
    has_side, has_dist = side is not None, dist is not None
    usable = model.usable
    fill_errors(
        model.outliers, usable, model.clean, side if has_side else usable, has_side,
        fed_on[True] if has_side else usable, fed_on[False] if has_side else usable,
        np.ascontiguousarray(dist) if has_dist else np.zeros((1, 1)), has_dist, data,
        model.sigma_white, model.choice, kernels, half, touched, cen_l, cen_s, stamps, p2, r,
        float(along_limb_px), *_stamp_offsets(r), ring_l, ring_s, limb_l, limb_s, FILL_MIN_SHIFTS,
        MAD_TO_SIGMA, FILL_LIMB_TOLERANCE_PX, FILL_LIMB_COPIES, out,
    )  # fmt: skip


def _fill_variance_compiled(
    model: BandModel,
    data: np.ndarray,
    fed: np.ndarray,
    side: np.ndarray | None,
    ci: int,
    cj: int,
    dl: np.ndarray,
    ds: np.ndarray,
    e: int,
    hf: int,
    gw: np.ndarray,
    stamp_l: np.ndarray,
    stamp_s: np.ndarray,
    li: np.ndarray,
    sj: np.ndarray,
    along_limb: bool,
    pad: int,
) -> float:
    """:func:`_copies_variance` with its loops compiled (:func:`fit_kernels.copy_box_sums`: the ring's
    centres inside the crop, the copies' tests, box sums and the hole's mutual boxes;
    :func:`fit_kernels.copy_deltas`); the BLAS products and the medians numpy's, as there. ``li``, ``sj``:
    the rings' candidate centres (``along_limb`` False: those whose window, half-size ``pad``, leaves the
    crop are dropped here) or the centres along the limb."""
    has_side = side is not None
    li, sj, use, box, d_hole, near = copy_box_sums(
        model.usable, model.clean, side if has_side else model.usable, has_side, ci, cj, li, sj, dl, ds,
        stamp_l, stamp_s, along_limb, pad, data, fed, e, hf, FILL_MIN_SHIFTS,
    )  # fmt: skip
    if li.size < FILL_MIN_SHIFTS:
        return float("nan")
    if along_limb:
        m = use.astype(np.float64)
        num, den = box[0] - _matmul_in_order(d_hole * m, near), box[1] - m @ near  # (counts: exact)
    else:
        num, den = box[0] - _matmul_in_order(d_hole, near), box[1] - near.sum(axis=0)
    min_den = 1e-3 * (2 * hf + 1) ** 2  # the clean pixels' box mean > 1e-3
    delta, sw2 = copy_deltas(num, den, d_hole, use, along_limb, min_den, model.sigma_white, li, sj, dl, ds)
    if delta.shape[0] < FILL_MIN_SHIFTS:
        return float("nan")
    dfs = -_dot_in_order(delta, gw)
    nvs = _dot_in_order(sw2, gw * gw)
    # compiled (fit_kernels.fill_spread_medians): median_or_nan's three medians, the same values
    med, mad, nvs_med = fill_spread_medians(dfs, nvs)
    spread = MAD_TO_SIGMA * mad
    return spread * spread + med * med - nvs_med  # (products: the compiled loop's; ** 2 is libm's pow)


def _copies_variance(
    model: BandModel,
    data: np.ndarray,
    fed: np.ndarray,
    side: np.ndarray | None,
    ci: int,
    cj: int,
    dl: np.ndarray,
    ds: np.ndarray,
    e: int,
    hf: int,
    gw: np.ndarray,
    stamp_l: np.ndarray,
    stamp_s: np.ndarray,
    li: np.ndarray,
    sj: np.ndarray,
    along_limb: bool,
) -> float:
    """The fill's flux variance (image units², before the floor at 0; nan with fewer than
    :data:`FILL_MIN_SHIFTS` usable copies) from the hole (dl, ds) copied to the centres (li, sj): see
    :func:`fill_flux_err`. ``along_limb``: copies at the source's limb distance, whose stamps cross the limb
    band as the source's does; a copy's hole pixel that falls in the band (the limb is not along the pixel
    grid) is left out of its sums."""
    # compiled (fit_kernels.copies_ok): each copy's tests over its hole (and stamp) pixels
    has_side = side is not None
    ok, use = copies_ok(
        model.usable, model.clean, side if has_side else model.usable, has_side, ci, cj,
        li, sj, dl, ds, stamp_l, stamp_s, along_limb,
    )  # fmt: skip
    li, sj = li[ok], sj[ok]
    hole_fed = use[ok] if along_limb else None
    if li.size < FILL_MIN_SHIFTS:
        return float("nan")
    num, den, d_hole = _fill_box_sums(data, fed, li, sj, dl, ds, e, hf, hole_fed)
    good = np.all(den > 1e-3 * (2 * hf + 1) ** 2, axis=1)  # the clean pixels' box mean > 1e-3
    if good.sum() < FILL_MIN_SHIFTS:
        return float("nan")
    delta = num[good] / den[good] - d_hole[good]
    if hole_fed is not None:
        delta = delta * hole_fed[good]
    dfs = -_dot_in_order(delta, gw)
    cl, cs = li[good], sj[good]
    sw = model.sigma_white[cl[:, None] + dl[None], cs[:, None] + ds[None]].astype(np.float64)
    nvs = _dot_in_order(sw * sw, gw * gw)
    # robust: a copy landing on a bright feature (a neighbour's wings, a crater rim) would rule the mean
    med = float(median_or_nan(dfs))
    mad = float(median_or_nan(np.abs(dfs - med)))
    spread = MAD_TO_SIGMA * mad
    return spread * spread + med * med - float(median_or_nan(nvs))  # (products, as the compiled loop's)


#: near the limb (within ``along_limb_px``) :func:`fill_flux_err` also states the band model's misfit of the
#: ground at the source's limb distance, measured on the frame (:func:`limb_misfit_variance`). Off: it
#: measures ≈ 0 on both renderers (issue 14 round 12: the median of what it adds, ÷ the fit's variance, is
#: −0.00 on the simulator's 742 and ≈ 0 on the renderer's 658 changed near-limb sources), so it neither
#: mends the renderer's sunlit near-limb sources (3–10 px inside, S/N 100–1k, seeds 20261209 / 14 / 5
#: pooled: 1.54 → 1.57) nor harms the simulator (pooled bins move ≤ 0.03). Their excess is local: 16 of
#: those 54 sources have background errors (the renderer's truth) 3–19× the fit's error, χ²/dof up to 50,
#: blended twice as often as the rest; one looked at sits where the terminator's sharp edge meets it, which
#: copies along the limb do not cross
LIMB_MISFIT = False


def _add_variances(var: float, extra: float) -> float:
    """``var`` + ``extra``, neither floored (the caller floors the sum: each is an estimate that the noise
    takes below 0 as often as above its value, so flooring each alone would add the noise's positive half);
    a nan one counts as 0 unless both are nan (nan)."""
    if not np.isfinite(var) and not np.isfinite(extra):
        return float("nan")
    return float(np.nan_to_num(var)) + float(np.nan_to_num(extra))


def limb_misfit_variance(
    model: BandModel,
    k: int,
    kern: np.ndarray,
    a: np.ndarray,
    li: np.ndarray,
    sj: np.ndarray,
    own: tuple[np.ndarray, np.ndarray],
    stamp_l: np.ndarray,
    stamp_s: np.ndarray,
) -> float:
    """The flux variance (image units², not floored; nan with fewer than :data:`FILL_MIN_SHIFTS` clean
    copies) the band model's misfit of the ground adds under a source near the limb, beyond what the fit's
    noise map states: measured on the frame with copies of the source's stamp at its limb distance along the
    limb (centres (li, sj), :func:`_along_limb_centres`).

    A source's flux read on the residual r = data − background of its annulus (``model.residuals[k]``,
    kernel ``kern``) takes, besides its own light, F_b = Σ a·r over its stamp, a = P/ΣP² (the PSF at the
    source, uniform weights, as :func:`fill_flux_err`'s). On copy j of the stamp (kept where its usable
    pixels are all clean: no neighbour's core; its pixels that are usable and not the source's own hole
    ``own``, a_j = a there renormalised to Σ a_j·P = 1):

        b_j = Σ a_j·r,    s_j = Σ ((δ − K)ᵀ a_j)² σ²

    (σ = ``model.noise``: s_j is what the fit states for b_j, the edge-padded sum :func:`psf_photometry`'s
    error uses), and

        var = (1.4826·MAD_j b_j)² + median_j(b_j)² − median_j(s_j)

    where the band model fits the ground (the misfit at this limb distance is noise the noise map already
    states) b_j scatters as s_j says and var ≈ 0; where it misfits the limb (a limb profile that is not the
    model's), the misfit's spread and its median along the limb add. Robust: a copy landing on a neighbour
    or a crater rim does not rule it."""
    if li.size < FILL_MIN_SHIFTS:
        return float("nan")
    nl, ns = model.usable.shape
    pl, ps = li[:, None] + stamp_l[None], sj[:, None] + stamp_s[None]
    hole = np.isin(pl * ns + ps, own[0] * ns + own[1])
    use = model.usable[pl, ps] & ~hole
    af = a.ravel()
    a2_use = (use * af[None] ** 2).sum(axis=1)
    # a copy's stamp on clean ground (as the rings' copies' holes are): a neighbour's core is not the ground
    keep = (a2_use > 0) & (model.clean[pl, ps] | ~use).all(axis=1)
    if keep.sum() < FILL_MIN_SHIFTS:
        return float("nan")
    pl, ps, use = pl[keep], ps[keep], use[keep]
    aj = np.where(use, af[None], 0.0) * (float(np.sum(af * af)) / a2_use[keep])[:, None]
    b = np.sum(aj * model.residuals[k][pl, ps], axis=1)
    m = a.shape[0]
    ap, bg_a = _padded_convolve(aj.reshape(-1, m, m), kern)
    g = ap - bg_a
    hk = kern.shape[0] // 2
    edge = np.clip(np.arange(-hk, m + hk), 0, m - 1)  # np.pad's "edge" mode, as psf_photometry's
    sig2 = np.where(use, model.noise[pl, ps].astype(np.float64) ** 2, 0.0).reshape(-1, m, m)
    stated = np.sum(g * g * sig2[:, edge[:, None], edge[None, :]], axis=(1, 2))
    med = float(median_or_nan(b))
    mad = float(median_or_nan(np.abs(b - med)))
    return (MAD_TO_SIGMA * mad) ** 2 + med**2 - float(median_or_nan(stated))
