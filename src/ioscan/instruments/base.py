"""What the pipeline needs to know about an instrument, in one object per instrument.

Every stage asks the registry (:func:`ioscan.instruments.get_instrument`) instead of branching on an
instrument's name: filters (bands), the PSF model the detector fits and the limb fit's edge width, the
detector layout and pixel-axis convention, artefact quirks and the pointing priors of navigation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ioscan.errors import IoscanError
from ioscan.instruments.psf import GaussianMixture

#: Gaussian σ of a diffraction core as a fraction of λ/D (a 1.03 λ/D FWHM core)
DIFFRACTION_CORE_SIGMA_LAMBDA_D = 0.42
#: Gaussian σ as a fraction of the FWHM
FWHM_TO_SIGMA = 1.0 / 2.3548200450309493
ARCSEC_PER_RAD = 206264.80624709636


class UnknownInstrumentError(IoscanError, ValueError):
    """An instrument, band or filter that the registry does not know."""


@dataclass(frozen=True)
class PixelAxes:
    """A pixel-axis convention: unit vectors of an instrument frame along which sample and line numbers
    increase, and the boresight (all three orthonormal).

    ``mirrored`` is True when sample × line = −boresight: displayed with line 0 on top and sample 0 on the
    left, such a product shows the scene mirrored compared with a view along the boresight.
    """

    sample_axis: tuple[float, float, float]
    line_axis: tuple[float, float, float]
    boresight: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        m = self.matrix()
        if not np.allclose(m.T @ m, np.eye(3), atol=1e-12):
            raise ValueError(f"pixel axes must be orthonormal unit vectors: {self}")

    def matrix(self) -> np.ndarray:
        """3×3 matrix whose columns are the sample axis, the line axis and the boresight."""
        return np.column_stack([self.sample_axis, self.line_axis, self.boresight]).astype(float)

    @property
    def mirrored(self) -> bool:
        return bool(np.linalg.det(self.matrix()) < 0.0)

    def axis_along(self, direction) -> str:
        """The pixel axis ("sample" or "line") parallel (or antiparallel) to an instrument-frame direction
        perpendicular to the boresight (ValueError for one along neither)."""
        d = np.asarray(direction, dtype=float)
        d = d / np.linalg.norm(d)
        for name, axis in (("sample", self.sample_axis), ("line", self.line_axis)):
            if abs(abs(float(d @ np.asarray(axis, dtype=float))) - 1.0) < 1e-9:
                return name
        raise ValueError(f"{tuple(d)} runs along neither pixel axis of {self}")

    def instrument_to(self, sample_dir, line_dir, boresight_dir) -> np.ndarray:
        """Rotation taking instrument-frame vectors into a frame in which this instrument's sample axis, line
        axis and boresight are the given orthonormal vectors (ValueError if their handedness differs)."""
        target = np.column_stack([sample_dir, line_dir, boresight_dir]).astype(float)
        if np.linalg.det(target) * np.linalg.det(self.matrix()) <= 0.0:
            raise ValueError("sample/line/boresight directions have the other handedness than the pixel axes")
        return target @ self.matrix().T


#: samples along +X, lines along +Y, boresight +Z: an image as seen looking along the boresight (samples to
#: the right, lines down), the convention of the abstract cameras built from label geometry.
DIRECT_VIEW_AXES = PixelAxes((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass(frozen=True)
class DetectorLayout:
    """Pixel layout of one instrument frame: image size, the 0-based pixel where the boresight lands, and the
    pixel-axis convention. The pixel scale (IFOV) comes from the instrument kernel; the camera is
    :meth:`ioscan.geometry.camera.FrameCamera.from_layout`."""

    n_samples: int
    n_lines: int
    center_sample: float
    center_line: float
    axes: PixelAxes


@dataclass(frozen=True)
class Band:
    """One filter of an instrument.

    Build with :meth:`from_limits` (JIRAM: the SIS band limits) or :meth:`from_center_width` (NIRC2: centre
    and FWHM).

    Attributes:
        name: band or filter name ("L", "M", "Lp", "Ms"...).
        center_um: central wavelength, µm.
        bandwidth_um: width used to turn band radiance into spectral radiance, µm.
        low_um, high_um: band limits of the filter response, µm.
        spice_frame: SPICE frame of this band's detector, if any (``JUNO_JIRAM_I_MBAND``).
        naif_id: NAIF ID of that frame.
        first_detector_line: 1-based detector line of the band's first product line (JIRAM M: 139).
    """

    name: str
    center_um: float
    bandwidth_um: float
    low_um: float
    high_um: float
    spice_frame: str | None = None
    naif_id: int | None = None
    first_detector_line: int = 1

    @classmethod
    def from_limits(cls, name: str, center_um: float, low_um: float, high_um: float, **kw) -> Band:
        """A band given by its limits (bandwidth = high − low)."""
        return cls(name, center_um, high_um - low_um, low_um, high_um, **kw)

    @classmethod
    def from_center_width(cls, name: str, center_um: float, bandwidth_um: float, **kw) -> Band:
        """A band given by its centre and width (limits = centre ∓ width/2)."""
        return cls(
            name, center_um, bandwidth_um, center_um - bandwidth_um / 2, center_um + bandwidth_um / 2, **kw
        )


@dataclass(frozen=True)
class ArtefactModel:
    """Detector artefacts the detector looks for.

    Attributes:
        column_streaks: bright sources leave down-track reflection streaks along their column (JIRAM).
        ring_radius_px: radius of the reflection ring around very bright sources, px (None: no ring).
    """

    column_streaks: bool = False
    ring_radius_px: float | None = None


PIXEL_AXIS_NAMES = ("sample", "line")
#: a pointing prior this tight (1σ, px) is used by the limb fit as a prior; wider ones are left to the limb
INFORMATIVE_PRIOR_PX = 5.0


@dataclass(frozen=True)
class PointingPrior:
    """How far the predicted scene may lie from where it really is, before and after registration.

    A pointing error shows as a shift of the whole scene, observed − predicted, in pixels (sample, line).
    ``along_track_axis`` names the pixel axis along which it is large (JIRAM: the spin direction, "line"), or
    None when it is the same along both axes. The limb fit searches ``search_px`` and puts a prior only on the
    cross-track axis; registration on hot spots and the propagation of an unregistered frame's pointing
    uncertainty use ``sigma_px`` and ``max_px`` (a Gaussian of 1σ ``sigma_px`` truncated at ``max_px``).

    Attributes:
        sigma_px: 1σ of the shift along (sample, line), px.
        max_px: the largest shift along (sample, line), px.
        along_track_axis: "sample", "line" or None (no preferred axis).
        registered_floor_px: what remains after a registration on known hot spots, px (added to the
            matcher's covariance, whose fit part the matched residuals rescale). 0.05, as the limb's: on
            simulated campaigns (seeds 20261208, 7, 13: 13 registrations on ≥ 10 hot spots, the only ones
            it matters for) the floor that gives their offsets' pulls rms 1 is 0.034 px [68 %: 0, 0.061];
            the former 0.25 (set by hand) made them 0.38.
        limb_floor_px: what remains after a limb registration in pixels (limb-profile model and pixel
            sampling), px. 0.05: on simulated campaigns (bench_pulls, 6 orbits × 8 frames, seeds 20261208
            and 7: 46 limb-registered frames) the registered offsets against the applied pointing error give
            pulls of rms 1.19 / 0.99 (robust 0.84 / 0.91) with it, 0.88 / 0.75 (0.72 / 0.79) with 0.1, which
            overstated the intensity's geometric term (its pulls 0.41-0.68); positions also carry
            ``limb_floor_km`` on the ground (0.02 px at 28 km/px).
        limb_floor_km: what remains after a limb registration on the ground, km, added to positions only
            (not to the pointing that reaches emission, range and intensities): close to Io a short, partial
            limb arc constrains the offset less than its fit says. 0.6: measured on close flybys
            (``bench_navigation --quick`` seeds 5-7, 40 limb-registered frames, 338 positions; limb errors
            × 1.2, ``navigate.LIMB_ERROR_SCALE``; ``--rescore``) as the floor that puts 95 % of the positions
            inside their 95 % ellipse: 0.56 km, 68 % bootstrap over frames [0, 0.65] (92.6 % inside without a
            floor, 93.2 % with 0.5 km, 99.7 % with the former 2 km, which was set by hand; one frame's
            positions move together, so the coverage moves in steps). The simulator's Io is the ellipsoid:
            Io's relief (mountains to ~17 km, radii known to ~0.5 km) is not in this number and on real
            frames adds to it. ``Navigation.pointing_floor_px`` (the single-σ path) keeps
            max(``limb_floor_px``, ``limb_floor_km`` / the pixel scale at the limb).
        search_margin_px: how far beyond ``max_px`` the limb fit searches, px.
    """

    sigma_px: tuple[float, float]
    max_px: tuple[float, float]
    along_track_axis: str | None = None
    registered_floor_px: float = 0.05
    limb_floor_px: float = 0.05
    limb_floor_km: float = 0.6
    search_margin_px: float = 15.0

    def __post_init__(self) -> None:
        if self.along_track_axis not in (None, *PIXEL_AXIS_NAMES):
            raise ValueError(f"along_track_axis must be 'sample', 'line' or None: {self.along_track_axis!r}")
        if min(self.sigma_px) <= 0 or any(m < s for m, s in zip(self.max_px, self.sigma_px, strict=True)):
            raise ValueError(f"pointing prior needs 0 < sigma_px <= max_px: {self}")

    @classmethod
    def isotropic(cls, sigma_px: float, max_px: float, **kw) -> PointingPrior:
        """The same prior along samples and lines."""
        return cls((sigma_px, sigma_px), (max_px, max_px), None, **kw)

    @classmethod
    def along_track(
        cls,
        axis: str,
        along_sigma_px: float,
        along_max_px: float,
        cross_sigma_px: float,
        cross_max_px: float,
        **kw,
    ) -> PointingPrior:
        """A prior that is large along the pixel axis ``axis`` ("sample" or "line") and small across it."""
        if axis not in PIXEL_AXIS_NAMES:
            raise ValueError(f"axis must be 'sample' or 'line', not {axis!r}")
        along = axis == "line"
        sigma = (cross_sigma_px, along_sigma_px) if along else (along_sigma_px, cross_sigma_px)
        top = (cross_max_px, along_max_px) if along else (along_max_px, cross_max_px)
        return cls(sigma, top, axis, **kw)

    @property
    def error_px(self) -> float:
        """1σ of the shift along its worst axis, px (the scalar the detector's limb band uses)."""
        return float(max(self.sigma_px))

    def search_px(self) -> tuple[float, float]:
        """Half-widths (sample, line) of the limb fit's search window, px."""
        return (self.max_px[0] + self.search_margin_px, self.max_px[1] + self.search_margin_px)

    def limb_prior_px(self) -> tuple[float | None, float | None]:
        """1σ priors (sample, line) the limb fit puts on its offset: the prior's σ along axes where it is
        informative (≤ :data:`INFORMATIVE_PRIOR_PX`: JIRAM across track, a header's disk centre), none
        where it is not (along track): a short limb arc then still gives the well-known axis with an honest
        error, and the other must come from the limb."""
        return tuple(s if s <= INFORMATIVE_PRIOR_PX else None for s in self.sigma_px)  # type: ignore[return-value]


@dataclass(frozen=True)
class PhotometryPrior:
    """What limits an instrument's photometry beyond photon noise, as 1σ fractions of a source's flux.

    Attributes:
        calibration_err_fraction: absolute calibration (radiometric scale), correlated between all detections
            of the instrument: it cancels in a light curve and adds to every absolute comparison.
        psf_model_err_fraction: flux scale of the PSF model (a fit's flux depends on the model's width), also
            correlated between detections (the part a fit's χ² sees is random: :mod:`ioscan.measure.errors`).
        flat_field_err_fraction: rms of the residual pixel-to-pixel response (flat field), independent from
            pixel to pixel; a source's flux averages it over the pixels its PSF covers
            (:func:`ioscan.measure.errors.flat_field_fraction`), random from one detection to the next.
        flat_field_column_err_fraction: rms of the residual response common to a column and its neighbours
            (column amplifiers, smooth column structure, blocks of columns): nearly the same on the few
            columns a source covers, so it does not average down; random from one detection to the next.
        full_well_e: electrons at the detector's saturation level: with a band's saturation level (the
            product's unit) it gives the radiance of one electron, q = saturation / full well, and so the
            source's own shot noise (pixel variance q × signal); None: not known (the fit's χ² excess only).
        source: where the numbers come from.
    """

    calibration_err_fraction: float = 0.1
    psf_model_err_fraction: float = 0.0
    flat_field_err_fraction: float = 0.0
    flat_field_column_err_fraction: float = 0.0
    full_well_e: float | None = None
    source: str = "assumed"


@dataclass(frozen=True)
class Instrument:
    """An instrument: its bands, PSF, detector layout, artefacts and pointing priors.

    Subclasses (one module each: :mod:`ioscan.instruments.jiram`, :mod:`ioscan.instruments.nirc2`) fill the
    facts and implement :meth:`psf`.

    Attributes:
        name: registry name, stored in the catalogue ("JIRAM", "NIRC2").
        aliases: other spellings found in labels and headers (upper case).
        observer: SPICE observer name ("JUNO", "EARTH").
        bands: band name → :class:`Band`.
        artefacts: the detector's artefact quirks.
        pointing: pointing prior of geometry from SPICE kernels (reconstructed attitude).
        label_pointing: pointing prior of geometry from a label or header (None: as ``pointing``).
        detectors: SPICE frame → :class:`DetectorLayout` (pixel size, boresight pixel, pixel-axis convention);
            a SPICE frame not listed here is refused by the geometry, never guessed.
        label_axes: pixel-axis convention under which a label's or header's geometry is read.
        photometry: error terms of its photometry beyond photon noise (:class:`PhotometryPrior`).
    """

    name: str
    aliases: tuple[str, ...]
    observer: str
    bands: dict[str, Band]
    artefacts: ArtefactModel = field(default_factory=ArtefactModel)
    pointing: PointingPrior = field(default_factory=lambda: PointingPrior.isotropic(2.0, 10.0))
    label_pointing: PointingPrior | None = None
    detectors: dict[str, DetectorLayout] = field(default_factory=dict)
    label_axes: PixelAxes = DIRECT_VIEW_AXES
    photometry: PhotometryPrior = field(default_factory=PhotometryPrior)

    def pointing_prior(self, source: str) -> PointingPrior:
        """The pointing prior of geometry from ``source`` ("spice" or "label")."""
        if source == "label" and self.label_pointing is not None:
            return self.label_pointing
        return self.pointing

    def band(self, name: str) -> Band:
        """The band called ``name`` (case-insensitive); UnknownInstrumentError lists the known ones."""
        key = str(name).strip().upper()
        for band in self.bands.values():
            if band.name.upper() == key:
                return band
        raise UnknownInstrumentError(f"{self.name} has no band {name!r} (known: {', '.join(self.bands)})")

    def psf(self, wavelength_um: float, *, plate_scale_arcsec: float | None = None) -> GaussianMixture:
        """The PSF model the detector fits, in pixels (a normalised sum of Gaussians)."""
        raise NotImplementedError

    def limb_psf_sigma_px(self, wavelength_um: float, *, plate_scale_arcsec: float | None = None) -> float:
        """Gaussian σ (px) that blurs a limb edge, for the limb fit."""
        raise NotImplementedError


def diffraction_core_sigma_px(wavelength_um: float, aperture_m: float, plate_scale_arcsec: float) -> float:
    """σ of a diffraction-limited core (0.42 λ/D) in pixels of ``plate_scale_arcsec``."""
    core_rad = DIFFRACTION_CORE_SIGMA_LAMBDA_D * wavelength_um * 1e-6 / aperture_m
    return core_rad * ARCSEC_PER_RAD / plate_scale_arcsec
