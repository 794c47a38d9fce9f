"""``ioscan check-convention``: which way do a detector's samples run, judged from real frames and kernels.

For every product: read it, find its hot spots (no geometry needed), take each band's predicted pose from the
SPICE kernels (:meth:`ioscan.geometry.spice_provider.SpiceGeometry.pose`, the same under either sample sign),
and weigh the declared sample axis against its mirror (:mod:`ioscan.geometry.convention`): shading and
terminator, known hot spots, the pointing prior. The frames' evidence is added up into a verdict:
"confirmed" (and which sign) or "unconfirmed".

Products that cannot be used (unreadable, no SPICE frame, no pointing in the kernels) are listed with the
reason and skipped; with no usable product at all the job raises an error naming the first problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioscan.errors import GeometryError, IoscanError
from ioscan.geometry.convention import (
    DEFAULT_FRAME_CLIP,
    DEFAULT_THRESHOLD,
    Anchors,
    BandView,
    ConventionResult,
    FrameView,
    catalogue_anchors,
    decide,
    frame_evidence,
)
from ioscan.records import DetectionFlag
from ioscan.settings import Settings

#: detections that are never hot spots (left out of the hot-spot term)
NOT_HOT_SPOTS = int(DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT)


@dataclass
class ConventionCheck:
    """The verdict and what was left out.

    Attributes:
        result: the evidence and verdict (:class:`ioscan.geometry.convention.ConventionResult`).
        frames_checked: product IDs that contributed.
        skipped: (path, reason) of products left out.
        spice_frames: the SPICE frames whose pixel axes were judged.
    """

    result: ConventionResult
    frames_checked: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    spice_frames: list[str] = field(default_factory=list)
    label_quaternions: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            **self.result.to_dict(),
            "spice_frames": self.spice_frames,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "label_quaternion_vs_kernels_deg": self.label_quaternions,
        }


def frame_view(frame, geo, settings: Settings | None = None) -> FrameView:
    """The convention check's view of one frame: images, SPICE poses, declared layouts, detections.

    Raises GeometryError when a band has no SPICE frame with a declared layout, or the kernels do not cover
    the frame."""
    from ioscan.detect import detect_frame
    from ioscan.instruments import get_instrument

    settings = settings or Settings()
    inst = get_instrument(frame.instrument)
    found = detect_frame(frame, None, config=settings.detect)
    bands = []
    for name, band in frame.bands.items():
        key = (band.spice_frame or "").upper()
        if key not in inst.detectors:
            raise GeometryError(
                f"{frame.product_id}: band {name} has no SPICE frame with a declared pixel layout "
                f"({band.spice_frame or 'none'}): nothing to check"
            )
        res = found.bands.get(name)
        dets = [
            (d.sample, d.line - band.line_offset, float(np.hypot(d.sample_err_px, d.line_err_px)))
            for d in (res.detections if res is not None else [])
            if not d.flags & NOT_HOT_SPOTS
        ]
        bands.append(
            BandView(
                image=band.data,
                pose=geo.pose(frame.time_utc, band.spice_frame),
                layout=inst.detectors[key],
                ifov_rad=geo.camera(band.spice_frame).ifov_rad,
                psf_sigma_px=inst.limb_psf_sigma_px(band.wavelength_um),
                detections=np.array(dets, float).reshape(-1, 3),
            )
        )
    return FrameView(frame.product_id, bands)


def label_quaternion_vs_kernels(frame, geo) -> dict[str, float]:
    """How far the label's quaternion (a J2000 → instrument C-matrix, frame not stated) is from each of the
    instrument's SPICE frames in the kernels at mid-exposure: rotation angle, degrees (empty without a
    quaternion). The smallest names the frame the label means, and ~0 says the label and the kernels share one
    reconstructed attitude; for JIRAM the band frames lie 0.94° either side of JUNO_JIRAM_I."""
    from ioscan.instruments import get_instrument

    q = (frame.metadata.get("archive_geometry") or {}).get("quaternion_wxyz")
    if q is None:
        return {}
    from ioscan.formats.jiram_pds3 import quaternion_to_matrix

    label = quaternion_to_matrix(q)
    out = {}
    for name in get_instrument(frame.instrument).detectors:
        try:
            kernel = geo.frame_inputs(frame.time_utc, name).inst_to_j2000.T
        except IoscanError:
            continue
        cos = (np.trace(label @ kernel.T) - 1.0) / 2.0
        out[name] = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return out


def _prior(prior, cross_track_px: float | None) -> tuple[tuple[float, float], tuple[float, float]]:
    """(1σ, bound) along (sample, line) of the pointing prior, the cross-track pair replaced if asked."""
    sigma, top = tuple(prior.sigma_px), tuple(prior.max_px)
    if cross_track_px is None or prior.along_track_axis is None:
        return sigma, top
    k = 0 if prior.along_track_axis == "line" else 1
    sigma = tuple(cross_track_px / 2.0 if i == k else v for i, v in enumerate(sigma))
    top = tuple(float(cross_track_px) if i == k else v for i, v in enumerate(top))
    return sigma, top


def check_convention(
    paths: Iterable[str | Path],
    kernels: str | Path,
    *,
    anchors: Anchors | str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    frame_clip: float = DEFAULT_FRAME_CLIP,
    cross_track_px: float | None = None,
    settings: Settings | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ConventionCheck:
    """Weigh the declared sample axis of the products' detector against its mirror (see module docstring).

    Args:
        paths: products or folders.
        kernels: SPICE metakernel covering the products (NAIF's frames kernel and the reconstructed CK).
        anchors: known hot spots (default: the shipped catalogues' brightest, :func:`catalogue_anchors`), or
            a spec as the navigation settings take it ("shipped", a CSV, "shipped+CSV", "none").
        threshold: natural-log evidence needed for "confirmed".
        frame_clip: the most one frame may count.
        cross_track_px: replace the instrument's cross-track pointing bound by this many pixels (1σ half of
            it): a verdict that still holds with a bound of hundreds of pixels does not rest on the
            cross-track prior (a mirrored disk off the middle column cannot be moved back within a few px).
        settings: detection settings.
        progress: called with (done, total, product) after each product.
    """
    from ioscan.formats import find_products, read_product
    from ioscan.geometry.spice_provider import SpiceGeometry
    from ioscan.instruments import get_instrument

    if not Path(kernels).expanduser().is_file():
        raise IoscanError(f"metakernel {kernels} not found")
    products = find_products([Path(p) for p in paths])
    if not products:
        raise IoscanError(f"no products found under {', '.join(str(p) for p in paths)}")
    if isinstance(anchors, str):
        from ioscan.geometry.anchors import load_anchors

        anchors = Anchors.from_table(load_anchors(anchors))
    anchors = anchors if anchors is not None else catalogue_anchors()
    geos: dict[str, SpiceGeometry] = {}
    evidence = []
    check = ConventionCheck(result=None)  # type: ignore[arg-type]
    declared = None
    for i, path in enumerate(products, 1):
        try:
            frame = read_product(path)
            inst = get_instrument(frame.instrument)
            if not inst.detectors:
                raise GeometryError(f"{Path(path).name}: {inst.name} frames have no SPICE frame to check")
            if inst.observer not in geos:
                geos[inst.observer] = SpiceGeometry(kernels, observer=inst.observer)
            geo = geos[inst.observer]
            view = frame_view(frame, geo, settings)
            axes = view.bands[0].layout.axes
            if declared is None:
                declared = axes
            elif axes != declared:
                raise GeometryError(
                    f"{Path(path).name}: its detector declares other pixel axes than the first product's"
                )
            sigma, top = _prior(inst.pointing, cross_track_px)
            evidence.append(
                frame_evidence(view, declared, sigma, top, anchors=anchors, frame_clip=frame_clip)
            )
            check.frames_checked.append(frame.product_id)
            angles = label_quaternion_vs_kernels(frame, geo)
            if angles:
                check.label_quaternions[frame.product_id] = angles
            for b in frame.bands.values():
                if b.spice_frame not in check.spice_frames:
                    check.spice_frames.append(b.spice_frame)
        except IoscanError as exc:
            check.skipped.append((str(path), str(exc)))
        if progress:
            progress(i, len(products), str(path))
    if declared is None:
        first = check.skipped[0][1] if check.skipped else "no usable product"
        raise IoscanError(f"no product could be checked ({len(check.skipped)} skipped; first: {first})")
    check.result = decide(evidence, declared, threshold=threshold)
    return check
