"""One product end to end: read → navigate → detect → measure → the records a catalogue stores.

:func:`analyse_product` returns the frame, its navigation and its measured detections (what ``ioscan detect``
shows); :func:`process_product` turns that into an :class:`~ioscan.records.Observation`, its
:class:`~ioscan.records.BandSummary` rows and detections, and never raises (a scan goes on past a bad
product).

Most JIRAM frames look at Jupiter. Before detection, :func:`io_in_view` decides whether Io is in view: from
the label (``Frame.metadata["target"]``, :func:`ioscan.formats.jiram_pds3.label_target`) and, with kernels,
from the field of view (Io's predicted disk within the pointing's reach of the frame). A frame without Io
keeps its observation, with status ``"no_io"`` (no Io in view) and no detections; a frame whose label names
another target but whose field of view holds Io (Io in front of Jupiter) is searched.
"""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ioscan.errors import IoscanError
from ioscan.records import BandSummary, Detection, Observation

if TYPE_CHECKING:  # not imported at run time: a Dask worker never needs the other stages' settings
    from ioscan.detect.config import DetectConfig
    from ioscan.geometry.config import NavigateConfig
    from ioscan.measure.config import MeasureConfig
    from ioscan.settings import Settings


@dataclass
class ProductResult:
    """What one product yields: its records, or an error.

    Attributes:
        path: the product file.
        checksum_sha256: the data's checksum (None when the product could not be read).
        observation: the observation record (None on error).
        bands: one summary per band.
        detections: measured detections of every band.
        status: the frame status, or "error".
        error: one line naming the file and the problem.
        messages: notes from navigation, detection and measurement.
        worker: on Dask, the address of the worker that processed it (a chaining retry goes back there).
        rows: from a scan's worker (:func:`for_writer`), the catalogue rows
            (:class:`ioscan.catalog.rows.ProductRows`), sent instead of ``bands`` and ``detections``.
        chain_anchors: with ``rows``, a registered frame's detections as anchors for chaining
            (:func:`chain_anchor_table`) when the scan chains.
        matchable: the detections the hot-spot matcher could use (None: it was not tried). With none, no
            anchors can change the result: no registration, no posterior to draw the pointing from
            (:attr:`ioscan.geometry.navigate.Navigation.n_match_detections`).
        deferred: a frame held for chaining whose measurement was left for later (``defer_held``): its
            detections are not measured and it has no band summaries nor rows; the scan replaces it by a
            retry's result or finishes it (:data:`NO_EXTRA_ANCHORS`) before storing anything of it.
    """

    path: str
    checksum_sha256: str | None = None
    observation: Observation | None = None
    bands: list[BandSummary] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    messages: list[str] = field(default_factory=list)
    worker: str | None = None
    rows: object = None
    chain_anchors: object = None
    matchable: int | None = None
    deferred: bool = False

    @property
    def n_detections(self) -> int:
        """Measured detections (of the rows when the records were not sent)."""
        return self.rows.n_detections if self.rows is not None else len(self.detections)


@dataclass
class IoInView:
    """Whether Io is in view of a frame, and where.

    Attributes:
        in_view: True (search the bands ``bands``), False (no Io in view: detect nothing), None (cannot tell:
            search every band).
        bands: bands to search.
        reason: one line.
    """

    in_view: bool | None
    bands: list[str]
    reason: str


def io_in_view(frame, nav=None) -> IoInView:
    """Io in view of ``frame`` by its label (``metadata["target"]``) and, given a SPICE navigation ``nav``, by
    its field of view: Io is within reach of a band when its predicted disk may overlap the band's pixels
    (:func:`_bands_within_reach`). A label naming Io that says it is absent (TARGET_PIXELS 0, or
    the presence flag of every band) wins over kernels only when kernels are absent.

    How far the disk may lie from its prediction depends on what the label says. A label naming Io as in view
    is believed up to the pointing prior's bound (:func:`pointing_reach_px`, the box detection then searches:
    a frame whose disk is off by 1–3σ along track is still searched); a label naming another target (Jupiter)
    is overruled only where the disk comes within the pointing's 1σ of the frame (Io in front of Jupiter),
    so that Jupiter frames whose Io lies just beyond are not searched for hot spots."""
    target = frame.metadata.get("target")
    if not isinstance(target, dict):  # only the JIRAM reader says what its label says about the target
        target = {}
    label_in_view = target.get("io_in_view")
    bands = list(frame.bands)
    if nav is not None and nav.source == "spice" and nav.backplanes:
        bound = pointing_reach_px(nav) if label_in_view is True else None
        sigma = max(nav.pointing_error_px, 1.0)
        reach = bound if bound is not None else (sigma, sigma)
        seen = _bands_within_reach(nav.backplanes, reach)
        told = f"{max(reach):.0f} px" + (" (the pointing prior's bound)" if bound is not None else "")
        if not seen:
            return IoInView(False, [], f"no Io in view: kernels put Io's disk beyond {told} of the frame")
        if label_in_view is False:
            why = f"{target.get('reason')}, but the kernels put Io within {told} of the frame"
            return IoInView(True, seen, why)
        return IoInView(True, seen, "kernels put Io in the field of view")
    if label_in_view is False:
        return IoInView(False, [], f"no Io in view: {target.get('reason')}")
    if label_in_view is None and target.get("name") not in (None, "IO"):
        return IoInView(False, [], f"no Io in view: {target.get('reason')} (no kernels to look further)")
    io_bands = target.get("io_bands") or bands
    return IoInView(label_in_view, [b for b in bands if b in io_bands], target.get("reason") or "")


def _bands_within_reach(backplanes: dict, reach_px: tuple[float, float]) -> list[str]:
    """The bands whose pixels Io's disk may overlap when the backplanes' pointing is off by up to ``reach_px``
    (sample, line) px: the box of :func:`ioscan.detect.region.reach_box` not empty where the backplanes
    carry the limb's ellipse, else a limb distance above −max(reach) somewhere on the band."""
    from ioscan.detect.region import reach_box

    seen = []
    for band, bp in backplanes.items():
        limb = np.asarray(bp["limb_distance_px"], float)
        box = None
        if getattr(bp, "limb_conic_px", None) is not None:
            box = reach_box(bp, reach_px, 0.0, limb.shape)
        if box is not None:
            if box[0].stop > box[0].start and box[1].stop > box[1].start:
                seen.append(band)
        elif float(np.nanmax(limb, initial=-np.inf)) > -max(reach_px):
            seen.append(band)
    return seen


def _no_io_detections(frame, reason: str, bands_searched=None):
    """The detections of a frame (or of its bands not searched) without Io: none, status ``"no_io"``."""
    from ioscan.detect import FrameDetections

    return FrameDetections(
        product_id=frame.product_id,
        detections=[],
        status="no_io",
        band_status={b: "no_io" for b in frame.bands if bands_searched is None or b not in bands_searched},
        noise={b: None for b in frame.bands},
        messages=[reason],
    )


@dataclass(frozen=True)
class ProductSettings:
    """The settings processing one product reads (:class:`~ioscan.settings.Settings`' ``detect``,
    ``measure`` and ``navigate`` sections), as a scan sends them to its Dask workers: unpickling them imports
    those stages' config modules only, not the tracker's and the report's (pandas, scipy.optimize: ~0.3 s
    of each worker's start-up). Anything that takes a Settings here takes this too."""

    detect: DetectConfig
    measure: MeasureConfig
    navigate: NavigateConfig
    #: the scan's: leave the measurement of a frame held for chaining until chaining has run
    #: (:func:`process_product`'s ``defer_held``); not part of what a kept state is valid for
    defer_held: bool = False

    @classmethod
    def of(cls, settings: Settings | ProductSettings) -> ProductSettings:
        """The product sections of ``settings`` (the same objects, not copies)."""
        return cls(settings.detect, settings.measure, settings.navigate)

    def to_dict(self) -> dict[str, str]:
        """Each section's repr (every field, nested ones included): what a kept chaining state is valid
        for (:func:`ioscan.workflows.retry_cache.state_key`)."""
        return {"detect": repr(self.detect), "measure": repr(self.measure), "navigate": repr(self.navigate)}


def _default_settings() -> Settings:
    from ioscan.settings import Settings

    return Settings()


def import_pipeline() -> None:
    """Import every module processing a product uses (a Dask worker does it once, when it starts, so that
    its first product costs what the others do); and what makes a product's catalogue rows."""
    import ioscan.catalog.rows  # noqa: F401
    import ioscan.detect  # noqa: F401
    import ioscan.formats  # noqa: F401
    import ioscan.geometry.anchors  # noqa: F401
    import ioscan.geometry.compiled  # noqa: F401  (numba; the kernels' machine code loads at first call)
    import ioscan.geometry.coverage  # noqa: F401
    import ioscan.geometry.matcher_kernels  # noqa: F401  (the hot-spot matcher's numba kernels)
    import ioscan.geometry.navigate  # noqa: F401
    import ioscan.measure  # noqa: F401
    import ioscan.measure.positions  # noqa: F401


@lru_cache(maxsize=4)
def _anchors(spec: str):
    from ioscan.geometry.anchors import load_anchors

    return load_anchors(spec)


@dataclass
class _Started:
    """A product read, navigated and searched once, before hot-spot registration and measurement: what a
    chaining retry (the same product with more anchors) starts from. ``done`` holds the final (Frame,
    Navigation, FrameDetections) of a frame that is not searched (no Io in view)."""

    frame: object
    nav: object = None
    view: IoInView | None = None
    searched: object = None
    found: object = None
    done: tuple | None = None


def _start(path: str | Path, kernels, settings: Settings) -> _Started:
    """Read, navigate (limb registration included) and detect once (see :func:`analyse_product`)."""
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import Navigation, navigate_frame, register_on_limb

    nav_cfg = settings.navigate
    frame = read_product(Path(path))
    kern = Path(kernels) if kernels else None
    label = io_in_view(frame)
    if label.in_view is not True and kern is not None:
        # not an Io frame by its label: is Io in the field of view? (no registration for a frame without it)
        nav = navigate_frame(frame, kernels=kern, register=False, config=nav_cfg)
        view = io_in_view(frame, nav)
        if view.in_view and nav_cfg.register:  # the predicted geometry stands: only the limb fit is new
            register_on_limb(frame, nav)
    elif label.in_view is False:
        nav, view = Navigation(messages=["no geometry: no Io in view"]), label
    else:
        nav = navigate_frame(frame, kernels=kern, register=nav_cfg.register, config=nav_cfg)
        view = io_in_view(frame, nav) if kern is not None else label
    if view.in_view is False:
        return _Started(frame, done=(frame, nav, _no_io_detections(frame, view.reason)))
    searched = frame
    if view.bands and set(view.bands) != set(frame.bands):
        searched = dataclasses.replace(frame, bands={b: frame.bands[b] for b in view.bands})
    found = _detect(searched, nav, settings)
    return _Started(frame, nav, view, searched, found)


def detection_config(settings: Settings, nav) -> DetectConfig:
    """The detection settings a navigated frame is searched with: ``settings.detect`` told the error of the
    backplanes' limb in the image (``Navigation.detection_error_px``) and, for a frame not registered, the
    pointing prior's bound (``pointing_reach_px``, :attr:`PointingPrior.max_px`): where the limb is then
    taken from the image, only the geometry's disk grown by that bound is searched
    (:func:`ioscan.detect.region.reach_box`)."""
    return dataclasses.replace(
        settings.detect,
        pointing_error_px=nav.detection_error_px,
        pointing_reach_px=pointing_reach_px(nav),
    )


def pointing_reach_px(nav) -> tuple[float, float] | None:
    """(sample, line) px: how far the scene may lie from ``nav``'s backplanes — the prior's bound for a
    frame navigated but not registered (its backplanes are the predicted ones); None for a registered frame
    (a wrong match would leave the bound behind: it is searched as before) or one without a prior."""
    if nav.registered or nav.prior is None or not nav.backplanes:
        return None
    return (float(nav.prior.max_px[0]), float(nav.prior.max_px[1]))


def _detect(searched, nav, settings: Settings):
    from ioscan.detect import detect_frame

    return detect_frame(searched, nav.backplanes or None, config=detection_config(settings, nav))


def _finish(st: _Started, settings: Settings, extra_anchors=None):
    """Register on known hot spots if the limb did not (detecting again when it registers) and measure:
    (Frame, Navigation, FrameDetections). Changes ``st``'s navigation and detections in place."""
    if st.done is not None:
        return st.done
    frame, nav, found = _register(st, settings, extra_anchors)
    _measure(frame, nav, found, settings)
    return frame, nav, found


def _register(st: _Started, settings: Settings, extra_anchors=None):
    """:func:`_finish` without the measurement: (Frame, Navigation, FrameDetections), the detections not
    measured yet (``st.done`` must be None)."""
    import pandas as pd

    from ioscan.geometry.navigate import register_on_hot_spots

    frame, nav, view, searched, found = st.frame, st.nav, st.view, st.searched, st.found
    nav_cfg = settings.navigate
    if nav_cfg.register and nav_cfg.register_hot_spots and nav.views and not nav.registered:
        anchors = _anchors(nav_cfg.anchors)
        if extra_anchors is not None and len(extra_anchors):
            anchors = pd.concat([anchors, extra_anchors], ignore_index=True)
        told = nav.detection_error_px  # what the first detection was told
        before = (nav.backplanes, pointing_reach_px(nav))  # the geometry and bound it was told
        register_on_hot_spots(frame, nav, found.detections, anchors, nav_cfg)
        if nav.registered:  # detect again with the corrected geometry (limb band, on-disk flags)
            found = _detect_again(searched, nav, settings, found, told, before)
    if searched is not frame:
        skipped = _no_io_detections(frame, view.reason, view.bands)
        found.band_status.update(skipped.band_status)
        found.noise = {b: found.noise.get(b) for b in frame.bands}
        found.messages.append(f"bands {', '.join(skipped.band_status)}: no Io in view ({view.reason})")
    return frame, nav, found


def _measure(frame, nav, found, settings: Settings) -> None:
    """Measure ``found``'s detections in place (:func:`ioscan.measure.measure_frame`), with the pointing
    draws of ``nav``."""
    from ioscan.measure import measure_frame
    from ioscan.measure.positions import PointingSamples

    pointing = None
    if nav.offset_samples_px is not None and nav.views:
        pointing = {
            b: PointingSamples(v, nav.offset_samples_px, nav.ground_err_km) for b, v in nav.views.items()
        }
    measure_frame(
        frame,
        found,
        nav.backplanes or None,
        config=settings.measure,
        pointing_error_px=nav.pointing_error_px,
        pointing=pointing,
    )


def first_detection_stands(searched, nav, told_before_px: float, before=None) -> bool:
    """Whether detecting ``searched`` again after its geometry was re-pointed (``nav``, now telling
    ``nav.detection_error_px``) would give what the first detection (told ``told_before_px``) gave, but for
    the message that states the told error (:func:`_detect_again`).

    The detector reads a band's backplanes and the told pointing error only in
    :func:`ioscan.detect.region.locate_limb`: told more than
    :data:`~ioscan.detect.region.MAX_GEOMETRY_LIMB_ERROR_PX` about a band with backplanes, it takes the limb
    from the data, sizes its margin without the error and uses the geometry for nothing else (the shading,
    the sunlit mask and the limb band need a limb from the geometry), saying so in
    :func:`~ioscan.detect.region.uncertain_pointing_message`, and, told the pointing's bound
    (``detect.pointing_reach_px``), to search the geometry's disk grown by it
    (:func:`~ioscan.detect.region.reach_box`). True when both errors are above that bound, every searched
    band has backplanes (before and after: a re-pointing recomputes every band) and both detections search
    every band whole: ``before`` — (backplanes, bound) the first detection was told; None: no bound — and
    the bound now (:func:`pointing_reach_px`) each reach the whole band (margin aside)."""
    from ioscan.detect.region import MAX_GEOMETRY_LIMB_ERROR_PX

    return (
        told_before_px > MAX_GEOMETRY_LIMB_ERROR_PX
        and nav.detection_error_px > MAX_GEOMETRY_LIMB_ERROR_PX
        and all(nav.backplanes.get(b) is not None for b in searched.bands)
        and (before is None or _searched_whole(searched, *before))
        and _searched_whole(searched, nav.backplanes, pointing_reach_px(nav))
    )


def _searched_whole(searched, backplanes, reach) -> bool:
    """Whether every band of ``searched`` is searched whole told ``backplanes`` and the bound ``reach``
    (the disk's box without the margin already the whole band: with it, too)."""
    from ioscan.detect.region import reach_box

    if reach is None:
        return True
    for b, band in searched.bands.items():
        bp = backplanes.get(b)
        if bp is None:
            continue
        shape = np.shape(band.data)
        box = reach_box(bp, reach, 0.0, shape)
        if box is not None and box != (slice(0, shape[0]), slice(0, shape[1])):
            return False
    return True


def _detect_again(searched, nav, settings: Settings, found, told_before_px: float, before=None):
    """The detection of ``searched`` with its re-pointed geometry (``nav``): ``found``, the first detection
    (told ``told_before_px``, and ``before``: see :func:`first_detection_stands`), with its messages
    restating the error now told, when :func:`first_detection_stands`; else a new detection
    (:func:`_detect`). The same result bit for bit (detections, statuses, noise, messages), without a
    second search (~50 ms a JIRAM frame)."""
    if not first_detection_stands(searched, nav, told_before_px, before):
        return _detect(searched, nav, settings)
    from ioscan.detect.region import uncertain_pointing_message

    told = nav.detection_error_px
    now = {
        uncertain_pointing_message(b, told_before_px): uncertain_pointing_message(b, told)
        for b in searched.bands
    }
    found.messages = [now.get(m, m) for m in found.messages]
    for res in found.bands.values():
        res.messages = [now.get(m, m) for m in res.messages]
    return found


def analyse_product(
    path: str | Path,
    kernels: str | Path | None = None,
    settings: Settings | None = None,
    extra_anchors=None,
):
    """Read, navigate, detect, register on known hot spots if the limb did not, and measure one product:
    returns (Frame, Navigation, FrameDetections). May raise IoscanError for unreadable products, unusable
    kernels or an unusable anchor table. A frame without Io in view (:func:`io_in_view`) is navigated but not
    searched: status ``"no_io"``.

    ``extra_anchors``: more known hot spots (an anchor table, :mod:`ioscan.geometry.anchors`), e.g. the
    detections of frames of the same sequence registered before (chaining)."""
    settings = settings or _default_settings()
    return _finish(_start(path, kernels, settings), settings, extra_anchors)


def _band_summaries(frame, nav, found, settings: Settings) -> list[BandSummary]:
    from ioscan.geometry.navigate import limb_psf_sigma_px
    from ioscan.measure import detection_limit_gw_um_sr

    noise = found.noise or {}
    return [
        BandSummary(
            band=b.band,
            wavelength_um=b.wavelength_um,
            bandwidth_um=b.bandwidth_um,
            unit=b.unit,
            saturation=b.saturation,
            noise=noise.get(b.band),
            detection_limit_gw_um_sr=detection_limit_gw_um_sr(
                noise.get(b.band),
                b,
                nav.backplanes.get(b.band),
                limb_psf_sigma_px(frame, b),
                snr=settings.measure.limit_snr,
            ),
        )
        for b in frame.bands.values()
    ]


def _observation(path, frame, nav, found, *, coverage: bool = True) -> Observation:
    """The observation record; ``coverage`` False: without its coverage grid (a deferred result's, which
    is never stored: ~2 ms of a JIRAM frame)."""
    from ioscan.geometry.coverage import coverage_grid, encode_grid

    navigated = bool(nav.backplanes)
    return Observation(
        product_id=frame.product_id,
        instrument=frame.instrument,
        time_utc=frame.time_utc,
        observer=frame.observer,
        mode=frame.mode,
        orbit=frame.orbit,
        exposure_s=frame.exposure_s,
        file_path=str(path),
        checksum_sha256=frame.checksum_sha256,
        base_product_id=frame.base_product_id,
        product_version=frame.product_version,
        product_created_utc=frame.product_created_utc,
        status=found.status,
        coverage_grid=encode_grid(coverage_grid(nav.backplanes.values())) if navigated and coverage else None,
        geometry_source=nav.source if navigated else "none",
        registered=bool(nav.registered) if navigated else None,
        pointing_offset_sample_px=nav.offset_px[0] if navigated else None,
        pointing_offset_line_px=nav.offset_px[1] if navigated else None,
        pointing_offset_err_px=nav.pointing_error_px if navigated else None,
        registration_method=nav.method if navigated else None,
        pointing_offset_sample_err_px=nav.offset_err_px[0] if navigated else None,
        pointing_offset_line_err_px=nav.offset_err_px[1] if navigated else None,
        pointing_offset_corr=nav.offset_corr if navigated else None,
        false_match_prob=nav.false_match_prob,
        n_anchor_matches=nav.n_matches,
        n_detections=len(found.detections),
        **nav.nearest_point(),
    )


#: the extra anchors of a retry that adds none: a frame held for chaining and not retried, finished from
#: its kept state as its first processing would have (:func:`process_product`'s ``defer_held``)
NO_EXTRA_ANCHORS = ()


def chainable(res: ProductResult) -> bool:
    """Not registered, but navigated from kernels or a label with an orbit and time: worth a chaining try
    (:func:`ioscan.workflows.scan.scan`)."""
    obs = res.observation
    return (
        obs is not None
        and res.status != "error"
        and not obs.registered
        and obs.geometry_source in ("spice", "label")
        and obs.orbit is not None
    )


def chain_anchor_table(res: ProductResult):
    """A registered frame's detections as anchors for the frames chained after it
    (:func:`ioscan.geometry.anchors.anchors_from_records`, its detections sharing the frame's remaining
    pointing error), or None when it has none."""
    from ioscan.geometry.anchors import anchors_from_records

    o = res.observation
    shared_km = float(o.pointing_offset_err_px or 0.0) * float(o.pixel_scale_km or 0.0)
    table = anchors_from_records(res.detections, o.product_id, shared_km) if res.detections else None
    return table if table is not None and len(table) else None


def for_writer(result: ProductResult, settings: Settings) -> ProductResult:
    """``result`` as a scan's writer needs it from a worker (what is sent is what the writer unpickles): the
    catalogue rows made here (:func:`ioscan.catalog.rows.product_rows`, the same rows the writer would
    make) instead of the bands and detections, a registered frame's anchor table made here when the scan
    chains, no messages. Rows that cannot be made (CatalogError) leave the records as they are: the writer
    reports the product as it stores it."""
    from ioscan.catalog.rows import product_rows
    from ioscan.errors import CatalogError

    result.messages = []
    if result.status == "error" or result.observation is None or result.deferred:
        return result
    try:
        rows = product_rows(result.observation, result.bands, result.detections)
    except CatalogError:
        return result
    if _chaining(settings) and result.observation.registered:
        result.chain_anchors = chain_anchor_table(result)
    result.rows, result.bands, result.detections = rows, [], []
    return result


def _chaining(settings: Settings) -> bool:
    nav = settings.navigate
    return bool(nav.chain and nav.register and nav.register_hot_spots)


def process_product(
    path: str | Path,
    kernels: str | Path | None = None,
    settings: Settings | None = None,
    extra_anchors=None,
    *,
    defer_held: bool = False,
) -> ProductResult:
    """Read, navigate, detect and measure one product into its records (``extra_anchors``: see
    :func:`analyse_product`; :data:`NO_EXTRA_ANCHORS`: none, from the kept state). Never raises: errors come
    back in the result.

    With chaining on, a frame left for chaining keeps its state before hot-spot registration in this
    process (:mod:`ioscan.workflows.retry_cache`, bounded): processed again with more anchors, it starts
    from there instead of being read, navigated and searched again (the same numbers: those steps do not
    depend on the anchors). With ``defer_held`` (or ``settings.defer_held``, a scan's
    :class:`ProductSettings`) such a frame, its state kept, is not measured: what a retry gives replaces
    it, and one never retried is finished from its kept state with :data:`NO_EXTRA_ANCHORS` (the same
    numbers as measuring it now); the result says ``deferred``."""
    from ioscan.workflows import retry_cache

    settings = settings or _default_settings()
    result = ProductResult(path=str(path))
    try:
        key = retry_cache.state_key(path, kernels, settings) if _chaining(settings) else None
        kept = retry_cache.take(key) if key is not None and extra_anchors is not None else None
        started = kept if kept is not None else _start(path, kernels, settings)
        may_chain = started.done is None and not started.nav.registered
        pristine = retry_cache.copy_state(started) if key is not None and kept is None and may_chain else None
        defer = pristine is not None and extra_anchors is None
        defer = defer and (defer_held or bool(getattr(settings, "defer_held", False)))
        if started.done is not None:
            frame, nav, found = started.done
        else:
            frame, nav, found = _register(started, settings, extra_anchors)
        result.checksum_sha256 = frame.checksum_sha256
        result.matchable = nav.n_match_detections
        if defer and not nav.registered:  # held for chaining if chainable: measured once chaining has run
            result.status, result.detections = found.status, found.detections
            result.observation = _observation(path, frame, nav, found, coverage=False)
            if chainable(result) and retry_cache.keep(key, pristine):
                result.deferred = True
                return result
            result.observation = None
        if started.done is None:
            _measure(frame, nav, found, settings)
        result.messages += [*nav.messages, *found.messages]
        result.detections = found.detections
        result.status = found.status
        result.matchable = nav.n_match_detections
        result.observation = _observation(path, frame, nav, found)
        result.bands = _band_summaries(frame, nav, found, settings)
        if key is not None and not chainable(result):
            retry_cache.forget(key)
        elif pristine is not None:
            retry_cache.keep(key, pristine)
    except IoscanError as exc:
        result.status, result.error = "error", str(exc)
    except Exception as exc:  # one bad product must never stop a run: report it with its traceback tail
        result.status = "error"
        where = traceback.format_exc(limit=-1).strip().splitlines()
        result.error = f"{Path(path).name}: unexpected {type(exc).__name__}: {exc} [{where[-3].strip()}]"
    return result
