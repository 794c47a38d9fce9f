"""Small nonlinear least squares for the limb fit: a few parameters (pixel offsets, log scale, rotation in
radians), tens to hundreds of residuals (pixels).

:func:`solve` minimises Σρ(rᵢ(x)) with ρ the plain square or scipy's ``soft_l1`` loss
(ρ(r) = 2 f²(√(1 + (r/f)²) − 1)) by Gauss–Newton steps on a forward-difference Jacobian (for ``soft_l1``
Newton steps on the robust cost: rows scaled by ρ' and ρ'' as scipy scales them), halving a step that
raises the cost. Its minimum is the one :func:`scipy.optimize.least_squares` finds (the same stationary
point, to the stopping tolerance), at about half that routine's time on problems this small (its per-call
overhead). When it does not converge it hands the problem to :func:`scipy.optimize.least_squares` from
where it started.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STEP_TOL = 1e-6  # stop when a step moves every parameter by less than this (px; rad and log scale alike)
FLAT_TOL = 1e-3  # a step this small that no longer lowers the cost: the minimum, to rounding
MAX_ITER = 40
FD_STEP = 1.4901161193847656e-08  # √(machine ε): scipy's forward-difference step, relative


def _cost(r: np.ndarray, f_scale: float | None) -> float:
    if f_scale is None:
        return 0.5 * float(r @ r)
    return float(f_scale**2 * np.sum(np.sqrt(1.0 + (r / f_scale) ** 2) - 1.0))


def solve(
    fun: Callable[[np.ndarray], np.ndarray], x0, f_scale: float | None = None, step_tol: float = STEP_TOL
) -> np.ndarray:
    """Parameters minimising the summed loss of ``fun``'s residuals: plain squares (``f_scale`` None) or
    ``soft_l1`` with scale ``f_scale`` (same units as the residuals). Stops when a step would move every
    parameter by less than ``step_tol`` (the limb fit passes 1e-3 px: a thousandth of a pixel is far below
    any offset's error, and it saves an iteration or two)."""
    x = np.array(x0, dtype=float)
    r = fun(x)
    c = _cost(r, f_scale)
    eye = np.eye(len(x))
    for _ in range(MAX_ITER):
        if not (np.all(np.isfinite(r)) and np.isfinite(c)):
            break
        h = FD_STEP * np.maximum(1.0, np.abs(x))
        jac = np.column_stack([(fun(x + h[j] * eye[j]) - r) / h[j] for j in range(len(x))])
        if f_scale is None:
            dx = np.linalg.lstsq(jac, -r, rcond=None)[0]
        else:  # Newton on the robust cost: ρ' and ρ'' folded into the rows (as scipy scales them)
            q = 1.0 + (r / f_scale) ** 2
            dx = np.linalg.lstsq(jac * (q**-0.75)[:, None], -r * q**0.25, rcond=None)[0]
        if not np.all(np.isfinite(dx)):
            break
        if float(np.max(np.abs(dx))) < step_tol:
            return x  # converged: the next step is below the tolerance
        t = 1.0
        while t >= 1e-3:
            xn = x + t * dx
            rn = fun(xn)
            cn = _cost(rn, f_scale)
            if np.isfinite(cn) and cn <= c:
                break
            t *= 0.5
        else:
            if float(np.max(np.abs(dx))) < FLAT_TOL:
                return x  # the cost is flat to rounding here: the minimum
            break  # no step along dx lowers the cost: lost
        x, r, c = xn, rn, cn
    from scipy.optimize import least_squares  # the rare fallback (not imported before: ~0.15 s)

    kw = {"method": "lm"} if f_scale is None else {"method": "trf", "loss": "soft_l1", "f_scale": f_scale}
    return least_squares(fun, np.array(x0, dtype=float), **kw).x
