"""Which way do the samples run? Evidence for a pixel-axis sign from frames, beyond the limb.

NAIF's kernels fix JIRAM's line axis but not the sign of its sample axis (``docs/jiram_conventions.md``).
Under a free pointing offset a mirrored disk has the same limb, so the sign must come from what breaks the
mirror symmetry: the shading and the terminator of the day side, and the pattern of known hot spots. For each
frame and each of the two hypotheses (the declared sample axis, and its mirror) this module finds the pointing
offset that explains the frame best and compares how well each hypothesis can explain it:

* **image term** — the frame is fitted, at every offset within the pointing prior, by a linear model
  ``a + b·disk + c·μ₀ + d·√μ₀`` whose regressors are rendered from the predicted pose under the hypothesis
  (PSF-blurred disk mask, cosine of the solar incidence clipped at 0, and its square root: a Lambert and a
  Minnaert-like limb behaviour, no albedo map), with b, c, d ≥ 0 (brightness never falls toward the Sun:
  otherwise a mirrored terminator is fitted with a negative sign). The profile log-likelihood is
  ``−½ N_eff · ln RSS``, where ``N_eff`` is the number of pixels fitted divided by the area (up to 81 × 81 px)
  of the residuals' autocorrelation: albedo texture makes neighbouring residuals alike, so they count as
  fewer independent ones. Hot spots, cosmic rays and streak cores are masked (pixels far above their 5 × 5
  median). The best whole-pixel offset is refined to a fraction of a pixel, and the offsets are searched
  again once ``N_eff`` is known.
* **hot-spot term** — known hot spots (anchors: surface positions with a position error) are projected under
  the hypothesis; the frame's detections are scored by ``Σ_a ln[(1 − P) + P Σ_d N(x_d − μ_a − δ; Σ_ad) / λ]``
  (an anchor is seen with probability ``P`` near its predicted place, every detection may also be clutter of
  density ``λ`` per pixel over the disk);
* **prior** — the offset δ follows the instrument's pointing prior: a Gaussian truncated at its bound, large
  along track and a few pixels across (:class:`ioscan.instruments.PointingPrior`).

All three are evaluated on the same grid of whole-pixel offsets (FFT correlations for the image term); the
frame's log-likelihood ratio is ``max_δ ln L(declared) − max_δ ln L(mirror)``, clipped to ±``frame_clip``
(5) so that no single frame — with a model error no one foresaw — can decide alone: frames add their
clipped ratios and the sign is **confirmed** when the total reaches ``threshold`` (9.2 natural-log units,
≈ 10,000:1, i.e. at least two frames that agree), else reported **unconfirmed** (no decision).
``benchmarks/bench_convention.py`` measures how often 5-frame sets give the right sign, "unconfirmed", or
the wrong sign.

Which frames carry evidence: day-side frames whose terminator or shading gradient has a component across the
samples; frames with known hot spots in view; frames where Io sits off the middle column (the cross-track
pointing prior of a few pixels cannot move a mirrored disk back); at high S/N even the orientation of Io's
triaxial outline. Full-phase frames of a centred disk, and close frames without hot spots, carry none.

The hypotheses differ only in the sample axis; poses come from SPICE (or any provider) and are the same for
both. Offsets are observed − predicted scene positions, pixels (sample, line), as in the limb fit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, signal

from ioscan import body as iobody
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.pose import CameraPose, backplanes_from_pose, project_points
from ioscan.instruments.base import DetectorLayout, PixelAxes

#: natural-log evidence needed to call a sign confirmed (≈ 10,000:1); above the per-frame clip, so no single
#: frame decides alone
DEFAULT_THRESHOLD = 9.2
#: the most one frame may contribute to the total, natural-log units
DEFAULT_FRAME_CLIP = 5.0
#: probability that a known hot spot in view is detected (the hot-spot term)
ANCHOR_DETECTION_PROB = 0.3
#: anchors (brightest first) used by default
DEFAULT_N_ANCHORS = 80
#: outlier mask: pixels this many robust σ above their 5 × 5 median (hot spots, cosmic rays, streak cores)
OUTLIER_SIGMA = 6.0
#: largest lag (px) of the residual autocorrelation that sets N_eff
AUTOCORR_MAX_LAG_PX = 40


@dataclass
class Anchors:
    """Known hot spots to look for (planetographic °N, west °W), 1σ position error per coordinate (km): a
    core ``err_km`` and a wide tail ``tail_err_km`` taken by a fraction ``tail_fraction`` of the sources."""

    lat_deg: np.ndarray
    lon_w_deg: np.ndarray
    err_km: np.ndarray
    names: list[str] = field(default_factory=list)
    tail_err_km: np.ndarray | float = 0.0
    tail_fraction: np.ndarray | float = 0.0

    @classmethod
    def from_table(cls, table) -> Anchors:
        """Anchors from an anchor table (:mod:`ioscan.geometry.anchors`: ``lat_deg``, ``lon_w_deg``,
        ``sigma_km``, ``tail_sigma_km``, ``tail_fraction``; a shared error is added to the core)."""
        core = np.hypot(table["sigma_km"].to_numpy(float), table["shared_sigma_km"].to_numpy(float))
        return cls(
            table["lat_deg"].to_numpy(float),
            table["lon_w_deg"].to_numpy(float),
            core,
            [str(x) for x in table["anchor_id"]],
            tail_err_km=np.maximum(table["tail_sigma_km"].to_numpy(float), core),
            tail_fraction=table["tail_fraction"].to_numpy(float),
        )

    def __len__(self) -> int:
        return int(np.asarray(self.lat_deg).size)

    def points_km(self) -> np.ndarray:
        """Body-fixed surface points, km (n, 3)."""
        lat, lon = np.asarray(self.lat_deg, float), np.asarray(self.lon_w_deg, float)
        return iobody.surface_point_from_lat_pg(lat, lon)


def catalogue_anchors(n: int = DEFAULT_N_ANCHORS) -> Anchors:
    """The ``n`` most powerful hot spots of the shipped catalogues (Davies et al. 2024 PSJ Table 10, and the
    JIRAM sources of Davies et al. 2024 Nat. Astron. not in it, by M-band power × 10 µm), one row per source
    (a JIRAM source within 2° of a Table 10 one is the same source), with the published positions' error
    model (:data:`ioscan.catalog.reference.PUBLISHED_POSITION_ERROR`: 0.6° core, 5 % at 2.5°)."""
    from ioscan.catalog.reference import PUBLISHED_POSITION_ERROR, davies2024_jiram, davies2024_psj

    psj = davies2024_psj()
    jrm = davies2024_jiram()
    lat = list(psj["lat_deg"].astype(float))
    lon = list(psj["lon_w_deg"].astype(float))
    power = list(psj["power_gw"].astype(float))
    names = [str(x) if x else f"PSJ{r}" for x, r in zip(psj["name"], psj["ref_id"], strict=True)]
    for r in jrm.itertuples():
        sep = iobody.angular_separation_deg(
            np.array(lat), np.array(lon), float(r.lat_deg), float(r.lon_w_deg)
        )
        if np.min(sep) < 2.0:
            continue
        lat.append(float(r.lat_deg))
        lon.append(float(r.lon_w_deg))
        power.append(10.0 * float(np.nan_to_num(r.avg_unsaturated_spectral_power_gw_um)))
        names.append(str(r.ref_id))
    order = np.argsort(-np.nan_to_num(np.array(power)))[:n]
    err = PUBLISHED_POSITION_ERROR
    km_per_deg = np.radians(1.0) * iobody.IO_MEAN_RADIUS_KM
    return Anchors(
        np.array(lat)[order],
        np.array(lon)[order],
        np.full(order.size, err.core_deg * km_per_deg),
        [names[i] for i in order],
        tail_err_km=err.tail_deg * km_per_deg,
        tail_fraction=err.tail_fraction,
    )


@dataclass
class BandView:
    """One band of one frame as the check sees it.

    Attributes:
        image: band image (lines × samples), any linear unit; NaN = missing.
        pose: predicted pose of the band's frame (e.g. from ``SpiceGeometry.pose``).
        layout: the declared detector layout of the band's frame (size, boresight pixel, pixel axes).
        ifov_rad: pixel size, rad.
        psf_sigma_px: Gaussian σ of the limb blur, px.
        detections: (n, 3) array of detected hot spots: sample, line (band pixels), 1σ centroid error px.
    """

    image: np.ndarray
    pose: CameraPose
    layout: DetectorLayout
    ifov_rad: float
    psf_sigma_px: float = 0.7
    detections: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))


@dataclass
class FrameView:
    """A frame: its bands (sharing one pointing offset) and a name for reports."""

    name: str
    bands: list[BandView]


@dataclass
class Hypothesis:
    """Best explanation of a frame under one sample-axis sign."""

    label: str
    log_likelihood: float
    offset_px: tuple[float, float]
    image_term: float
    hot_spot_term: float
    prior_term: float
    n_matches: int


@dataclass
class FrameEvidence:
    """Evidence of one frame: ``llr`` = ln L(declared) − ln L(mirror), and the clipped value that counts."""

    name: str
    declared: Hypothesis
    mirror: Hypothesis
    llr: float
    llr_counted: float
    n_eff: float
    notes: list[str] = field(default_factory=list)


@dataclass
class ConventionResult:
    """The verdict over a set of frames.

    Attributes:
        declared_label, mirror_label: the two hypotheses ("−Y", "+Y" for JIRAM's samples).
        frames: per-frame evidence.
        total_llr: Σ of the clipped per-frame ratios, natural log (positive favours the declared axis).
        choice: the label that wins, or None when unconfirmed.
        status: "confirmed" or "unconfirmed".
        margin: |total_llr|, natural log units, of the winner over the other.
        threshold: what ``margin`` had to reach.
    """

    declared_label: str
    mirror_label: str
    frames: list[FrameEvidence]
    total_llr: float
    choice: str | None
    status: str
    margin: float
    threshold: float

    @property
    def favoured(self) -> str:
        """The label the evidence leans to, confirmed or not."""
        return self.declared_label if self.total_llr >= 0 else self.mirror_label

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "declared": self.declared_label,
            "mirror": self.mirror_label,
            "choice": self.choice,
            "status": self.status,
            "favoured": self.favoured,
            "margin_ln": round(self.margin, 3),
            "threshold_ln": self.threshold,
            "total_llr_ln": round(self.total_llr, 3),
            "frames": [
                {
                    "name": f.name,
                    "llr_ln": round(f.llr, 3),
                    "counted_ln": round(f.llr_counted, 3),
                    "n_eff": round(f.n_eff, 1),
                    **{
                        h.label: {
                            "offset_px": [round(v, 1) for v in h.offset_px],
                            "image_ln": round(h.image_term, 3),
                            "hot_spots_ln": round(h.hot_spot_term, 3),
                            "prior_ln": round(h.prior_term, 3),
                            "n_matches": h.n_matches,
                        }
                        for h in (f.declared, f.mirror)
                    },
                    "notes": f.notes,
                }
                for f in self.frames
            ],
        }


def axis_label(axis) -> str:
    """ "+X", "−Y"... for a unit vector along an instrument-frame axis (else the vector rounded)."""
    v = np.asarray(axis, float)
    k = int(np.argmax(np.abs(v)))
    if abs(abs(v[k]) - 1.0) < 1e-9:
        return ("+" if v[k] > 0 else "−") + "XYZ"[k]
    return str(tuple(np.round(v, 3)))


def mirrored_axes(axes: PixelAxes) -> PixelAxes:
    """The same axes with the sample axis reversed (the other sample-sign hypothesis)."""
    return PixelAxes(tuple(-float(x) for x in axes.sample_axis), axes.line_axis, axes.boresight)


# ------------------------------------------------------------------------------------------- offset grid
@dataclass(frozen=True)
class OffsetGrid:
    """Whole-pixel offsets searched: δs ∈ [−pad_s, pad_s], δl ∈ [−pad_l, pad_l], and their log prior."""

    pad_s: int
    pad_l: int
    log_prior: np.ndarray  # (2 pad_l + 1, 2 pad_s + 1), −inf outside the prior's bounds; index [u, v]

    @classmethod
    def from_prior(cls, sigma_px: tuple[float, float], max_px: tuple[float, float]) -> OffsetGrid:
        """Grid spanning the bounds (sample, line) of a truncated-Gaussian pointing prior."""
        pad_s, pad_l = (int(np.ceil(m)) + 1 for m in max_px)
        ds = cls.offsets(pad_s)
        dl = cls.offsets(pad_l)
        lp = -0.5 * (dl[:, None] / sigma_px[1]) ** 2 - 0.5 * (ds[None, :] / sigma_px[0]) ** 2
        inside = (np.abs(dl)[:, None] <= max_px[1] + 0.5) & (np.abs(ds)[None, :] <= max_px[0] + 0.5)
        return cls(pad_s, pad_l, np.where(inside, lp, -np.inf))

    @staticmethod
    def offsets(pad: int) -> np.ndarray:
        """Offsets along one axis in grid order: index u ↔ δ = pad − u."""
        return pad - np.arange(2 * pad + 1, dtype=float)


# ------------------------------------------------------------------------------------------- image term
def _outlier_mask(image: np.ndarray) -> np.ndarray:
    """True where a pixel is usable: finite and not far above its 5 × 5 median (hot spots, hits, streaks)."""
    finite = np.isfinite(image)
    img = np.where(finite, image, np.nanmedian(image) if finite.any() else 0.0)
    med = ndimage.median_filter(img, size=5, mode="nearest")
    resid = img - med
    sig = 1.4826 * float(np.median(np.abs(resid[finite] - np.median(resid[finite])))) if finite.any() else 0.0
    bad = resid > OUTLIER_SIGMA * max(sig, 1e-30)
    bad = ndimage.binary_dilation(bad, iterations=2)
    return finite & ~bad


def _regressors(camera: FrameCamera, pose: CameraPose, psf_sigma_px: float) -> list[np.ndarray]:
    """Disk mask, μ₀⁺ and √μ₀⁺ of every canvas pixel, PSF-blurred."""
    bp = backplanes_from_pose(camera, pose)
    on = bp.arrays["on_disk"] > 0
    inc = np.nan_to_num(bp.arrays["incidence_deg"], nan=90.0)
    mu0 = np.where(on, np.clip(np.cos(np.radians(inc)), 0.0, 1.0), 0.0)
    out = [on.astype(float), mu0, np.sqrt(mu0)]
    if psf_sigma_px > 0:
        out = [ndimage.gaussian_filter(r, psf_sigma_px, mode="constant") for r in out]
    return out


class _Correlator:
    """Σ_{l,s} kernel[l, s]·canvas[l + u, s + v] for every valid (u, v), by FFT, transforms reused."""

    def __init__(self, canvas_shape: tuple[int, int], kernel_shape: tuple[int, int]):
        from scipy import fft

        self._fft = fft
        self.shape = tuple(fft.next_fast_len(int(n), real=True) for n in canvas_shape)
        self.valid = (canvas_shape[0] - kernel_shape[0] + 1, canvas_shape[1] - kernel_shape[1] + 1)
        self._cache: dict[int, np.ndarray] = {}

    def transform(self, a: np.ndarray) -> np.ndarray:
        return self._fft.rfft2(a, s=self.shape)

    def __call__(self, canvas_ft: np.ndarray, kernel_ft: np.ndarray) -> np.ndarray:
        full = self._fft.irfft2(canvas_ft * np.conj(kernel_ft), s=self.shape)
        return full[: self.valid[0], : self.valid[1]]


def image_rss(
    image: np.ndarray, mask: np.ndarray, regressors: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Residual sum of squares of the linear fit ``a + Σ c_k R_k`` of the masked image, for every offset
    (canvas index (u, v) ↔ δ = (pad_s − v, pad_l − u)); and the number of pixels fitted."""
    m = mask.astype(float)
    level = float(np.median(image[mask])) if mask.any() else 0.0
    y = np.where(mask, image - level, 0.0).astype(float)
    k = len(regressors)
    n = float(m.sum())
    corr = _Correlator(regressors[0].shape, image.shape)
    m_ft, y_ft = corr.transform(m), corr.transform(y)
    reg_ft = [corr.transform(r) for r in regressors]
    shape = corr.valid
    gram = np.zeros(shape + (k + 1, k + 1))
    rhs = np.zeros(shape + (k + 1,))
    gram[..., 0, 0] = n
    rhs[..., 0] = float(y.sum())
    for i, ri in enumerate(regressors, 1):
        gram[..., 0, i] = gram[..., i, 0] = corr(reg_ft[i - 1], m_ft)
        rhs[..., i] = corr(reg_ft[i - 1], y_ft)
        for j in range(i, k + 1):
            gram[..., i, j] = gram[..., j, i] = corr(corr.transform(ri * regressors[j - 1]), m_ft)
    diag = np.diagonal(gram, axis1=-2, axis2=-1)
    # a regressor (nearly) absent from the window at some offset (no disk, no sunlight there) drops out
    weak = diag < 1e-9 * np.maximum(diag.max(axis=(0, 1), keepdims=True), 1e-300)
    weak[..., 0] = False
    scale = np.sqrt(np.where(weak, 1.0, np.clip(diag, 1e-300, None)))
    g = gram / scale[..., :, None] / scale[..., None, :]
    b_all = np.where(weak, 0.0, rhs / scale)
    yy = float(np.sum(y * y))
    # brightness cannot fall with the disk or with sunlight: the regressors' coefficients must be ≥ 0
    # (else a mirrored shading gradient is fitted with a negative sign); the best fit over the subsets of
    # regressors whose unconstrained solution is non-negative is the non-negative least-squares fit
    rss = np.full(shape, yy)
    for subset in itertools.product((False, True), repeat=k):
        idx = np.array([0] + [i + 1 for i, on in enumerate(subset) if on])
        gs = g[..., idx[:, None], idx[None, :]]
        bs = b_all[..., idx]
        keep = ~weak[..., idx]
        gs = np.where(keep[..., :, None] & keep[..., None, :], gs, 0.0) + np.where(keep, 1e-9, 1.0)[
            ..., None
        ] * np.eye(idx.size)
        bs = np.where(keep, bs, 0.0)
        coef = np.linalg.solve(gs, bs[..., None])[..., 0]
        ok = np.all(coef[..., 1:] >= 0.0, axis=-1)
        rss = np.where(ok, np.minimum(rss, yy - np.sum(coef * bs, axis=-1)), rss)
    return np.maximum(rss, 1e-300), np.full(shape, n)


def _autocorr_area(resid: np.ndarray, mask: np.ndarray, max_lag: int = AUTOCORR_MAX_LAG_PX) -> float:
    """Integrated 2-D autocorrelation of masked residuals over lags ≤ ``max_lag`` (px²), ≥ 1."""
    r = np.where(mask, resid - np.mean(resid[mask]), 0.0)
    m = mask.astype(float)
    num = signal.correlate(r, r, mode="full", method="fft")
    cnt = signal.correlate(m, m, mode="full", method="fft")
    c0 = np.array(num.shape) // 2
    sl = (slice(c0[0] - max_lag, c0[0] + max_lag + 1), slice(c0[1] - max_lag, c0[1] + max_lag + 1))
    num, cnt = num[sl], cnt[sl]
    with np.errstate(invalid="ignore", divide="ignore"):
        var0 = max(num[max_lag, max_lag] / cnt[max_lag, max_lag], 1e-300)
        rho = np.where(cnt > 20, num / np.maximum(cnt, 1) / var0, 0.0)
    # integrate the central lobe: lags whose correlation stays positive out from the centre
    rho = np.where(rho > 0.05, rho, 0.0)
    lobe = ndimage.label(rho > 0)[0]
    centre = lobe[max_lag, max_lag]
    return float(max(1.0, rho[lobe == centre].sum())) if centre else 1.0


# ---------------------------------------------------------------------------------------- hot-spot term
def _components(sa: float, st: float | None, f: float, det_var: np.ndarray):
    """(variance, weight) pairs of an anchor's position error (core, and a tail taken by a fraction f)."""
    out = [(sa**2 + det_var, 1.0 - f if st is not None else 1.0)]
    if st is not None and f > 0:
        out.append((st**2 + det_var, f))
    return out


def hot_spot_term(
    predicted: np.ndarray,
    sigma_pred_px: np.ndarray,
    detections: np.ndarray,
    grid: OffsetGrid,
    clutter_per_px2: float,
    p_detect: float = ANCHOR_DETECTION_PROB,
    tail_sigma_px: np.ndarray | None = None,
    tail_fraction: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Σ_a ln[(1 − P) + P Σ_d N(x_d − μ_a − δ) / λ] on the offset grid, and the number of anchors matched
    within 3σ (of the core) at each offset.

    Args:
        predicted: (n_a, 2) predicted (sample, line) of the anchors, px.
        sigma_pred_px: (n_a,) 1σ of those predictions (the catalogue's core position error on the sky), px.
        detections: (n_d, 3) detections: sample, line, 1σ centroid error px.
        grid: the offsets.
        clutter_per_px2: λ, detections per px² that are not anchors.
        p_detect: P.
        tail_sigma_px, tail_fraction: the position error's wide tail (1σ px per anchor) and the fraction of
            anchors in it (per anchor or one for all; N is then the mixture).
    """
    shape = grid.log_prior.shape
    total = np.zeros(shape)
    matched = np.zeros(shape, dtype=int)
    if len(predicted) == 0 or len(detections) == 0:
        return total, matched
    dl = OffsetGrid.offsets(grid.pad_l)[:, None]
    ds = OffsetGrid.offsets(grid.pad_s)[None, :]
    tails = tail_sigma_px if tail_sigma_px is not None else [None] * len(predicted)
    fracs = np.broadcast_to(np.asarray(tail_fraction, float), (len(predicted),))
    for (ps, pl), sa, st, f in zip(predicted, sigma_pred_px, tails, fracs, strict=True):
        comps = _components(sa, st, float(f), detections[:, 2] ** 2)
        wide = np.sqrt(comps[-1][0])
        rs, rl = detections[:, 0] - ps, detections[:, 1] - pl
        # only detections that some offset of the grid can bring within 5σ matter
        near = (np.abs(rs) <= grid.pad_s + 5 * wide) & (np.abs(rl) <= grid.pad_l + 5 * wide)
        if not near.any():
            total += np.log1p(-p_detect)
            continue
        acc = np.zeros(shape)
        hit = np.zeros(shape, dtype=bool)
        for j in np.flatnonzero(near):
            r_s, r_l = rs[j], rl[j]
            # only offsets within 6σ of this pairing matter; δ = (r_s, r_l) sits at (pad_l − r_l, pad_s − r_s)
            w = 6.0 * float(wide[j])
            u0, u1 = (
                max(int(np.floor(grid.pad_l - r_l - w)), 0),
                min(int(np.ceil(grid.pad_l - r_l + w)) + 1, shape[0]),
            )
            v0, v1 = (
                max(int(np.floor(grid.pad_s - r_s - w)), 0),
                min(int(np.ceil(grid.pad_s - r_s + w)) + 1, shape[1]),
            )
            if u0 >= u1 or v0 >= v1:
                continue
            r2 = (r_s - ds[:, v0:v1]) ** 2 + (r_l - dl[u0:u1, :]) ** 2
            for var, weight in comps:
                acc[u0:u1, v0:v1] += weight * np.exp(-0.5 * r2 / var[j]) / (2 * np.pi * var[j])
            hit[u0:u1, v0:v1] |= r2 <= 9.0 * comps[0][0][j]
        total += np.log((1 - p_detect) + p_detect * acc / clutter_per_px2)
        matched += hit
    return total, matched


def _anchor_predictions(anchors: Anchors, camera: FrameCamera, pose: CameraPose, grid: OffsetGrid):
    """Predicted (sample, line) and 1σ core and tail position errors (px) of the anchors seen from the pose
    and within the grid's reach."""
    if len(anchors) == 0:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros(0)
    pts = anchors.points_km()
    s, ln, vis = project_points(camera, pose, pts)
    normal = iobody.surface_normal(pts)
    to_obs = pose.observer_km - pts
    rng = np.linalg.norm(to_obs, axis=-1)
    cos_e = np.sum(normal * to_obs, axis=-1) / rng
    reach = (
        vis
        & (cos_e > 0.1)
        & (s > -grid.pad_s - 3)
        & (s < camera.n_samples + grid.pad_s + 3)
        & (ln > -grid.pad_l - 3)
        & (ln < camera.n_lines + grid.pad_l + 3)
    )
    scale = np.maximum(rng * camera.ifov_rad, 1e-9)  # km/px at normal view: an error looks no larger
    sig = np.asarray(anchors.err_km, float) / scale
    tail = np.broadcast_to(np.asarray(anchors.tail_err_km, float), sig.shape) / scale
    frac = np.broadcast_to(np.asarray(anchors.tail_fraction, float), sig.shape)
    return np.column_stack([s, ln])[reach], sig[reach], tail[reach], frac[reach]


# -------------------------------------------------------------------------------------------- the check
def _camera(layout: DetectorLayout, axes: PixelAxes, ifov: float, pad_s: int, pad_l: int) -> FrameCamera:
    """The band camera with ``axes``, enlarged by the offset padding on every side."""
    return FrameCamera.with_axes(
        axes,
        n_samples=layout.n_samples + 2 * pad_s,
        n_lines=layout.n_lines + 2 * pad_l,
        ifov_rad=ifov,
        center_sample=layout.center_sample + pad_s,
        center_line=layout.center_line + pad_l,
    )


def _hypothesis_surface(
    frame: FrameView, axes: PixelAxes, grid: OffsetGrid, anchors: Anchors, p_detect: float, masks: list
) -> dict:
    """Per-offset image RSS pieces and hot-spot log-likelihood of a frame under one pixel-axis convention."""
    rss_terms = []
    spot_terms = []
    hs = np.zeros(grid.log_prior.shape)
    matches = np.zeros(grid.log_prior.shape, dtype=int)
    for band, mask in zip(frame.bands, masks, strict=True):
        cam = _camera(band.layout, axes, band.ifov_rad, grid.pad_s, grid.pad_l)
        regs = _regressors(cam, band.pose, band.psf_sigma_px)
        rss, n = image_rss(band.image, mask, regs)
        rss_terms.append((rss, n, regs, mask))
        small = FrameCamera.with_axes(
            axes,
            n_samples=band.layout.n_samples,
            n_lines=band.layout.n_lines,
            ifov_rad=band.ifov_rad,
            center_sample=band.layout.center_sample,
            center_line=band.layout.center_line,
        )
        pred, sig, tail, frac = _anchor_predictions(anchors, small, band.pose, grid)
        disk_px = float(
            regs[0][
                grid.pad_l : grid.pad_l + band.layout.n_lines, grid.pad_s : grid.pad_s + band.layout.n_samples
            ].sum()
        )
        lam = (len(band.detections) + 1.0) / max(disk_px, 100.0)
        dets = np.asarray(band.detections, float).reshape(-1, 3)
        t, k = hot_spot_term(pred, sig, dets, grid, lam, p_detect, tail, frac)
        hs += t
        matches += k
        spot_terms.append((pred, sig, tail, frac, dets, lam))
    return {"rss": rss_terms, "hot_spots": hs, "matches": matches, "spots": spot_terms}


def _best(log_l: np.ndarray) -> tuple[int, int]:
    u, v = np.unravel_index(int(np.argmax(log_l)), log_l.shape)
    return int(u), int(v)


class _SubPixelFit:
    """The image fit of one band at any (fractional) offset: the (PSF-blurred) regressors interpolated
    bilinearly at the window the offset selects on the canvas."""

    def __init__(self, band: BandView, regs: list[np.ndarray], mask: np.ndarray, grid: OffsetGrid):
        self.mask = mask
        self.y = band.image[mask].astype(float)
        self.regs = regs
        self.pad = (grid.pad_s, grid.pad_l)
        self.shape = band.image.shape

    def _window(self, reg: np.ndarray, delta: tuple[float, float]) -> np.ndarray:
        """``reg`` on the masked pixels at offset ``delta``: bilinear blend of four whole-pixel windows."""
        nl, ns = self.shape
        t_l, t_s = self.pad[1] - delta[1], self.pad[0] - delta[0]
        u0 = int(np.clip(np.floor(t_l), 0, reg.shape[0] - nl))
        v0 = int(np.clip(np.floor(t_s), 0, reg.shape[1] - ns))
        fu = float(np.clip(t_l - u0, 0.0, 1.0)) if u0 + nl < reg.shape[0] else 0.0
        fv = float(np.clip(t_s - v0, 0.0, 1.0)) if v0 + ns < reg.shape[1] else 0.0
        out = np.zeros(self.y.size)
        for du, wu in ((0, 1.0 - fu), (1, fu)):
            for dv, wv in ((0, 1.0 - fv), (1, fv)):
                if wu * wv > 0.0:
                    out += wu * wv * reg[u0 + du : u0 + du + nl, v0 + dv : v0 + dv + ns][self.mask]
        return out

    def fit(self, delta: tuple[float, float]) -> tuple[float, np.ndarray]:
        """(RSS, residuals on the mask) at offset ``delta`` = (δs, δl), px."""
        cols = [self._window(r, delta) for r in self.regs]
        x = np.column_stack([np.ones(self.y.size)] + cols)
        gram, rhs = np.einsum("ni,nj->ij", x, x), np.einsum("ni,n->i", x, self.y)
        yy = float(np.einsum("n,n->", self.y, self.y))
        best, best_sol = yy - rhs[0] ** 2 / gram[0, 0], np.r_[rhs[0] / gram[0, 0], np.zeros(len(cols))]
        for subset in itertools.product((False, True), repeat=len(cols)):
            idx = np.array([0] + [i + 1 for i, on in enumerate(subset) if on])
            try:
                sol = np.linalg.solve(gram[np.ix_(idx, idx)], rhs[idx])
            except np.linalg.LinAlgError:
                continue
            if np.any(sol[1:] < 0.0):
                continue
            rss = yy - float(sol @ rhs[idx])
            if rss < best:
                best, best_sol = rss, np.zeros(len(cols) + 1)
                best_sol[idx] = sol
        resid = self.y - np.einsum("ni,i->n", x, best_sol)
        return max(best, 0.0), resid


def _refine(
    fits: list[_SubPixelFit], start: tuple[float, float], top: tuple[float, float]
) -> tuple[float, float]:
    """Offset within ±0.75 px of ``start`` minimising the summed RSS (3 × 3 grid, quadratic fit, clamped)."""
    if not fits:
        return start
    steps = (-0.5, 0.0, 0.5)
    vals = np.array(
        [[sum(f.fit((start[0] + a, start[1] + b))[0] for f in fits) for a in steps] for b in steps]
    )
    vals = np.log(np.maximum(vals, 1e-300))
    # quadratic surface z = c0 + c1 a + c2 b + c3 a² + c4 b² + c5 ab over the 9 points
    aa, bb = np.meshgrid(steps, steps)
    design = np.column_stack(
        [np.ones(9), aa.ravel(), bb.ravel(), aa.ravel() ** 2, bb.ravel() ** 2, (aa * bb).ravel()]
    )
    c = np.linalg.lstsq(design, vals.ravel(), rcond=None)[0]
    hess = np.array([[2 * c[3], c[5]], [c[5], 2 * c[4]]])
    if np.all(np.linalg.eigvalsh(hess) > 0):
        da, db = np.linalg.solve(hess, -c[1:3])
    else:
        j = np.unravel_index(int(np.argmin(vals)), vals.shape)
        db, da = steps[j[0]], steps[j[1]]
    da, db = float(np.clip(da, -0.75, 0.75)), float(np.clip(db, -0.75, 0.75))
    return (
        float(np.clip(start[0] + da, -top[0] - 0.5, top[0] + 0.5)),
        float(np.clip(start[1] + db, -top[1] - 0.5, top[1] + 0.5)),
    )


def _hot_spots_at(spots, delta: tuple[float, float], p_detect: float) -> tuple[float, int]:
    """The hot-spot term and matches at one (fractional) offset, summed over bands."""
    total, matched = 0.0, 0
    for pred, sig, tail, frac, dets, lam in spots:
        for (ps, pl), sa, st, f in zip(pred, sig, tail, frac, strict=True):
            if len(dets) == 0:
                total += np.log1p(-p_detect)
                continue
            r2 = (dets[:, 0] - ps - delta[0]) ** 2 + (dets[:, 1] - pl - delta[1]) ** 2
            comps = _components(sa, st, float(f), dets[:, 2] ** 2)
            acc = float(sum(np.sum(w * np.exp(-0.5 * r2 / var) / (2 * np.pi * var)) for var, w in comps))
            total += float(np.log((1 - p_detect) + p_detect * acc / lam))
            matched += int(np.any(r2 <= 9.0 * comps[0][0]))
    return total, matched


def frame_evidence(
    frame: FrameView,
    declared_axes: PixelAxes,
    sigma_px: tuple[float, float],
    max_px: tuple[float, float],
    *,
    anchors: Anchors | None = None,
    p_detect: float = ANCHOR_DETECTION_PROB,
    frame_clip: float = DEFAULT_FRAME_CLIP,
    use_image: bool = True,
) -> FrameEvidence:
    """Evidence of one frame for the declared sample axis against its mirror (see module docstring).

    Each hypothesis's best whole-pixel offset is refined to a fraction of a pixel on the image fit (at high
    S/N a limb misplaced by half a pixel would otherwise outweigh the shading); all terms are evaluated there.

    Args:
        frame: the frame's bands (images, predicted poses, declared layouts, detections).
        declared_axes: the pixel axes the instrument declares.
        sigma_px, max_px: the pointing prior, 1σ and bound along (sample, line), px.
        anchors: known hot spots (default: none).
        p_detect: probability that an anchor in view is detected.
        frame_clip: the most this frame may count, natural-log units.
        use_image: include the image term (False: hot spots only).
    """
    anchors = anchors if anchors is not None else Anchors(np.zeros(0), np.zeros(0), np.zeros(0))
    grid = OffsetGrid.from_prior(sigma_px, max_px)
    mirror_axes = mirrored_axes(declared_axes)
    axes_of = {"declared": declared_axes, "mirror": mirror_axes}
    masks = [_outlier_mask(b.image) for b in frame.bands]
    surf = {
        key: _hypothesis_surface(frame, axes, grid, anchors, p_detect, masks) for key, axes in axes_of.items()
    }
    notes: list[str] = []
    n_bands = len(frame.bands)
    fits = {
        key: [_SubPixelFit(frame.bands[b], *surf[key]["rss"][b][2:4], grid) for b in range(n_bands)]
        if use_image
        else []
        for key in surf
    }
    # N_eff starts as the number of pixels fitted (white residuals) and is re-estimated from the residuals;
    # the offsets are found again with it, so that texture-dominated frames do not pick offsets by chance
    n_eff = [float(surf["declared"]["rss"][b][1].flat[0]) for b in range(n_bands)]
    for final in (False, True):
        delta = {}
        for key in surf:
            img = sum(-0.5 * n_eff[b] * np.log(surf[key]["rss"][b][0]) for b in range(n_bands))
            u, v = _best((img if use_image else 0.0) + surf[key]["hot_spots"] + grid.log_prior)
            start = (float(grid.pad_s - v), float(grid.pad_l - u))
            delta[key] = _refine(fits[key], start, max_px) if final else start
        rss_at = {key: [f.fit(delta[key]) for f in fits[key]] for key in surf}
        for b in range(n_bands if use_image else 0):
            key = min(surf, key=lambda k, b=b: rss_at[k][b][0])
            resid = np.zeros(frame.bands[b].image.shape)
            mask = fits[key][b].mask
            resid[mask] = rss_at[key][b][1]
            n_eff[b] = float(mask.sum()) / _autocorr_area(resid, mask)
    if not use_image:
        n_eff = [0.0] * n_bands
    # 4. every term at the refined offsets
    hyps = {}
    for key, axes in axes_of.items():
        d = delta[key]
        img = sum(-0.5 * n_eff[b] * np.log(max(rss_at[key][b][0], 1e-300)) for b in range(len(rss_at[key])))
        hs, n_match = _hot_spots_at(surf[key]["spots"], d, p_detect)
        prior = -0.5 * (d[0] / sigma_px[0]) ** 2 - 0.5 * (d[1] / sigma_px[1]) ** 2
        hyps[key] = Hypothesis(
            label=axis_label(axes.sample_axis),
            log_likelihood=float(img + hs + prior),
            offset_px=d,
            image_term=float(img),
            hot_spot_term=float(hs),
            prior_term=float(prior),
            n_matches=n_match,
        )
    # the image terms share a constant (Σ ½ N_eff ln of the better RSS); report them relative to it
    base = min(hyps["declared"].image_term, hyps["mirror"].image_term)
    for h in hyps.values():
        h.image_term -= base
        h.log_likelihood -= base
    llr = hyps["declared"].log_likelihood - hyps["mirror"].log_likelihood
    if not np.isfinite(llr):
        notes.append("no usable evidence")
        llr = 0.0
    counted = float(np.clip(llr, -frame_clip, frame_clip))
    return FrameEvidence(
        frame.name, hyps["declared"], hyps["mirror"], float(llr), counted, float(sum(n_eff)), notes
    )


def decide(
    frames: list[FrameEvidence],
    declared_axes: PixelAxes,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> ConventionResult:
    """Sum the frames' clipped evidence and decide (see module docstring)."""
    total = float(sum(f.llr_counted for f in frames))
    decl = axis_label(declared_axes.sample_axis)
    mirror = axis_label(mirrored_axes(declared_axes).sample_axis)
    margin = abs(total)
    confirmed = margin >= threshold
    choice = (decl if total > 0 else mirror) if confirmed else None
    return ConventionResult(
        decl, mirror, frames, total, choice, "confirmed" if confirmed else "unconfirmed", margin, threshold
    )
