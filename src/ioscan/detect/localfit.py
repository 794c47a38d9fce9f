"""S/N near a bright limb from a local joint fit: PSF amplitude + a background free across the limb.

Near a sunlit limb the brightness changes across the limb faster than any smooth 2-D surface follows (the
disk's blurred step, the photometric function as the emission angle goes to 90°), and along it slowly. At
every pixel c of the limb model's zone the pixels j of a (2h+1)² window are fitted, by least squares with
weights w_j (1 on usable pixels, 0 elsewhere), as

    x_j = A · P(j − c − phase) + s + g_l ∂T/∂line_j + g_s ∂T/∂sample_j + T_j · Σ_k B_k(d_j − d_c) · q_k(Δ_j)

with P the PSF at one of the sub-pixel phases, T the measured limb profile (0 on the sky, 1 on the disk), d
the limb distance, B_k linear B-splines (hats) ``knot_px`` apart and q_k polynomials of degree
``knot_degree`` in the window offsets Δ: the background takes any profile across the limb, varying smoothly
along it over the window, the limb may sit a fraction of a pixel off, and a point source, compact along the
limb, stands out of it. The white-noise S/N is A / σ_A with σ_A² = Σ_j k_j² var_j, k the fit's linear
weights of A (the background's noise included, as the annulus options' noise gain is); A by the Schur
complement of the background block (one batched solve for all phases).

Measured (``DetectConfig.limb_fit``, off by default; docs/architecture.md, *Local joint fits, tried*): told
the independent renderer's true background, the S/N's noise scale near the limb is ~1 with quadratic knots,
but the fit's white-noise efficiency falls as much, and in the catalogue it finds no more hot spots.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ioscan.detect.psf import PsfModel

#: fewest weighted pixels in a window beyond the fit's unknowns (its residual degrees of freedom)
MIN_PIXELS = 24


@lru_cache(maxsize=32)
def _psf_window(psf: PsfModel, half: int, phase: tuple[float, float]) -> np.ndarray:
    """The PSF at ``phase`` (line, sample offset of the source from the centre pixel) on the (2h+1)²
    window, flattened in C order (read-only)."""
    o = np.arange(-half, half + 1, dtype=float)
    p, _, _ = psf.stamps(o[None, None, :], o[None, :, None], np.array([phase[1]]), np.array([phase[0]]))
    v = p[0].ravel()
    v.setflags(write=False)
    return v


def limb_fit_snr(
    x: np.ndarray,
    var: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
    distance_px: np.ndarray,
    psf: PsfModel,
    phases: tuple[tuple[float, float], ...],
    half: int = 5,
    knot_px: float = 2.0,
    knot_degree: int = 2,
    profile: np.ndarray | None = None,
) -> list[np.ndarray]:
    """White-noise S/N A / σ_A of the joint fit (module docstring) at the ``target`` pixels, one map per
    phase (float64; 0 elsewhere, and where a window holds fewer than :data:`MIN_PIXELS` weighted pixels or
    than twice the unknowns).

    Args:
        x: image (values where ``weight`` is False are not used).
        var: white pixel variance (image units²) where ``weight``.
        weight: pixels that may feed a fit (finite, unmasked, not outliers).
        target: pixels where the S/N is wanted.
        distance_px: signed limb distance per pixel (px); the background's hats are in d_j − d_c.
        psf: the PSF (its stamps at each phase).
        phases: (line, sample) sub-pixel offsets of the source.
        half: the window's half-size h (px).
        knot_px: spacing of the hats across the limb (px).
        knot_degree: each hat × the monomials of the window offsets of total degree ≤ this.
        profile: the limb's expected shape T per pixel (0 on the sky, 1 on the disk; the measured profile), or
            None. Given it, the hats are × T, and a constant (the sky) and T's two gradients (a sub-pixel
            shift of the limb) join them: the limb's step itself needs no hats.
    """
    nl, ns = x.shape
    out = [np.zeros((nl, ns), np.float64) for _ in phases]
    ii, jj = np.nonzero(target)
    if ii.size == 0:
        return out
    o = np.arange(-half, half + 1)
    li = (ii[:, None, None] + o[None, :, None] + 0 * o[None, None, :]).reshape(len(ii), -1)
    sj = (jj[:, None, None] + 0 * o[None, :, None] + o[None, None, :]).reshape(len(ii), -1)
    ins = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
    lc, sc = np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)
    w = (ins & weight[lc, sc]).astype(np.float64)
    xw = np.where(w > 0, x[lc, sc], 0.0).astype(np.float64)
    vw = np.where(w > 0, var[lc, sc], 0.0).astype(np.float64)
    d = np.asarray(distance_px, np.float64)
    dd = (d[lc, sc] - d[ii, jj][:, None]) / knot_px
    dl, ds = np.meshgrid(o / half, o / half, indexing="ij")
    monos = [(ds**i * dl**j).ravel() for i in range(knot_degree + 1) for j in range(knot_degree + 1 - i)]
    kmax = int(np.ceil(half * np.sqrt(2.0) / knot_px)) + 1
    cols = []
    shape_w = None
    if profile is not None:
        t = np.asarray(profile, np.float64)
        gl, gs = np.gradient(t)
        shape_w = t[lc, sc]
        cols += [np.ones_like(shape_w), gl[lc, sc], gs[lc, sc]]
    for k in range(-kmax, kmax + 1):
        hat = np.maximum(0.0, 1.0 - np.abs(dd - k))
        if shape_w is not None:
            hat = hat * shape_w
        if not (hat * w).any():
            continue
        cols.extend(hat * m[None, :] for m in monos)
    bg = np.stack(cols, 1)  # (n_pix, n_terms, window)
    bw = bg * w[:, None, :]
    g = np.matmul(bw, bg.transpose(0, 2, 1))  # the background's normal matrix, shared by the phases
    m_b = g.shape[1]
    enough = w.sum(axis=1) >= m_b + 1 + MIN_PIXELS
    # the amplitude by the Schur complement of the background block: one solve for all phases
    # (a tiny ridge keeps windows that leave a term unconstrained solvable; that term then ~0)
    tr = np.trace(g, axis1=1, axis2=2)[:, None, None]
    pv = np.stack([_psf_window(psf, half, ph) for ph in phases])  # (phases, window)
    pw = w[:, None, :] * pv[None]  # (n_pix, phases, window)
    gp = np.matmul(bg, pw.transpose(0, 2, 1))  # (n_pix, terms, phases)
    u = np.linalg.solve(g + np.eye(m_b)[None] * (1e-9 * tr + 1e-300), gp)
    for p in range(len(phases)):
        schur = np.sum(pw[:, p] * pv[p][None, :], axis=1) - np.sum(gp[:, :, p] * u[:, :, p], axis=1)
        good = enough & (schur > 1e-12 * np.sum(pw[:, p] * pv[p][None, :], axis=1))
        kk = w * (pv[p][None, :] - np.matmul(u[:, None, :, p], bg)[:, 0])  # A's weights × the Schur term
        kk /= np.where(good, schur, 1.0)[:, None]
        amp = np.sum(kk * xw, axis=1)
        sa = np.sqrt(np.maximum(np.sum(kk * kk * vw, axis=1), 1e-300))
        out[p][ii, jj] = np.where(good, amp / sa, 0.0)
    return out
