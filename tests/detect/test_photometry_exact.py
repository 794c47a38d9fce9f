"""PSF photometry (:func:`ioscan.detect.photometry.psf_photometry`) equals, bit for bit, its version before
the speed-ups of issue 15 (written out below: psf.stamps stacked, the clean-pixel fill's box means on every
stamp, np.pad and ndimage.convolve for the background's error inflation), on scenes of sources near each
other and the frame edges, masked and not-clean pixels, round, two-component and elongated PSFs, both
background kernels; and the pieces on their own: the PSF stack, the padded convolution (up to the sign of
zeros, which its only use squares away)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect.background import background_kernel
from ioscan.detect.photometry import PsfFit, _padded_convolve, fit_radius_px, psf_photometry
from ioscan.detect.psf import PsfModel


def _stamp_operator_ref(kernel_bytes: bytes, size: int, r: int) -> np.ndarray:
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


def _effective_psf_ref(
    psf: PsfModel,
    x: np.ndarray,
    y: np.ndarray,
    kernel: np.ndarray,
    shape: tuple[int, int],
    r: int,
    clean: np.ndarray | None = None,
    memo: dict | None = None,
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

    Returns (P_eff, dP_eff/dx, dP_eff/dy, line index, sample index, inside), each (n, 2r+1, 2r+1).
    """
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
    else:
        li = ci[:, None, None] + off[None, :, None]
        sj = cj[:, None, None] + off[None, None, :]
        li, sj = np.broadcast_arrays(li, sj)
    p, dx, dy = psf.stamps(sj[:, :1, :].astype(float), li[:, :, :1].astype(float), x, y)
    stack = np.stack([np.broadcast_to(a, li.shape) for a in (p, dx, dy)])
    # the background model at the stamp's (2r+1)² pixels only: their kernel windows lie inside the big stamp,
    # so this equals ndimage.correlate(fed, kernel)[inner] at a small fraction of the cost
    inner = (slice(None), slice(big - r, big + r + 1), slice(big - r, big + r + 1))
    lo = big - r - h
    m, w = 2 * r + 1, 2 * r + 1 + 2 * h
    reg = (Ellipsis, slice(lo, lo + w), slice(lo, lo + w))
    fed = stack[reg]
    fw = 2 * hf + 1
    rows = slice(lo, lo + w)
    if clean is not None:
        if cached:
            c, den = memo["c"], memo["den"]
        else:
            ins = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
            c = (ins & clean[np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)]).astype(float)
            den = None
            if not c.all():
                den = ndimage.uniform_filter1d(c, fw, axis=1, mode="constant")[:, rows, :]
                den = ndimage.uniform_filter1d(den, fw, axis=2, mode="constant")[..., rows]
        if den is not None:
            # the (2hf+1)² box mean of the clean pixels, needed only in the kernel windows' region: the same
            # two 1-D passes as ndimage.uniform_filter (lines, then samples), the second on those lines only
            num = ndimage.uniform_filter1d(stack * c, fw, axis=2, mode="constant")[..., rows, :]
            num = ndimage.uniform_filter1d(num, fw, axis=3, mode="constant")[..., rows]
            fed = np.where(c[reg] > 0, fed, num / np.maximum(den, 1e-9))
    if memo is not None and not cached:
        memo.clear()
        memo.update(key=key, li=li, sj=sj)
        if clean is not None:
            memo.update(c=c, den=den)
    region = fed.reshape(fed.shape[0] * fed.shape[1], w * w)
    op = _stamp_operator_ref(np.ascontiguousarray(kernel, np.float64).tobytes(), kernel.shape[0], r)
    bgp = (region @ op).reshape(fed.shape[:2] + (m, m))
    out = [full[inner] - bk for full, bk in zip(stack, bgp, strict=True)]
    if cached and "pix" in memo:
        return (*out, *memo["pix"])
    lin, sin = li[inner], sj[inner]
    inside = (lin >= 0) & (lin < nl) & (sin >= 0) & (sin < ns)
    pix = (np.clip(lin, 0, nl - 1), np.clip(sin, 0, ns - 1), inside)
    if memo is not None:
        memo["pix"] = pix
    return (*out, *pix)


def _psf_photometry_ref(
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
        p, dpx, dpy, li, sj, inside = _effective_psf_ref(psf, x, y, kernel, shape, r, clean, memo)
        if pix is None or pix[0] is not li:
            ok = inside & usable[li, sj]
            w = np.where(ok, 1.0 / np.maximum(noise[li, sj].astype(np.float64), 1e-150) ** 2, 0.0)
            data0 = np.where(ok, resid[li, sj], 0.0)
            # the stamps' pixels inside the image, numbered by flat index (a pixel's number is its rank)
            flat, inv = np.unique((li * shape[1] + sj)[inside], return_inverse=True)
            pix = (li, ok, w, data0, flat.size, inv.reshape(-1))
        _, ok, w, data0, n_flat, inv = pix
        data = data0
        if n > 1 and it > 0:  # subtract the neighbours' current models
            # Σ of every source's model per pixel, summed in source order (np.add.at's sums, by bincount)
            model_px = np.bincount(inv, (flux[:, None, None] * p)[inside], minlength=n_flat)
            model_at = np.zeros(li.shape)
            model_at[inside] = model_px[inv]
            data = data - np.where(ok, model_at, 0.0) + np.where(ok, flux[:, None, None] * p, 0.0)
        if it == 0:
            flux = np.sum(w * p * data, axis=(1, 2)) / np.maximum(np.sum(w * p * p, axis=(1, 2)), 1e-300)
            continue
        jac = np.stack([p, flux[:, None, None] * dpx, flux[:, None, None] * dpy], axis=-1)
        h = np.einsum("nabi,nab,nabj->nij", jac, w, jac)
        if it == n_iter:
            break
        g = np.einsum("nabi,nab,nab->ni", jac, w, data - flux[:, None, None] * p)
        reg = np.eye(3)[None] * 1e-12 * np.maximum(np.abs(h).max(axis=(1, 2)), 1e-300)[:, None, None]
        step = np.linalg.solve(h + reg, g[..., None])[..., 0]
        step[:, 1:] = np.clip(step[:, 1:], -0.5, 0.5)
        flux = flux + step[:, 0]
        x = np.where(np.abs(x + step[:, 1] - x0) <= max_shift_px, x + step[:, 1], x)
        y = np.where(np.abs(y + step[:, 2] - y0) <= max_shift_px, y + step[:, 2], y)
    chi2 = np.sum(w * (data - flux[:, None, None] * p) ** 2, axis=(1, 2))
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
        pb, _, _, lb, sb, ib = _effective_psf_ref(psf, x[bad], y[bad], kernel, shape, r, clean)
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
    a = np.where(ok, w * p, 0.0) / np.maximum(np.sum(w * p * p, axis=(1, 2)), 1e-300)[:, None, None]
    hk = kernel.shape[0] // 2
    ap = np.pad(a, ((0, 0), (hk, hk), (hk, hk)))
    g = ap - ndimage.convolve(ap, kernel[None], mode="constant")
    sig2 = np.pad(np.where(ok, 1.0 / np.where(ok, w, 1.0), 0.0), ((0, 0), (hk, hk), (hk, hk)), mode="edge")
    infl = np.sqrt(
        np.sum(g * g * sig2, axis=(1, 2)) / np.maximum(np.sum(ap * ap * sig2, axis=(1, 2)), 1e-300)
    )
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


PSFS = [
    PsfModel((0.96, 0.04), (0.6, 2.5)),
    PsfModel((0.9, 0.1), (0.75, 2.0), elongation=1.4),
    PsfModel.gaussian(1.1),
]
KERNELS = [(1, 3, 2), (2, 6, 1)]


def _scene(rng, psf, n_src):
    """A 70 × 60 residual with n_src sources (some close pairs, some at the edges), its noise, usable and
    clean masks (cores of the bright sources and random pixels not clean; a few pixels not usable)."""
    nl, ns = 70, 60
    x0 = rng.uniform(-0.4, ns - 0.6, n_src)
    y0 = rng.uniform(-0.4, nl - 0.6, n_src)
    x0[: n_src // 3] = x0[n_src // 3 : 2 * (n_src // 3)] + rng.uniform(-3, 3, n_src // 3)
    x0 = np.clip(x0, -0.4, ns - 0.6)
    flux = 10 ** rng.uniform(1.5, 4.0, n_src)
    r = fit_radius_px(psf) + 4
    resid = np.zeros((nl, ns))
    for xs, ys, f in zip(x0, y0, flux, strict=True):
        i, j = int(np.rint(ys)), int(np.rint(xs))
        li, sj = np.arange(i - r, i + r + 1), np.arange(j - r, j + r + 1)
        p, _, _ = psf.stamps(sj[None, None, :].astype(float), li[None, :, None].astype(float),
                             np.array([xs]), np.array([ys]))  # fmt: skip
        gl, gs = np.meshgrid(li, sj, indexing="ij")
        inside = (gl >= 0) & (gl < nl) & (gs >= 0) & (gs < ns)
        np.add.at(resid, (gl[inside], gs[inside]), f * p[0][inside])
    noise = rng.uniform(0.8, 1.5, (nl, ns)).astype(np.float32)
    resid += noise * rng.normal(size=(nl, ns))
    usable = rng.random((nl, ns)) > 0.02
    clean = usable & (resid < 40.0) & (rng.random((nl, ns)) > 0.03)
    xs = np.clip(np.rint(x0), 0, ns - 1) + rng.uniform(-0.5, 0.5, n_src)
    ys = np.clip(np.rint(y0), 0, nl - 1) + rng.uniform(-0.5, 0.5, n_src)
    return resid, noise, usable, clean, xs, ys


def _same(a: PsfFit, b: PsfFit) -> None:
    for name in a.__dataclass_fields__:
        u, v = getattr(a, name), getattr(b, name)
        assert u.dtype == v.dtype and u.shape == v.shape
        assert u.tobytes() == v.tobytes(), name


@pytest.mark.parametrize("psf", PSFS)
@pytest.mark.parametrize("annulus", KERNELS)
def test_psf_photometry_equals_first_version_bit_for_bit(psf, annulus):
    rng = np.random.default_rng(hash((annulus, psf.sigmas_px)) % 2**32)
    kernel = background_kernel(*annulus)
    for n_src, with_clean in ((1, True), (2, True), (12, True), (25, True), (12, False)):
        resid, noise, usable, clean, x0, y0 = _scene(rng, psf, n_src)
        cl = clean if with_clean else None
        new = psf_photometry(resid, noise, usable, x0, y0, psf, kernel, clean=cl)
        old = _psf_photometry_ref(resid, noise, usable, x0, y0, psf, kernel, clean=cl)
        _same(new, old)
        # an all-clean mask (no fill) and a badly masked one (fits that fall back to fixed positions)
        new = psf_photometry(resid, noise, usable, x0, y0, psf, kernel, clean=np.ones_like(clean))
        _same(new, _psf_photometry_ref(resid, noise, usable, x0, y0, psf, kernel, clean=np.ones_like(clean)))
        sparse = usable & (rng.random(usable.shape) > 0.6)
        new = psf_photometry(-resid, noise, sparse, x0, y0, psf, kernel, clean=cl)
        _same(new, _psf_photometry_ref(-resid, noise, sparse, x0, y0, psf, kernel, clean=cl))


@pytest.mark.parametrize("psf", PSFS)
def test_psf_stack_is_psf_stamps(psf):
    rng = np.random.default_rng(3)
    x0, y0 = rng.uniform(5, 15, 7), rng.uniform(5, 15, 7)
    xs = (np.rint(x0)[:, None, None] + np.arange(-9, 10)[None, None, :]).astype(float)
    ys = (np.rint(y0)[:, None, None] + np.arange(-9, 10)[None, :, None]).astype(float)
    want = np.stack(psf.stamps_numpy(xs, ys, x0, y0))
    assert psf.stamp_grid(xs, ys, x0, y0).tobytes() == want.tobytes()
    alone = psf.stamp_grid(xs, ys, x0, y0, derivatives=False)
    assert alone[0].tobytes() == want[0].tobytes() and not alone[1:].any()


def test_padded_convolve_is_ndimage_convolve():
    """Equal where not zero, and the same squares everywhere (zeros may differ in sign); kernels with weights
    below DBL_EPSILON (ndimage leaves them out), negative weights and inputs with zeros."""
    rng = np.random.default_rng(5)
    for size, m in ((7, 5), (13, 5), (5, 7), (3, 3)):
        for _ in range(20):
            kernel = rng.normal(size=(size, size))
            kernel[rng.random((size, size)) < 0.2] = 0.0
            kernel[rng.random((size, size)) < 0.1] = 1e-17
            a = rng.normal(size=(6, m, m)) * 10 ** rng.uniform(-5, 5, (6, m, m))
            a[rng.random(a.shape) < 0.3] = 0.0
            hk = size // 2
            ap_want = np.pad(a, ((0, 0), (hk, hk), (hk, hk)))
            want = ndimage.convolve(ap_want, kernel[None], mode="constant")
            ap, got = _padded_convolve(a, kernel)
            assert ap.tobytes() == ap_want.tobytes()
            nz = want != 0
            assert np.array_equal(got[nz], want[nz]) and np.all(got[~nz] == 0)
            g_want, g_got = ap_want - want, ap - got
            assert (g_got * g_got).tobytes() == (g_want * g_want).tobytes()
