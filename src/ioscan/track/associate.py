"""Group detections into persistent hot spots with stable IDs.

Method (deterministic; positions on the sphere as 3-D unit vectors, km on Io's mean radius 1821.49 km):

1. Each detection has a 1σ error ellipse: a 2×2 covariance along local north/east (``lat_err_deg``;
   ``lon_err_deg`` in degrees of longitude, i.e. ``lon_err·cos(lat)`` on the ground; ``lat_lon_err_corr``,
   the correlation of the lat and west-longitude errors, absent = 0; ``position_err_km`` where the errors
   are missing; :mod:`ioscan.track.covariance`). Detections are processed from the most to the least
   precise (the ellipse's major axis; ties broken by ``detection_id``), in tiers whose worst error doubles
   from one tier to the next.
2. A detection is *consistent* with a hot spot when ``χ² = dᵀ (Σ_det + Σ_c + σs² I)⁻¹ d ≤ χ²₂(n_sigma)``,
   where d are the north/east offsets of the hot-spot centroid in the detection's tangent plane, Σ_c the
   centroid's covariance, σs = ``min_sep_km``/√χ²₂ a systematic floor (so any separation below
   ``min_sep_km`` is consistent), and χ²₂(n_sigma) the 2-dof χ² quantile with the two-sided Gaussian
   n_sigma probability (11.83 for 3σ).
3. In each tier, detections join the *most likely* consistent hot spot (smallest ρ(χ²) + ln|Σ| − 2 ln n_k,
   the negative log-likelihood of a Student-t with ν = ``mixture.nu`` — the Gaussian χ² without the
   mixture — weighted by the hot spot's size); the rest are grouped by leader clustering (the most
   precise unassigned detection collects every unassigned detection consistent with it) and found new
   hot spots. A coarse (e.g. 5° ground-based) detection processed after precise ones can only join the
   single most likely hot spot, or stay on its own when none is consistent: it never glues distinct
   precise hot spots together.
4. A hot spot holds at most one detection per (frame, band): two sources in one frame are two hot
   spots. On a clash the better fitting (smaller χ²) detection stays and the other goes to its next most
   likely hot spot, or founds a new one. The frame is the ``observation_id``; imported rows without one
   share a frame when they share ``source``, ``observer``, ``time_utc`` and ``band``.
5. ``n_iter`` refinement passes then recompute every centroid (the inverse-covariance weighted mean of
   the members, information form; uncorrelated detections with the isotropic weight 2/(σN² + σE²); members
   of one observation, which share its pointing error, with 1/m of their information each) and re-assign
   every detection as in 3–4.
6. Mixture (``mixture``, :mod:`ioscan.track.mixture`): hot spots merge when a Student-t mixture of sites
   with a Chinese-restaurant prior scores the merged one higher (tails join their site; clusters the data
   separate, or that share a frame, stay apart; hot spots from a previous run never merge together), and
   detections move to their likeliest hot spot under that model (a detection founds a new one only when
   it is outside every gate or loses a same-frame clash, solved per frame by an optimal assignment).
7. Calibration (``error_model``, ``night_offsets``; :mod:`ioscan.track.error_model`,
   :mod:`ioscan.track.night_offsets`): from the repeat detections of the association, per-night
   systematic offsets are estimated and removed, and the quoted errors rescaled (scale and systematic
   floor per catalogue, factors per observer and night); steps 1–6 are repeated with the corrected
   positions and errors until they settle. Detections whose quoted errors hold and that carry no night
   offsets come out as they went in. Hot-spot positions and errors are those of the corrected, rescaled
   detections.

Stable IDs: detections that arrive with a ``hotspot_id`` (from a previous run) stay in that hot spot;
``existing_hotspots`` rows act as prior positions (weight from their own errors), so new detections
that match them take their ID. New hot spots get IDs numbered after the highest existing one with the
same prefix, in order of first detection time (then smallest ``detection_id``); nothing is renumbered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree

from ioscan.body import IO_MEAN_RADIUS_KM
from ioscan.errors import CatalogError
from ioscan.track._common import (
    DEG,
    finite_float,
    isin_ints,
    km_errors,
    local_north_east,
    require_columns,
    text_column,
    to_utc,
    unique_ints,
    unit_vectors,
    vectors_to_lat_lon,
)
from ioscan.track.covariance import (
    chi2_and_logdet,
    correlation,
    embed,
    major_variance,
    matvec,
    solve,
    tangent_of,
)
from ioscan.track.error_model import ErrorModelConfig, calibrate, error_groups
from ioscan.track.mixture import Clusters, MixtureConfig, estimate_alpha, merge_hotspots
from ioscan.track.night_offsets import NightOffsetConfig, correct_positions

R_KM = IO_MEAN_RADIUS_KM
HOTSPOT_COLUMNS = [
    "hotspot_id",
    "lat_deg",
    "lon_w_deg",
    "lat_err_deg",
    "lon_err_deg",
    "lat_lon_err_corr",
    "n_detections",
    "first_time_utc",
    "last_time_utc",
    "bands",
]
_CHUNK = 50_000
DEFAULT_ERROR_MODEL = ErrorModelConfig()
DEFAULT_MIXTURE = MixtureConfig()
DEFAULT_NIGHT_OFFSETS = NightOffsetConfig()


@dataclass
class AssociationResult:
    """Output of :func:`associate`.

    Attributes:
        hotspot_id: hot-spot ID of each detection, a Series with the detections' index.
        hotspots: one row per hot spot (columns ``HOTSPOT_COLUMNS``; position planetographic °N / west °W
            with 1σ errors in degrees, ``lon_err_deg`` in degrees of longitude; times tz-naive UTC
            datetime64; ``bands`` a comma-joined sorted list), sorted by ``hotspot_id``.
    """

    hotspot_id: pd.Series
    hotspots: pd.DataFrame


def _normalise(v: np.ndarray) -> np.ndarray:
    """Unit vectors along ``v`` (..., 3); zero vectors stay zero."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


def chi2_gate(n_sigma: float) -> float:
    """2-dof χ² threshold holding the same probability as ±n_sigma of a 1-D Gaussian (3 → 11.83)."""
    return float(stats.chi2.isf(2.0 * stats.norm.sf(n_sigma), df=2))


class _Groups:
    """Positions of the elements of ``values`` equal to each of ``wanted`` (sorted once, sliced per group)."""

    def __init__(self, values: np.ndarray, wanted: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        sorted_values = values[self.order]
        self.lo = np.searchsorted(sorted_values, wanted, side="left")
        self.hi = np.searchsorted(sorted_values, wanted, side="right")

    def members(self, j: int) -> np.ndarray:
        return self.order[self.lo[j] : self.hi[j]]


class _State:
    """Arrays describing detections (in input order) and the current hot spots."""

    def __init__(self, u, sn2, se2, key, thr, floor2, nu: float | None = None, cne=None, obs=None):
        self.u = u
        self.nu = nu
        self.north, self.east = local_north_east(u)
        self.sn2, self.se2 = sn2, se2
        self.cne = np.zeros(len(u)) if cne is None else cne
        # information matrices (n, 6) and W·u (n, 3) of :mod:`ioscan.track.covariance`
        self.W = embed(u, self.north, self.east, sn2, se2, self.cne)
        self.Wu = matvec(self.W, u)
        self.w = (self.W[:, 0] + self.W[:, 3] + self.W[:, 5]) / 3.0  # scalar precision (1/σ² if isotropic)
        self.smax2 = major_variance(sn2, se2, self.cne)
        self.key = key
        self.obs = np.full(len(u), -1, dtype=np.int64) if obs is None else obs
        self.share = np.ones(len(u))  # :meth:`refresh_shared`
        self.may_share = _multi_frame_observations(self.obs, key)
        self.thr, self.floor2 = thr, floor2
        self.labels = np.full(len(u), -1, dtype=np.int64)
        self.pinned = np.zeros(len(u), dtype=bool)
        # hot-spot priors (existing catalogue rows): information·vector, information (m, 6), scalar weight
        self.prior_vec = np.zeros((0, 3))
        self.prior_info = np.zeros((0, 6))
        self.prior_w = np.zeros(0)
        self.prior_n = np.zeros(0, dtype=np.int64)

    @property
    def n_clusters(self) -> int:
        return len(self.prior_w)

    def add_clusters(self, n: int, vec=None, w=None, count=None, info=None) -> np.ndarray:
        start = self.n_clusters
        self.prior_vec = np.vstack([self.prior_vec, np.zeros((n, 3)) if vec is None else vec])
        self.prior_w = np.concatenate([self.prior_w, np.zeros(n) if w is None else w])
        self.prior_info = np.vstack([self.prior_info, np.zeros((n, 6)) if info is None else info])
        self.prior_n = np.concatenate(
            [
                self.prior_n,
                np.zeros(n, dtype=np.int64) if count is None else np.asarray(count, dtype=np.int64),
            ]
        )
        return np.arange(start, start + n)

    def contributing(self) -> np.ndarray:
        """Members that enter the centroid: all but pinned members of hot spots that have a prior."""
        lab = self.labels
        ok = lab >= 0
        has_prior = self.prior_w > 0
        ok[ok] &= ~(self.pinned[ok] & has_prior[lab[ok]])
        return ok

    def shared(self, sel: np.ndarray | None = None) -> np.ndarray:
        """Factor (n,) on each detection's information: 1/m where m contributing members of its hot spot
        come from its observation (they share its pointing error: together they count as one detection's
        precision, never as m independent ones); 1 elsewhere. As of the last :meth:`refresh_shared` (after
        every pass: sums and leave-one-out targets use the same factors within a pass)."""
        return self.share

    def refresh_shared(self) -> None:
        """Recompute :meth:`shared` from the current hot spots (only detections whose observation holds
        more than one frame and band can share)."""
        f = np.ones(len(self.u))
        ok = self.may_share & self.contributing()
        if ok.any():
            n_obs = int(self.obs.max()) + 1
            codes = self.labels[ok] * n_obs + self.obs[ok]
            order = np.argsort(codes, kind="stable")
            sc = codes[order]
            start = np.ones(len(sc), dtype=bool)
            start[1:] = sc[1:] != sc[:-1]
            run = np.cumsum(start) - 1
            size = np.bincount(run)
            g = np.empty(len(sc))
            g[order] = 1.0 / size[run]
            f[ok] = g
        self.share = f

    def sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Information-weighted vector sums Σ W u (m, 3), information sums Σ W (m, 6), scalar weight sums
        (m) and detection counts (m) of every hot spot (a hot spot of a previous run counts its pinned
        members once: in its prior; members of one observation share its pointing error: :meth:`shared`)."""
        m = self.n_clusters
        sel = self.contributing()
        f = self.share[sel]
        lab = self.labels[sel]
        vec = self.prior_vec.copy()
        info = self.prior_info.copy()
        for c in range(3):
            vec[:, c] += np.bincount(lab, weights=f * self.Wu[sel, c], minlength=m)
        for c in range(6):
            info[:, c] += np.bincount(lab, weights=f * self.W[sel, c], minlength=m)
        sw = self.prior_w + np.bincount(lab, weights=f * self.w[sel], minlength=m)
        count = self.prior_n + np.bincount(lab, minlength=m)
        return vec, info, sw, count

    def centroids(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
        """Unit centroid (m, 3), its covariance (var_n, var_e, cov_ne, km², in its own tangent plane;
        infinite without information) and the summed scalar weight (m)."""
        vec, info, sw, _ = self.sums()
        cu = _normalise(solve(info, vec))
        north, east = local_north_east(cu)
        return cu, tangent_of(info, north, east), sw

    def night_robust_variance(self, night: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centroid covariance (var_n, var_e, cov_ne, km², m) that also holds when errors are misjudged or
        shared within a night: the information-form covariance C = H⁻¹ (H = Σ W, in the centroid's tangent
        plane), scaled up by tr V / tr C when the cluster-robust sandwich over nights
        V = H⁻¹ (Σ_nights s sᵀ) H⁻¹ × G/(G−1) is larger (s = Σ W·d over a night's members, d a member's offset
        from the centroid, tangent km, G the hot spot's nights); only with G ≥ 3 and for hot spots without
        a prior. For isotropic errors this is max(1/Σw, Σ_nights |Σ w·d|² / 2(Σw)² × G/(G−1))."""
        cu, cov, sw = self.centroids()
        m = len(sw)
        sel = self.contributing()
        lab = self.labels[sel]
        if m == 0 or len(lab) == 0:
            return cov
        d = (self.u[sel] - cu[lab]) * R_KM
        d -= np.einsum("ij,ij->i", d, self.u[sel])[:, None] * self.u[sel]
        wd = self.share[sel][:, None] * matvec(self.W[sel], d)
        north, east = local_north_east(cu)
        g = pd.factorize(pd.Series(lab * (int(night.max()) + 1) + night[sel]))[0]
        g_lab = np.zeros(g.max() + 1, dtype=np.int64)
        g_lab[g] = lab
        s = np.stack([np.bincount(g, weights=wd[:, c]) for c in range(3)], axis=1)
        sn = np.einsum("ij,ij->i", s, north[g_lab])
        se = np.einsum("ij,ij->i", s, east[g_lab])
        meat = [np.bincount(g_lab, weights=x, minlength=m) for x in (sn * sn, sn * se, se * se)]
        n_nights = np.bincount(g_lab, minlength=m)
        ok = (n_nights >= 3) & (self.prior_w <= 0) & (sw > 0)
        # V = C M C with C the 2×2 covariance: its trace
        c_n, c_e, c_ne = cov
        cm_nn = c_n * meat[0] + c_ne * meat[1]
        cm_ne = c_n * meat[1] + c_ne * meat[2]
        cm_en = c_ne * meat[0] + c_e * meat[1]
        cm_ee = c_ne * meat[1] + c_e * meat[2]
        tr_v = cm_nn * c_n + cm_ne * c_ne + cm_en * c_ne + cm_ee * c_e
        tr_v = tr_v * n_nights / np.maximum(n_nights - 1, 1)
        tr_c = c_n + c_e
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(ok & (tr_v > tr_c), tr_v / tr_c, 1.0)
        return cov[0] * scale, cov[1] * scale, cov[2] * scale

    # -- gating -------------------------------------------------------------------------------------
    def chi2_to(self, idx: np.ndarray, targets: np.ndarray, target_info: np.ndarray):
        """χ² and ln|Σ| of detections ``idx`` (n,) against unit directions ``targets`` (n, k, 3) whose
        positions have information matrices ``target_info`` (n, k, 6): Σ = Σ_detection + Σ_target (in the
        detection's tangent plane) + the floor."""
        u, nn, ee = self.u[idx], self.north[idx], self.east[idx]
        cosang = np.einsum("nkj,nj->nk", targets, u)
        dn = np.einsum("nkj,nj->nk", targets, nn)
        de = np.einsum("nkj,nj->nk", targets, ee)
        tang = np.hypot(dn, de)
        ang = np.arctan2(tang, cosang)
        scale = np.where(tang > 0, ang / np.where(tang > 0, tang, 1.0), 1.0) * R_KM
        tn, te, tne = tangent_of(target_info, nn[:, None, :], ee[:, None, :])
        vn = self.sn2[idx, None] + tn + self.floor2
        ve = self.se2[idx, None] + te + self.floor2
        vne = self.cne[idx, None] + tne
        chi2, logdet = chi2_and_logdet(dn * scale, de * scale, vn, ve, vne)
        chi2 = np.where((cosang > 0) & np.isfinite(chi2), chi2, np.inf)
        return chi2, logdet

    def rho(self, chi2: np.ndarray) -> np.ndarray:
        """−2 ln of the (unnormalised) radial density: χ² (Gaussian) or (ν+2)·ln(1 + χ²/ν) (Student-t)."""
        return chi2 if self.nu is None else (self.nu + 2.0) * np.log1p(chi2 / self.nu)

    def _loo(self, part, nb, sums, contrib, shared, partner=None):
        """Leave-one-out targets of detections ``part`` against hot spots ``nb`` (n, k): unit directions,
        information matrices, member count, and whether the hot spot has anyone else. ``partner`` (n, k;
        −1 = none) names one more member to leave out of each target."""
        vec, info, sw, count = sums
        own = nb == self.labels[part][:, None]
        f_self = np.where(own & contrib[part][:, None], shared[part][:, None], 0.0)
        tvec = vec[nb] - f_self[..., None] * self.Wu[part][:, None, :]
        tinfo = info[nb] - f_self[..., None] * self.W[part][:, None, :]
        tsw = sw[nb] - f_self * self.w[part][:, None]
        tn = count[nb] - own
        if partner is not None:
            has = partner >= 0
            other = np.maximum(partner, 0)
            f_other = np.where(has & contrib[other], shared[other], 0.0)
            tvec = tvec - f_other[..., None] * self.Wu[other]
            tinfo = tinfo - f_other[..., None] * self.W[other]
            tsw = tsw - f_other * self.w[other]
            tn = tn - has
        valid = (tsw > 1e-300 * np.maximum(sw[nb], 1.0)) & (tn > 0)
        targets = _normalise(solve(tinfo, tvec))
        return targets, tinfo, tn, valid

    def _neighbours(self, vec, info, part, k):
        cu = _normalise(solve(info, vec))
        _, nb = cKDTree(cu).query(self.u[part], k=k)
        return nb.reshape(len(part), k)

    def candidates(self, idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Consistent hot spots of each detection, most likely first: labels (n, k) (-1 pad), χ² (n, k).

        A detection is compared with each hot spot *without itself* (leave-one-out centroid, count and
        error), so that a detection never holds on to a hot spot only because it is part of it. The
        score is the negative log-likelihood ρ(χ²) + ln|Σ| − 2 ln(n_k), ρ(χ²) = χ² (Gaussian) or the
        Student-t's (ν+2)·ln(1 + χ²/ν), n_k being the hot spot's number of detections (a mixture weight:
        busy hot spots are the likelier parents).
        """
        sums = self.sums()
        m = len(sums[2])
        kk = min(k, m)
        labs = np.full((len(idx), k), -1, dtype=np.int64)
        chis = np.full((len(idx), k), np.inf)
        if kk == 0 or len(idx) == 0:
            return labs, chis
        contrib = self.contributing()
        shared = self.share
        for s in range(0, len(idx), _CHUNK):
            part = idx[s : s + _CHUNK]
            nb = self._neighbours(sums[0], sums[1], part, kk)
            targets, tinfo, tn, valid = self._loo(part, nb, sums, contrib, shared)
            chi2, logdet = self.chi2_to(part, targets, tinfo)
            ok = valid & (chi2 <= self.thr)
            score = np.where(ok, self.rho(chi2) + logdet - 2.0 * np.log(np.maximum(tn, 1)), np.inf)
            order = np.argsort(score, axis=1, kind="stable")
            score = np.take_along_axis(score, order, axis=1)
            lab = np.where(np.isfinite(score), np.take_along_axis(nb, order, axis=1), -1)
            labs[s : s + _CHUNK, :kk] = lab
            chis[s : s + _CHUNK, :kk] = np.where(lab >= 0, np.take_along_axis(chi2, order, axis=1), np.inf)
        return labs, chis

    def _frame_partners(self, part: np.ndarray, nb: np.ndarray) -> np.ndarray:
        """For each detection of ``part`` and candidate hot spot ``nb`` (n, k): the member of that hot spot
        seen in the detection's own frame and band (it would have to leave), −1 if none or itself."""
        key = self.key
        member = (self.labels >= 0) & (key >= 0)
        out = np.full(nb.shape, -1, dtype=np.int64)
        if not member.any():
            return out
        nkey = int(key.max()) + 1
        codes = self.labels[member] * nkey + key[member]
        order = np.argsort(codes, kind="stable")
        codes, who = codes[order], np.flatnonzero(member)[order]
        probe = nb * nkey + key[part][:, None]
        pos = np.minimum(np.searchsorted(codes, probe), len(codes) - 1)
        hit = (codes[pos] == probe) & (key[part][:, None] >= 0)
        out = np.where(hit, who[pos], -1)
        return np.where(out == part[:, None], -1, out)

    def mixture_scores(self, idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ln[n_k · t(x | hot spot k)] of detections ``idx`` against their ``k`` nearest hot spots, no gate:
        labels (n, k), log-likelihoods (n, k) (−inf where not a candidate) and whether the detection is
        consistent (within the χ² gate) with at least one of them (n,).

        Each hot spot is taken without the detection itself and without its member from the detection's
        own frame (which would have to leave for the detection to join), so that two sources of one frame
        compare the same two hot spots and settle instead of swapping back and forth.
        """
        sums = self.sums()
        kk = min(k, len(sums[2]))
        labs = np.full((len(idx), max(kk, 1)), -1, dtype=np.int64)
        ll = np.full((len(idx), max(kk, 1)), -np.inf)
        gated = np.zeros(len(idx), dtype=bool)
        if kk == 0 or len(idx) == 0:
            return labs, ll, gated
        contrib = self.contributing()
        shared = self.share
        nu = self.nu if self.nu is not None else 1e6
        for s in range(0, len(idx), _CHUNK):
            part = idx[s : s + _CHUNK]
            nb = self._neighbours(sums[0], sums[1], part, kk)
            partner = self._frame_partners(part, nb)
            targets, tinfo, tn, valid = self._loo(part, nb, sums, contrib, shared, partner)
            chi2, logdet = self.chi2_to(part, targets, tinfo)
            val = np.log(np.maximum(tn, 1)) - np.log(2.0 * np.pi) - 0.5 * logdet
            val = val - 0.5 * (nu + 2.0) * np.log1p(chi2 / nu)
            ok = valid & np.isfinite(chi2)
            labs[s : s + _CHUNK] = np.where(ok, nb, -1)
            ll[s : s + _CHUNK] = np.where(ok, val, -np.inf)
            gated[s : s + _CHUNK] = (ok & (chi2 <= self.thr)).any(axis=1)
        return labs, ll, gated

    def resolve(self, idx: np.ndarray, labs: np.ndarray, chis: np.ndarray) -> np.ndarray:
        """Pick each detection's best candidate keeping one detection per (frame, band) per hot spot.

        On a clash the detection with the smaller χ² stays (ties: smaller position in the input) and the
        others move to their next candidate; a detection out of candidates is left unassigned (-1).
        Detections not in ``idx`` keep their hot spot and win every clash.
        """
        n, k = labs.shape
        ptr = np.zeros(n, dtype=np.int64)
        rows = np.arange(n)
        keyed = self.key[idx] >= 0
        nkey = int(self.key.max()) + 1 if len(self.key) else 1
        fixed = (self.labels >= 0) & (self.key >= 0)
        fixed[idx] = False
        fixed_codes = unique_ints(self.labels[fixed] * nkey + self.key[fixed])

        def current(sel):
            live = ptr[sel] < k
            p = np.minimum(ptr[sel], k - 1)
            return np.where(live, labs[sel, p], -1), np.where(live, chis[sel, p], np.inf)

        lab, chi = current(rows)
        codes = np.where((lab >= 0) & keyed, lab * nkey + self.key[idx], -1)
        check = np.flatnonzero(codes >= 0)
        while len(check):  # terminates: every round moves at least one pointer forward
            c = codes[check]
            order = np.lexsort((idx[check], chi[check], c))
            cs = c[order]
            dup = np.zeros(len(order), dtype=bool)
            dup[1:] = cs[1:] == cs[:-1]
            dup |= isin_ints(cs, fixed_codes)
            losers = check[order[dup]]
            if len(losers) == 0:
                break
            ptr[losers] += 1
            lab[losers], chi[losers] = current(losers)
            codes[losers] = np.where(lab[losers] >= 0, lab[losers] * nkey + self.key[idx[losers]], -1)
            moved = codes[losers]
            moved = unique_ints(moved[moved >= 0])
            # only the detections now sharing a code with a moved one can clash in the next round
            check = np.flatnonzero(isin_ints(codes, moved))
        return lab

    def reassign(self, idx: np.ndarray, k: int, new_ll: float, back: np.ndarray) -> np.ndarray:
        """One pass of the mixture model: each detection of ``idx`` to its likeliest hot spot (leave-one-out
        ``ln n_k + ln t``) or, when it is consistent with none (outside every χ² gate), to a new hot spot of
        its own if that is likelier (``new_ll``); at most one detection per frame and band per hot spot
        (clashes solved by an optimal assignment per frame, where a detection that loses its hot spot may
        found a new one).

        A detection never moves to ``back[i]`` (the hot spot it just left: no swapping back and forth).
        Returns the indices of the detections that moved.
        """
        if len(idx) == 0:
            return idx
        labs, ll, gated = self.mixture_scores(idx, k)
        best = np.argmax(ll, axis=1)
        rows = np.arange(len(idx))
        want = np.where(ll[rows, best] >= np.where(gated, -np.inf, new_ll), labs[rows, best], -1)
        want = self._frame_optimal(idx, labs, ll, new_ll, want)
        cur = self.labels[idx]
        want = np.where((want >= 0) & (want == back[idx]), cur, want)
        alone = np.bincount(self.labels[self.labels >= 0], minlength=self.n_clusters)[np.maximum(cur, 0)] == 1
        new = (want < 0) & ~((cur >= 0) & alone)
        want = np.where((want < 0) & ~new, cur, want)
        if new.any():
            want[new] = self.add_clusters(int(new.sum()))
        moved = want != cur
        self.labels[idx] = want
        return idx[moved]

    def _frame_optimal(self, idx, labs, ll, new_ll: float, want: np.ndarray) -> np.ndarray:
        """Resolve same-frame clashes in ``want`` (hot spot per row of ``idx``, −1 = new) by a minimum-cost
        assignment of each clashing frame's detections that could take a contested hot spot (the frame's
        other detections keep theirs)."""
        key = self.key[idx]
        nkey = int(self.key.max()) + 1 if len(self.key) else 1
        others = np.ones(len(self.labels), dtype=bool)
        others[idx] = False
        fixed = others & (self.labels >= 0) & (self.key >= 0)
        fixed_codes = unique_ints(self.labels[fixed] * nkey + self.key[fixed])
        code = np.where((want >= 0) & (key >= 0), want * nkey + key, -1)
        valid = code >= 0
        uniq, counts = np.unique(code[valid], return_counts=True)
        bad_codes = unique_ints(np.concatenate([uniq[counts > 1], uniq[isin_ints(uniq, fixed_codes)]]))
        if len(bad_codes) == 0:
            return want
        want = want.copy()
        frames = unique_ints(bad_codes % nkey)
        rows_of = _Groups(key, frames)
        fixed_of = _Groups(fixed_codes % nkey, frames)
        clash_of = _Groups(bad_codes % nkey, frames)
        for j in range(len(frames)):
            frame_rows = rows_of.members(j)
            clash = bad_codes[clash_of.members(j)] // nkey
            involved = isin_ints(labs[frame_rows], clash).any(axis=1) | isin_ints(want[frame_rows], clash)
            frows, stay = frame_rows[involved], frame_rows[~involved]
            taken = np.union1d(fixed_codes[fixed_of.members(j)] // nkey, want[stay][want[stay] >= 0])
            want[frows] = self._assign_rows(labs[frows], ll[frows], new_ll, taken)
        return want

    @staticmethod
    def _assign_rows(labs: np.ndarray, ll: np.ndarray, new_ll: float, taken: np.ndarray) -> np.ndarray:
        """Best assignment of rows to distinct hot spots (not in ``taken``) or to new ones (−1)."""
        from scipy.optimize import linear_sum_assignment

        n = len(labs)
        cols = np.setdiff1d(np.unique(labs[labs >= 0]), taken)
        cost = np.full((n, len(cols) + n), 1e12)
        r, j = np.nonzero((labs >= 0) & np.isfinite(ll))
        c = np.searchsorted(cols, labs[r, j])
        ok = c < len(cols)
        ok[ok] &= cols[c[ok]] == labs[r[ok], j[ok]]
        cost[r[ok], c[ok]] = -ll[r[ok], j[ok]]
        cost[np.arange(n), len(cols) + np.arange(n)] = -new_ll
        ri, ci = linear_sum_assignment(cost)
        out = np.full(n, -1, dtype=np.int64)
        out[ri] = np.where(ci < len(cols), cols[np.minimum(ci, max(len(cols) - 1, 0))], -1)
        return out

    def leader(self, idx: np.ndarray) -> None:
        """Leader clustering of unassigned detections ``idx`` (already in precision order)."""
        if len(idx) == 0:
            return
        sub = self.u[idx]
        tree = cKDTree(sub)
        done = np.zeros(len(idx), dtype=bool)
        smax2 = float(self.smax2[idx].max())
        for j in range(len(idx)):
            if done[j]:
                continue
            i = idx[j]
            r_km = np.sqrt(self.thr * (smax2 + self.smax2[i] + self.floor2))
            chord = 2.0 * np.sin(min(r_km / R_KM, np.pi) / 2.0)
            nb = np.asarray(tree.query_ball_point(sub[j], chord), dtype=np.int64)
            nb = nb[~done[nb]]
            members = idx[nb]
            chi2, _ = self.chi2_to(
                members,
                np.broadcast_to(self.u[i], (len(members), 1, 3)),
                np.broadcast_to(self.W[i], (len(members), 1, 6)),
            )
            chi2 = chi2[:, 0]
            chi2[nb == j] = -1.0  # the leader itself always stays
            ok = chi2 <= self.thr
            nb, members, chi2 = nb[ok], members[ok], chi2[ok]
            keys = self.key[members]
            if (keys >= 0).any():  # one detection per (frame, band): keep the best fitting
                order = np.lexsort((members, chi2, keys))
                ks = keys[order]
                dup = np.zeros(len(order), dtype=bool)
                dup[1:] = (ks[1:] == ks[:-1]) & (ks[1:] >= 0)
                keep = np.sort(order[~dup])
                nb, members = nb[keep], members[keep]
            (cid,) = self.add_clusters(1)
            self.labels[members] = cid
            done[nb] = True

    def assign(self, idx: np.ndarray, k: int) -> None:
        """Assign detections ``idx`` (precision order) to existing hot spots, found new ones for the rest."""
        if self.n_clusters:
            labs, chis = self.candidates(idx, k)
            self.labels[idx] = self.resolve(idx, labs, chis)
        self.leader(idx[self.labels[idx] < 0])

    def compact(self) -> np.ndarray:
        """Drop hot spots with neither members nor prior; return old → new index map (-1 dropped)."""
        m = self.n_clusters
        used = np.zeros(m, dtype=bool)
        used[self.labels[self.labels >= 0]] = True
        used |= self.prior_w > 0
        remap = np.full(m, -1, dtype=np.int64)
        remap[used] = np.arange(int(used.sum()))
        self.labels = np.where(self.labels >= 0, remap[np.maximum(self.labels, 0)], -1)
        self.prior_vec, self.prior_w = self.prior_vec[used], self.prior_w[used]
        self.prior_n, self.prior_info = self.prior_n[used], self.prior_info[used]
        self.refresh_shared()
        return remap


def _multi_frame_observations(obs: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Whether each detection's observation (≥ 0) holds detections of more than one frame key (band)."""
    ok = (obs >= 0) & (key >= 0)
    out = np.zeros(len(obs), dtype=bool)
    if not ok.any():
        return out
    n_obs = int(obs.max()) + 1
    lo = np.full(n_obs, np.iinfo(np.int64).max)
    hi = np.full(n_obs, -1)
    np.minimum.at(lo, obs[ok], key[ok])
    np.maximum.at(hi, obs[ok], key[ok])
    out[ok] = hi[obs[ok]] > lo[obs[ok]]
    return out


def _frame_keys(detections: pd.DataFrame) -> np.ndarray:
    """Integer code per frame and band (the same-frame rule); -1 where the frame is unknown.

    The frame is the ``observation_id``. Detections without one (imported from a published table) are in the
    same frame when they share ``source``, ``observer``, ``time_utc`` and ``band``: a table lists one row per
    source per image, so two rows of one image and band are two sources. A time at exactly 0 h UTC is taken
    for a date without a time (several images of a night could share it): the rule is then off, as it is
    without ``time_utc``.
    """
    n = len(detections)
    has_obs = (
        detections["observation_id"].notna().to_numpy()
        if "observation_id" in detections.columns
        else np.zeros(n, dtype=bool)
    )
    if "time_utc" in detections.columns and n:
        t_ns = to_utc(detections["time_utc"], "associate(detections)").to_numpy().astype("datetime64[ns]")
        t = np.where(~np.isnat(t_ns), t_ns.astype(np.int64), 0)
        has_time = ~np.isnat(t_ns) & (t % (86_400 * 10**9) != 0)
    else:
        t, has_time = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    keys = pd.DataFrame(
        {
            "a": np.where(
                has_obs, text_column(detections, "observation_id"), text_column(detections, "source")
            ),
            "b": np.where(has_obs, "", text_column(detections, "observer")),
            "t": np.where(has_obs, 0, t),
            "band": text_column(detections, "band"),
            "kind": has_obs,
        }
    )
    codes = keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy().astype(np.int64)
    codes[~has_obs & ~has_time] = -1
    return codes


def _id_number(hid: str, prefix: str) -> int | None:
    m = re.fullmatch(re.escape(prefix) + r"(\d+)", str(hid))
    return int(m.group(1)) if m else None


@dataclass
class _Input:
    """Validated detections (and hot spots of a previous run) as arrays."""

    ids: np.ndarray
    u: np.ndarray
    sn2: np.ndarray
    se2: np.ndarray
    times: np.ndarray
    keys: np.ndarray
    existing: pd.DataFrame | None
    prior: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    cluster_ids: list
    pins: np.ndarray
    n_pin_clusters: int
    rho: np.ndarray  # north–east error correlation of every detection (0 = none)
    obs: np.ndarray  # observation code of every detection (−1 = unknown): members sharing a pointing error


def _parse_detections(detections: pd.DataFrame):
    """ids, unit vectors, quoted north/east variances (km², ≥ 1 m²), times and north–east error correlations
    (from ``lat_lon_err_corr``: absent or NaN = 0; where ``position_err_km`` stands in, 0)."""
    what = "associate(detections)"
    require_columns(detections, ["lat_deg", "lon_w_deg", "time_utc"], what)
    n = len(detections)
    ids = detections["detection_id"].to_numpy() if "detection_id" in detections.columns else np.arange(n)
    lat = finite_float(detections, "lat_deg", what, ids=ids)
    lon = finite_float(detections, "lon_w_deg", what, ids=ids)
    if np.any(np.abs(lat) > 90.0):
        raise CatalogError(f"{what}: |lat_deg| > 90 for detection_id {list(ids[np.abs(lat) > 90][:5])}")
    nan = np.full(n, np.nan)
    sn, se = km_errors(
        lat,
        pd.to_numeric(detections["lat_err_deg"], errors="coerce") if "lat_err_deg" in detections else nan,
        pd.to_numeric(detections["lon_err_deg"], errors="coerce") if "lon_err_deg" in detections else nan,
        pd.to_numeric(detections["position_err_km"], errors="coerce")
        if "position_err_km" in detections
        else None,
    )
    bad = ~(np.isfinite(sn) & np.isfinite(se) & (sn >= 0) & (se >= 0))
    if bad.any():
        raise CatalogError(
            f"{what}: no usable position error (lat_err_deg/lon_err_deg/position_err_km) "
            f"for detection_id {list(ids[bad][:5])}"
        )
    times = to_utc(detections["time_utc"], what).to_numpy()
    rho = np.zeros(n)
    if "lat_lon_err_corr" in detections and n:
        corr = pd.to_numeric(detections["lat_lon_err_corr"], errors="coerce").to_numpy(dtype=float)
        quoted = np.isfinite(pd.to_numeric(detections["lat_err_deg"], errors="coerce").to_numpy(dtype=float))
        # east is minus west longitude: corr(north, east) = −corr(lat, lon_w)
        rho = np.where(quoted & np.isfinite(corr), -np.clip(corr, -0.999, 0.999), 0.0)
    # a tiny floor keeps zero-error inputs finite (1 m)
    return ids, unit_vectors(lat, lon), np.maximum(sn, 1e-3) ** 2, np.maximum(se, 1e-3) ** 2, times, rho


def _observation_codes(detections: pd.DataFrame) -> np.ndarray:
    """Integer code of each detection's observation (−1 = none): its detections share a pointing error."""
    if "observation_id" not in detections.columns or not len(detections):
        return np.full(len(detections), -1, dtype=np.int64)
    obs = detections["observation_id"]
    codes = pd.factorize(obs.astype(object).where(obs.notna(), None))[0].astype(np.int64)
    return codes


def _parse_existing(existing_hotspots: pd.DataFrame | None):
    """Hot spots of a previous run: (table, (information·vectors, scalar weights 1/km², counts, information
    matrices), IDs) or Nones. Their stored 1σ along lat and lon (and ``lat_lon_err_corr`` when given) are
    their covariance."""
    if existing_hotspots is None or not len(existing_hotspots):
        return None, None, []
    existing = existing_hotspots.reset_index(drop=True)
    ew = "associate(existing_hotspots)"
    require_columns(existing, ["hotspot_id", "lat_deg", "lon_w_deg", "lat_err_deg", "lon_err_deg"], ew)
    if existing["hotspot_id"].duplicated().any():
        dup = existing["hotspot_id"][existing["hotspot_id"].duplicated()]
        raise CatalogError(f"{ew}: duplicated hotspot_id {list(dup[:5])}")
    elat = finite_float(existing, "lat_deg", ew, ids=existing["hotspot_id"].to_numpy())
    elon = finite_float(existing, "lon_w_deg", ew, ids=existing["hotspot_id"].to_numpy())
    esn, ese = km_errors(elat, existing["lat_err_deg"], existing["lon_err_deg"])
    corr = existing["lat_lon_err_corr"] if "lat_lon_err_corr" in existing else np.zeros(len(existing))
    corr = np.nan_to_num(pd.to_numeric(pd.Series(corr), errors="coerce").to_numpy(float))
    rho = -np.clip(corr, -0.999, 0.999)
    ok = np.isfinite(esn) & np.isfinite(ese)
    fallback = (10.0 * DEG * R_KM) ** 2
    vn = np.where(ok, np.maximum(esn**2, 1e-6), fallback)
    ve = np.where(ok, np.maximum(ese**2, 1e-6), fallback)
    vne = np.where(ok, rho * np.sqrt(vn * ve), 0.0)
    evar = 0.5 * (vn + ve)
    eu = unit_vectors(elat, elon)
    en_, ee_ = local_north_east(eu)
    info = embed(eu, en_, ee_, vn, ve, vne)
    en = (
        pd.to_numeric(existing["n_detections"], errors="coerce").fillna(1).clip(lower=1)
        if "n_detections" in existing
        else pd.Series(np.ones(len(existing)))
    )
    prior = (matvec(info, eu), 1.0 / evar, en.to_numpy(), info)
    return existing, prior, [str(h) for h in existing["hotspot_id"]]


def _parse_pins(detections: pd.DataFrame, cluster_ids: list) -> tuple[np.ndarray, list, int]:
    """Hot spot index of detections pinned by a previous run (−1 = free), IDs extended with the pinned hot
    spots that are not in the existing table, and how many were added."""
    pins = np.full(len(detections), -1, dtype=np.int64)
    cluster_ids = list(cluster_ids)
    if "hotspot_id" not in detections.columns:
        return pins, cluster_ids, 0
    pin = detections["hotspot_id"]
    has = pin.notna().to_numpy()
    if not has.any():
        return pins, cluster_ids, 0
    pin_str = pin[has].astype(str).to_numpy()
    index = {h: i for i, h in enumerate(cluster_ids)}
    new_names = sorted(set(pin_str) - set(index))
    for h in new_names:
        index[h] = len(cluster_ids)
        cluster_ids.append(h)
    pins[has] = np.array([index[h] for h in pin_str], dtype=np.int64)
    return pins, cluster_ids, len(new_names)


def _new_state(inp: _Input, sn2, se2, thr: float, floor2: float, nu: float | None) -> _State:
    """A state holding the previous run's hot spots (priors) and pinned detections."""
    cne = inp.rho * np.sqrt(sn2 * se2)
    st = _State(inp.u, sn2, se2, inp.keys, thr, floor2, nu, cne=cne, obs=inp.obs)
    if inp.prior is not None:
        vec, w, count, info = inp.prior
        st.add_clusters(len(w), vec=vec, w=w, count=count, info=info)
    st.add_clusters(inp.n_pin_clusters)
    has = inp.pins >= 0
    st.labels[has] = inp.pins[has]
    st.pinned[has] = True
    st.refresh_shared()
    return st


def _precision_order(inp: _Input, st: _State) -> np.ndarray:
    """Free detections from the most to the least precise (major axis of the ellipse; ties: detection_id)."""
    smax = np.sqrt(st.smax2)
    order = np.lexsort((inp.ids, smax))
    return order[~st.pinned[order]]


def _associate_once(inp: _Input, sn2, se2, thr, floor2, nu, n_iter: int, k: int) -> tuple[_State, list]:
    """Steps 1–5 of the module docstring with the given variances (north–east covariances from the input's
    correlations): the state and the hot spots' IDs."""
    st = _new_state(inp, sn2, se2, thr, floor2, nu)
    cluster_ids = list(inp.cluster_ids)
    order = _precision_order(inp, st)
    if len(order):
        smax = np.sqrt(st.smax2)
        edges = smax[order[0]] * 2.0 ** np.arange(1, 64)
        tier = np.searchsorted(edges, smax[order], side="left")
        bounds = np.flatnonzero(np.diff(tier)) + 1
        for part in np.split(order, bounds):
            st.assign(part, k)
        for _ in range(n_iter):
            labs, chis = st.candidates(order, k)
            st.labels[order] = st.resolve(order, labs, chis)
            st.leader(order[st.labels[order] < 0])
            cluster_ids = _compact(st, cluster_ids)
    return st, cluster_ids


def _compact(st: _State, cluster_ids: list) -> list:
    n_before = st.n_clusters
    remap = st.compact()
    return _remap_ids(cluster_ids, remap, n_before)


def _fixed(st: _State, cluster_ids: list) -> np.ndarray:
    """Hot spots that carry an ID from a previous run."""
    padded = cluster_ids + [None] * (st.n_clusters - len(cluster_ids))
    return np.array([h is not None for h in padded], dtype=bool)


def _merge(st: _State, cluster_ids: list, cfg: MixtureConfig) -> tuple[list, np.ndarray]:
    """Merge hot spots the mixture model does not tell apart (see :mod:`ioscan.track.mixture`).

    Returns the hot spots' IDs and the indices (after compaction) of the hot spots that absorbed others.
    """
    none = np.zeros(0, dtype=np.int64)
    if st.n_clusters < 2:
        return cluster_ids, none
    vec, info, sw, count = st.sums()
    clusters = Clusters(vec, sw, count, _fixed(st, cluster_ids), info)
    # members a previous run's hot spot already stands for (its prior) score through the prior, not again
    # one by one; the same-frame rule still sees them
    scored = np.where(st.contributing(), st.labels, -1)
    target = merge_hotspots(
        clusters,
        st.u,
        st.north,
        st.east,
        st.sn2 + st.floor2,
        st.se2 + st.floor2,
        scored,
        st.key,
        cfg,
        frame_labels=st.labels,
        cov_ne=st.cne,
    )
    gone = np.flatnonzero(target != np.arange(st.n_clusters))
    if len(gone) == 0:
        return cluster_ids, none
    np.add.at(st.prior_vec, target[gone], st.prior_vec[gone])
    np.add.at(st.prior_w, target[gone], st.prior_w[gone])
    np.add.at(st.prior_n, target[gone], st.prior_n[gone])
    np.add.at(st.prior_info, target[gone], st.prior_info[gone])
    st.prior_vec[gone], st.prior_w[gone], st.prior_n[gone] = 0.0, 0.0, 0
    st.prior_info[gone] = 0.0
    st.labels = np.where(st.labels >= 0, target[np.maximum(st.labels, 0)], -1)
    n_before = st.n_clusters
    remap = st.compact()
    touched = remap[unique_ints(target[gone])]
    return _remap_ids(cluster_ids, remap, n_before), touched[touched >= 0]


def _new_site_loglike(st: _State, cfg: MixtureConfig) -> float:
    """ln[α / (4πR²)]: the likelihood of a detection founding a hot spot anywhere on Io."""
    count = st.sums()[3]  # a previous run's hot spot counts its members through its prior
    alpha = cfg.alpha or cfg.alpha_factor * estimate_alpha(int((count > 0).sum()), int(count.sum()))
    return float(np.log(alpha) - np.log(4.0 * np.pi * R_KM**2))


def _nearest_other(st: _State, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For detections ``idx``: the nearest other hot spot than their own, and its distance (chord)."""
    cu, _, _ = st.centroids()
    dist, nb = cKDTree(cu).query(st.u[idx], k=2)
    first_is_own = nb[:, 0] == st.labels[idx]
    return np.where(first_is_own, nb[:, 1], nb[:, 0]), np.where(first_is_own, dist[:, 1], dist[:, 0])


def _contested(st: _State, free: np.ndarray, changed: np.ndarray | None = None, n_sigma: float = 8.0):
    """Free detections that could move: in a hot spot of ≤ 2 detections, or with another hot spot's centroid
    within ``n_sigma`` of their 1σ (floor included); if ``changed`` (hot-spot indices) is given, only those
    in or next to (nearest other hot spot) a changed hot spot. The others keep their hot spot (on well
    measured data most of them: a k=2 neighbour query instead of the full scoring)."""
    if st.n_clusters < 2 or len(free) == 0:
        return free
    other, dist = _nearest_other(st, free)
    sigma = np.sqrt(st.smax2[free] + st.floor2) / R_KM
    own = st.labels[free]
    size = np.bincount(own[own >= 0], minlength=st.n_clusters)[np.maximum(own, 0)]
    out = (dist <= n_sigma * sigma) | (size <= 2) | (own < 0)
    if changed is not None:
        near = np.zeros(st.n_clusters, dtype=bool)
        near[changed] = True
        out &= near[np.maximum(own, 0)] | near[other] | (own < 0)
    return free[out]


def _refine_mixture(inp: _Input, st: _State, cluster_ids: list, cfg: MixtureConfig, k: int) -> list:
    """Merges and mixture re-assignments in turn (``cfg.rounds`` times), then a last round of merges.

    The first pass re-assigns the free detections that could move (:func:`_contested`); later passes only
    those around the hot spots that changed (members moved in or out, or merged).
    """
    free = _precision_order(inp, st)
    back = np.full(len(st.labels), -1, dtype=np.int64)
    active = _contested(st, free)
    for step in range(cfg.rounds):
        cluster_ids, touched = _merge(st, cluster_ids, cfg)
        if step:
            active = _contested(st, free, touched)
        for _ in range(cfg.max_reassign):
            before = st.labels.copy()
            moved = st.reassign(active, k, _new_site_loglike(st, cfg), back)
            back[:] = -1
            back[moved] = before[moved]
            n_before = st.n_clusters
            remap = st.compact()
            cluster_ids = _remap_ids(cluster_ids, remap, n_before)
            back = np.where(back >= 0, remap[np.maximum(back, 0)], -1)
            if len(moved) == 0:
                break
            changed = unique_ints(np.concatenate([back[moved], st.labels[moved]]))
            active = _contested(st, free, changed[changed >= 0])
    return _merge(st, cluster_ids, cfg)[0]


def _converged(new_var, old_var, new_u, old_u, tol: float) -> bool:
    """Whether, for 95 % of the detections, the effective 1σ changed by less than ``tol`` (relative) and the
    position moved by less than ``tol`` × 1σ."""
    if len(old_var[0]) == 0:
        return True
    sig2 = 0.5 * (old_var[0] + old_var[1])
    change = np.abs(np.sqrt((new_var[0] + new_var[1]) / (old_var[0] + old_var[1])) - 1.0)
    shift = np.linalg.norm(new_u - old_u, axis=1) * R_KM / np.sqrt(sig2)
    return bool(np.quantile(change, 0.95) < tol and np.quantile(shift, 0.95) < tol)


def _calibrated(inp: _Input, run, groups: pd.DataFrame | None, error_model, night_offsets, floor2: float):
    """Associate, then alternate (night offsets → error model → associate again) until both settle.

    ``run(u, var_north, var_east)`` associates with the given positions and variances; ``groups`` are the
    detections' :func:`~ioscan.track.error_model.error_groups` (None: no calibration). Returns the last
    association's state and hot-spot IDs.
    """
    var, u = (inp.sn2, inp.se2), inp.u
    st, cluster_ids = run(u, *var)
    if groups is None:
        return st, cluster_ids
    cfg = error_model or DEFAULT_ERROR_MODEL
    for _ in range(cfg.max_iter):
        new_u = u
        if night_offsets is not None:
            var_iso = 0.5 * (var[0] + var[1]) + floor2
            night, observer = groups["night"].to_numpy(), groups["observer"].to_numpy()
            new_u = correct_positions(inp.u, u, st.labels, night, observer, var_iso, night_offsets).u
        new_var = var
        if error_model is not None:
            model = calibrate(new_u, inp.sn2, inp.se2, st.labels, groups, var, floor2, error_model)
            new_var = (model.var_north_km2, model.var_east_km2)
        if _converged(new_var, var, new_u, u, cfg.tolerance):
            break
        var, u = new_var, new_u
        st, cluster_ids = run(u, *var)
    return st, cluster_ids


def associate(
    detections: pd.DataFrame,
    existing_hotspots: pd.DataFrame | None = None,
    *,
    n_sigma: float = 3.0,
    min_sep_km: float = 5.0,
    id_prefix: str = "IOS",
    n_iter: int = 3,
    k_candidates: int = 8,
    error_model: ErrorModelConfig | None = DEFAULT_ERROR_MODEL,
    night_offsets: NightOffsetConfig | None = DEFAULT_NIGHT_OFFSETS,
    mixture: MixtureConfig | None = DEFAULT_MIXTURE,
) -> AssociationResult:
    """Associate detections into hot spots (see the module docstring for the method).

    Args:
        detections: one row per detection with ``detection_id``, ``time_utc``, ``lat_deg``
            (planetographic °N), ``lon_w_deg`` (°W), ``lat_err_deg``, ``lon_err_deg`` (1σ, degrees of
            longitude) and optionally ``band`` (missing or NaN = no band), ``position_err_km`` (isotropic
            1σ, used where the lat/lon errors are NaN), ``observation_id`` (same-frame rule; missing or
            NaN = rule off for that detection) and ``hotspot_id`` (pins a detection to a hot spot from a
            previous run); ``source`` and ``observer`` group detections for the error model.
        existing_hotspots: hot spots of a previous run (``HOTSPOT_COLUMNS``); their IDs are kept.
        n_sigma: gate, as the Gaussian n-sigma probability applied to the 2-D χ².
        min_sep_km: separations below this are always consistent (hot-spot extent and systematic
            error floor, km).
        id_prefix: prefix of new IDs (``IOS00001``...).
        n_iter: refinement passes (centroid update + re-assignment); one when ``mixture`` follows, which
            re-assigns on its own.
        k_candidates: nearest hot spots considered per detection.
        error_model: calibration of the quoted errors on repeat detections (None = take them as quoted).
        night_offsets: removal of systematic per-night offsets estimated from repeat detections (None =
            off); hot-spot positions are then averages of the corrected positions.
        mixture: merges and re-assignment under the Student-t mixture model (None = off).

    Returns:
        AssociationResult with the ID of every detection and the hot-spot table.

    Raises:
        CatalogError: missing columns, non-finite positions or errors, unparsable times.
    """
    ids, u, sn2, se2, times, rho = _parse_detections(detections)
    existing, prior, cluster_ids = _parse_existing(existing_hotspots)
    pins, cluster_ids, n_pin = _parse_pins(detections, cluster_ids)
    inp = _Input(
        ids,
        u,
        sn2,
        se2,
        times,
        _frame_keys(detections),
        existing,
        prior,
        cluster_ids,
        pins,
        n_pin,
        rho,
        _observation_codes(detections),
    )
    thr = chi2_gate(n_sigma)
    floor2 = min_sep_km**2 / thr
    nu = mixture.nu if mixture is not None else None

    def run(u_now, var_n, var_e):
        now = replace(inp, u=u_now)
        passes = n_iter if mixture is None else min(n_iter, 1)
        st, ids_ = _associate_once(now, var_n, var_e, thr, floor2, nu, passes, k_candidates)
        if mixture is not None and len(detections):
            ids_ = _refine_mixture(now, st, ids_, mixture, k_candidates)
        return st, ids_

    groups = None
    if (error_model is not None or night_offsets is not None) and len(detections):
        groups = error_groups(detections, (error_model or DEFAULT_ERROR_MODEL).night_gap_h)
    st, cluster_ids = _calibrated(inp, run, groups, error_model, night_offsets, floor2)
    cluster_ids += [None] * (st.n_clusters - len(cluster_ids))
    night = None if groups is None else groups["night"].to_numpy()
    return _build_result(detections, st, cluster_ids, existing, times, id_prefix, night)


def _remap_ids(cluster_ids: list, remap: np.ndarray, n_before: int) -> list:
    padded = cluster_ids + [None] * (n_before - len(cluster_ids))
    out: list = [None] * int((remap >= 0).sum())
    for old, new in enumerate(remap):
        if new >= 0:
            out[new] = padded[old]
    return out


def _build_result(
    detections, st: _State, cluster_ids, existing, times, id_prefix, night: np.ndarray | None = None
) -> AssociationResult:
    st.refresh_shared()
    m = st.n_clusters
    lab = st.labels
    cu, cov, _ = st.centroids()
    if night is not None:
        cov = st.night_robust_variance(night)
    lat, lon = vectors_to_lat_lon(cu) if m else (np.zeros(0), np.zeros(0))
    lat_err = np.sqrt(cov[0]) / R_KM / DEG
    lon_err = np.minimum(np.sqrt(cov[1]) / (R_KM * np.maximum(np.cos(lat * DEG), 1e-12)) / DEG, 180.0)
    corr = -correlation(*cov)  # of lat and west longitude

    tvals = times.astype("datetime64[ns]").astype(np.int64)
    member = lab >= 0
    n_members = np.bincount(lab[member], minlength=m)
    n_new = np.bincount(lab[member & ~st.pinned], minlength=m)
    big = np.iinfo(np.int64).max
    tmin = np.full(m, big, dtype=np.int64)
    tmax = np.full(m, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(tmin, lab[member], tvals[member])
    np.maximum.at(tmax, lab[member], tvals[member])
    det_ids = (
        detections["detection_id"].to_numpy()
        if "detection_id" in detections.columns
        else np.arange(len(detections))
    )
    bands_per = (
        pd.DataFrame({"c": lab[member], "b": text_column(detections, "band")[member]})
        .query("b != ''")
        .drop_duplicates()
        .groupby("c")["b"]
        .agg(lambda s: set(s))
    )

    n_det = n_members.astype(np.int64)
    contributes = np.bincount(lab[st.contributing()], minlength=m) > 0
    ex_by_id = {}
    if existing is not None:
        ex_by_id = {str(h): i for i, h in enumerate(existing["hotspot_id"])}
        ex_first, ex_last = (
            to_utc(existing[col], "existing_hotspots").to_numpy().astype("datetime64[ns]").astype(np.int64)
            if col in existing
            else None
            for col in ("first_time_utc", "last_time_utc")
        )
    bands_out = []
    if existing is not None:  # the stored rows as plain arrays (row access in the loop is slow)
        ex_lat, ex_lon = existing["lat_deg"].to_numpy(), existing["lon_w_deg"].to_numpy()
        ex_lat_err, ex_lon_err = existing["lat_err_deg"].to_numpy(), existing["lon_err_deg"].to_numpy()
        ex_corr = (
            existing["lat_lon_err_corr"].to_numpy(dtype=object)
            if "lat_lon_err_corr" in existing
            else np.zeros(len(existing), dtype=object)
        )
        ex_n = existing["n_detections"].to_numpy(dtype=object) if "n_detections" in existing else None
        ex_bands = existing["bands"].to_numpy(dtype=object) if "bands" in existing else None
    bands_of = bands_per.to_dict()
    for c in range(m):
        bset = set(bands_of.get(c, set()))
        hid = cluster_ids[c]
        if hid is not None and hid in ex_by_id:
            r = ex_by_id[hid]
            if not contributes[c]:  # nothing new: keep the stored position exactly
                lat[c], lon[c] = ex_lat[r], ex_lon[r]
                lat_err[c], lon_err[c] = ex_lat_err[r], ex_lon_err[r]
                corr[c] = 0.0 if pd.isna(ex_corr[r]) else ex_corr[r]
            if ex_n is not None and pd.notna(ex_n[r]):
                n_det[c] = int(ex_n[r]) + n_new[c]
            nat = np.iinfo(np.int64).min
            if ex_first is not None and ex_first[r] != nat:
                tmin[c] = min(tmin[c], ex_first[r])
            if ex_last is not None and ex_last[r] != nat:
                tmax[c] = max(tmax[c], ex_last[r])
            if ex_bands is not None and isinstance(ex_bands[r], str) and ex_bands[r]:
                bset |= set(ex_bands[r].split(","))
        bands_out.append(",".join(sorted(bset)))

    # new IDs after the highest existing one, in order of first detection
    known = [h for h in cluster_ids if h is not None]
    if existing is not None:
        known += [str(h) for h in existing["hotspot_id"]]
    nums = [x for x in (_id_number(h, id_prefix) for h in known) if x is not None]
    next_num = max(nums, default=0) + 1
    first_det = np.full(m, np.inf)
    np.minimum.at(
        first_det,
        lab[member],
        pd.to_numeric(pd.Series(det_ids[member]), errors="coerce").fillna(0).to_numpy(dtype=float),
    )
    new = [c for c in range(m) if cluster_ids[c] is None]
    new.sort(key=lambda c: (tmin[c], first_det[c]))
    width = max(5, len(str(next_num + len(new))))
    for j, c in enumerate(new):
        cluster_ids[c] = f"{id_prefix}{next_num + j:0{width}d}"

    def to_time(a):
        ok = (a != big) & (a != np.iinfo(np.int64).min)
        return pd.to_datetime(np.where(ok, a, np.iinfo(np.int64).min).astype("datetime64[ns]"))

    hotspots = (
        pd.DataFrame(
            {
                "hotspot_id": pd.Series(cluster_ids, dtype=object),
                "lat_deg": lat,
                "lon_w_deg": np.mod(lon, 360.0),
                "lat_err_deg": lat_err,
                "lon_err_deg": lon_err,
                "lat_lon_err_corr": corr,
                "n_detections": n_det,
                "first_time_utc": to_time(tmin),
                "last_time_utc": to_time(tmax),
                "bands": pd.Series(bands_out, dtype=object),
            }
        )
        .sort_values("hotspot_id", kind="stable")
        .reset_index(drop=True)
    )
    id_arr = np.asarray(cluster_ids, dtype=object)
    per_det = pd.Series(
        np.where(member, id_arr[np.maximum(lab, 0)] if m else None, None),
        index=detections.index,
        name="hotspot_id",
        dtype=object,
    )
    return AssociationResult(hotspot_id=per_det, hotspots=hotspots)
