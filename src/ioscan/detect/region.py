"""The first detection steps: which pixels count (saturation mask, frame status), where Io's limb is
(geometry, checked against the image, or the image alone: :mod:`ioscan.detect.limb`) and the search region
(the disk plus a margin: hot spots are on Io), cropped for speed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ioscan.detect.config import DetectConfig
from ioscan.detect.disk import limb_distance_from_data, percentile
from ioscan.detect.limb import (
    KNOWN_MARGIN_PX,
    MIN_ARC_PX,
    MIN_POINTS,
    LimbCircle,
    covered_arc,
    find_limb,
    geometry_limb_offset_px,
    known_zone,
    median3,
    pixel_noise_map,
)
from ioscan.geometry.backplanes import Backplanes
from ioscan.records import BandImage
from ioscan.robust import median_or_nan

if TYPE_CHECKING:
    from ioscan.detect.shading import SunlitDisk

#: pointing error (px) beyond which the geometry's limb is not used for the background regions: the limb is
#: then fitted in the data (an unregistered frame whose kernels may be off by up to ~2°)
MAX_GEOMETRY_LIMB_ERROR_PX = 3.0
#: a geometry whose limb lies further than max(this, 3 × its pointing error) from the limb seen in the image
#: is not used for the background regions (the image's limb is)
GEOMETRY_LIMB_TOLERANCE_PX = 1.0
#: an image limb seen along less arc than this (px) beside a terminator (``LimbCircle.beside_soft``) does
#: not decide what is off the disk: the limb darkens to nothing towards the terminator's horns at both ends
#: of the arc, which bends its edge points there inwards, so its curvature is wrong beyond the arc whatever
#: the fit's own error says (independent renderer, 375 sunlit frames, 3 seeds: the 4 short sharp arcs found
#: beside a terminator had radii 26–76 px short). Found first, a short pinned arc decides (49 such circles:
#: 2 put 82 px of the true disk beyond the near-limb distance, none beyond 10 px; the 220 longer trusted
#: ones 3,178 px on 7)
MIN_TRUSTED_ARC_PX = 60.0
#: a source beyond a sharp image limb circle by more than the near-limb distance plus this many 1σ errors
#: of the circle's limb position in its direction (the fit's covariance, extrapolated beyond the arc seen)
#: is off the disk even where the circle does not decide the near zone (:func:`far_off_disk`): the
#: detection threshold's own 5σ (the true limb would have to be a 5σ outlier of the fit to lie there)
FAR_SIGMA = 5.0
#: the near OFF_DISK zone follows only the runs of edge points seen as limb: points further apart than
#: this (px along the circle) split the arc, and the gap between is not decided (``known_zone`` bridges
#: it). A bright hot spot just inside the limb leaves a few edge points on a circle fitted a few px short
#: (the limb darkening towards a terminator's horn bends the arc's end inwards), which stretched the known
#: zone over true hot spots on the limb beyond the arc's end (independent renderer seed 47, frames 82 and
#: 88: gaps of 88 and 58 px, radii 3.3 and 5.7 px short, hot spots of S/N 42.8 and 5.2 flagged OFF_DISK)
SEEN_GAP_PX = 2 * KNOWN_MARGIN_PX
#: a data limb's disk is "sunlit" where it stands this many pixel-noise σ above the sky (3 × 3 median)
SUNLIT_SIGMA = 3.0
#: a pixel this far (px) beyond an image limb circle that stands :data:`SUNLIT_SIGMA` above the sky is counted
#: against the circle (:func:`bright_beyond_circle_px`): a limb darkened towards the edge is brighter than
#: the sky up to 1–2 px beyond its steepest rise (the circle), PSF-blurred
BRIGHT_BEYOND_MARGIN_PX = 3.0
#: an image circle with more bright pixels than this beyond it (:data:`BRIGHT_BEYOND_MARGIN_PX`) is not
#: Io's limb wherever it was seen and decides nothing off the disk (:func:`decides_off_disk`,
#: :func:`off_disk_zone`): a sharp arc bent inwards by the darkening towards a terminator's horn, fitted
#: 24 px short (independent renderer seed 99, day frame 18: 282 such pixels, a true hot spot of S/N 15.2 on
#: the limb flagged OFF_DISK; seed 47 frame 120: 424). Right circles leave ≤ 17 (sunlit frames of 3 seeds)
MAX_BRIGHT_BEYOND_PX = 100


@dataclass
class PixelMask:
    """Valid and saturated pixels of a band, or the status that ends its detection.

    Attributes:
        finite: pixels with data.
        saturated: pixels within the saturation margin (None when there are none or no level is known).
        status: None to go on; "all_nan" or "saturated" when the band has nothing to search.
        message: why the band stops.
    """

    finite: np.ndarray | None
    saturated: np.ndarray | None = None
    status: str | None = None
    message: str | None = None


def mask_pixels(band: BandImage, data: np.ndarray, cfg: DetectConfig) -> PixelMask:
    """Valid pixels and the saturation mask (within ``cfg.saturation_margin`` of the band's level)."""
    if data.ndim != 2 or data.size == 0:
        return PixelMask(None, status="all_nan", message=f"band {band.band}: no 2-D pixel data")
    finite = np.isfinite(data)
    if not finite.any():
        return PixelMask(finite, status="all_nan", message=f"band {band.band}: every pixel is NaN")
    sat_mask = None
    if band.saturation is not None and np.isfinite(band.saturation) and band.saturation > 0:
        with np.errstate(invalid="ignore"):
            sat_mask = data >= (1.0 - cfg.saturation_margin) * band.saturation
        frac = np.count_nonzero(sat_mask) / max(np.count_nonzero(finite), 1)
        if frac >= cfg.saturated_frame_fraction:
            return PixelMask(
                finite,
                sat_mask,
                status="saturated",
                message=f"band {band.band}: {frac:.0%} of valid pixels within "
                f"{cfg.saturation_margin:.0%} of saturation",
            )
        if not sat_mask.any():
            sat_mask = None
    return PixelMask(finite, sat_mask)


@dataclass
class Limb:
    """Where Io's limb is in a band.

    Attributes:
        distance_px: signed distance to the limb per pixel (> 0 on the disk), or None (no disk found).
        from_geometry: the distance comes from the backplanes (else from the data).
        backplanes: the backplanes used (None when absent or not matching the image).
        margin_px: how far outside the limb the search goes, px.
        status: "no_io" when the geometry puts Io out of view, else None.
        messages: what was decided.
        circle: the sharp limb seen in the image (with or without geometry), or None.
        known: the directions in which that limb was seen (:func:`ioscan.detect.limb.known_zone`): where the
            image's circle may decide what is on the disk, and where its profile is measured (None: no
            image limb, or everywhere for the geometry's).
        sunlit: disk pixels clearly brighter than the sky (image's limb only; the geometry's come from the
            backplanes).
        trusted: an image limb's distance may set OFF_DISK (within ``known``, :func:`decides_off_disk`);
            False for a soft arc of less than half a turn, one not pinned, a short arc beside a terminator,
            or a limb seen only as a bright outline. (An image limb never restricts the search.)
        shading: the sunlit disk of that image with that PSF (:class:`ioscan.detect.shading.SunlitDisk`)
            when the geometry's check or the photometric law's test made it: its whole image's shading
            template (:meth:`~ioscan.detect.shading.SunlitDisk.template`, made once) is the background's,
            cropped, where that is the same bit for bit.
        image_model: with the geometry's limb, the image's own model of the sunlit disk replaces the shading
            template (``detect.shading_limb_mismatch``): the limb profile measured along ``circle``, no
            template.
        reach: with a geometry not used for the limb (its pointing too uncertain, or its limb not where the
            image shows it) and the pointing's bound (``detect.pointing_reach_px``): the box (line, sample
            slices) where Io's disk may lie, the margin included (:func:`reach_box`); what is searched
            (:func:`search_region`). None: no such bound (the whole band is searched).
        bright_beyond_px: pixels standing above the sky beyond the image's circle
            (:func:`bright_beyond_circle_px`; 0 for the geometry's limb): more than
            :data:`MAX_BRIGHT_BEYOND_PX`, and the circle decides nothing off the disk.
    """

    distance_px: np.ndarray | None
    from_geometry: bool
    backplanes: Backplanes | None
    margin_px: float
    status: str | None = None
    messages: tuple[str, ...] = ()
    circle: LimbCircle | None = None
    known: np.ndarray | None = None
    sunlit: np.ndarray | None = None
    trusted: bool = True
    shading: SunlitDisk | None = None
    image_model: bool = False
    reach: tuple[slice, slice] | None = None
    bright_beyond_px: int = 0


def locate_limb(
    band: BandImage,
    data: np.ndarray,
    backplanes: Backplanes | None,
    sigma_px: float,
    cfg: DetectConfig,
    saturated: np.ndarray | None = None,
    psf=None,
) -> Limb:
    """The limb from the geometry (unless its pointing is too uncertain to place it, or the image shows its
    limb elsewhere), else from the data (the sharp limb, else the outline of a bright disk); ``saturated``
    pixels' surroundings are not taken for a limb. The image's limb is not looked for in a band whose limb
    navigation fitted to register the backplanes (:meth:`Backplanes.limb_fitted_in`): it is theirs."""
    messages = []
    margin = (
        cfg.search_margin_px if cfg.search_margin_px is not None else 3 * sigma_px + cfg.pointing_error_px
    )
    from_geometry = backplanes is not None and cfg.pointing_error_px <= MAX_GEOMETRY_LIMB_ERROR_PX
    if backplanes is not None and not from_geometry:
        messages.append(uncertain_pointing_message(band.band, cfg.pointing_error_px))
        margin = cfg.search_margin_px if cfg.search_margin_px is not None else 3 * sigma_px + 1.0
    distance = None
    made = []  # the sunlit disk (its shading template), once the geometry's check or the law's test made it
    if from_geometry:
        if backplanes.shape != data.shape:
            messages.append(
                f"band {band.band}: backplanes {backplanes.shape} do not match image "
                f"{data.shape}; geometry ignored"
            )
            backplanes, from_geometry = None, False
        else:
            distance = np.asarray(backplanes["limb_distance_px"], dtype=float)
            if not np.any(distance > -margin):
                messages.append(f"band {band.band}: Io is not in the field of view (geometry)")
                return Limb(distance, True, backplanes, margin, status="no_io", messages=tuple(messages))
            # where navigation fitted this very image's limb (and re-made the backplanes from it), the check
            # would re-measure that fit: it checks bands registered otherwise, or not at all
            if cfg.check_geometry_limb and not backplanes.limb_fitted_in(band.band):
                expected = None
                if psf is not None and cfg.use_shading:  # a darkened limb's edge is not at the limb

                    def template():
                        return _sunlit_disk(made, data, backplanes, psf).template()

                    expected = template  # made only when the check has edge points to use it on
                off, pts = geometry_limb_offset_px(
                    data, distance, sigma_px, saturated=saturated, expected=expected
                )
                tol = max(GEOMETRY_LIMB_TOLERANCE_PX, 3.0 * cfg.pointing_error_px)
                if np.isfinite(off) and abs(off) > tol:
                    messages.append(
                        f"band {band.band}: the geometry's limb lies {off:+.1f} px from the limb seen in the "
                        f"image ({len(pts)} edge points): the limb is taken from the image, the geometry "
                        "only for positions"
                    )
                    distance, from_geometry = None, False
                    margin = cfg.search_margin_px if cfg.search_margin_px is not None else 3 * sigma_px + 1.0

    reach = None
    if distance is None:
        if backplanes is not None and cfg.pointing_reach_px is not None:
            reach = reach_box(backplanes, cfg.pointing_reach_px, margin, data.shape)
            if reach is not None and _empty(reach):
                rs, rl = cfg.pointing_reach_px
                messages.append(
                    f"band {band.band}: Io is not within the pointing's reach ({rs:.3g} × {rl:.3g} px) "
                    "of the field of view"
                )
                return Limb(None, False, None, margin, status="no_io", messages=tuple(messages))
            if reach is not None and reach != (slice(0, data.shape[0]), slice(0, data.shape[1])):
                (l0, l1), (s0, s1) = ((r.start, r.stop - 1) for r in reach)
                messages.append(
                    f"band {band.band}: searched within samples {s0}–{s1}, lines {l0}–{l1}: the geometry's "
                    "disk and how far the pointing may be off"
                )
        circle = find_limb(data, sigma_px, saturated)
        if circle is not None:
            messages.append(
                f"band {band.band}: limb seen in the image (radius {circle.radius_px:.1f} px, "
                f"{circle.n_points} edge points, rms {circle.rms_px:.2f} px)"
            )
            distance = circle.distance_px(data.shape)
            known = known_zone(circle, data.shape)
            bright = bright_over_sky(data, distance)
            beyond = bright_beyond_circle_px(bright, distance)
            if beyond > MAX_BRIGHT_BEYOND_PX:
                messages.append(
                    f"band {band.band}: {beyond} bright pixels lie beyond that circle: it decides nothing "
                    "off the disk"
                )
            return Limb(
                distance,
                False,
                None,
                margin,
                messages=tuple(messages),
                circle=circle,
                known=known,
                sunlit=(distance > 0) & bright,
                trusted=decides_off_disk(circle, beyond),
                reach=reach,
                bright_beyond_px=beyond,
            )
        # no sharp limb: the outline of a bright disk (a limb darkened towards the edge) may still be seen;
        # it splits the background regions, but it is too rough to say what is off the disk: all is searched
        distance = limb_distance_from_data(data, sigma_px)
        if distance is not None:
            messages.append(f"band {band.band}: limb fitted to the outline of the bright disk")
            return Limb(distance, False, None, margin, messages=tuple(messages), trusted=False, reach=reach)
    circle = known = None
    if from_geometry and cfg.limb_profile_with_geometry and distance is not None:
        circle, known = _image_limb_along_geometry(
            data,
            distance,
            sigma_px,
            saturated,
            cfg.limb_profile_with_geometry_soft,
            cfg.limb_profile_with_geometry_min_radius_px,
        )
        if circle is not None:
            messages.append(
                f"band {band.band}: the geometry's limb also seen in the image (radius "
                f"{circle.radius_px:.1f} px, {circle.n_points} edge points): its profile is measured"
            )
    image_model = False
    gate = cfg.shading_limb_mismatch
    foreign = cfg.shading_foreign_law
    if (
        from_geometry
        and circle is None
        and (gate is not None or foreign)
        and psf is not None
        and cfg.use_shading
    ):
        circle, known, image_model = _limb_model_instead_of_shading(
            band.band, data, backplanes, distance, sigma_px, saturated, psf, gate, made, messages, foreign
        )
    return Limb(
        distance,
        from_geometry,
        backplanes,
        margin,
        messages=tuple(messages),
        circle=circle,
        known=known,
        shading=made[-1] if made else None,
        image_model=image_model,
        reach=reach,
    )


def _limb_model_instead_of_shading(
    band: str,
    data: np.ndarray,
    backplanes: Backplanes,
    distance: np.ndarray,
    sigma_px: float,
    saturated: np.ndarray | None,
    psf,
    gate: float | None,
    made: list,
    messages: list[str],
    foreign: bool = False,
) -> tuple[LimbCircle | None, np.ndarray | None, bool]:
    """``detect.shading_limb_mismatch``: (circle, known zone, True) where a limb is seen in the image along
    the geometry's (:func:`_image_limb_along_geometry`, soft or not, any radius; narrow PSFs) and the
    geometry's shading template misses its measured shape 0–3 px inside by more than ``gate``
    (:func:`ioscan.detect.limb_profile.template_limb_mismatch`): the photometric law the template assumes
    does not hold at this limb, and the image's own model of the disk is used instead. With ``foreign``
    (``detect.shading_foreign_law``) first: where the law fitted to the sunlit disk's own limb is not the
    template's (:func:`ioscan.detect.shading.shading_template`, ``fit_law="subpixel"``), (circle, known zone,
    True), the limb being seen. Else (None, None, False): the template stays."""
    from ioscan.detect.background import BROAD_PSF_SIGMA_PX
    from ioscan.detect.disk import laplacian_noise
    from ioscan.detect.limb_profile import template_limb_mismatch
    from ioscan.detect.shading import law_differs

    if psf.core_sigma_px >= BROAD_PSF_SIGMA_PX:
        return None, None, False
    x = np.asarray(data, dtype=float)
    # the law's test first (on the sunlit disk's box, its cosines then the plain template's too): the image's
    # limb is only looked for where it decides
    if foreign:
        disk = _sunlit_disk(made, data, backplanes, psf)
        foreign_law = bool(law_differs(x, backplanes, psf, disk.window, disk=disk))
    else:
        foreign_law = False
    if not foreign_law and gate is None:
        return None, None, False
    circle, known = _image_limb_along_geometry(data, distance, sigma_px, saturated, True, 0.0)
    if circle is None:
        return None, None, False
    if foreign_law:
        messages.append(
            f"band {band}: the sunlit disk's limb follows another photometric law than the shading "
            f"template's (radius {circle.radius_px:.1f} px): the limb's measured profile is used instead"
        )
        return circle, known, True
    template = _sunlit_disk(made, data, backplanes, psf).template()
    if template is None:
        return None, None, False
    valid = np.isfinite(x) if saturated is None else np.isfinite(x) & ~saturated
    miss = template_limb_mismatch(x, circle, known, template, valid, laplacian_noise(x))
    if miss is None or not miss > gate:
        return None, None, False
    messages.append(
        f"band {band}: the shading template misses the limb seen in the image by {miss:.2f} (radius "
        f"{circle.radius_px:.1f} px): the limb's measured profile is used instead"
    )
    return circle, known, True


def _sunlit_disk(made: list, data: np.ndarray, backplanes: Backplanes, psf) -> SunlitDisk:
    """The band's sunlit disk with ``psf`` (:func:`ioscan.detect.shading.sunlit_disk`): the last one ``made``
    where it is of this image and PSF, else a new one, appended."""
    from ioscan.detect.shading import sunlit_disk

    if not (made and made[-1].data is data and made[-1].psf is psf):
        made.append(sunlit_disk(data, backplanes, psf))
    return made[-1]


#: the largest median distance (px) between the image's limb circle and the geometry's limb, over the arc the
#: circle was seen along, for :attr:`DetectConfig.limb_profile_with_geometry` to keep the circle
GEOMETRY_CIRCLE_AGREE_PX = 1.0
#: ...and the smallest radius (px) of a limb whose profile is measured with a geometry: on smaller disks the
#: profile's rise spans much of the disk and leaves ridges (the simulator's far sunlit frames, R ~31 px)
GEOMETRY_CIRCLE_MIN_RADIUS_PX = 45.0


def _image_limb_along_geometry(
    data: np.ndarray,
    distance_px: np.ndarray,
    sigma_px: float,
    saturated: np.ndarray | None,
    soft: bool = False,
    min_radius_px: float | None = None,
) -> tuple[LimbCircle | None, np.ndarray | None]:
    """The limb seen in the image where it agrees with the geometry's (``distance_px``): its circle and
    known zone, or (None, None) — no limb, a soft one (a terminator's, or a limb darkened into its edge;
    kept with ``soft``), one of radius below ``min_radius_px`` (None:
    :data:`GEOMETRY_CIRCLE_MIN_RADIUS_PX`), or one more than :data:`GEOMETRY_CIRCLE_AGREE_PX` from the
    geometry's limb along the arc it was seen (what tells a terminator taken for the limb from the limb)."""
    circle = find_limb(data, sigma_px, saturated)
    min_r = GEOMETRY_CIRCLE_MIN_RADIUS_PX if min_radius_px is None else float(min_radius_px)
    if circle is None or (circle.soft and not soft) or circle.radius_px < min_r:
        return None, None
    known = known_zone(circle, data.shape)
    box = circle.box_px(2.0, data.shape)  # the circle's own distance only where it may be within 2 px
    own, geo = circle.distance_px(data.shape, box), distance_px[box]
    along = known[box] & (np.abs(own) <= 2.0) & np.isfinite(geo)
    if not along.any() or median_or_nan(np.abs(own[along] - geo[along])) > GEOMETRY_CIRCLE_AGREE_PX:
        return None, None
    return circle, known


def uncertain_pointing_message(band: str, pointing_error_px: float) -> str:
    """What :func:`locate_limb` says of a band whose pointing error (px) is above
    :data:`MAX_GEOMETRY_LIMB_ERROR_PX` (the only thing it reads of the geometry and the error there)."""
    return (
        f"band {band}: pointing uncertain by {pointing_error_px:.3g} px: the limb is taken from the data, "
        "the geometry only for positions"
    )


def decides_off_disk(circle: LimbCircle, bright_beyond_px: int = 0) -> bool:
    """Whether an image limb's circle may decide what is off the disk: pinned and, if soft, seen over more
    than half a turn (:attr:`LimbCircle.trusted`: a soft edge may be a terminator), and either seen along at
    least :data:`MIN_TRUSTED_ARC_PX` or the frame's first edge (:attr:`LimbCircle.beside_soft`: a short arc
    between a terminator's horns bends the circle wrongly). A short arc found first is the limb where it
    was seen, and along the rays through it (:func:`ioscan.detect.limb.known_zone`) the fit's own error
    bounds the circle's however far beyond it: a cosmic ray or noise peak hundreds of px out in the sky is
    then off the disk. Not a circle with more than :data:`MAX_BRIGHT_BEYOND_PX` bright pixels beyond it
    (``bright_beyond_px``, :func:`bright_beyond_circle_px`): the disk goes on past it, so it is not the limb
    (an arc bent by a terminator's horn) whatever its fit's error says."""
    if bright_beyond_px > MAX_BRIGHT_BEYOND_PX:
        return False
    return circle.trusted and (circle.arc_px >= MIN_TRUSTED_ARC_PX or not circle.beside_soft)


def off_disk_zone(limb: Limb, shape: tuple[int, int], near_limb_px: float) -> np.ndarray | None:
    """Where a source beyond the near-limb distance of an image limb is OFF_DISK (the flags' ``limb_known``;
    None: everywhere, the geometry's limb). A trusted circle (:func:`decides_off_disk`) decides within its
    known zone, a soft one only beyond its measured edge width more (:func:`soft_margin_px`); a sharp circle
    found first decides everywhere beyond its extrapolated error (:func:`far_off_disk`), not one found
    beside a terminator (:attr:`LimbCircle.beside_soft`: the horns bend it, an error its covariance does
    not hold), nor one with the disk seen beyond it (``Limb.bright_beyond_px`` above
    :data:`MAX_BRIGHT_BEYOND_PX`). ``Limb.known`` itself is left whole (the limb profile reads it)."""
    if limb.from_geometry:
        return None
    zone = np.zeros(shape, bool)
    circle = limb.circle
    if circle is None or limb.distance_px is None:
        return zone
    d = limb.distance_px
    if limb.trusted and limb.known is not None:
        seen = limb.known & seen_limb_zone(circle, shape)
        zone |= seen & (d < -(near_limb_px + soft_margin_px(circle)))
    if not circle.soft and not circle.beside_soft and limb.bright_beyond_px <= MAX_BRIGHT_BEYOND_PX:
        zone |= far_off_disk(circle, d, near_limb_px)
    return zone


def seen_limb_runs(circle: LimbCircle) -> list[tuple[float, float]]:
    """The runs of the circle's edge points seen as limb: (start angle, span) (rad, counter-clockwise from
    its centre) of each run of points no more than :data:`SEEN_GAP_PX` apart along the circle that holds at
    least ``MIN_POINTS`` points along at least ``MIN_ARC_PX`` (fewer are the edge of something else that
    happens to lie on the circle: a bright hot spot inside the limb). One run of span 2π where no gap splits
    the points."""
    ang = np.sort(
        np.mod(
            np.arctan2(circle.points.y - circle.center_line, circle.points.x - circle.center_sample),
            2 * np.pi,
        )
    )
    gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * np.pi]))
    split = np.flatnonzero(gaps * circle.radius_px > SEEN_GAP_PX)
    if split.size == 0:
        return [(0.0, 2 * np.pi)]
    runs = []
    for k, first_gap in enumerate(split):  # a run starts after one split gap and ends before the next
        start = (first_gap + 1) % ang.size
        end = split[(k + 1) % split.size]
        n = (end - start) % ang.size + 1
        span = float(np.mod(ang[end] - ang[start], 2 * np.pi))
        if n >= MIN_POINTS and span * circle.radius_px >= MIN_ARC_PX:
            runs.append((float(ang[start]), span))
    return runs


def seen_limb_zone(
    circle: LimbCircle, shape: tuple[int, int], margin_px: float = KNOWN_MARGIN_PX
) -> np.ndarray:
    """True on pixels in the directions (from the circle's centre) of a run of limb seen
    (:func:`seen_limb_runs`), each run extended by ``margin_px`` at both ends, as
    :func:`ioscan.detect.limb.known_zone` extends the whole arc."""
    runs = seen_limb_runs(circle)
    yy, xx = np.ogrid[0 : shape[0], 0 : shape[1]]
    theta = np.arctan2(yy - circle.center_line, xx - circle.center_sample)
    zone = np.zeros(shape, bool)
    pad = margin_px / circle.radius_px
    for start, span in runs:
        zone |= np.mod(theta - (start - pad), 2 * np.pi) <= span + 2 * pad
    return zone


def soft_margin_px(circle: LimbCircle) -> float:
    """How far (px) a soft limb's true edge may lie beyond its circle: its edge points' median 20–80 % rise
    width (0 for a sharp limb). A limb darkened to nothing rises from zero at the true limb as a power of the
    distance, so its steepest rise (the circle) lies about one rise width inside it (independent renderer:
    2–3 px inside, widths 3.0–4.9 px)."""
    return float(np.median(circle.points.width_px)) if circle.soft else 0.0


def far_off_disk(circle: LimbCircle, distance_px: np.ndarray, near_limb_px: float) -> np.ndarray:
    """Pixels beyond the circle by more than ``near_limb_px`` + :data:`FAR_SIGMA` × the 1σ error of its limb
    position along the ray from its centre through them (:func:`limb_error_px`: a short arc's circle is
    pinned where it was seen, its radius not, so the margin grows away from the arc), and as far beyond the
    tangent at the middle of the arc seen: whatever the true curvature (the fit's error may be systematic,
    a limb's edge bent by shading), a convex disk whose limb passes there lies behind that tangent. No
    pixel without a covariance."""
    if circle.covariance is None or not np.all(np.isfinite(circle.covariance)):
        return np.zeros(distance_px.shape, bool)
    yy, xx = np.ogrid[0 : distance_px.shape[0], 0 : distance_px.shape[1]]
    dx, dy = xx - circle.center_sample, yy - circle.center_line
    rho = np.maximum(np.hypot(dx, dy), 1e-9)
    beyond_circle = distance_px < -(near_limb_px + FAR_SIGMA * limb_error_px(circle, dx / rho, dy / rho))
    start, span = covered_arc(circle)
    mid = start + 0.5 * span
    c, s = np.cos(mid), np.sin(mid)
    margin = near_limb_px + FAR_SIGMA * float(limb_error_px(circle, np.array(c), np.array(s)))
    return beyond_circle & (dx * c + dy * s - circle.radius_px > margin)


def limb_error_px(circle: LimbCircle, cos_t: np.ndarray, sin_t: np.ndarray) -> np.ndarray:
    """1σ error (px) of the circle's limb position along the rays at angles θ from its centre (given as
    cos θ, sin θ), from :attr:`LimbCircle.covariance`: √(g C gᵀ), g = ∂(position)/∂(cx, cy, R) =
    (cos θ, sin θ, 1)."""
    cov = circle.covariance
    var = (
        cov[0, 0] * cos_t**2
        + cov[1, 1] * sin_t**2
        + cov[2, 2]
        + 2 * (cov[0, 1] * cos_t * sin_t + cov[0, 2] * cos_t + cov[1, 2] * sin_t)
    )
    return np.sqrt(np.maximum(var, 0.0))


def bright_beyond_circle_px(bright: np.ndarray, distance_px: np.ndarray) -> int:
    """How many ``bright`` pixels (:func:`bright_over_sky`) lie more than :data:`BRIGHT_BEYOND_MARGIN_PX`
    beyond a limb whose signed distance (px, > 0 on the disk) is ``distance_px``."""
    return int(np.count_nonzero(bright & (distance_px < -BRIGHT_BEYOND_MARGIN_PX)))


def bright_over_sky(data: np.ndarray, distance_px: np.ndarray) -> np.ndarray:
    """Pixels whose 3 × 3 median stands :data:`SUNLIT_SIGMA` local pixel-noise σ above the sky level (the
    median within 3–10 px outside the limb of signed distance ``distance_px``, px; the 1st percentile when
    no sky is in view), on the disk or off it."""
    x = np.asarray(data, dtype=np.float32)
    ok = np.isfinite(x)
    x = np.where(ok, x, np.float32(median_or_nan(x[ok]) if ok.any() else 0.0))
    sky_sel = ok & (distance_px < -3) & (distance_px > -10)
    sky = float(median_or_nan(x[sky_sel])) if sky_sel.sum() >= 50 else float(percentile(x, 1))
    return median3(x) - sky > SUNLIT_SIGMA * pixel_noise_map(x, c_order=True)


def reach_box(
    backplanes: Backplanes, reach_px: tuple[float, float], margin_px: float, shape: tuple[int, int]
) -> tuple[slice, slice] | None:
    """The box (line, sample slices, clipped to ``shape``) of the pixels where Io's disk may lie when the
    backplanes' pointing may be off by up to ``reach_px`` (sample, line) px: the bounding box of their limb
    ellipse (:attr:`Backplanes.limb_conic_px`, known beyond the frame too) grown by ``reach_px`` and
    ``margin_px`` along each axis (a shift of the disk within that box, and the margin beyond its limb,
    stay inside). None where the backplanes carry no conic or it is not an ellipse (no bound: the whole
    band). An empty box (a slice of no length) where the disk cannot reach the frame."""
    ext = limb_extent_px(backplanes.limb_conic_px)
    if ext is None:
        return None
    out = []
    for (lo, hi), r, n in zip(ext, reach_px, (shape[1], shape[0]), strict=True):
        a = max(int(np.floor(lo - r - margin_px)), 0)
        b = min(int(np.ceil(hi + r + margin_px)) + 1, n)
        out.append(slice(a, max(a, b)) if a < n else slice(n, n))
    return out[1], out[0]


def limb_extent_px(conic: np.ndarray | None) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """((sample min, max), (line min, max)) of the limb ellipse xᵀCx = 0 (x = (sample, line, 1), C > 0 on
    the disk): the lines sample = s and line = l tangent to it, from its dual conic C⁻¹ (a line u is tangent
    where uᵀC⁻¹u = 0). None without a conic, or one that is not a bounded ellipse (its 2 × 2 block not
    negative definite: Io seen from within its limb's plane, or behind the camera)."""
    if conic is None:
        return None
    c = np.asarray(conic, dtype=float)
    if c.shape != (3, 3) or not np.all(np.isfinite(c)):
        return None
    a = c[:2, :2]
    if not (a[0, 0] < 0 and np.linalg.det(a) > 0):
        return None
    try:
        d = np.linalg.inv(c)
    except np.linalg.LinAlgError:
        return None
    out = []
    for k in (0, 1):
        disc = d[k, 2] ** 2 - d[k, k] * d[2, 2]
        if not (disc >= 0 and d[2, 2] != 0):
            return None
        r = np.sqrt(disc)
        u, v = (d[k, 2] - r) / d[2, 2], (d[k, 2] + r) / d[2, 2]
        out.append((float(min(u, v)), float(max(u, v))))
    return out[0], out[1]


def _empty(box: tuple[slice, slice]) -> bool:
    return box[0].stop <= box[0].start or box[1].stop <= box[1].start


def crop_box(keep: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """The bounding box of ``keep`` grown by ``pad`` px (clipped to the image), or None when empty."""
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    if rows.size == 0:
        return None
    nl, ns = keep.shape
    return (
        slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, nl)),
        slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, ns)),
    )


def search_region(
    limb: Limb, shape: tuple[int, int], pad: int
) -> tuple[tuple[slice, slice], np.ndarray | None]:
    """The crop worked on (the disk plus the margin, grown by ``pad`` px) and the search mask inside it
    (None: search everywhere, no disk known)."""
    sl = (slice(0, shape[0]), slice(0, shape[1]))
    if limb.reach is not None and not limb.from_geometry:
        # the geometry's disk grown by the pointing's bound: the background's crop that box grown by ``pad``,
        # the search the box (the sky beyond holds no hot spot of Io whichever way the pointing is off)
        box = limb.reach
        sl = (
            slice(max(box[0].start - pad, 0), min(box[0].stop + pad, shape[0])),
            slice(max(box[1].start - pad, 0), min(box[1].stop + pad, shape[1])),
        )
        if box == sl == (slice(0, shape[0]), slice(0, shape[1])):
            return sl, None
        search = np.zeros((sl[0].stop - sl[0].start, sl[1].stop - sl[1].start), bool)
        search[
            box[0].start - sl[0].start : box[0].stop - sl[0].start,
            box[1].start - sl[1].start : box[1].stop - sl[1].start,
        ] = True
        return sl, search
    if limb.distance_px is None or not limb.from_geometry:
        # a limb seen in the image may be off where it was not seen, or bent by a terminator taken for it:
        # it shapes the background, never what is searched (a frame's sky costs only its noise peaks)
        return sl, None
    search_full = limb.distance_px > -limb.margin_px
    box = crop_box(search_full, pad=pad)
    if box is not None:
        sl = box
    return sl, search_full[sl]
