"""Scene parameters of one independently rendered frame, and a random draw of them.

Levels drawn by :func:`draw_scene` (band radiance, W m⁻² sr⁻¹): sunlit M surface up to ~0.005–0.015 per
pixel; read noise 2e-5–6e-5; full well 250,000 e⁻ at a raw saturation of 0.03–0.12 per pixel, so shot noise
adds up to ~4e-5 on the bright day side; on-board background subtraction on in 70 % of frames, removing an
instrument background of 0.001–0.008 (whose shot noise stays) and leaving a residual N(0, 2 σ_read); column
offsets 0.1–0.3 σ_read rms, column gains 0.1–0.5 % rms, and in 30 % of frames a block of 20–200 columns with
a gain 0.5–2 % off; 1–8 cosmic-ray hits per frame on average, a quarter at full well. Hot spots ~3e-4–3
summed (a pixel-centred σ = 0.8 px source puts 22 % of its flux in its peak pixel, so sources above ~0.15–0.5
saturate). Geometry: range log-uniform 20,000–400,000 km, disk centre anywhere up to 0.8 radius outside the
frame, sub-observer latitude with |sin| ≤ 0.85, pole position angle and Sun azimuth uniform; day frames
phase 0–140°, night frames either Io eclipsed or phase 100–179° with no sunlit disk within 4 px of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ioscan.simulate.independent import geometry as geo
from ioscan.simulate.independent.detector import DetectorParams
from ioscan.simulate.independent.psf import GaussianPsf
from ioscan.simulate.independent.sources import HotSpotParams
from ioscan.simulate.independent.surface import Photometry

#: bands of each JIRAM imager mode, in product order
MODE_BANDS: dict[str, tuple[str, ...]] = {"I1": ("L", "M"), "I2": ("M",), "I3": ("L",)}
#: first M-coordinate line of each band's strip (the L band sees 138 detector lines before the M band)
BAND_FIRST_LINE_M: dict[str, int] = {"M": 0, "L": -geo.L_TO_M_LINES}
RANGE_KM = (20_000.0, 400_000.0)


@dataclass(frozen=True)
class SceneParams:
    """Everything that defines one rendered frame (all randomness below the parameters comes from ``seed``).

    Attributes:
        seed: seed of the albedo map, hot spots, noise and cosmic rays.
        view: geometry (:class:`~ioscan.simulate.independent.geometry.ViewGeometry`).
        mode: JIRAM imager mode "I2" (M), "I1" (L + M) or "I3" (L).
        psf: PSF (:class:`~ioscan.simulate.independent.psf.GaussianPsf`), the same in every band.
        detector: detector (:class:`~ioscan.simulate.independent.detector.DetectorParams`).
        photometry: surface photometry (:class:`~ioscan.simulate.independent.surface.Photometry`).
        hot_spots: population (:class:`~ioscan.simulate.independent.sources.HotSpotParams`).
        albedo_min_wavelength_px: shortest albedo wavelength, pixel footprints at normal view.
        albedo_contrast: relative rms of the albedo (None: drawn, U(0.1, 0.3)).
        supersample: surface sub-pixels per pixel and axis.
        start_time_utc: exposure start written to products (ISO 8601).
        exposure_s: exposure, s.
    """

    seed: int
    view: geo.ViewGeometry
    mode: str = "I2"
    psf: GaussianPsf = field(default_factory=GaussianPsf)
    detector: DetectorParams = field(default_factory=DetectorParams)
    photometry: Photometry = field(default_factory=Photometry)
    hot_spots: HotSpotParams = field(default_factory=HotSpotParams)
    albedo_min_wavelength_px: float = 20.0
    albedo_contrast: float | None = None
    supersample: int = 3
    start_time_utc: str = "2023-03-01T12:00:00.000"
    exposure_s: float = 0.012

    @property
    def bands(self) -> tuple[str, ...]:
        return MODE_BANDS[self.mode]

    def strips(self) -> list[tuple[int, int]]:
        """[first, last] M-coordinate lines covered by each band of the mode."""
        return [(BAND_FIRST_LINE_M[b], BAND_FIRST_LINE_M[b] + geo.N_LINES_BAND - 1) for b in self.bands]


def view_geometry(
    *,
    range_km: float,
    center_sample_px: float,
    center_line_px: float,
    sub_obs_lat_deg: float = 0.0,
    sub_obs_lon_w_deg: float = 0.0,
    north_pa_deg: float = 0.0,
    phase_deg: float = 30.0,
    sun_azimuth_deg: float = 0.0,
    eclipsed: bool = False,
    triaxial: bool = True,
) -> geo.ViewGeometry:
    """A ViewGeometry from observer-friendly angles (degrees; latitudes planetocentric)."""
    b2c = geo.body_to_camera(sub_obs_lat_deg, sub_obs_lon_w_deg, north_pa_deg)
    ray = geo.pixel_ray(center_sample_px, center_line_px)
    to_cam = -ray
    radii = geo.IO_RADII_KM if triaxial else (geo.IO_MEAN_RADIUS_KM,) * 3
    b2c = _align(ray) @ b2c  # the sub-observer point faces the camera along the ray to Io's centre
    return geo.ViewGeometry(
        range_km=range_km,
        center_sample_px=center_sample_px,
        center_line_px=center_line_px,
        body_to_cam=b2c,
        sun_dir_cam=geo.sun_direction(to_cam, phase_deg, sun_azimuth_deg),
        eclipsed=eclipsed,
        radii_km=tuple(radii),
    )


def _align(ray: np.ndarray) -> np.ndarray:
    """Rotation taking the boresight +z onto ``ray`` (smallest angle)."""
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(z, ray)
    s, c = np.linalg.norm(v), float(z @ ray)
    if s < 1e-12:
        return np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]]) / s
    ang = np.arctan2(s, c)
    return np.eye(3) + np.sin(ang) * k + (1 - np.cos(ang)) * (k @ k)


def _coarse_check(view: geo.ViewGeometry, strips: list[tuple[int, int]]) -> tuple[int, float]:
    """(on-disk pixels in frame, largest cos i on the disk within 4 px of the frame), from a 2-px grid."""
    s = np.arange(-4, geo.N_SAMPLES + 4, 2) + 0.0
    lines = np.concatenate([np.arange(a - 4, b + 5, 2) for a, b in strips]) + 0.0
    ss, ll = np.meshgrid(s, lines)
    h = geo.intersect(view, ss, ll)
    inside = (ss >= 0) & (ss < geo.N_SAMPLES) & np.any([(ll >= a) & (ll <= b) for a, b in strips], axis=0)
    lit = h.cos_incidence[h.hit] if not view.eclipsed else np.zeros(1)
    return int((h.hit & inside).sum()) * 4, float(lit.max()) if lit.size else 0.0


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def draw_detector(rng: np.random.Generator) -> DetectorParams:
    """A random JIRAM-like detector state (see the module docstring for levels)."""
    read = _log_uniform(rng, 2e-5, 6e-5)
    sat = _log_uniform(rng, 0.03, 0.12)
    step = None
    if rng.random() < 0.3:  # a block of 20–200 columns with a gain 0.5–2 % off
        a = int(rng.integers(0, geo.N_SAMPLES - 20))
        b = int(min(geo.N_SAMPLES, a + rng.integers(20, 200)))
        step = (a, b, float(1 + rng.choice([-1, 1]) * rng.uniform(0.005, 0.02)))
    onboard = rng.random() < 0.7
    return DetectorParams(
        read_noise_w_m2_sr=read,
        full_well_e=2.5e5,
        saturation_w_m2_sr=sat,
        column_offset_rms_w_m2_sr=read * float(rng.uniform(0.1, 0.3)),
        column_gain_rms=float(rng.uniform(0.001, 0.005)),
        gain_step=step,
        cosmic_rays_mean=float(rng.uniform(1.0, 8.0)),
        cosmic_full_well_fraction=0.25,
        bg_subtracted_w_m2_sr=float(rng.uniform(0.001, 0.008)) if onboard else 0.0,
        bg_residual_w_m2_sr=float(rng.normal(0.0, 2 * read)) if onboard else 0.0,
    )


def draw_scene(
    rng: np.random.Generator,
    *,
    kind: str | None = None,
    mode: str = "I2",
    range_km: float | tuple[float, float] = RANGE_KM,
    psf: GaussianPsf | None = None,
    psf_width_jitter: float = 0.0,
    elongation: float | tuple[float, float] = 1.0,
    triaxial: bool = True,
    start_time_utc: str = "2023-03-01T12:00:00.000",
    max_tries: int = 50,
) -> SceneParams:
    """A random scene: range log-uniform, disk anywhere (partly out of frame too), random pole and Sun.

    Args:
        kind: "day" (some sunlit disk in frame), "night" (none: Io eclipsed, or the lit part out of view) or
            None (whatever the draw gives). The renderer's own ``illumination`` flag is the truth.
        mode: imager mode.
        range_km: fixed range or (min, max) for a log-uniform draw, km.
        psf: PSF (default Gaussian σ 0.8 px); ``psf_width_jitter`` f scales σ by U(1 − f, 1 + f);
            ``elongation`` fixed or (min, max) uniform.
        triaxial: ellipsoid (True) or the mean sphere.
        start_time_utc: exposure start written to products.
        max_tries: redraws allowed to meet ``kind`` and to have ≥ 30 pixels of disk in frame.
    """
    base_psf = psf or GaussianPsf()
    seed = int(rng.integers(2**31))
    strips = [(BAND_FIRST_LINE_M[b], BAND_FIRST_LINE_M[b] + geo.N_LINES_BAND - 1) for b in MODE_BANDS[mode]]
    for _ in range(max_tries):
        rng_km = _log_uniform(rng, *range_km) if isinstance(range_km, tuple) else float(range_km)
        r_px = geo.IO_RADII_KM[0] / (rng_km * geo.IFOV_RAD)
        eclipsed = kind == "night" and rng.random() < 0.5
        phase = rng.uniform(*{"day": (0, 140), "night": (100, 179)}.get(kind or "", (0, 179)))
        view = view_geometry(
            range_km=rng_km,
            center_sample_px=float(rng.uniform(-0.8 * r_px, geo.N_SAMPLES - 1 + 0.8 * r_px)),
            center_line_px=float(rng.uniform(-0.8 * r_px, geo.N_LINES_BAND - 1 + 0.8 * r_px)),
            sub_obs_lat_deg=float(np.degrees(np.arcsin(rng.uniform(-0.85, 0.85)))),
            sub_obs_lon_w_deg=float(rng.uniform(0, 360)),
            north_pa_deg=float(rng.uniform(0, 360)),
            phase_deg=float(phase),
            sun_azimuth_deg=float(rng.uniform(0, 360)),
            eclipsed=bool(eclipsed),
            triaxial=triaxial,
        )
        n_disk, max_cos_i = _coarse_check(view, strips)
        ok_kind = {"day": max_cos_i > 0.05, "night": max_cos_i <= 0.0}.get(kind or "", True)
        if n_disk >= 30 and ok_kind:
            break
    else:
        view = replace(view, eclipsed=True) if kind == "night" else view
    sigma = base_psf.sigma_sample_px * float(rng.uniform(1 - psf_width_jitter, 1 + psf_width_jitter))
    elong = float(rng.uniform(*elongation)) if isinstance(elongation, tuple) else float(elongation)
    return SceneParams(
        seed=seed,
        view=view,
        mode=mode,
        psf=replace(base_psf, sigma_sample_px=sigma, elongation=elong * base_psf.elongation),
        detector=draw_detector(rng),
        photometry=Photometry(
            minnaert_k=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.7 else 1.0,
            heliocentric_au=float(rng.uniform(4.95, 5.45)),
        ),
        start_time_utc=start_time_utc,
    )
