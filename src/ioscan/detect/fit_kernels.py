"""Compiled loops of detection's fits, PSF measurement and limb check (numba, ``cache=True``: compiled once
per machine into ``__pycache__`` — or ``NUMBA_CACHE_DIR`` — then loaded from there by every process and Dask
worker; no fastmath, no parallel: workers are processes).

Each kernel makes, in one pass, what a chain of numpy calls made before, with the same floating-point
operations in the same order, so the results are the same bit for bit:

* numpy's ``np.sum(x, axis=(1, 2))`` over a C-contiguous (n, a, b) array is its pairwise summation of each
  stamp's a·b values (:func:`_pairwise`: 8 running partial sums up to 128 values, halves beyond);
* ``np.einsum("nabi,nab,nabj->nij", J, w, J)`` is, per output element, ``(J_i·w)·J_j`` summed in (a, b)
  order from 0.0;
* ``scipy.ndimage.uniform_filter1d(mode="constant")`` is a running sum of the window (first window summed
  in order, then + entering − leaving value), each output that sum ÷ the window size;
* numpy compares and combines a float32 array with a Python float in float32: such constants are passed in
  the array's type, and float32 arithmetic stays float32.

What numba cannot reproduce stays with numpy and scipy: ``np.exp`` (numpy's SIMD exp differs from libm's in
the last bit of ~5 % of values), scipy's erf, the BLAS product and the LAPACK solves.

Units: stamps and profiles are in pixels (lines, samples); values carry the units of the data they are
given (DN or radiance per pixel, weights 1/σ² of the same). ``tests/detect/test_fit_kernels.py`` checks every
kernel against the numpy / scipy code it replaces on random inputs (NaN, ±0, masked pixels, frame edges).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ioscan.detect.background_kernels import _pairwise_small


@njit(cache=True)
def _pairwise(x: np.ndarray, i0: int, n: int) -> float:
    """numpy's pairwise sum of the contiguous values x[i0 : i0 + n] (float64)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += x[i0 + i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = x[i0], x[i0 + 1], x[i0 + 2], x[i0 + 3]
        r4, r5, r6, r7 = x[i0 + 4], x[i0 + 5], x[i0 + 6], x[i0 + 7]
        i = 8
        end = n - n % 8
        while i < end:
            r0 += x[i0 + i]
            r1 += x[i0 + i + 1]
            r2 += x[i0 + i + 2]
            r3 += x[i0 + i + 3]
            r4 += x[i0 + i + 4]
            r5 += x[i0 + i + 5]
            r6 += x[i0 + i + 6]
            r7 += x[i0 + i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += x[i0 + i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(x, i0, n2) + _pairwise(x, i0 + n2, n - n2)


@njit(cache=True)
def stamp_sums(a: np.ndarray) -> np.ndarray:
    """``np.sum(a, axis=(1, 2))`` of a C-contiguous (n, m, m) float64 array, bit for bit."""
    n = a.shape[0]
    k = a.shape[1] * a.shape[2]
    flat = a.reshape(n * k)
    out = np.empty(n)
    for s in range(n):
        out[s] = 0.0 + _pairwise(flat, s * k, k)
    return out


@njit(cache=True)
def psf_stamps(val: np.ndarray, dval: np.ndarray, weights: np.ndarray, n: int, m: int, derivatives: bool):
    """(3, n, m, m): Σ_k w_k · px·py and its derivatives dP/dx0 = Σ w_k·dpx·py, dP/dy0 = Σ w_k·px·dpy from the
    1-D pixel-integrated profiles ``val``, ``dval`` (k components, 2 axes — samples then lines —, n·m
    offsets: one stamp's m samples or lines after another), the sums in component order from 0.0 as
    :meth:`ioscan.detect.psf.PsfModel.stamps` makes them. Without ``derivatives`` their planes are 0."""
    out = np.zeros((3, n, m, m))
    for j in range(weights.size):
        w = weights[j]
        first = j == 0  # (the sums start from 0.0; the branches outside the inner loops, which vectorise)
        for s in range(n):
            o = s * m
            for a in range(m):
                py = val[j, 1, o + a]
                dpy = dval[j, 1, o + a]
                if first:
                    for b in range(m):
                        out[0, s, a, b] = 0.0 + (w * val[j, 0, o + b]) * py
                else:
                    for b in range(m):
                        out[0, s, a, b] = out[0, s, a, b] + (w * val[j, 0, o + b]) * py
                if not derivatives:
                    continue
                if first:
                    for b in range(m):
                        out[1, s, a, b] = 0.0 + (w * dval[j, 0, o + b]) * py
                        out[2, s, a, b] = 0.0 + (w * val[j, 0, o + b]) * dpy
                else:
                    for b in range(m):
                        out[1, s, a, b] = out[1, s, a, b] + (w * dval[j, 0, o + b]) * py
                        out[2, s, a, b] = out[2, s, a, b] + (w * val[j, 0, o + b]) * dpy
    return out


@njit(cache=True)
def _box_mean_line(x: np.ndarray, size: int, out: np.ndarray) -> None:
    """``uniform_filter1d(x, size, mode="constant")`` of one line (zeros beyond its ends), into ``out``."""
    _box_mean_line_upto(x, size, out, x.size)


@njit(cache=True)
def _box_mean_line_upto(x: np.ndarray, size: int, out: np.ndarray, n_out: int) -> None:
    """:func:`_box_mean_line`'s first ``n_out`` outputs (the same running sum, stopped there: the values
    before it do not depend on what follows; reads ``x`` up to n_out − 1 + size − size // 2 − 1)."""
    n = x.size
    s1 = size // 2
    s2 = size - s1 - 1
    tmp = 0.0
    for i in range(-s1, s2 + 1):
        tmp += x[i] if 0 <= i < n else 0.0
    out[0] = tmp / size
    for i in range(1, n_out):
        hi, lo = i + s2, i - s1 - 1
        tmp += (x[hi] if hi < n else 0.0) - (x[lo] if lo >= 0 else 0.0)
        out[i] = tmp / size


@njit(cache=True)
def _box_mean_columns(
    x: np.ndarray, c: np.ndarray, size: int, n_rows: int, n_cols: int, tmp: np.ndarray, out: np.ndarray
) -> None:
    """:func:`_box_mean_line_upto` of every column j < ``n_cols`` of x·c (x, c: (B, B)), its first
    ``n_rows`` outputs into out[:n_rows, j]: the same running sum per column (first window from 0.0, then
    + entering − leaving value, each ÷ size), the columns side by side (row by row, so the loop over columns
    vectorises; ``tmp``: a (≥ n_cols,) buffer)."""
    n = x.shape[0]
    s1 = size // 2
    s2 = size - s1 - 1
    for j in range(n_cols):
        tmp[j] = 0.0
    for i in range(-s1, s2 + 1):
        if 0 <= i < n:
            for j in range(n_cols):
                tmp[j] += x[i, j] * c[i, j]
        else:
            for j in range(n_cols):
                tmp[j] += 0.0
    for j in range(n_cols):
        out[0, j] = tmp[j] / size
    for i in range(1, n_rows):
        hi, lo = i + s2, i - s1 - 1
        if hi < n and lo >= 0:
            for j in range(n_cols):
                tmp[j] += x[hi, j] * c[hi, j] - x[lo, j] * c[lo, j]
                out[i, j] = tmp[j] / size
        elif hi < n:
            for j in range(n_cols):
                tmp[j] += x[hi, j] * c[hi, j] - 0.0
                out[i, j] = tmp[j] / size
        elif lo >= 0:
            for j in range(n_cols):
                tmp[j] += 0.0 - x[lo, j] * c[lo, j]
                out[i, j] = tmp[j] / size
        else:
            for j in range(n_cols):
                tmp[j] += 0.0 - 0.0
                out[i, j] = tmp[j] / size


@njit(cache=True)
def fill_unclean(
    stack: np.ndarray,
    c: np.ndarray,
    sub: np.ndarray,
    lines: np.ndarray,
    keep: np.ndarray,
    den: np.ndarray,
    at: np.ndarray,
    lo: int,
    hf: int,
    nd: int,
    fed: np.ndarray,
) -> None:
    """In place in ``fed`` (3, n, w, w: the planes of ``stack`` (3, n, B, B) on the kernel windows' region
    [lo, lo + w)²): the pixels that are not clean, on the region lines ``lines`` (index q·w + line of the
    stamps ``sub``; ``at``: the same lines as s·w + line of all stamps), take the (2hf+1)² box mean of the
    clean ones, ``uniform_filter1d`` of stack·c along the lines then the samples ÷ ``den`` (the same of c),
    as :func:`ioscan.detect.photometry.effective_psf` makes them; ``keep``: the clean flags of those lines.
    The first ``nd`` planes only."""
    big = stack.shape[2]
    w = fed.shape[2]
    fw = 2 * hf + 1
    tmp = np.empty(big)
    row = np.empty(big)
    rowf = np.empty(big)
    vert = np.empty((big, big))  # the vertical pass of one stamp's plane, where it is read
    t = 0
    nl = lines.size
    for q in range(sub.size):
        s = sub[q]
        if t >= nl or lines[t] // w != q:
            continue
        # the running sums are made from each line's start up to the last output read: the last region line
        # holding an unclean pixel (vertical pass) and its last unclean sample (horizontal pass); the values
        # before it are those of the whole line's filter
        last_line, last_col = 0, 0
        u = t
        while u < nl and lines[u] // w == q:
            last_line = max(last_line, lines[u] % w)
            for j in range(w):
                if not keep[u, j]:
                    last_col = max(last_col, j)
            u += 1
        n_rows = lo + last_line + 1  # vertical outputs read
        n_cols = min(big, lo + last_col + hf + 1)  # columns the horizontal pass reads
        for d in range(nd):
            _box_mean_columns(stack[d, s], c[q], fw, n_rows, n_cols, tmp, vert)
            u = t
            while u < nl and lines[u] // w == q:
                li = lines[u] % w
                for j in range(n_cols):
                    row[j] = vert[lo + li, j]
                _box_mean_line_upto(row, fw, rowf, lo + last_col + 1)
                for j in range(w):
                    if not keep[u, j]:
                        fed[d, at[u] // w, at[u] % w, j] = rowf[lo + j] / den[u, j]
                u += 1
        while t < nl and lines[t] // w == q:
            t += 1


@njit(cache=True)
def source_fit_sums(
    p: np.ndarray,
    dpx: np.ndarray,
    dpy: np.ndarray,
    w: np.ndarray,
    data0: np.ndarray,
    ok: np.ndarray,
    inside: np.ndarray,
    inv: np.ndarray,
    n_flat: int,
    flux: np.ndarray,
    subtract: bool,
    want_g: bool,
):
    """One Gauss–Newton step's sums of :func:`ioscan.detect.photometry.psf_photometry` (stamps (n, m, m)):
    the data with the neighbours' models subtracted (``subtract``: Σ of every source's flux·P per image pixel
    — ``inv`` numbers the stamps' pixels inside the image — summed in source order, added back for the source
    itself, on ``ok`` pixels), the normal matrix h (n, 3, 3) of the Jacobian [P, flux·dP/dx, flux·dP/dy]
    with weights w and, when ``want_g``, its gradient g (n, 3) against the residual data − flux·P (np.einsum's
    sums). Returns (data, h, g)."""
    n, m = p.shape[0], p.shape[1]
    data = data0.astype(np.float64)  # (float32 data: numpy's sums below are float64 too)
    if subtract:
        model_px = np.zeros(n_flat)
        t = 0
        for s in range(n):
            for a in range(m):
                for b in range(m):
                    if inside[s, a, b]:
                        model_px[inv[t]] += flux[s] * p[s, a, b]
                        t += 1
        t = 0
        for s in range(n):
            for a in range(m):
                for b in range(m):
                    at = 0.0
                    if inside[s, a, b]:
                        at = model_px[inv[t]]
                        t += 1
                    d0 = np.float64(data0[s, a, b])
                    if ok[s, a, b]:
                        data[s, a, b] = (d0 - at) + flux[s] * p[s, a, b]
                    else:
                        data[s, a, b] = (d0 - 0.0) + 0.0
    h = np.zeros((n, 3, 3))
    g = np.zeros((n, 3))
    jac = np.empty(3)
    for s in range(n):
        f = flux[s]
        for a in range(m):
            for b in range(m):
                jac[0] = p[s, a, b]
                jac[1] = f * dpx[s, a, b]
                jac[2] = f * dpy[s, a, b]
                wt = w[s, a, b]
                r = data[s, a, b] - f * p[s, a, b]
                for i in range(3):
                    jw = jac[i] * wt
                    for j in range(3):
                        h[s, i, j] += jw * jac[j]
                    if want_g:
                        g[s, i] += jw * r
    return data, h, g


@njit(cache=True)
def stamp_weights(
    li: np.ndarray,
    sj: np.ndarray,
    inside: np.ndarray,
    usable: np.ndarray,
    noise: np.ndarray,
    resid: np.ndarray,
):
    """The stamps' fitted pixels, weights and data of :func:`ioscan.detect.photometry.psf_photometry` (li,
    sj: the stamps' pixels (n, m, m), clipped into the image; ``inside``: not clipped): ok = inside &
    usable[li, sj], w = 1 / max(float64(noise), 1e-150)² on ok pixels (NaN kept, as np.maximum), else 0, and
    the residual on ok pixels (its type; 0 elsewhere) — numpy's values. Returns (ok, w, data0)."""
    n, m1, m2 = li.shape
    ok = np.empty((n, m1, m2), np.bool_)
    w = np.empty((n, m1, m2))
    data0 = np.empty((n, m1, m2), resid.dtype)
    for s in range(n):
        for a in range(m1):
            for b in range(m2):
                i, j = li[s, a, b], sj[s, a, b]
                good = inside[s, a, b] and usable[i, j]
                ok[s, a, b] = good
                if good:
                    v = np.float64(noise[i, j])
                    if v < 1e-150:
                        v = 1e-150
                    w[s, a, b] = 1.0 / (v * v)
                    data0[s, a, b] = resid[i, j]
                else:
                    w[s, a, b] = 0.0
                    data0[s, a, b] = 0
    return ok, w, data0


@njit(cache=True)
def pixel_ranks(li: np.ndarray, sj: np.ndarray, inside: np.ndarray, ns: int):
    """``np.unique((li * ns + sj)[inside], return_inverse=True)``'s inverse (flattened) and number of
    distinct values: each stamp pixel inside the image (row-major over (n, m, m)) numbered by the rank of its
    flat index among the distinct ones. Returns (inverse, count)."""
    total = 0
    for v in inside.ravel():
        if v:
            total += 1
    vals = np.empty(total, np.int64)
    lf, sf, inf_ = li.ravel(), sj.ravel(), inside.ravel()
    t = 0
    for q in range(inf_.size):
        if inf_[q]:
            vals[t] = np.int64(lf[q]) * ns + sf[q]
            t += 1
    order = np.argsort(vals, kind="mergesort")
    inv = np.empty(total, np.intp)
    rank = -1
    last = np.int64(0)
    for q in range(total):
        v = vals[order[q]]
        if q == 0 or v != last:
            rank += 1
            last = v
        inv[order[q]] = rank
    return inv, rank + 1


@njit(cache=True)
def linear_flux(p: np.ndarray, w: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Σ w·P·data ÷ max(Σ w·P², 1e-300) per stamp (the fit's first, linear amplitude; numpy's pairwise
    sums)."""
    n, m = p.shape[0], p.shape[1]
    num = np.empty((n, m, m))
    den = np.empty((n, m, m))
    for s in range(n):
        for a in range(m):
            for b in range(m):
                wp = w[s, a, b] * p[s, a, b]
                num[s, a, b] = wp * data[s, a, b]
                den[s, a, b] = wp * p[s, a, b]
    return stamp_sums(num) / np.maximum(stamp_sums(den), 1e-300)


@njit(cache=True)
def weighted_chi2(w: np.ndarray, data: np.ndarray, flux: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Σ w·(data − flux·P)² per stamp (numpy's pairwise sums)."""
    n, m = p.shape[0], p.shape[1]
    t = np.empty((n, m, m))
    for s in range(n):
        for a in range(m):
            for b in range(m):
                r = data[s, a, b] - flux[s] * p[s, a, b]
                t[s, a, b] = w[s, a, b] * (r * r)
    return stamp_sums(t)


@njit(cache=True)
def flux_inflation_sums(p: np.ndarray, w: np.ndarray, ok: np.ndarray, wk: np.ndarray):
    """The two sums of :func:`ioscan.detect.photometry.psf_photometry`'s background inflation, per stamp
    (p, w, ok: (n, m, m)): with a = where(ok, w·P, 0) / max(Σ w·P·P, 1e-300), ap = a zero-padded to
    (m + 2hk)², the kernel's share K∗a = Σ_k a_k·wk[k] (``wk``: :func:`photometry._scatter_weights`, (m²,
    m + 2hk, m + 2hk); summed in pixel order from a_0·wk[0], as ``_padded_convolve``), g = ap − K∗a and σ² =
    1/w on ok pixels (0 elsewhere) padded by the edge values: (Σ g·g·σ², Σ ap·ap·σ²), numpy's products and
    pairwise sums bit for bit."""
    n, m = p.shape[0], p.shape[1]
    mm = m * m
    big = wk.shape[1]
    hk = (big - m) // 2
    t = np.empty((n, m, m))
    for s in range(n):
        for a in range(m):
            for b in range(m):
                t[s, a, b] = (w[s, a, b] * p[s, a, b]) * p[s, a, b]
    sp2 = stamp_sums(t)
    num_t = np.empty((n, big, big))
    den_t = np.empty((n, big, big))
    acc = np.empty((big, big))
    av = np.empty(mm)
    for s in range(n):
        d = sp2[s]
        if not (d != d or d > 1e-300):  # np.maximum(d, 1e-300): NaN kept
            d = 1e-300
        for k in range(mm):
            a, b = k // m, k % m
            av[k] = (w[s, a, b] * p[s, a, b] if ok[s, a, b] else 0.0) / d
        for i in range(big):
            for j in range(big):
                acc[i, j] = av[0] * wk[0, i, j]
        for k in range(1, mm):
            ak = av[k]
            for i in range(big):
                for j in range(big):
                    acc[i, j] += ak * wk[k, i, j]
        for i in range(big):
            ei = min(max(i - hk, 0), m - 1)
            for j in range(big):
                ej = min(max(j - hk, 0), m - 1)
                ap = 0.0
                if hk <= i < hk + m and hk <= j < hk + m:
                    ap = av[(i - hk) * m + (j - hk)]
                g = ap - acc[i, j]
                sg = 1.0 / w[s, ei, ej] if ok[s, ei, ej] else 0.0
                num_t[s, i, j] = (g * g) * sg
                den_t[s, i, j] = (ap * ap) * sg
    return stamp_sums(num_t), stamp_sums(den_t)


@njit(cache=True)
def normal_equations(
    jac: np.ndarray,
    w: np.ndarray,
    data: np.ndarray,
    model: np.ndarray,
    rows: np.ndarray,
    h: np.ndarray,
    g: np.ndarray,
) -> None:
    """h[s] = Σ (J_i·w)·J_j and g[s] = Σ (J_i·w)·(data − model) over each stamp s of ``rows`` (J (n, m, m, k);
    w, data, model (n, m, m)), np.einsum's sums, written into h (n, k, k) and g (n, k)."""
    m1, m2, k = jac.shape[1], jac.shape[2], jac.shape[3]
    for s in rows:
        for i in range(k):
            for j in range(k):
                h[s, i, j] = 0.0
            g[s, i] = 0.0
        for a in range(m1):
            for b in range(m2):
                wt = w[s, a, b]
                rr = data[s, a, b] - model[s, a, b]
                for i in range(k):
                    jw = jac[s, a, b, i] * wt
                    for j in range(k):
                        h[s, i, j] += jw * jac[s, a, b, j]
                    g[s, i] += jw * rr


@njit(cache=True)
def elliptical_model(
    q: np.ndarray, g: np.ndarray, dc: np.ndarray, ds: np.ndarray, xc: np.ndarray, yc: np.ndarray
):
    """Model (n, m, m) and Jacobian (n, m, m, 8) of
    :func:`ioscan.detect.psf_estimate.fit_elliptical_gaussians` at parameters q (n, 8: amplitude, centre x, y
    px, σ_x, σ_y px, plane offset and slopes per px) from the 1-D profiles g, dc, ds (n, 2, m: samples then
    lines; value, d/dcentre, d/dσ), xc, yc (m, m) the pixel offsets from the stamp centre:
    a·gy·gx + q5 + q6·xc + q7·yc and [gy·gx, a·gy·dxc, a·dyc·gx, a·gy·dxs, a·dys·gx, 1, xc, yc], numpy's
    products in numpy's order."""
    n, m = g.shape[0], g.shape[2]
    model = np.empty((n, m, m))
    jac = np.empty((n, m, m, 8))
    for s in range(n):
        a = q[s, 0]
        for i in range(m):
            gy, dyc, dys = g[s, 1, i], dc[s, 1, i], ds[s, 1, i]
            agy = a * gy
            for j in range(m):
                gx = g[s, 0, j]
                core = gy * gx
                model[s, i, j] = ((a * core + q[s, 5]) + q[s, 6] * xc[i, j]) + q[s, 7] * yc[i, j]
                jac[s, i, j, 0] = core
                jac[s, i, j, 1] = agy * dc[s, 0, j]
                jac[s, i, j, 2] = (a * dyc) * gx
                jac[s, i, j, 3] = agy * ds[s, 0, j]
                jac[s, i, j, 4] = (a * dys) * gx
                jac[s, i, j, 5] = 1.0
                jac[s, i, j, 6] = xc[i, j]
                jac[s, i, j, 7] = yc[i, j]
    return model, jac


@njit(cache=True)
def weighted_misfit(w: np.ndarray, data: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Σ w·(data − model)² per stamp (n, m, m) (numpy's pairwise sums)."""
    n, m = data.shape[0], data.shape[1]
    t = np.empty((n, m, m))
    for s in range(n):
        for a in range(m):
            for b in range(m):
                r = data[s, a, b] - model[s, a, b]
                t[s, a, b] = w[s, a, b] * (r * r)
    return stamp_sums(t)


@njit(cache=True)
def _med3(a: float, b: float, c: float) -> float:
    """The median of three (no NaN): max(min(a, b), min(max(a, b), c))."""
    return max(min(a, b), min(max(a, b), c))


@njit(cache=True)
def median3_finite(x: np.ndarray) -> np.ndarray:
    """3 × 3 median filter of an image without NaN or −0 (edges: nearest value; the values' own type): each
    line's columns of 3 sorted once and shared by the three windows that hold them, the median of 9 being
    the median of the largest low, the middle middle and the smallest high (the network of
    :func:`ioscan.detect.limb.median3`, pixel by pixel). Min and max are exact, so every median is the same
    value; without NaN and without −0 it has the same bits as
    ``ndimage.median_filter(x, 3, mode="nearest")``."""
    nl, ns = x.shape
    out = np.empty_like(x)
    low = np.empty(ns, x.dtype)
    mid = np.empty(ns, x.dtype)
    high = np.empty(ns, x.dtype)
    for i in range(nl):
        i0, i2 = max(i - 1, 0), min(i + 1, nl - 1)
        for j in range(ns):
            a, b, c = x[i0, j], x[i, j], x[i2, j]
            t1, t2 = min(a, b), max(a, b)
            low[j], t3 = min(t1, c), max(t1, c)
            mid[j], high[j] = min(t2, t3), max(t2, t3)
        for j in range(ns):
            j0, j2 = max(j - 1, 0), min(j + 1, ns - 1)
            lo3 = max(max(low[j0], low[j]), low[j2])
            hi3 = min(min(high[j0], high[j]), high[j2])
            out[i, j] = _med3(_med3(mid[j0], mid[j], mid[j2]), lo3, hi3)
    return out


@njit(cache=True, error_model="numpy")
def level_crossings(f: np.ndarray, t: np.ndarray, level) -> np.ndarray:
    """Per row of ``f`` (n, T: profiles normalised 0 → 1 across an edge, sampled at offsets ``t`` px), the
    offset (px) where it crosses ``level`` nearest the middle, linearly interpolated; NaN where it never does.
    ``level`` in f's type (numpy compares and subtracts a Python float in f's type); the same operations as
    :func:`ioscan.detect.limb._crossing` made with numpy."""
    n, nt = f.shape
    mid = (nt - 1) / 2.0
    dt = t[1] - t[0]
    out = np.empty(n)
    for i in range(n):
        best, c = np.inf, 0
        for k in range(nt - 1):
            if (f[i, k + 1] >= level) != (f[i, k] >= level):
                far = abs(k + 0.5 - mid)
                if far < best:
                    best, c = far, k
        if best == np.inf:
            out[i] = np.nan
            continue
        f0, f1 = f[i, c], f[i, c + 1]
        frac = (level - f0) / (f1 - f0) if f1 != f0 else level - level  # (+0 in f's type)
        out[i] = t[c] + frac * dt
    return out


@njit(cache=True, error_model="numpy")
def steepest_rise(prof: np.ndarray, t: np.ndarray, reach_px: float, two, half) -> np.ndarray:
    """Per profile (rows of ``prof``, n × T, sampled at offsets ``t`` px), the offset (px) of its steepest
    rise within ``reach_px`` of the middle: the parabola through the largest finite difference and its
    neighbours; NaN when the vertex lies more than one step away. ``two``, ``half``: 2 and 0.5 in prof's type
    (numpy's Python scalars); the same operations as :func:`ioscan.detect.limb._steepest` made with numpy
    (np.argmax's first maximum, a NaN counting as the maximum)."""
    n, nt = prof.shape
    ng = nt - 1
    dt = t[1] - t[0]
    k0, k1 = -1, -1  # the differences whose mid-offsets lie within reach (a contiguous run)
    for k in range(ng):
        if abs(0.5 * (t[k + 1] + t[k])) <= reach_px:
            if k0 < 0:
                k0 = k
            k1 = k
    out = np.empty(n)
    for i in range(n):
        best = prof[i, k0 + 1] - prof[i, k0]
        kb = k0
        if best == best:
            for k in range(k0 + 1, k1 + 1):
                gk = prof[i, k + 1] - prof[i, k]
                if gk != gk:  # NaN: argmax's answer
                    kb = k
                    break
                if gk > best:
                    best, kb = gk, k
        k = min(max(kb, 1), ng - 2)
        gm = prof[i, k] - prof[i, k - 1]
        g0 = prof[i, k + 1] - prof[i, k]
        gp = prof[i, k + 2] - prof[i, k + 1]
        den = (gm - two * g0) + gp
        frac = half * (gm - gp) / den if den < 0 else two - two  # (two − two: +0 in prof's type)
        tg = 0.5 * (t[k + 1] + t[k])
        out[i] = tg + frac * dt if abs(frac) <= 1.0 else np.nan
    return out


@njit(cache=True)
def local_maxima(z: np.ndarray, lo):
    """The pixels where ``z`` > ``lo`` (given in z's type, as numpy compares a Python float), in row-major
    order as ``np.nonzero`` gives them: (line, sample, whether z there equals the maximum of its 3 × 3
    neighbourhood, edges nearest — False where a neighbour is NaN, as np.maximum's NaN makes it)."""
    nl, ns = z.shape
    count = 0
    for i in range(nl):
        for j in range(ns):
            if z[i, j] > lo:
                count += 1
    ci = np.empty(count, np.intp)
    cj = np.empty(count, np.intp)
    is_max = np.empty(count, np.bool_)
    t = 0
    for i in range(nl):
        for j in range(ns):
            if z[i, j] > lo:
                top = -np.inf
                nan = False
                for di in range(-1, 2):
                    ii = min(max(i + di, 0), nl - 1)
                    for dj in range(-1, 2):
                        v = z[ii, min(max(j + dj, 0), ns - 1)]
                        if v != v:
                            nan = True
                        elif v > top:
                            top = v
                ci[t], cj[t] = i, j
                is_max[t] = (not nan) and z[i, j] == top
                t += 1
    return ci, cj, is_max


@njit(cache=True)
def profile_arguments(u: np.ndarray, sig: np.ndarray, sqrt2: float):
    """The arguments of the pixel-integrated 1-D Gaussians of :func:`ioscan.detect.psf._integrated_1d` at
    offsets u (2, N: samples then lines, px) for widths sig (k, 2, px): (a, b) = (u ± 0.5) / (√2·σ) as
    (2, k, 2, N), and −a², −b² (the exponents), numpy's operations. erf and exp are taken by numpy on the
    results (its own exp: the same bits as the definition's), then :func:`profile_values_shared`."""
    k, n = sig.shape[0], u.shape[1]
    ab = np.empty((2, k, 2, n))
    nsq = np.empty((2, k, 2, n))
    for j in range(k):
        for ax in range(2):
            den = sqrt2 * sig[j, ax]
            for t in range(n):
                a = (u[ax, t] + 0.5) / den
                b = (u[ax, t] - 0.5) / den
                ab[0, j, ax, t] = a
                ab[1, j, ax, t] = b
                nsq[0, j, ax, t] = -(a * a)
                nsq[1, j, ax, t] = -(b * b)
    return ab, nsq


@njit(cache=True)
def shared_erf_arguments(ab: np.ndarray):
    """:func:`profile_arguments`' (a, b) (2, k, 2, N) with each erf argument that repeats the one before it
    taken once: along the offsets of a component and axis, b at offset t is most often a at t − 1 (a stamp's
    pixel edges are shared: (u + 1) − 0.5 and u + 0.5 round alike), so the values given to erf are the a's
    and only those b's that differ (bit for bit: equal and not 0, so that ±0 stay apart). Returns (the
    arguments (M,), the index of each of ab's values among them (2, k, 2, N)); erf of the arguments read at
    the index is erf(ab), the same values (erf is a function of its argument's bits)."""
    k, n = ab.shape[1], ab.shape[3]
    args = np.empty(2 * k * 2 * n)
    idx = np.empty((2, k, 2, n), np.intp)
    m = 0
    for j in range(k):
        for ax in range(2):
            prev = np.nan
            for t in range(n):
                a, b = ab[0, j, ax, t], ab[1, j, ax, t]
                if b == prev and b != 0.0:
                    idx[1, j, ax, t] = m - 1
                else:
                    args[m] = b
                    idx[1, j, ax, t] = m
                    m += 1
                args[m] = a
                idx[0, j, ax, t] = m
                m += 1
                prev = a
    return args[:m], idx


@njit(cache=True)
def grid_erf_arguments(
    sj0: np.ndarray, li0: np.ndarray, m: int, x0: np.ndarray, y0: np.ndarray, sig, sqrt2: float
):
    """:func:`profile_arguments` then :func:`shared_erf_arguments` of the square stamps of m pixels whose
    first sample and line are the integers ``sj0``, ``li0`` (n,) at sources (x0, y0): the offsets pixel −
    source as numpy makes them (the pixel as float64, minus the source), in one call. Returns (the erf
    arguments, their index, −a² and −b²)."""
    n = sj0.shape[0]
    u = np.empty((2, n * m))
    for s in range(n):
        for t in range(m):
            u[0, s * m + t] = float(sj0[s] + t) - x0[s]
            u[1, s * m + t] = float(li0[s] + t) - y0[s]
    ab, nsq = profile_arguments(u, sig, sqrt2)
    args, idx = shared_erf_arguments(ab)
    return args, idx, nsq


@njit(cache=True)
def psf_stamps_shared(
    erf_args: np.ndarray,
    idx: np.ndarray,
    exp_ab: np.ndarray,
    sig: np.ndarray,
    sqrt2pi: float,
    weights: np.ndarray,
    n: int,
    m: int,
    derivatives: bool,
):
    """:func:`profile_values_shared` then :func:`psf_stamps`, in one call (the same values)."""
    val, dval = profile_values_shared(erf_args, idx, exp_ab, sig, sqrt2pi)
    return psf_stamps(val, dval, weights, n, m, derivatives)


@njit(cache=True)
def profile_values_shared(
    erf_args: np.ndarray, idx: np.ndarray, exp_ab: np.ndarray, sig: np.ndarray, sqrt2pi: float
):
    """(value, d/d(source position)) (k, 2, N) of the pixel-integrated 1-D Gaussians: 0.5·(erf a − erf b)
    and −(e^−a² − e^−b²) / (√(2π)·σ), with erf given once per distinct argument (:func:`shared_erf_arguments`:
    ``erf_args`` = erf of its arguments, ``idx`` where each of (a, b) reads it)."""
    k, n = sig.shape[0], exp_ab.shape[3]
    val = np.empty((k, 2, n))
    dval = np.empty((k, 2, n))
    for j in range(k):
        for ax in range(2):
            den = sqrt2pi * sig[j, ax]
            for t in range(n):
                val[j, ax, t] = 0.5 * (erf_args[idx[0, j, ax, t]] - erf_args[idx[1, j, ax, t]])
                dval[j, ax, t] = -(exp_ab[0, j, ax, t] - exp_ab[1, j, ax, t]) / den
    return val, dval


@njit(cache=True)
def fill_box_sums(
    data: np.ndarray,
    fed: np.ndarray,
    l0: int,
    l1: int,
    s0: int,
    s1: int,
    li: np.ndarray,
    sj: np.ndarray,
    dl: np.ndarray,
    ds: np.ndarray,
    hf: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The summed-area tables of ``data`` × ``fed`` and of ``fed`` (as float64) over the region
    [l0, l1) × [s0, s1), each with a leading zero line and column (np.cumsum along the samples, then along
    the lines: sequential sums from 0.0), read at the (2hf+1)² box around each hole pixel (dl, ds) of each
    copy centred at (li, sj): ``box`` (2, copies, hole pixels) = S[a1, b1] − S[a0, b1] − S[a1, b0] +
    S[a0, b0] in that order; and the data at the hole pixels (copies, hole pixels)
    (:func:`ioscan.detect.photometry._fill_box_sums`' numpy arithmetic)."""
    nl, ns = l1 - l0, s1 - s0
    sat = np.zeros((2, nl + 1, ns + 1))
    for i in range(nl):
        for j in range(ns):
            c = 1.0 if fed[l0 + i, s0 + j] else 0.0
            sat[0, i + 1, j + 1] = data[l0 + i, s0 + j] * c
            sat[1, i + 1, j + 1] = c
    for p in range(2):
        for i in range(nl + 1):  # along the samples
            for j in range(1, ns + 1):
                sat[p, i, j] = sat[p, i, j - 1] + sat[p, i, j]
        for i in range(1, nl + 1):  # then along the lines
            for j in range(ns + 1):
                sat[p, i, j] = sat[p, i - 1, j] + sat[p, i, j]
    nc, nh = li.shape[0], dl.shape[0]
    box = np.empty((2, nc, nh))
    d_hole = np.empty((nc, nh))
    for c in range(nc):
        for q in range(nh):
            hl = li[c] - l0 + dl[q]
            hs = sj[c] - s0 + ds[q]
            a0, a1, b0, b1 = hl - hf, hl + hf + 1, hs - hf, hs + hf + 1
            for p in range(2):
                box[p, c, q] = sat[p, a1, b1] - sat[p, a0, b1] - sat[p, a1, b0] + sat[p, a0, b0]
            d_hole[c, q] = data[li[c] + dl[q], sj[c] + ds[q]]
    return box, d_hole


@njit(cache=True)
def fill_plan(
    clean: np.ndarray, ci: np.ndarray, cj: np.ndarray, big: int, lo: int, w: int, hf: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`fill_unclean` needs (:func:`ioscan.detect.photometry._fill_plan`'s values) for stamps of
    (2·big + 1)² pixels centred at (ci, cj) of the image whose pixels ``clean`` are: c = 1.0 on clean pixels
    inside the image, else 0.0; of the kernel windows' region [lo, lo + w)², the stamps ``sub`` with a pixel
    that is not clean there, their c, their region lines holding one (``lines``: q·w + line over the stamps
    of ``sub``; ``at``: s·w + line over all stamps), those lines' clean flags and max(box mean of c, 1e-9)
    (uniform_filter1d, size 2hf + 1, zeros beyond the stamp, along the lines then the samples). ``sub``
    empty: no such pixel (the plan is None)."""
    nl, ns = clean.shape
    n = ci.shape[0]
    size = 2 * big + 1
    fw = 2 * hf + 1
    line_has = np.zeros((n, w), np.bool_)
    n_sub = 0
    n_lines = 0
    for s in range(n):
        any_line = False
        for li in range(w):
            i = ci[s] - big + lo + li
            for lj in range(w):
                j = cj[s] - big + lo + lj
                if not (0 <= i < nl and 0 <= j < ns and clean[i, j]):
                    line_has[s, li] = True
                    n_lines += 1
                    any_line = True
                    break
        if any_line:
            n_sub += 1
    sub = np.empty(n_sub, np.intp)
    cs = np.zeros((n_sub, size, size))
    lines = np.empty(n_lines, np.intp)
    at = np.empty(n_lines, np.intp)
    keep = np.empty((n_lines, w), np.bool_)
    den = np.empty((n_lines, w))
    ones = np.ones((size, size))  # (c·1: the values of c)
    tmp = np.empty(size)
    row = np.empty(size)
    rowf = np.empty(size)
    vert = np.empty((size, size))
    q = 0
    u = 0
    for s in range(n):
        has = False
        for li in range(w):
            has = has or line_has[s, li]
        if not has:
            continue
        sub[q] = s
        for a in range(size):
            i = ci[s] - big + a
            for b in range(size):
                j = cj[s] - big + b
                cs[q, a, b] = 1.0 if (0 <= i < nl and 0 <= j < ns and clean[i, j]) else 0.0
        last_line = 0
        for li in range(w):
            if line_has[s, li]:
                last_line = li
        # along the lines, every column side by side, down to the last region line that needs it
        _box_mean_columns(cs[q], ones, fw, lo + last_line + 1, size, tmp, vert)
        for li in range(w):
            if not line_has[s, li]:
                continue
            for b in range(size):  # then along the samples, the region's lines that need it
                row[b] = vert[lo + li, b]
            _box_mean_line(row, fw, rowf)
            lines[u] = q * w + li
            at[u] = s * w + li
            for lj in range(w):
                keep[u, lj] = cs[q, lo + li, lo + lj] > 0
                v = rowf[lo + lj]
                den[u, lj] = v if v > 1e-9 else 1e-9
            u += 1
        q += 1
    return sub, cs, lines, keep, den, at


@njit(cache=True)
def along_limb_centres(
    dist: np.ndarray,
    ci: int,
    cj: int,
    dli: np.ndarray,
    dsj: np.ndarray,
    pad: int,
    tolerance: float,
    max_copies: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Of the candidate centres (ci + dli, cj + dsj), in their order, those whose window (half-size ``pad``)
    lies inside ``dist``'s image and whose ``dist`` is within ``tolerance`` of dist[ci, cj], each pixel
    once (its first occurrence), at most ``max_copies``
    (:func:`ioscan.detect.photometry._along_limb_centres`' values)."""
    nl, ns = dist.shape
    here = dist[ci, cj]
    seen = np.zeros(nl * ns, np.bool_)
    li = np.empty(max_copies, np.intp)
    sj = np.empty(max_copies, np.intp)
    n = 0
    for k in range(dli.shape[0]):
        if n >= max_copies:
            break
        i, j = ci + dli[k], cj + dsj[k]
        if i - pad < 0 or j - pad < 0 or i + pad >= nl or j + pad >= ns:
            continue
        if not abs(dist[i, j] - here) <= tolerance:
            continue
        if seen[i * ns + j]:
            continue
        seen[i * ns + j] = True
        li[n] = i
        sj[n] = j
        n += 1
    return li[:n].copy(), sj[:n].copy()


@njit(cache=True)
def copies_ok(
    usable: np.ndarray,
    clean: np.ndarray,
    side: np.ndarray,
    has_side: bool,
    ci: int,
    cj: int,
    li: np.ndarray,
    sj: np.ndarray,
    dl: np.ndarray,
    ds: np.ndarray,
    stamp_l: np.ndarray,
    stamp_s: np.ndarray,
    along_limb: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Which copies (centres li, sj) of the hole (dl, ds) the fill's error may use
    (:func:`ioscan.detect.photometry._copies_variance`' tests), and (``along_limb``) which of each copy's hole
    pixels are usable (copies, hole pixels; else an empty array). Rings: the hole on clean pixels, the stamp
    (stamp_l, stamp_s) on usable ones and, with a limb (``has_side``), the hole on the source's side (``side``
    at ci, cj). Along the limb: the usable hole pixels clean and on the source's side, at least one usable."""
    nc, nh = li.shape[0], dl.shape[0]
    ok = np.ones(nc, np.bool_)
    use = np.zeros((nc if along_limb else 0, nh), np.bool_)
    own = side[ci, cj] if has_side else False
    for c in range(nc):
        good = True
        any_use = False
        for q in range(nh):
            i, j = li[c] + dl[q], sj[c] + ds[q]
            if along_limb:
                u = usable[i, j]
                use[c, q] = u
                any_use = any_use or u
                if u and (not clean[i, j] or side[i, j] != own):
                    good = False
            elif not clean[i, j] or (has_side and side[i, j] != own):
                good = False
        if along_limb:
            good = good and any_use
        else:
            for t in range(stamp_l.shape[0]):
                if not usable[li[c] + stamp_l[t], sj[c] + stamp_s[t]]:
                    good = False
                    break
        ok[c] = good
    return ok, use


@njit(cache=True)
def spread_weights(
    kz: np.ndarray, dl: np.ndarray, ds: np.ndarray, stamp_l: np.ndarray, stamp_s: np.ndarray
) -> np.ndarray:
    """(hole pixels, stamp pixels): the kernel weight K[d − p + h] linking stamp pixel p (offsets stamp_l,
    stamp_s) to hole pixel d (dl, ds), 0 beyond the kernel (size 2h + 1): the matrix
    :func:`ioscan.detect.photometry._kernel_spread_at` multiplies by the stamp."""
    h = kz.shape[0] // 2
    nh, nst = dl.shape[0], stamp_l.shape[0]
    w = np.zeros((nh, nst))
    for q in range(nh):
        for p in range(nst):
            kl = dl[q] - stamp_l[p] + h
            ks = ds[q] - stamp_s[p] + h
            if 0 <= kl <= 2 * h and 0 <= ks <= 2 * h:
                w[q, p] = kz[kl, ks]
    return w


@njit(cache=True)
def fill_data(
    background: np.ndarray, r0: np.ndarray, r1: np.ndarray, choice: np.ndarray, usable: np.ndarray
) -> np.ndarray:
    """``photometry._fill_data`` with two background options: background + the residual of the option
    chosen at each pixel (``r0`` where ``choice`` is 0, else ``r1`` where it is 1, else ``r0``: as np.copyto
    over a copy of ``r0`` gives), in the arrays' common type, as float64; 0 where not ``usable``."""
    nl, ns = background.shape
    out = np.empty((nl, ns))
    for i in range(nl):
        for j in range(ns):
            if usable[i, j]:
                out[i, j] = np.float64(background[i, j] + (r1[i, j] if choice[i, j] == 1 else r0[i, j]))
            else:
                out[i, j] = 0.0
    return out


@njit(cache=True)
def centres_touched(unclean: np.ndarray, cen_l: np.ndarray, cen_s: np.ndarray) -> np.ndarray:
    """Per centre pixel (inside the image): whether an ``unclean`` pixel lies in its 3 × 3 neighbourhood
    (``unclean[max(ci − 1, 0) : ci + 2, max(cj − 1, 0) : cj + 2].any()``)."""
    nl, ns = unclean.shape
    out = np.zeros(cen_l.shape[0], np.bool_)
    for t in range(cen_l.shape[0]):
        ci, cj = cen_l[t], cen_s[t]
        for i in range(max(ci - 1, 0), min(ci + 2, nl)):
            for j in range(max(cj - 1, 0), min(cj + 2, ns)):
                if unclean[i, j]:
                    out[t] = True
    return out


@njit(cache=True)
def hole_offsets(unclean: np.ndarray, ci: int, cj: int, reach: int):
    """The ``unclean`` pixels within ``reach`` (Chebyshev, inside the image) of (ci, cj), row-major as
    ``np.nonzero`` gives them, as offsets (dl, ds) from it, and their reach e = max |offset| (−1: none)."""
    nl, ns = unclean.shape
    l0, l1 = max(ci - reach, 0), min(ci + reach + 1, nl)
    s0, s1 = max(cj - reach, 0), min(cj + reach + 1, ns)
    count = 0
    for i in range(l0, l1):
        for j in range(s0, s1):
            if unclean[i, j]:
                count += 1
    dl = np.empty(count, np.intp)
    ds = np.empty(count, np.intp)
    t, e = 0, -1
    for i in range(l0, l1):
        for j in range(s0, s1):
            if unclean[i, j]:
                dl[t], ds[t] = i - ci, j - cj
                e = max(e, abs(i - ci), abs(j - cj))
                t += 1
    return dl, ds, e


@njit(cache=True)
def copy_box_sums(
    usable: np.ndarray,
    clean: np.ndarray,
    side: np.ndarray,
    has_side: bool,
    ci: int,
    cj: int,
    li: np.ndarray,
    sj: np.ndarray,
    dl: np.ndarray,
    ds: np.ndarray,
    stamp_l: np.ndarray,
    stamp_s: np.ndarray,
    along_limb: bool,
    pad: int,
    data: np.ndarray,
    fed: np.ndarray,
    e: int,
    hf: int,
    min_copies: int,
):
    """The copies of a hole that :func:`ioscan.detect.photometry._copies_variance` uses and their fill sums,
    in one call: of the centres (li, sj) — without ``along_limb`` first those whose window (half-size
    ``pad``) lies inside the image —, those :func:`copies_ok` accepts (their centres, and along the limb
    their usable hole pixels); with at least ``min_copies`` of them, :func:`fill_box_sums` over their region
    (the hole's reach ``e`` + ``hf`` around them) and the hole pixels' mutual-box matrix ``near`` (float64,
    1 where |Δl| ≤ hf and |Δs| ≤ hf). Returns (li, sj, use, box, d_hole, near); box, d_hole and near empty
    with fewer copies."""
    nl, ns = usable.shape
    nc, nh = li.shape[0], dl.shape[0]
    # (plain loops, no boolean indexing: the same selections, less to compile)
    n_in = 0
    li_in, sj_in = np.empty(nc, np.intp), np.empty(nc, np.intp)
    for c in range(nc):
        if along_limb or (li[c] - pad >= 0 and sj[c] - pad >= 0 and li[c] + pad < nl and sj[c] + pad < ns):
            li_in[n_in], sj_in[n_in] = li[c], sj[c]
            n_in += 1
    li_in, sj_in = li_in[:n_in], sj_in[:n_in]
    ok, use = copies_ok(
        usable, clean, side, has_side, ci, cj, li_in, sj_in, dl, ds, stamp_l, stamp_s, along_limb
    )
    n_ok = 0
    for c in range(n_in):
        if ok[c]:
            n_ok += 1
    li_ok, sj_ok = np.empty(n_ok, np.intp), np.empty(n_ok, np.intp)
    use_ok = np.zeros((n_ok if along_limb else 0, nh), np.bool_)
    t = 0
    for c in range(n_in):
        if ok[c]:
            li_ok[t], sj_ok[t] = li_in[c], sj_in[c]
            if along_limb:
                for q in range(nh):
                    use_ok[t, q] = use[c, q]
            t += 1
    if n_ok < min_copies:
        return li_ok, sj_ok, use_ok, np.empty((2, 0, nh)), np.empty((0, nh)), np.empty((0, 0))
    half = e + hf
    lmin, lmax, smin, smax = li_ok[0], li_ok[0], sj_ok[0], sj_ok[0]
    for c in range(1, n_ok):
        lmin, lmax = min(lmin, li_ok[c]), max(lmax, li_ok[c])
        smin, smax = min(smin, sj_ok[c]), max(smax, sj_ok[c])
    box, d_hole = fill_box_sums(
        data, fed, lmin - half, lmax + half + 1, smin - half, smax + half + 1, li_ok, sj_ok, dl, ds, hf
    )
    near = np.zeros((nh, nh))
    for p in range(nh):
        for q in range(nh):
            if abs(dl[p] - dl[q]) <= hf and abs(ds[p] - ds[q]) <= hf:
                near[p, q] = 1.0
    return li_ok, sj_ok, use_ok, box, d_hole, near


@njit(cache=True)
def copy_deltas(
    num: np.ndarray,
    den: np.ndarray,
    d_hole: np.ndarray,
    use: np.ndarray,
    along_limb: bool,
    min_den: float,
    sigma_white: np.ndarray,
    li: np.ndarray,
    sj: np.ndarray,
    dl: np.ndarray,
    ds: np.ndarray,
):
    """Of the copies whose every box count ``den`` > ``min_den``, the fill's miss δ = num/den − data on
    the hole (× the usable hole pixels along the limb) and σ_white² there (float64 of the map's values,
    squared): (δ, σ²) (good copies, hole pixels), :func:`ioscan.detect.photometry._copies_variance`'s
    numpy."""
    nc, nh = num.shape
    good = np.ones(nc, np.bool_)
    for c in range(nc):
        for q in range(nh):
            if not den[c, q] > min_den:
                good[c] = False
                break
    ng = 0
    for c in range(nc):
        if good[c]:
            ng += 1
    delta = np.empty((ng, nh))
    sw2 = np.empty((ng, nh))
    t = 0
    for c in range(nc):
        if not good[c]:
            continue
        for q in range(nh):
            v = num[c, q] / den[c, q] - d_hole[c, q]
            if along_limb:
                v = v * (1.0 if use[c, q] else 0.0)
            delta[t, q] = v
            s = np.float64(sigma_white[li[c] + dl[q], sj[c] + ds[q]])
            sw2[t, q] = s * s
        t += 1
    return delta, sw2


@njit(cache=True)
def median_or_nan_1d(x: np.ndarray) -> float:
    """:func:`ioscan.robust.median_or_nan` of a 1-D float64 array, the same value: NaN if any value is NaN
    (or none is given), else the middle value of the sorted values, or the mean of the two middle ones
    ((low + high) / 2), + 0.0 (a zero median is +0)."""
    n = x.size
    if n == 0:
        return np.nan
    for t in range(n):
        if x[t] != x[t]:
            return np.nan
    s = np.sort(x)
    k = n // 2
    if n % 2:
        return s[k] + 0.0
    return (s[k - 1] + s[k]) / 2.0 + 0.0


@njit(cache=True)
def fill_spread_medians(dfs: np.ndarray, nvs: np.ndarray):
    """The three medians of :func:`ioscan.detect.photometry._fill_variance_compiled` in one call, each
    :func:`median_or_nan_1d` (``median_or_nan``'s values): the copies' flux misses ``dfs`` (med), their
    absolute deviations from it |dfs − med| (mad) and the white-noise terms ``nvs``. Returns
    (med, mad, median of nvs)."""
    med = median_or_nan_1d(dfs)
    dev = np.empty(dfs.size)
    for t in range(dfs.size):
        dev[t] = abs(dfs[t] - med)
    return med, median_or_nan_1d(dev), median_or_nan_1d(nvs)


@njit(cache=True)
def _nan_to_value(v, value, big):
    """One value of ``np.nan_to_num(x, nan=value)`` (x of v's type; ``big`` its largest finite value):
    NaN → value, ±inf → ±big, else v (:func:`ioscan.detect.flags._nan_to`'s values)."""
    if v != v:
        return value
    if v == np.inf:
        return big
    if v == -np.inf:
        return -big
    return v


@njit(cache=True)
def bright_pixel_count(
    data: np.ndarray,
    background: np.ndarray,
    noise: np.ndarray,
    i: int,
    j: int,
    l0: int,
    s0: int,
    f005,
    f4,
    big,
    ninf,
) -> int:
    """:func:`ioscan.detect.flags.n_bright_pixels` on float32 maps (``f005``, ``f4``: 0.05 and 4.0, ``big``
    the largest finite value, ``ninf`` −inf, all in the maps' type: numpy combines a Python float with
    float32 in float32, and so does this, every value staying float32): the
    brightest net pixel (data − background, NaN as −inf) of the 3 × 3 around crop pixel (i, j), then the
    pixels of the 5 × 5 around it whose net value (NaN as 0) exceeds max(0.05 × that peak, 4 × noise)."""
    nl, ns = background.shape
    best = ninf
    bi, bj = -1, -1
    for a in range(max(i - 1, 0), min(i + 2, nl)):
        for b in range(max(j - 1, 0), min(j + 2, ns)):
            v = _nan_to_value(data[l0 + a, s0 + b] - background[a, b], ninf, big)
            if bi < 0 or v > best:
                best, bi, bj = v, a, b
    top = f005 * best
    count = 0
    for a in range(max(bi - 2, 0), min(bi + 3, nl)):
        for b in range(max(bj - 2, 0), min(bj + 3, ns)):
            net = _nan_to_value(data[l0 + a, s0 + b] - background[a, b], f005 - f005, big)
            lv = f4 * noise[a, b]
            level = lv if lv != lv else max(top, lv)  # (np.maximum: NaN kept; top is never NaN)
            if net > level:
                count += 1
    return count


@njit(cache=True)
def spike_ratio_at(data: np.ndarray, i: int, j: int, big) -> float:
    """:func:`ioscan.detect.flags.spike_ratio` (``big``: the largest finite value of data's type): the
    brightest pixel of the 5 × 5 around (i, j) (NaN as −inf, ±inf as ±big) over the second largest finite
    value of its four neighbours; 0 when fewer than two are finite or that one is ≤ 0."""
    nl, ns = data.shape
    best = -np.inf
    bi, bj = -1, -1
    for a in range(max(i - 2, 0), min(i + 3, nl)):
        for b in range(max(j - 2, 0), min(j + 3, ns)):
            v = _nan_to_value(data[a, b], -np.inf, big)
            if bi < 0 or v > best:
                best, bi, bj = v, a, b
    first, second = -np.inf, -np.inf
    n = 0
    for k in range(4):
        y = bi + (-1 if k == 0 else 1 if k == 1 else 0)
        x = bj + (-1 if k == 2 else 1 if k == 3 else 0)
        if 0 <= y < nl and 0 <= x < ns:
            v = np.float64(data[y, x])
            if np.isfinite(v):
                n += 1
                if v > first:
                    first, second = v, first
                elif v > second:
                    second = v
    if n < 2 or second <= 0:
        return 0.0
    return np.float64(data[bi, bj]) / second


@njit(cache=True)
def peak_pixels(snr: np.ndarray, threshold, search: np.ndarray, has_search: bool):
    """:func:`ioscan.detect.find.find_peaks`' local maxima, row-major: the pixels of ``snr`` above
    ``threshold`` (in the map's type where numpy compares in it; NaN never above) inside ``search`` (with
    ``has_search``) that are ≥ their 8 neighbours, strictly > those of the line above and the one before
    them on their own line (exactly one pixel of a flat top survives), pixels beyond the map −inf. Returns
    (lines, samples, whether any pixel was above the threshold inside ``search``)."""
    nl, ns = snr.shape
    n = 0
    some = False
    ly = np.empty(16, np.intp)
    sx = np.empty(16, np.intp)
    for i in range(nl):
        for j in range(ns):
            c = snr[i, j]
            if not c > threshold:
                continue
            if has_search and not search[i, j]:
                continue
            some = True
            ok = True
            for dl in range(-1, 2):
                for ds in range(-1, 2):
                    if dl == 0 and ds == 0:
                        continue
                    li, sj = i + dl, j + ds
                    if li < 0 or li >= nl or sj < 0 or sj >= ns:
                        continue  # (−inf: c > it, c ≥ it, for a c above the threshold)
                    nb = snr[li, sj]
                    if dl < 0 or (dl == 0 and ds < 0):
                        if not c > nb:
                            ok = False
                    elif not c >= nb:
                        ok = False
            if ok:
                if n == ly.size:
                    ly2 = np.empty(2 * n, np.intp)
                    sx2 = np.empty(2 * n, np.intp)
                    ly2[:n] = ly
                    sx2[:n] = sx
                    ly, sx = ly2, sx2
                ly[n] = i
                sx[n] = j
                n += 1
    return ly[:n].copy(), sx[:n].copy(), some


@njit(cache=True)
def deblend_peaks(
    snr: np.ndarray,
    valid: np.ndarray,
    has_valid: bool,
    ly: np.ndarray,
    sx: np.ndarray,
    c: np.ndarray,
    rmax: float,
    saddle,
    rel,
    saddle64: float,
):
    """:func:`ioscan.detect.find.find_peaks`' deblending of the maxima (ly, sx, S/N ``c``, brightest first):
    from the brightest, each kept maximum's kept fainter ones within ``rmax`` (np.hypot of the pixel
    offsets) are dropped unless the map along the segment joining them (np.linspace's 2d + 1 points rounded
    to pixels, ``valid`` ones only with ``has_valid``) dips below the fainter by at least max(``saddle``,
    ``rel`` × its S/N) — in the map's type, as numpy with the Python floats ``saddle`` and ``rel`` (passed in
    that type; ``saddle64``: ``saddle`` as given, which a segment without a valid pixel, a dip of 0.0, is
    compared with) — else both are marked blended. Returns (keep, blended)."""
    m = ly.size
    keep = np.ones(m, np.bool_)
    blended = np.zeros(m, np.bool_)
    reach = int(np.ceil(rmax)) + 1
    for i in range(m):
        if not keep[i]:
            continue
        for j in range(i + 1, m):
            if abs(ly[j] - ly[i]) > reach or abs(sx[j] - sx[i]) > reach:
                continue  # (farther than rmax: np.hypot is at least the larger offset)
            d = np.hypot(float(ly[j] - ly[i]), float(sx[j] - sx[i]))
            if not d <= rmax:
                continue
            if not keep[j]:
                continue
            n = int(np.ceil(d * 2)) + 1
            step = 1.0 / (n - 1)
            dly, dsx = float(ly[j] - ly[i]), float(sx[j] - sx[i])
            lo = snr[0, 0]
            found = False
            for k in range(n):
                t = 1.0 if k == n - 1 else k * step + 0.0
                yy = int(np.rint(float(ly[i]) + t * dly))
                xx = int(np.rint(float(sx[i]) + t * dsx))
                if has_valid and not valid[yy, xx]:
                    continue
                v = snr[yy, xx]
                if not found:
                    lo = v
                elif np.isnan(lo):
                    pass  # (np.min: NaN once any value is NaN)
                elif np.isnan(v) or v < lo:
                    lo = v
                found = True
            cj = c[j]
            b = rel * cj
            limit = b if b > saddle else saddle
            if found:
                dip = cj - lo
                if dip < limit:
                    keep[j] = False
                else:
                    blended[i] = True
                    blended[j] = True
            elif (b > 0.0) if b > saddle else (saddle64 > 0.0):  # (a dip of 0.0 against the Python max)
                keep[j] = False
            else:
                blended[i] = True
                blended[j] = True
    return keep, blended


@njit(cache=True)
def gaussian_profile_arguments(q: np.ndarray, m: int, sqrt2: float):
    """:func:`ioscan.detect.psf_estimate._g1`'s arguments for both axes of every stamp (q (n, 8): centres
    q[:, 1:3], widths q[:, 3:5]; pixel offsets 0…m−1): a = (u − c + 0.5)/σ, b = (u − c − 0.5)/σ (n, 2, m),
    the exponentials' arguments (2, n, 2, m: −0.5·a·a, −0.5·b·b) and the erf's (2, n, 2, m: a/√2, b/√2),
    numpy's operations in its order."""
    n = q.shape[0]
    a = np.empty((n, 2, m))
    b = np.empty((n, 2, m))
    ex = np.empty((2, n, 2, m))
    er = np.empty((2, n, 2, m))
    for s in range(n):
        for ax in range(2):
            c, sig = q[s, 1 + ax], q[s, 3 + ax]
            for t in range(m):
                d = float(t) - c
                av = (d + 0.5) / sig
                bv = (d - 0.5) / sig
                a[s, ax, t] = av
                b[s, ax, t] = bv
                ex[0, s, ax, t] = (-0.5 * av) * av
                ex[1, s, ax, t] = (-0.5 * bv) * bv
                er[0, s, ax, t] = av / sqrt2
                er[1, s, ax, t] = bv / sqrt2
    return a, b, ex, er


@njit(cache=True)
def gaussian_profiles(q: np.ndarray, a: np.ndarray, b: np.ndarray, ex: np.ndarray, er: np.ndarray, k: float):
    """:func:`ioscan.detect.psf_estimate._g1`'s values from :func:`gaussian_profile_arguments`' a, b and
    numpy's exp (``ex``) and scipy's erf (``er``) of its arguments (k = 1/√(2π)): g = 0.5·(erf_a − erf_b),
    dc = −k·(pa − pb)/σ, ds = −k·(a·pa − b·pb)/σ (n, 2, m each)."""
    n, m = a.shape[0], a.shape[2]
    g = np.empty((n, 2, m))
    dc = np.empty((n, 2, m))
    ds = np.empty((n, 2, m))
    mk = -k
    for s in range(n):
        for ax in range(2):
            sig = q[s, 3 + ax]
            for t in range(m):
                pa, pb = ex[0, s, ax, t], ex[1, s, ax, t]
                g[s, ax, t] = 0.5 * (er[0, s, ax, t] - er[1, s, ax, t])
                dc[s, ax, t] = (mk * (pa - pb)) / sig
                ds[s, ax, t] = (mk * (a[s, ax, t] * pa - b[s, ax, t] * pb)) / sig
    return g, dc, ds


@njit(cache=True)
def damped_normal(h: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """h + λ·I·max(diag h, 1e-300) per stamp (h (n, k, k)), numpy's ``h + lam[:, None, None] * eye *
    np.maximum(diag, 1e-300)[:, :, None]`` (NaN diagonals kept)."""
    n, k = h.shape[0], h.shape[1]
    out = np.empty_like(h)
    for s in range(n):
        for i in range(k):
            d = h[s, i, i]
            dm = d if (np.isnan(d) or d > 1e-300) else 1e-300
            for j in range(k):
                e = 1.0 if i == j else 0.0
                out[s, i, j] = h[s, i, j] + (lam[s] * e) * dm
    return out


@njit(cache=True)
def clipped_step(p: np.ndarray, step: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``np.clip(p + step, lo, hi)`` (lo, hi per column): numpy's max then min, NaN kept, a value equal to a
    bound taking the bound's."""
    n, k = p.shape
    q = np.empty((n, k))
    for s in range(n):
        for j in range(k):
            v = p[s, j] + step[s, j]
            if not np.isnan(v):
                v = v if v > lo[j] else lo[j]
                if not np.isnan(v):
                    v = v if v < hi[j] else hi[j]
            q[s, j] = v
    return q


@njit(cache=True)
def steps_settled(q: np.ndarray, p: np.ndarray, h: np.ndarray, lam: np.ndarray, tol: float, lam_max: float):
    """:func:`ioscan.detect.psf_estimate._settled` of the step q − p: every stamp's |step|·√max(h_kk, 0) <
    ``tol`` with λ ≤ ``lam_max``, or a step not finite."""
    n, k = q.shape
    for s in range(n):
        small = lam[s] <= lam_max
        finite = True
        for j in range(k):
            d = h[s, j, j]
            d = d if (np.isnan(d) or d > 0.0) else 0.0
            v = abs(q[s, j] - p[s, j]) * np.sqrt(d)
            if not v < tol:
                small = False
            if not np.isfinite(v):
                finite = False
        if not (small or not finite):
            return False
    return True


@njit(cache=True)
def take_better(
    c2: np.ndarray,
    q: np.ndarray,
    m2: np.ndarray,
    j2: np.ndarray,
    p: np.ndarray,
    model: np.ndarray,
    jac: np.ndarray,
    chi2: np.ndarray,
    lam: np.ndarray,
    stale: np.ndarray,
) -> None:
    """Each stamp whose misfit fell (c2 < chi2) takes the step (its parameters, model, Jacobian, misfit) and
    λ/3, the others λ·10; ``stale`` marks the ones that moved. In place."""
    for s in range(c2.shape[0]):
        better = c2[s] < chi2[s]
        stale[s] = better
        if better:
            p[s] = q[s]
            model[s] = m2[s]
            jac[s] = j2[s]
            chi2[s] = c2[s]
            lam[s] = lam[s] / 3.0
        else:
            lam[s] = lam[s] * 10.0


@njit(cache=True)
def psf_values_into(erf_args: np.ndarray, idx: np.ndarray, weights: np.ndarray, n: int, m: int, out) -> None:
    """:func:`psf_stamps_shared`'s P alone, written into ``out`` (n, m, m): the profiles' values
    (:func:`profile_values_shared`'s 0.5·(erf a − erf b)) and Σ_k w_k · px·py in component order from 0.0, the
    same operations (no exponentials: only the derivatives need them)."""
    k, nn = weights.size, idx.shape[3]
    val = np.empty((k, 2, nn))
    for j in range(k):
        for ax in range(2):
            for t in range(nn):
                val[j, ax, t] = 0.5 * (erf_args[idx[0, j, ax, t]] - erf_args[idx[1, j, ax, t]])
    for j in range(k):
        w = weights[j]
        first = j == 0
        for s in range(n):
            o = s * m
            for a in range(m):
                py = val[j, 1, o + a]
                if first:
                    for b in range(m):
                        out[s, a, b] = 0.0 + (w * val[j, 0, o + b]) * py
                else:
                    for b in range(m):
                        out[s, a, b] = out[s, a, b] + (w * val[j, 0, o + b]) * py


@njit(cache=True)
def uniform_histogram(a: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(a, bins=edges.size - 1)[0]`` of finite float64 values ``a`` given its equal-width
    ``edges`` (``np.histogram_bin_edges(a, n)``): numpy's bin index, ((v − first) / (last − first)) · n
    truncated, the last edge put in the last bin, then its ±1 corrections against the edges, counted."""
    nb = edges.size - 1
    first, last = edges[0], edges[nb]
    denom = last - first
    counts = np.zeros(nb, np.intp)
    for t in range(a.size):
        v = a[t]
        if not (v >= first and v <= last):
            continue
        k = int(((v - first) / denom) * nb)
        if k == nb:
            k -= 1
        if v < edges[k]:
            k -= 1
        if v >= edges[k + 1] and k != nb - 1:
            k += 1
        counts[k] += 1
    return counts


@njit(cache=True)
def at_limb_distance(
    residual: np.ndarray, limb: np.ndarray, pi: int, pj: int, r: int, lo: float, hi: float, tol: float
):
    """:func:`ioscan.detect.misfits._at_limb_distance` of float64 maps: the finite ``residual`` values,
    row-major in the (2r + 1)² box about pixel (pi, pj) (clipped to the map), whose ``limb`` distance is
    within ``tol`` of that pixel's and whose distance from it (np.hypot of the pixel offsets) lies in
    [lo, hi]; and those distances."""
    nl, ns = residual.shape
    a0, a1 = max(pi - r, 0), min(pi + r + 1, nl)
    b0, b1 = max(pj - r, 0), min(pj + r + 1, ns)
    d0 = limb[pi, pj]
    cap = max(a1 - a0, 0) * max(b1 - b0, 0)
    vals = np.empty(cap)
    rad = np.empty(cap)
    n = 0
    for i in range(a0, a1):
        for j in range(b0, b1):
            rr = np.hypot(float(i - pi), float(j - pj))
            v = residual[i, j]
            if abs(limb[i, j] - d0) <= tol and rr >= lo and rr <= hi and np.isfinite(v):
                vals[n] = v
                rad[n] = rr
                n += 1
    return vals[:n].copy(), rad[:n].copy()


@njit(cache=True)
def spike_stamp_pixels(resid: np.ndarray, valid: np.ndarray, ci: np.ndarray, cj: np.ndarray, r: int):
    """The spike test's stamps (:func:`ioscan.detect.find.spike_dchi2`): each source's brightest ``valid``
    pixel of ``resid`` in the 3 × 3 (clipped to the map) around (ci, cj) — the first largest in row-major
    order, NaN never taken, (ci, cj) itself where none is valid (``find._brightest_beside``) — and the
    (2r+1)² pixels around it: (lines (n, 2r+1) and samples (n, 2r+1), clipped to the map; which of them lie
    inside it, (n, 2r+1) each)."""
    nl, ns = resid.shape
    n = ci.size
    m = 2 * r + 1
    lic = np.empty((n, m), np.int64)
    sjc = np.empty((n, m), np.int64)
    inl = np.empty((n, m), np.bool_)
    ins = np.empty((n, m), np.bool_)
    for s in range(n):
        bi, bj = ci[s], cj[s]
        best = -np.inf
        for dl in range(-1, 2):
            ii = min(max(ci[s] + dl, 0), nl - 1)
            for ds in range(-1, 2):
                jj = min(max(cj[s] + ds, 0), ns - 1)
                if valid[ii, jj]:
                    v = resid[ii, jj]
                    if v > best:  # (NaN never; the first of equal values kept)
                        best = v
                        bi, bj = ii, jj
        for a in range(m):
            li = bi - r + a
            sj = bj - r + a
            inl[s, a] = (li >= 0) and (li < nl)
            ins[s, a] = (sj >= 0) and (sj < ns)
            lic[s, a] = min(max(li, 0), nl - 1)
            sjc[s, a] = min(max(sj, 0), ns - 1)
    return lic, sjc, inl, ins


@njit(cache=True)
def spike_advantage(
    resid: np.ndarray,
    noise: np.ndarray,
    valid: np.ndarray,
    lic: np.ndarray,
    sjc: np.ndarray,
    inl: np.ndarray,
    ins: np.ndarray,
    p: np.ndarray,
    pair_k: np.ndarray,
    pair_p: np.ndarray,
    pair_c: np.ndarray,
    spoilt: np.ndarray,
    flux: np.ndarray,
    fit_amplitude: np.ndarray,
    crowded: np.ndarray,
    model_error: float,
    n_free: int,
) -> np.ndarray:
    """The spike test's χ²(PSF) − χ²(spike) per source (:func:`ioscan.detect.find.spike_dchi2` with
    neighbours), its numpy operations in one pass: the residual and noise on the stamps (``lic``, ``sjc``,
    ``inl``, ``ins``: :func:`spike_stamp_pixels`; the residual 0 and the noise ∞ outside the map, the noise
    ∞ where not ``valid``), the neighbours' light added up in pair order (``pair_k``: the tested source of
    each pair, ``pair_p`` its neighbour's core on the stamp, ``pair_c`` that core's weight × flux; np.add.at's
    order) and taken off, its model error added to the noise (σ² in the noise's type, then float64), the
    amplitude fitted where asked or where light was taken off (not where ``spoilt``), the PSF's χ² and the
    spike's (``n_free`` times the brightest positive pixel touching those freed; beside another source only
    the brightest pixel's 8-neighbours), numpy's pairwise sums."""
    n, m = p.shape[0], p.shape[1]
    k = m * m
    c = m // 2
    light = np.zeros((n, m, m))
    for q in range(pair_k.size):
        s = pair_k[q]
        for a in range(m):
            for b in range(m):
                light[s, a, b] += pair_c[q] * pair_p[q, a, b]
    rr = np.empty(k)
    w = np.empty(k)
    t = np.empty(k)
    t2 = np.empty(k)
    chi_all = np.empty(k)
    free = np.zeros(k, np.bool_)
    touch = np.zeros(k, np.bool_)
    out = np.empty(n)
    for s in range(n):
        lit = False
        for a in range(m):
            i = lic[s, a]
            for b in range(m):
                j = sjc[s, b]
                q = a * m + b
                here = inl[s, a] and ins[s, b]
                lq = light[s, a, b]
                if lq != 0.0:
                    lit = True
                rr[q] = (np.float64(resid[i, j]) if here else 0.0) - lq
                g2 = np.inf  # σ² in the noise's type (float32 stays float32), then float64
                if here and valid[i, j]:
                    g2 = np.float64(noise[i, j] * noise[i, j])
                ml = model_error * lq
                sg = np.sqrt(g2 + ml * ml)
                mx = sg if (sg != sg or sg > 1e-30) else 1e-30
                w[q] = 1.0 / (mx * mx)
        fit_here = (fit_amplitude[s] or lit) and not spoilt[s]
        f = flux[s]
        if fit_here:
            for q in range(k):
                wp = w[q] * p[s, q // m, q % m]
                t[q] = wp * p[s, q // m, q % m]
                t2[q] = wp * rr[q]
            den = 0.0 + _pairwise_small(t, k)
            ls = (0.0 + _pairwise_small(t2, k)) / (den if den > 0 else 1.0)
            f = ls if den > 0 else 0.0
        for q in range(k):
            d = rr[q] - f * p[s, q // m, q % m]
            t[q] = w[q] * (d * d)
            chi_all[q] = (w[q] * rr[q]) * rr[q]
        chi_psf = 0.0 + _pairwise_small(t, k)
        for q in range(k):
            free[q] = False
        free[c * m + c] = True
        for _ in range(n_free):
            best, kb = -np.inf, 0
            for a in range(m):
                for b in range(m):
                    q = a * m + b
                    hit = False
                    for da in range(-1, 2):
                        for db in range(-1, 2):
                            aa, bb = a + da, b + db
                            if aa >= 0 and aa < m and bb >= 0 and bb < m and free[aa * m + bb]:
                                hit = True
                    if crowded[s] and (abs(a - c) > 1 or abs(b - c) > 1):
                        hit = False
                    touch[q] = hit
            for q in range(k):
                v = rr[q] if (touch[q] and not free[q] and rr[q] > 0) else -np.inf
                if v > best:
                    best, kb = v, q
            if np.isfinite(best):
                free[kb] = True
        for q in range(k):
            t[q] = chi_all[q] if free[q] else 0.0
        freed = 0.0 + _pairwise_small(t, k)
        chi_spike = (0.0 + _pairwise_small(chi_all, k)) - freed
        out[s] = chi_psf - chi_spike
    return out


@njit(cache=True)
def _seq_dot(a: np.ndarray, c: int, v: np.ndarray) -> float:
    """Σ_q a[c, q]·v[q] summed in order from the first term (np.cumsum's sequential sums, its last
    value)."""
    acc = a[c, 0] * v[0]
    for q in range(1, v.shape[0]):
        acc += a[c, q] * v[q]
    return acc


@njit(cache=True)
def _fill_variance(
    usable, clean, side, has_side, ci, cj, li, sj, dl, ds, stamp_l, stamp_s, along_limb, pad, data, fed, e,
    hf, min_copies, sigma_white, gw, mad_to_sigma,
):  # fmt: skip
    """:func:`ioscan.detect.photometry._fill_variance_compiled` in one compiled call (its products summed in
    order: :func:`_seq_dot`)."""
    li, sj, use, box, d_hole, near = copy_box_sums(
        usable, clean, side, has_side, ci, cj, li, sj, dl, ds, stamp_l, stamp_s, along_limb, pad, data, fed,
        e, hf, min_copies,
    )  # fmt: skip
    if li.size < min_copies:
        return np.nan
    nc, nh = d_hole.shape
    num = np.empty((nc, nh))
    den = np.empty((nc, nh))
    col = np.empty(nh)
    dm = np.empty((nc, nh))
    for c in range(nc):
        for p in range(nh):
            dm[c, p] = d_hole[c, p] * (1.0 if use[c, p] else 0.0) if along_limb else d_hole[c, p]
    for q in range(nh):
        for p in range(nh):
            col[p] = near[p, q]
        for c in range(nc):
            num[c, q] = box[0, c, q] - _seq_dot(dm, c, col)
            cnt = 0.0  # (0/1 terms: exact in any order)
            for p in range(nh):
                if (not along_limb or use[c, p]) and col[p] != 0.0:
                    cnt += 1.0
            den[c, q] = box[1, c, q] - cnt
    min_den = 1e-3 * (2 * hf + 1) ** 2
    delta, sw2 = copy_deltas(num, den, d_hole, use, along_limb, min_den, sigma_white, li, sj, dl, ds)
    ng = delta.shape[0]
    if ng < min_copies:
        return np.nan
    gw2 = gw * gw
    dfs = np.empty(ng)
    nvs = np.empty(ng)
    for c in range(ng):
        dfs[c] = -_seq_dot(delta, c, gw)
        nvs[c] = _seq_dot(sw2, c, gw2)
    med, mad, nvs_med = fill_spread_medians(dfs, nvs)
    s = mad_to_sigma * mad
    return s * s + med * med - nvs_med


@njit(cache=True)
def fill_errors(
    unclean, usable, clean, side, has_side, fed_in, fed_out, dist, has_dist, data, sigma_white, choice,
    kernels, kernel_half, touched, cen_l, cen_s, stamps, p2, r, along_limb_px, stamp_l, stamp_s,
    ring_l, ring_s, limb_l, limb_s, min_copies, mad_to_sigma, tolerance, max_limb_copies, out,
):  # fmt: skip
    """:func:`ioscan.detect.photometry.fill_flux_err`'s loop over the sources ``touched`` in one compiled
    call: per source the hole (:func:`hole_offsets`), a = P/ΣP² spread by its annulus' kernel (``kernels``
    (K, S, S) zero-padded, ``kernel_half`` each one's h; :func:`spread_weights`, the product summed in
    order), the rings' copies (``ring_l``, ``ring_s``: the offsets of each reach e, ``photometry.
    _fill_ring_offsets``) and within ``along_limb_px`` of the limb those along it (``limb_l``, ``limb_s``:
    ``photometry._limb_ring_offsets``; :func:`along_limb_centres`), the larger variance (np.fmax), its
    square root floored at 0 written to ``out`` (nan where not finite)."""
    for t in range(touched.shape[0]):
        i = touched[t]
        ci, cj = cen_l[i], cen_s[i]
        k = choice[ci, cj]
        h = kernel_half[k]
        hf = h + 2
        kz = kernels[k, : 2 * h + 1, : 2 * h + 1]
        dl, ds, e = hole_offsets(unclean, ci, cj, r + h)
        d = 1e-300 if p2[t] < 1e-300 else p2[t]  # (Python's max(p2, 1e-300))
        m = stamps.shape[1]
        a = np.empty(m * m)
        for u in range(m):
            for v in range(m):
                a[u * m + v] = stamps[t, u, v] / d
        wsp = spread_weights(kz, dl, ds, stamp_l, stamp_s)
        gw = np.empty(dl.shape[0])
        for q in range(dl.shape[0]):
            gw[q] = _seq_dot(wsp, q, a)
        pad = r + h + hf
        near = along_limb_px > 0 and has_dist and abs(dist[ci, cj]) < along_limb_px
        fed = clean
        if has_side:
            fed = fed_in if side[ci, cj] else fed_out
        li = ring_l[e] + ci
        sj = ring_s[e] + cj
        var = _fill_variance(
            usable, clean, side, has_side, ci, cj, li, sj, dl, ds, stamp_l, stamp_s, False, pad, data, fed,
            e, hf, min_copies, sigma_white, gw, mad_to_sigma,
        )  # fmt: skip
        if near:
            la, sa = along_limb_centres(dist, ci, cj, limb_l[e], limb_s[e], pad, tolerance, max_limb_copies)
            v2 = _fill_variance(
                usable, clean, side, has_side, ci, cj, la, sa, dl, ds, stamp_l, stamp_s, True, pad, data,
                fed, e, hf, min_copies, sigma_white, gw, mad_to_sigma,
            )  # fmt: skip
            if var != var or v2 > var:  # np.fmax: the other where one is nan
                var = v2
        if np.isfinite(var):
            out[i] = np.sqrt(0.0 if var < 0.0 else var)  # (Python's max(var, 0.0))
        else:
            out[i] = np.nan
