"""Compiled (numba) kernels of the hot-spot matcher's loops: the same results as their numpy versions.

:func:`greedy_pick` is :func:`ioscan.geometry.hotspot_registration._greedy_numpy` (the locally dominant
greedy matching of every seed in rounds) and :func:`in_view_any` is the boolean of
:func:`ioscan.geometry.hotspot_registration._in_view_numpy` reduced over bands; they compare and add only
(one addition per element, exactly rounded, no ``fastmath``), so their outputs are equal bit for bit and in
the same order. They replace dozens of whole-array passes (``ufunc.at`` on group tables, temporaries of
offsets × anchors × bands × 2) with one pass each: the matcher's expensive frames (hundreds of anchors,
hundreds of seed offsets) spent a quarter of their time there.

numba is imported by the first caller; ``cache=True`` keeps the machine code on disk.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _counting_sort(keys, n_keys):  # pragma: no cover - compiled
    """A stable counting sort of ``keys`` (each in 0 … n_keys − 1): (start, order) — the indices with key c
    are ``order[start[c]:start[c + 1]]``, in their original order."""
    n = keys.shape[0]
    start = np.zeros(n_keys + 1, np.int64)
    for e in range(n):
        start[keys[e] + 1] += 1
    for c in range(n_keys):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    for e in range(n):
        order[fill[keys[e]]] = e
        fill[keys[e]] += 1
    return start, order


@njit(cache=True)
def greedy_pick(seed, k, gain, row, ci_rows, sj_rows, n_c, n_s, n_seed):  # pragma: no cover - compiled
    """Indices of the entries a greedy one-to-one matching takes, in the order the numpy version lists them.

    Entry e (seed ``seed[e]`` < ``n_seed``, pair index ``k[e]``, score ``gain[e]`` > 0, no NaN) is in group
    (seed, detection cluster ``ci_rows[row[e]]`` < ``n_c``) and group (seed, anchor source
    ``sj_rows[row[e]]`` < ``n_s``). Each round takes every entry that is the best of both its groups
    (highest gain, then lowest pair index) and drops the entries of the groups it used; repeat until none
    is left. Seeds share no group, so each seed's rounds run on their own (small tables, reset for each
    seed); the entries taken are listed by round, then in the entries' order (as the numpy version)."""
    n = seed.shape[0]
    ptr, by_seed = _counting_sort(seed, n_seed)  # the entries by seed
    best_c, best_s = np.empty(n_c), np.empty(n_s)
    low_c, low_s = np.empty(n_c, np.int64), np.empty(n_s, np.int64)
    used_c, used_s = np.zeros(n_c, np.bool_), np.zeros(n_s, np.bool_)
    taken_in = np.zeros(n, np.int64)  # the round that took each entry (0: not taken)
    # one seed's entries alive, gathered: entry, gain, pair index, cluster, source
    le, lk = np.empty(n, np.int64), np.empty(n, np.int64)
    lc, lt = np.empty(n, np.int64), np.empty(n, np.int64)
    lg = np.empty(n)
    last_round = 0
    for s in range(n_seed):
        n_alive = ptr[s + 1] - ptr[s]
        for a in range(n_alive):
            e = by_seed[ptr[s] + a]
            le[a], lg[a], lk[a] = e, gain[e], k[e]
            lc[a], lt[a] = ci_rows[row[e]], sj_rows[row[e]]
            used_c[lc[a]] = False
            used_s[lt[a]] = False
        rnd = 0
        while n_alive > 0:
            rnd += 1
            for a in range(n_alive):
                best_c[lc[a]] = -np.inf
                best_s[lt[a]] = -np.inf
            for a in range(n_alive):  # each group's best: highest gain, then lowest pair index
                g, ke, c, t = lg[a], lk[a], lc[a], lt[a]
                if g > best_c[c]:
                    best_c[c], low_c[c] = g, ke
                elif g == best_c[c] and ke < low_c[c]:
                    low_c[c] = ke
                if g > best_s[t]:
                    best_s[t], low_s[t] = g, ke
                elif g == best_s[t] and ke < low_s[t]:
                    low_s[t] = ke
            for a in range(n_alive):  # the best of both its groups is taken; its groups are used
                g, ke, c, t = lg[a], lk[a], lc[a], lt[a]
                if g == best_c[c] and ke == low_c[c] and g == best_s[t] and ke == low_s[t]:
                    taken_in[le[a]] = rnd
                    used_c[c] = True
                    used_s[t] = True
            m = 0
            for a in range(n_alive):
                if not (used_c[lc[a]] or used_s[lt[a]]):
                    le[m], lg[m], lk[m], lc[m], lt[m] = le[a], lg[a], lk[a], lc[a], lt[a]
                    m += 1
            n_alive = m
        last_round = max(last_round, rnd)
    out = np.empty(n, dtype=np.int64)
    n_out = 0
    for rnd in range(1, last_round + 1):
        for e in range(n):
            if taken_in[e] == rnd:
                out[n_out] = e
                n_out += 1
    return out[:n_out]


@njit(cache=True, inline="always")
def _q_form(r0, r1, inv_a, inv_b, inv_c):  # pragma: no cover - compiled
    """q = rᵀC⁻¹r of a residual (r0, r1) px, as :meth:`ioscan.geometry.hotspot_registration._Pairs.q_form`
    computes it (a·r0·r0 + 2·b·r0·r1 + c·r1·r1, left to right)."""
    return inv_a * r0 * r0 + 2.0 * inv_b * r0 * r1 + inv_c * r1 * r1


@njit(cache=True)
def pairs_within(cand_s, cand_k, d0, d1, offsets, inv_a, inv_b, inv_c, q_max):  # pragma: no cover - compiled
    """The candidates (seed ``cand_s``, pair ``cand_k``) whose q = rᵀC⁻¹r, r = d − o, is ≤ the pair's
    ``q_max``, in their order: (seeds, pairs, q). q as :meth:`ioscan.geometry.hotspot_registration._Pairs.
    q_form` computes it (a·r0·r0 + 2·b·r0·r1 + c·r1·r1, left to right); NaN never within."""
    n = cand_s.shape[0]
    es = np.empty(n, np.int64)
    ek = np.empty(n, np.int64)
    qs = np.empty(n)
    m = 0
    for e in range(n):
        s, k = cand_s[e], cand_k[e]
        q = _q_form(d0[k] - offsets[s, 0], d1[k] - offsets[s, 1], inv_a[k], inv_b[k], inv_c[k])
        if q <= q_max[k]:
            es[m], ek[m], qs[m] = s, k, q
            m += 1
    return es[:m], ek[:m], qs[:m]


@njit(cache=True)
def in_view_any(anc_xy, ns_hi, nl_hi, offsets):  # pragma: no cover - compiled
    """(S, m) True where anchor j lies inside some band's image at offset s: x = p + o with
    −0.5 ≤ x_sample ≤ ``ns_hi[b]`` and −0.5 ≤ x_line ≤ ``nl_hi[b]`` (the bands' n − 0.5); NaN never inside.
    ``anc_xy`` (m, B, 2) px, ``offsets`` (S, 2) px."""
    n_off, m, n_b = offsets.shape[0], anc_xy.shape[0], anc_xy.shape[1]
    out = np.zeros((n_off, m), dtype=np.bool_)
    for s in range(n_off):
        o0, o1 = offsets[s, 0], offsets[s, 1]
        for j in range(m):
            for b in range(n_b):
                x = anc_xy[j, b, 0] + o0
                y = anc_xy[j, b, 1] + o1
                if x >= -0.5 and x <= ns_hi[b] and y >= -0.5 and y <= nl_hi[b]:
                    out[s, j] = True
                    break
    return out


#: ln 2 as numpy's ``logaddexp`` adds it for equal arguments (``NPY_LOGE2``)
_LOGE2 = 0.693147180559945309417232121458176568


@njit(cache=True, inline="always")
def _logaddexp(x, y):  # pragma: no cover - compiled
    """``np.logaddexp`` of two floats, as numpy computes it (``npy_logaddexp``: libm's ``log1p`` and
    ``exp``, which numpy's logaddexp calls one element at a time, not its vectorised ``exp``)."""
    if x == y:  # infinities of one sign
        return x + _LOGE2
    tmp = x - y
    if tmp > 0:
        return x + np.log1p(np.exp(-tmp))
    if tmp <= 0:
        return y + np.log1p(np.exp(tmp))
    return tmp  # NaN


@njit(cache=True)
def pairs_gain(
    cand_s, cand_k, d0, d1, offsets, inv_a, inv_b, inv_c, q_max, lc0, lt0, tail2, gain0
):  # pragma: no cover - compiled
    """:func:`pairs_within`, then each pair's gain ``gain0 + logaddexp(lc0 − q/2, lt0 − q/2/tail2)``
    (:meth:`ioscan.geometry.hotspot_registration._Pairs.log_density`'s mixture, as numpy computes it) and
    only the candidates of gain > 0, in their order: (seeds, pairs, q, gain)."""
    n = cand_s.shape[0]
    es = np.empty(n, np.int64)
    ek = np.empty(n, np.int64)
    qs = np.empty(n)
    gs = np.empty(n)
    m = 0
    for e in range(n):
        s, k = cand_s[e], cand_k[e]
        q = _q_form(d0[k] - offsets[s, 0], d1[k] - offsets[s, 1], inv_a[k], inv_b[k], inv_c[k])
        if q <= q_max[k]:
            half = 0.5 * q
            g = gain0[k] + _logaddexp(lc0[k] - half, lt0[k] - half / tail2[k])
            if g > 0:
                es[m], ek[m], qs[m], gs[m] = s, k, q, g
                m += 1
    return es[:m], ek[:m], qs[:m], gs[:m]


@njit(cache=True)
def grid_cells(x, y, cell):  # pragma: no cover - compiled
    """A uniform grid of square cells of side ``cell`` over points (x, y): (x0, y0, nx, ny, start, order) —
    the points of cell (cx, cy) are ``order[start[c]:start[c + 1]]``, c = cy·nx + cx (a stable counting
    sort), for :func:`grid_near`."""
    n = x.shape[0]
    x0, y0 = x.min(), y.min()
    nx = int((x.max() - x0) / cell) + 1
    ny = int((y.max() - y0) / cell) + 1
    key = np.empty(n, np.int64)
    for k in range(n):
        key[k] = int((y[k] - y0) / cell) * nx + int((x[k] - x0) / cell)
    start, order = _counting_sort(key, nx * ny)
    return x0, y0, nx, ny, start, order


@njit(cache=True)
def grid_near(qx, qy, x, y, cell, x0, y0, nx, ny, start, order, radius):  # pragma: no cover - compiled
    """(query index, point index) of every point (x, y) within Euclidean distance ``radius`` of each query
    (qx, qy), found through :func:`grid_cells`' grid: by query, then cell (row by row), then point in the
    sort's order. What a k-d tree's ``sparse_distance_matrix`` finds (distance ≤ radius), in another order."""
    r2 = radius * radius
    n_q = qx.shape[0]
    out_q = np.empty(0, np.int64)
    out_k = np.empty(0, np.int64)
    for rnd in range(2):  # count, then fill
        m = 0
        for i in range(n_q):
            lo_x = max(int(np.floor((qx[i] - radius - x0) / cell)), 0)
            hi_x = min(int(np.floor((qx[i] + radius - x0) / cell)), nx - 1)
            lo_y = max(int(np.floor((qy[i] - radius - y0) / cell)), 0)
            hi_y = min(int(np.floor((qy[i] + radius - y0) / cell)), ny - 1)
            for cy in range(lo_y, hi_y + 1):
                for cx in range(lo_x, hi_x + 1):
                    c = cy * nx + cx
                    for e in range(start[c], start[c + 1]):
                        k = order[e]
                        dx = x[k] - qx[i]
                        dy = y[k] - qy[i]
                        if dx * dx + dy * dy <= r2:
                            if rnd == 1:
                                out_q[m], out_k[m] = i, k
                            m += 1
        if rnd == 0:
            out_q = np.empty(m, np.int64)
            out_k = np.empty(m, np.int64)
    return out_q, out_k
