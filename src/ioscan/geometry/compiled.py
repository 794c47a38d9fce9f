"""Compiled (numba) kernels of the geometry's per-pixel loops: the same numbers as their numpy versions.

Each kernel repeats its numpy version's floating-point operations in the same order on each element
(additions, multiplications, divisions, square roots, minima and maxima: exactly rounded, so equal bit for
bit; numba compiles without ``fastmath``, so nothing is reassociated or fused), but in one pass over the
pixels instead of a dozen whole-array passes with their temporaries. The numpy versions stay beside them
(:func:`ioscan.geometry.ellipsoid.limb_distance_grid_numpy`, :func:`ioscan.geometry.limbfit.
_line_opening_numpy`) as the references the tests compare them with.

numba is imported by the first caller (not by ``import ioscan``); ``cache=True`` keeps the machine code on
disk (``__pycache__`` beside this file, or numba's cache folder when that is not writable), so a fresh
process loads it instead of compiling (``benchmarks/bench_scan.py``: ``worker_start_cpu_s``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def readonly(*arrays):
    """Read-only, C-contiguous float64 (or bool) views of ``arrays``: numba compiles (and loads from its
    cache) one machine code per argument type, and writable and read-only arrays are different types; the
    kernels take every array read-only, so that each has one signature (a process loads each kernel once)."""
    out = []
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=bool if np.asarray(a).dtype == bool else float)
        v = a.view()
        v.flags.writeable = False
        out.append(v)
    return out


@njit(cache=True, error_model="numpy", inline="always")
def _ray_root(a, b, c, px, py, pz, w, qc):  # pragma: no cover - compiled
    """The ray p + t·(a, b, c) against the ellipsoid Σ wₖ xₖ² = 1 (w = 1/radii²; ``qc`` = Σ wₖ pₖ² − 1):
    (qa, qb, discriminant, hit, root) of qa t² + 2 qb t + qc = 0, hit where the discriminant is ≥ 0 and the
    body lies ahead (qb < 0), root = √max(disc, 0) − qb, so the near intersection is t = qc / root (a NaN
    discriminant is no hit and a root of −qb, as np.maximum(disc, 0) gives where it matters)."""
    wa, wb, wc = a * w[0], b * w[1], c * w[2]
    qa = a * wa
    qa += b * wb
    qa += c * wc
    qb = px * wa
    qb += py * wb
    qb += pz * wc
    disc = qb * qb
    disc -= qa * qc
    hit = disc >= 0.0 and qb < 0.0
    root = np.sqrt(disc) if disc >= 0.0 else 0.0
    root -= qb
    return qa, qb, disc, hit, root


@njit(cache=True, error_model="numpy")
def limb_distance_rows(a_l, row_s, col_l, b_s, c_l, d_s, s, hss, hll, two_hsl):  # pragma: no cover - compiled
    """Signed limb distance (px) of every pixel (len(a_l) lines × len(s) samples) from the separable terms
    :func:`ioscan.geometry.ellipsoid.limb_distance_grid` makes: f = a_l[i]·s[j] + row_s[j] + col_l[i], the
    gradient (a_l[i] + b_s[j], c_l[i] + d_s[j]); the curvature constants hss, hll and 2·hsl."""
    nl, ns = a_l.shape[0], s.shape[0]
    out = np.empty((nl, ns))
    for i in range(nl):
        ai, ci, cli = a_l[i], col_l[i], c_l[i]
        for j in range(ns):
            f = ai * s[j]
            f += row_s[j]
            f += ci
            gs = ai + b_s[j]
            gl = cli + d_s[j]
            g2 = gs * gs
            gl2 = gl * gl
            hg2 = hss * g2
            hg2 += hll * gl2
            g2 += gl2
            gs *= gl
            gs *= two_hsl
            hg2 += gs
            hg2 *= f
            hg2 /= g2
            hg2 *= -2.0
            hg2 += g2
            ok = hg2 >= 0.0
            if hg2 < 0.0:  # np.maximum(x, 0): a NaN stays NaN
                hg2 = 0.0
            hg2 = np.sqrt(hg2)
            g = np.sqrt(g2)
            hg2 += g
            f *= 2.0
            out[i, j] = f / hg2 if ok else 0.5 * f / g
    return out


# ------------------------------------------------------------------ candidates' values into frame images
@njit(cache=True, error_model="numpy")
def scatter_candidates(n, idx, hit, v):  # pragma: no cover - compiled
    """A frame image (flat, ``n`` pixels) of candidates' values: ``v[k]`` at pixel ``idx[k]`` where
    ``hit[k]``, NaN at the other candidates and every other pixel, as ``np.full(n, nan); out[idx] = v;
    out[idx[~hit]] = nan`` makes it (``pose._scatter_layers``), in one pass."""
    out = np.empty(n)
    for k in range(n):
        out[k] = np.nan
    for k in range(idx.shape[0]):
        out[idx[k]] = v[k] if hit[k] else np.nan
    return out


@njit(cache=True, error_model="numpy")
def mark_hits(n, idx, hit):  # pragma: no cover - compiled
    """A frame image (flat, ``n`` pixels): 1.0 at the pixels ``idx[k]`` where ``hit[k]``, else 0.0, as
    ``np.zeros(n); out[idx[hit]] = 1.0`` makes it (the ``on_disk`` backplane)."""
    out = np.zeros(n)
    for k in range(idx.shape[0]):
        if hit[k]:
            out[idx[k]] = 1.0
    return out


@njit(cache=True, error_model="numpy")
def gather_candidates(
    disc, threshold, l0, s0, width, n_samples, dx, dy, dz, t1, t_near, norms
):  # pragma: no cover
    """The box's rays that can meet Io (``disc`` > ``threshold``) in one pass, as ``spice_provider.
    _candidates`` keeps them with a box: their frame pixel indices ((l0 + k // width)·n_samples + s0 +
    k % width for box pixel k) and their ray components, first intersections, closest approaches and norms."""
    n = disc.shape[0]
    m = 0
    for k in range(n):
        if disc[k] > threshold:
            m += 1
    idx = np.empty(m, np.intp)
    gx, gy, gz = np.empty(m), np.empty(m), np.empty(m)
    g1, gn, gr = np.empty(m), np.empty(m), np.empty(m)
    j = 0
    for k in range(n):
        if disc[k] > threshold:
            idx[j] = (l0 + k // width) * n_samples + s0 + k % width
            gx[j], gy[j], gz[j] = dx[k], dy[k], dz[k]
            g1[j], gn[j], gr[j] = t1[k], t_near[k], norms[k]
            j += 1
    return idx, gx, gy, gz, g1, gn, gr


@njit(cache=True, error_model="numpy")
def nan_where_missed(v, hit):  # pragma: no cover - compiled
    """``v[~hit] = nan`` in place (a candidate per pixel: ``pose._scatter_layers`` without indices)."""
    for k in range(v.shape[0]):
        if not hit[k]:
            v[k] = np.nan


@njit(cache=True, error_model="numpy")
def hits_as_float(hit):  # pragma: no cover - compiled
    """1.0 where ``hit``, else 0.0 (``on = np.zeros(n); on[hit] = 1.0``)."""
    out = np.empty(hit.shape[0])
    for k in range(hit.shape[0]):
        out[k] = 1.0 if hit[k] else 0.0
    return out


def readonly_index(idx: np.ndarray) -> np.ndarray:
    """A read-only C-contiguous intp view of pixel indices (one signature of the kernels that take them)."""
    v = np.ascontiguousarray(idx, dtype=np.intp).view()
    v.flags.writeable = False
    return v


# ----------------------------------------------------------------------------- the SPICE backplanes' rays
@njit(cache=True, error_model="numpy")
def box_rays_intersect(s, l, mb, ms, ml, norms, off, use_off, o, w, qc):  # pragma: no cover - compiled
    """The rays of a box of pixels and their first intersection with the ellipsoid, as
    :meth:`ioscan.geometry.camera.FrameCamera.rotated_ray_components` and
    :func:`ioscan.geometry.ellipsoid.intersect_components` (``closest=True``) make them: ray component k of
    pixel (i, j) = l[i]·ml[k] + (mb[k] + s[j]·ms[k]) (− norms·off[k] if ``use_off``), flat in C order;
    ``o`` the observer, ``w`` = 1/radii², ``qc`` = o·W·o − 1. Returns (dx, dy, dz, t, disc/qa, t_closest)."""
    nl, ns = l.shape[0], s.shape[0]
    n = nl * ns
    dx, dy, dz = np.empty(n), np.empty(n), np.empty(n)
    t, dq, tc = np.empty(n), np.empty(n), np.empty(n)
    for i in range(nl):
        lx, ly, lz = l[i] * ml[0], l[i] * ml[1], l[i] * ml[2]
        for j in range(ns):
            q = i * ns + j
            x = lx + (mb[0] + s[j] * ms[0])
            y = ly + (mb[1] + s[j] * ms[1])
            z = lz + (mb[2] + s[j] * ms[2])
            if use_off:
                x -= norms[q] * off[0]
                y -= norms[q] * off[1]
                z -= norms[q] * off[2]
            dx[q], dy[q], dz[q] = x, y, z
            qa, qb, disc, hit, root = _ray_root(x, y, z, o[0], o[1], o[2], w, qc)
            t[q] = qc / root if hit else np.nan
            dq[q] = disc / qa
            tc[q] = -(qb / qa)
    return dx, dy, dz, t, dq, tc


@njit(cache=True, error_model="numpy")
def light_time_intersect(
    dx, dy, dz, t1, t_near, mask, use_mask, lt_s, minus_inv_c, o0, g, omega, full, w, qc0, qc1, qc2
):  # pragma: no cover - compiled
    """Each ray's intersection at its own target epoch, as ``spice_provider._spice_arrays`` makes it with
    :class:`~ioscan.geometry.spice_provider._Epoch`: ray length, dt = lt − (t1 or t_near)·|d|/c, the ray
    turned with Io by dt (:meth:`_Epoch.rays`), the intersection from the observer moved by dt
    (:meth:`_Epoch.intersect`; ``mask`` False: a miss). Returns (d2x, d2y, d2z, o2x, o2y, o2z, t2, |d|,
    dt)."""
    n = dx.shape[0]
    ex, ey, ez = np.empty(n), np.empty(n), np.empty(n)
    ox, oy, oz = np.empty(n), np.empty(n), np.empty(n)
    t2, dlen, dts = np.empty(n), np.empty(n), np.empty(n)
    wx, wy, wz = omega[0], omega[1], omega[2]
    for q in range(n):
        x, y, z = dx[q], dy[q], dz[q]
        dl = x * x
        dl += y * y
        dl += z * z
        dl = np.sqrt(dl)
        dt = t1[q] if np.isfinite(t1[q]) else t_near[q]
        dt *= dl
        dt *= minus_inv_c
        dt += lt_s
        a = x - (wz * dt) * y
        b = y + (wz * dt) * x
        c = z
        if full:
            a += (wy * dt) * z
            b -= (wx * dt) * z
            c = z + dt * (wx * y - wy * x)
        px = o0[0] + dt * g[0]
        py = o0[1] + dt * g[1]
        pz = o0[2] + dt * g[2]
        qc = dt * qc2
        qc += qc1
        qc *= dt
        qc += qc0
        _, _, _, hit, r = _ray_root(a, b, c, px, py, pz, w, qc)
        if use_mask:
            hit = hit and mask[q]
        qc /= r
        t2[q] = qc if hit else np.nan
        ex[q], ey[q], ez[q] = a, b, c
        ox[q], oy[q], oz[q] = px, py, pz
        dlen[q], dts[q] = dl, dt
    return ex, ey, ez, ox, oy, oz, t2, dlen, dts


@njit(cache=True, error_model="numpy")
def surface_terms(
    ex, ey, ez, ox, oy, oz, t2, dlen, norms, beta, sun, w, lat_a, lat_c, ep2c, minus_e2a
):  # pragma: no cover - compiled
    """The arithmetic of :func:`ioscan.geometry.backplanes.surface_arrays` for the SPICE rays (to the
    observer −(d2 + |r|·β), to the Sun ``sun`` − p), each step as numpy takes it; what is left to numpy are
    its transcendental functions (arctan2, arccos: numpy's own vectorised ones, whose last bits a compiled
    libm call would not reproduce). Returns (x, y, z, rho, range, the planetographic latitude's arctan2
    arguments (num, den), the clipped cosines of emission, incidence and phase)."""
    n = ex.shape[0]
    x_, y_, z_, rho_, rng_ = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    num_, den_ = np.empty(n), np.empty(n)
    ce, ci, cp = np.empty(n), np.empty(n), np.empty(n)
    for q in range(n):
        t = t2[q]
        x = ex[q] * t
        x += ox[q]
        y = ey[q] * t
        y += oy[q]
        z = ez[q] * t
        z += oz[q]
        rng = t * dlen[q]
        nq = norms[q]
        ax = ex[q] + nq * beta[0]
        ay = ey[q] + nq * beta[1]
        az = ez[q] + nq * beta[2]
        sx, sy, sz = sun[0] - x, sun[1] - y, sun[2] - z
        nx, ny, nz = x * w[0], y * w[1], z * w[2]
        nn = nx * nx
        nn += ny * ny
        nn += nz * nz
        nn = np.sqrt(nn)
        sn = sx * sx
        sn += sy * sy
        sn += sz * sz
        sn = np.sqrt(sn)
        # planetographic latitude (lat_pg_deg_components) up to its arctan2
        rho, num, den = _lat_pg_terms(x, y, z, lat_a, lat_c, ep2c, minus_e2a)
        # _unit_dot_deg up to its arccos: emission (n, −A), incidence (n, S), phase (−A, S)
        ce[q] = _clipped_cos(nx, ny, nz, ax, ay, az, nn, nq, -1.0)
        ci[q] = _clipped_cos(nx, ny, nz, sx, sy, sz, nn, sn, 1.0)
        cp[q] = _clipped_cos(ax, ay, az, sx, sy, sz, nq, sn, -1.0)
        x_[q], y_[q], z_[q], rho_[q], rng_[q], num_[q], den_[q] = x, y, z, rho, rng, num, den
    return x_, y_, z_, rho_, rng_, num_, den_, ce, ci, cp


@njit(cache=True, error_model="numpy", inline="always")
def _clipped_cos(ux, uy, uz, vx, vy, vz, norm_u, norm_v, sign):  # pragma: no cover - compiled
    dot = ux * vx
    dot += uy * vy
    dot += uz * vz
    norm = norm_u * norm_v
    if sign != 1.0:
        norm *= sign
    dot /= norm
    if dot < -1.0:  # np.clip(dot, -1, 1): a NaN stays NaN
        dot = -1.0
    elif dot > 1.0:
        dot = 1.0
    return dot


# ----------------------------------------------------------------------------- the coverage grid's cells
@njit(cache=True, error_model="numpy")
def mark_coverage(on_disk, emission, lat, lon, emission_max, cell, grid):  # pragma: no cover - compiled
    """Set ``grid[i, j]`` of every pixel on the disk (``on_disk``) seen at an emission angle below
    ``emission_max``, as :func:`ioscan.geometry.coverage.coverage_grid` does with its ``_cells`` (flat
    arrays of one length; ``cell`` the cell size, degrees): i = ⌊(lat + 90) / cell⌋, j = ⌊lon / cell⌋ for a
    longitude in [0, 360), else ⌊mod(lon, 360) / cell⌋ (numpy's remainder: the same as applying it to every
    longitude, since it leaves those in [0, 360) as they are), each as numpy's ``astype(int)`` (a NaN,
    an infinity or a value out of int64's range is its minimum) clipped to the grid. Returns the count of
    pixels marked."""
    n_lat, n_lon = grid.shape
    count = 0
    for q in range(on_disk.shape[0]):
        if not on_disk[q] or not emission[q] < emission_max:
            continue
        count += 1
        f = lat[q] + 90.0
        f /= cell
        i = _cell_index(np.floor(f), n_lat)
        x = lon[q]
        if not (x >= 0.0 and x < 360.0):
            m = np.fmod(x, 360.0)
            if m != 0.0:
                if m < 0.0:  # 360 > 0: the remainder takes the divisor's sign
                    m += 360.0
            else:
                m = 0.0  # copysign(0, 360)
            x = m
        x /= cell
        grid[i, _cell_index(np.floor(x), n_lon)] = True
    return count


@njit(cache=True, error_model="numpy", inline="always")
def _cell_index(f, n):  # pragma: no cover - compiled
    """``np.clip(f.astype(int), 0, n - 1)`` of one floored value (x86's conversion: NaN, ±inf and values
    outside int64 give its minimum, clipped to 0)."""
    if not (f > -9.2e18 and f < 9.2e18):
        return 0
    k = int(f)
    if k < 0:
        return 0
    if k > n - 1:
        return n - 1
    return k


# ----------------------------------------------------------------------------- a View's surface points
@njit(cache=True, error_model="numpy")
def view_surface_terms(dx, dy, dz, o, w, qc, radii2, sun, lat_a, lat_c, ep2c, minus_e2a):  # pragma: no cover
    """The arithmetic of :meth:`ioscan.geometry.views.View.surface` after its rays are turned into the body
    frame (``d``, flat component arrays), each step as numpy takes it there: the rays normalised, their
    intersection (:func:`ioscan.geometry.ellipsoid.intersect_components`; ``o`` the observer, ``w`` =
    1/radii², ``qc`` = o·W·o − 1), the point, its normal (p / radii²) and the direction to the Sun, both
    normalised, the planetographic latitude up to its arctan2 (:func:`ioscan.geometry.backplanes.
    lat_pg_deg_components`) and the clipped cosines of emission, incidence and phase; what is left to numpy
    are the transcendental functions. Returns (t, x, y, lat num, lat den, cos e, cos i, cos phase)."""
    n = dx.shape[0]
    t_, x_, y_ = np.empty(n), np.empty(n), np.empty(n)
    num_, den_, ce, ci, cp = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for q in range(n):
        a, b, c = dx[q], dy[q], dz[q]
        ln = a * a
        ln += b * b
        ln += c * c
        ln = np.sqrt(ln)
        a /= ln
        b /= ln
        c /= ln
        _, _, _, hit, root = _ray_root(a, b, c, o[0], o[1], o[2], w, qc)
        t = qc / root if hit else np.nan
        x = o[0] + t * a
        y = o[1] + t * b
        z = o[2] + t * c
        nx, ny, nz = x / radii2[0], y / radii2[1], z / radii2[2]
        ln = nx * nx
        ln += ny * ny
        ln += nz * nz
        ln = np.sqrt(ln)
        nx /= ln
        ny /= ln
        nz /= ln
        sx, sy, sz = sun[0] - x, sun[1] - y, sun[2] - z
        ln = sx * sx
        ln += sy * sy
        ln += sz * sz
        ln = np.sqrt(ln)
        sx /= ln
        sy /= ln
        sz /= ln
        bx, by, bz = -a, -b, -c
        ce[q] = _clip_unit(_dot3(nx, ny, nz, bx, by, bz))
        ci[q] = _clip_unit(_dot3(nx, ny, nz, sx, sy, sz))
        cp[q] = _clip_unit(_dot3(bx, by, bz, sx, sy, sz))
        # planetographic latitude up to its arctan2
        rho, num, den = _lat_pg_terms(x, y, z, lat_a, lat_c, ep2c, minus_e2a)
        t_[q], x_[q], y_[q], num_[q], den_[q] = t, x, y, num, den
    return t_, x_, y_, num_, den_, ce, ci, cp


@njit(cache=True, error_model="numpy", inline="always")
def _lat_pg_terms(x, y, z, lat_a, lat_c, ep2c, minus_e2a):  # pragma: no cover - compiled
    """(ρ, numerator, denominator) of a body-frame point's planetographic latitude up to its arctan2, the
    steps of ``lat_pg_deg_components`` in their order (Bowring's one iteration from the geocentric guess)."""
    rho = np.sqrt(x * x + y * y)
    num, den = lat_a * z, lat_c * rho
    r = num * num
    r += den * den
    r = np.sqrt(r)
    num /= r
    den /= r
    num *= num * num
    num *= ep2c
    num += z
    den *= den * den
    den *= minus_e2a
    den += rho
    return rho, num, den


@njit(cache=True, error_model="numpy", inline="always")
def _dot3(ux, uy, uz, vx, vy, vz):  # pragma: no cover - compiled
    dot = ux * vx
    dot += uy * vy
    dot += uz * vz
    return dot


@njit(cache=True, error_model="numpy", inline="always")
def _clip_unit(x):  # pragma: no cover - compiled
    """np.clip(x, -1, 1) (a NaN stays NaN)."""
    if x < -1.0:
        return -1.0
    if x > 1.0:
        return 1.0
    return x


@njit(cache=True, error_model="numpy")
def frame_camera_rays(sample, line, center_sample, center_line, ifov, u_s, b, u_l):  # pragma: no cover
    """:meth:`ioscan.geometry.camera.FrameCamera.rays` of flat arrays, (n, 3), as
    :func:`ioscan.geometry.views._camera_rays` builds them a component at a time: ds = (s − cs)·ifov,
    dl = (l − cl)·ifov, component j = ds·u_s[j] + b[j] + dl·u_l[j] (left to right)."""
    n = sample.shape[0]
    rays = np.empty((n, 3))
    for q in range(n):
        ds = sample[q] - center_sample
        ds *= ifov
        dl = line[q] - center_line
        dl *= ifov
        for j in range(3):
            c = ds * u_s[j]
            c += b[j]
            c += dl * u_l[j]
            rays[q, j] = c
    return rays
