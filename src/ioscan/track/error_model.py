"""Position-error model calibrated on the data: how much each catalogue, observer and night understates its
quoted errors.

Published catalogues quote 1σ position errors that leave things out (navigation of the disk, foreshortening
near the limb, blends): their pulls (offset from the hot spot's position / quoted error) have robust standard
deviations of ~1.6, more for the detections quoted as most precise, and every night shares a systematic
offset. The model, fitted on repeat detections of the current association:

    σ_eff² = k_night² · k_observer² · (a² · σ_quoted² + b²)          (along north and east separately)

* ``a`` (a scale) and ``b`` (an additive systematic floor, km) per catalogue (``source``): their ratio by
  maximum likelihood with a Student-t (``tail_nu``) so that the heavy tails do not drive it, their level
  from the robust scale of the catalogue's pulls (so that they are Gaussian-equivalent σ); a catalogue
  with too few repeat detections takes the fit of all catalogues together;
* ``k_observer`` (``observer``) and ``k_night`` (detections of one observer less than ``night_gap_h`` apart):
  the robust scale (1.4826 × median |pull|) of their pulls, shrunk towards 1 by empirical Bayes (as much
  as the groups' scatter is sampling noise, and at least with the weight of ``prior_components`` pulls),
  so that a night with three detections mostly keeps its observer's errors;
* σ_eff is never below ``min_scale`` × the quoted error, nor above ``max_scale`` × it.

The pulls of a detection are its north and east offsets from the **leave-one-out** centroid of its hot spot
divided by √(model variance + centroid variance + association floor); only hot spots with ≥ ``min_members``
detections give pulls. Positions in, as everywhere in ``track``: unit vectors in IAU_IO, errors in km on the
mean sphere (R = 1821.49 km).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ioscan.body import IO_MEAN_RADIUS_KM
from ioscan.track._common import local_north_east, text_column, to_utc, unique_ints
from ioscan.track.config import ErrorModelConfig  # noqa: F401  (defined with the tracker's settings)

R_KM = IO_MEAN_RADIUS_KM
MAD_TO_SIGMA = 1.4826


@dataclass
class ErrorModel:
    """A calibrated error model.

    Attributes:
        var_north_km2, var_east_km2: effective 1σ variances of every detection, km².
        scale: fitted ``a`` per catalogue code.
        floor_km: fitted ``b`` per catalogue code, km.
        k_observer, k_night: factor of every detection's observer and night.
        n_pulls: pull components the fit used.
    """

    var_north_km2: np.ndarray
    var_east_km2: np.ndarray
    scale: dict = field(default_factory=dict)
    floor_km: dict = field(default_factory=dict)
    k_observer: np.ndarray | None = None
    k_night: np.ndarray | None = None
    n_pulls: int = 0


def error_groups(detections: pd.DataFrame, night_gap_h: float = 8.0) -> pd.DataFrame:
    """Nested group codes of every detection: ``catalogue``, ``observer``, ``night`` (int arrays, one code
    per distinct group at each level, aligned with ``detections``)."""
    n = len(detections)
    catalogue = text_column(detections, "source")
    observer = catalogue + "\x1f" + text_column(detections, "observer")
    cat_code = pd.factorize(pd.Series(catalogue, dtype=object), sort=True)[0]
    obs_code = pd.factorize(pd.Series(observer, dtype=object), sort=True)[0]
    if n == 0:
        return pd.DataFrame({"catalogue": cat_code, "observer": obs_code, "night": obs_code})
    t = to_utc(detections["time_utc"], "error_groups").to_numpy().astype("datetime64[s]").astype(np.int64)
    order = np.lexsort((t, obs_code))
    gap = np.diff(t[order]) > night_gap_h * 3600.0
    new_obs = np.diff(obs_code[order]) != 0
    starts = np.concatenate([[True], gap | new_obs])
    night = np.empty(n, dtype=np.int64)
    night[order] = np.cumsum(starts) - 1
    return pd.DataFrame({"catalogue": cat_code, "observer": obs_code, "night": night})


def loo_offsets_km(
    u: np.ndarray, w: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """North and east offsets (km) of each detection from the leave-one-out centroid of its hot spot.

    Args:
        u: unit vectors (n, 3).
        w: centroid weights (n,), 1/km² (the precision of each detection).
        labels: hot spot of each detection (−1 = none).

    Returns:
        (d_north_km, d_east_km, centroid_var_km2, n_members): offsets of the *centroid* from the detection,
        the leave-one-out centroid's variance (1/Σw of the others) and the hot spot's size; NaN offsets for
        detections without a hot spot or alone in it.
    """
    n = len(u)
    ok = labels >= 0
    m = int(labels[ok].max()) + 1 if ok.any() else 0
    vec = np.zeros((m, 3))
    for c in range(3):
        vec[:, c] = np.bincount(labels[ok], weights=w[ok] * u[ok, c], minlength=m)
    sw = np.bincount(labels[ok], weights=w[ok], minlength=m)
    size = np.bincount(labels[ok], minlength=m)
    lab = np.where(ok, labels, 0)
    loo = vec[lab] - w[:, None] * u if m else np.zeros((n, 3))
    loo_w = sw[lab] - w if m else np.zeros(n)
    n_members = np.where(ok, size[lab] if m else 0, 0)
    valid = ok & (n_members >= 2) & (loo_w > 0)
    norm = np.linalg.norm(loo, axis=1)
    c = loo / np.where(norm > 0, norm, 1.0)[:, None]
    north, east = local_north_east(u)
    cosang = np.einsum("ij,ij->i", c, u)
    dn, de = np.einsum("ij,ij->i", c, north), np.einsum("ij,ij->i", c, east)
    tang = np.hypot(dn, de)
    scale = np.where(tang > 0, np.arctan2(tang, cosang) / np.where(tang > 0, tang, 1.0), 1.0) * R_KM
    nan = np.full(n, np.nan)
    var = np.where(valid, 1.0 / np.where(valid, loo_w, 1.0), np.nan)
    return np.where(valid, dn * scale, nan), np.where(valid, de * scale, nan), var, n_members


def robust_scale(pulls: np.ndarray) -> float:
    """1.4826 × median |pull| (the Gaussian σ for centred pulls); NaN without pulls."""
    pulls = pulls[np.isfinite(pulls)]
    return float(MAD_TO_SIGMA * np.median(np.abs(pulls))) if len(pulls) else float("nan")


def _t_loglike(d2: np.ndarray, var: np.ndarray, nu: float) -> float:
    """Σ log of the 1-D Student-t density (ν = nu, scale² = var) of squared offsets d2 (constants dropped)."""
    return float(np.sum(-0.5 * np.log(var) - 0.5 * (nu + 1.0) * np.log1p(d2 / (nu * var))))


def fit_scale_and_floor(
    d2: np.ndarray, quoted2: np.ndarray, extra2: np.ndarray, cfg: ErrorModelConfig
) -> tuple[float, float]:
    """Maximum-likelihood (a, b) of ``var = a²·quoted² + b² + extra²`` under a Student-t (``cfg.tail_nu``).

    Args:
        d2: squared offsets (one per pull component), km².
        quoted2: squared quoted errors of those components, km².
        extra2: variance known besides (centroid + association floor), km².
        cfg: grid bounds (a in [min_scale / 2, max_scale]) and subsampling.

    Returns:
        (a, b_km) on log grids, coarse to fine (b = 0 included). They are the Student-t's scales:
        :func:`calibrate` brings them to Gaussian-equivalent ones with the robust scale of the pulls.
    """
    if len(d2) > cfg.max_fit_components:
        take = np.linspace(0, len(d2) - 1, cfg.max_fit_components).astype(np.int64)
        d2, quoted2, extra2 = d2[take], quoted2[take], extra2[take]
    q = float(np.sqrt(np.median(quoted2)))
    a_lo, a_hi = np.log(0.5 * cfg.min_scale), np.log(cfg.max_scale)
    b_lo, b_hi = np.log(0.05 * q), np.log(5.0 * q)
    best = (-np.inf, cfg.min_scale, 0.0)
    for _ in range(3):  # coarse grid, then two finer ones around the best point (log spacing)
        a_grid = np.exp(np.linspace(a_lo, a_hi, 13))
        b_grid = np.concatenate([[0.0], np.exp(np.linspace(b_lo, b_hi, 13))])
        for b in b_grid:
            for a in a_grid:
                ll = _t_loglike(d2, a * a * quoted2 + b * b + extra2, cfg.tail_nu)
                if ll > best[0]:
                    best = (ll, float(a), float(b))
        da, db = (a_hi - a_lo) / 6.0, (b_hi - b_lo) / 6.0
        la = np.log(best[1])
        lb = np.log(best[2]) if best[2] > 0 else b_lo
        a_lo, a_hi = max(la - da, np.log(0.5 * cfg.min_scale)), min(la + da, np.log(cfg.max_scale))
        b_lo, b_hi = lb - db, lb + db
    return best[1], best[2]


def _shrunk_factor(pulls: np.ndarray, groups: np.ndarray, k: float) -> np.ndarray:
    """Per detection, the robust scale of its group's pulls (n, 2; NaN = none), shrunk towards 1.

    Empirical Bayes on ln(scale): a group's raw ln scale has sampling variance ≈ 1.36 / m for m pull
    components (the median absolute deviation's); the spread of the true ln scales between groups, τ², is
    what the raw ones scatter beyond that (method of moments). Each group keeps the fraction τ²/(τ² + 1.36/m)
    of its raw ln scale, and at most m/(m + k) of it (``k`` pull components of prior weight), so groups that
    differ only by chance all take 1.
    """
    has = np.isfinite(pulls)
    g = np.repeat(groups, 2)[has.ravel()]
    a = np.abs(pulls).ravel()[has.ravel()]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    log_raw = np.zeros(n_groups)
    count = np.bincount(g, minlength=n_groups).astype(float)
    if len(a):
        med = pd.DataFrame({"g": g, "a": a}).groupby("g")["a"].median()
        log_raw[med.index.to_numpy()] = np.log(np.maximum(MAD_TO_SIGMA * med.to_numpy(), 1e-6))
    measured = count >= 2
    noise = 1.36 / np.maximum(count, 1.0)
    tau2 = 0.0
    if measured.sum() >= 2:
        spread = np.average(log_raw[measured] ** 2, weights=count[measured])
        tau2 = max(0.0, spread - float(np.average(noise[measured], weights=count[measured])))
    weight = np.where(measured, np.minimum(tau2 / (tau2 + noise), count / (count + k)), 0.0)
    return np.exp(weight * log_raw)[groups]


def _pulls(dn, de, sn2, se2, extra, use, cat, a_cat: dict, b_cat: dict) -> np.ndarray:
    """North and east pulls (n, 2; NaN where unused) under σ² = a²·quoted² + b² (+ ``extra``)."""
    a = np.array([a_cat[int(c)] for c in cat])
    b2 = np.array([b_cat[int(c)] for c in cat]) ** 2
    pulls = np.stack([dn / np.sqrt(a * a * sn2 + b2 + extra), de / np.sqrt(a * a * se2 + b2 + extra)], axis=1)
    pulls[~use] = np.nan
    return pulls


def calibrate(
    u: np.ndarray,
    sn2: np.ndarray,
    se2: np.ndarray,
    labels: np.ndarray,
    groups: pd.DataFrame,
    current: tuple[np.ndarray, np.ndarray] | None = None,
    floor2_km2: float = 0.0,
    cfg: ErrorModelConfig | None = None,
) -> ErrorModel:
    """Fit the error model on the pulls of the association ``labels``.

    Args:
        u: unit vectors (n, 3).
        sn2, se2: quoted 1σ variances along north and east, km².
        labels: hot spot of every detection (−1 = none).
        groups: :func:`error_groups` of the detections.
        current: effective variances (north, east) that made ``labels`` (they weight the centroids);
            quoted ones if None.
        floor2_km2: variance the association adds to every detection (its systematic floor), km².
        cfg: knobs.

    Returns:
        The fitted :class:`ErrorModel` (effective variances of every detection and the fitted factors).
    """
    cfg = cfg or ErrorModelConfig()
    n = len(u)
    vn_cur, ve_cur = current if current is not None else (sn2, se2)
    if n == 0:
        return ErrorModel(sn2.copy(), se2.copy())
    w = 2.0 / (vn_cur + ve_cur + 2.0 * floor2_km2)
    dn, de, var_c, size = loo_offsets_km(u, w, labels)
    use = np.isfinite(dn) & (size >= cfg.min_members)
    extra = np.where(use, var_c, 0.0) + floor2_km2
    cat = groups["catalogue"].to_numpy()
    comp_use = np.concatenate([use, use])
    d2 = np.concatenate([dn, de]) ** 2
    q2 = np.concatenate([sn2, se2])
    x2 = np.concatenate([extra, extra])
    comp_cat = np.concatenate([cat, cat])
    if comp_use.sum() < cfg.min_fit_components:
        return ErrorModel(sn2.copy(), se2.copy(), n_pulls=int(comp_use.sum()))
    a_all, b_all = fit_scale_and_floor(d2[comp_use], q2[comp_use], x2[comp_use], cfg)
    a_cat, b_cat = {}, {}
    for c in unique_ints(cat):
        sel = comp_use & (comp_cat == c)
        a_cat[int(c)], b_cat[int(c)] = (
            fit_scale_and_floor(d2[sel], q2[sel], x2[sel], cfg)
            if sel.sum() >= cfg.min_fit_components
            else (a_all, b_all)
        )
    pulls = _pulls(dn, de, sn2, se2, extra, use, cat, a_cat, b_cat)
    for c in a_cat:  # the t fit gives the shape; the level is the pulls' robust scale (Gaussian σ)
        r = robust_scale(pulls[cat == c].ravel())
        if np.isfinite(r):
            a_cat[c], b_cat[c] = a_cat[c] * r, b_cat[c] * r
    pulls = _pulls(dn, de, sn2, se2, extra, use, cat, a_cat, b_cat)
    a = np.array([a_cat[int(c)] for c in cat])
    b2 = np.array([b_cat[int(c)] for c in cat]) ** 2
    base_n, base_e = a * a * sn2 + b2, a * a * se2 + b2
    k_obs = _shrunk_factor(pulls, groups["observer"].to_numpy(), cfg.prior_components)
    k_night = _shrunk_factor(pulls / k_obs[:, None], groups["night"].to_numpy(), cfg.prior_components)
    k2 = (k_obs * k_night) ** 2
    lo, hi = cfg.min_scale**2, cfg.max_scale**2
    vn = np.clip(k2 * base_n, lo * sn2, hi * sn2)
    ve = np.clip(k2 * base_e, lo * se2, hi * se2)
    return ErrorModel(vn, ve, a_cat, b_cat, k_obs, k_night, int(comp_use.sum()))
