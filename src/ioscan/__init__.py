"""ioscan — find, measure and follow the volcanoes of Io in infrared images.

The public API, one name per stage of the data flow (imported lazily, so ``ioscan --help`` stays fast)::

    import ioscan

    frame = ioscan.read_product("JIR_IMG_RDR_2017033T114006_V01.LBL")      # read
    nav = ioscan.navigate_frame(frame, kernels="juno.tm")                   # navigate
    found = ioscan.detect_frame(frame, nav.backplanes)                      # detect
    ioscan.measure_frame(frame, found, nav.backplanes,                      # measure
                         pointing_error_px=nav.pointing_error_px)
    with ioscan.open_store("ioscan.db") as store:                           # the catalogue
        hot_spots = store.hotspots_frame()

See docs/architecture.md for what each package owns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ioscan._lazy import lazy_exports

__version__ = "0.1.0"

#: public name → module that defines it
_PUBLIC = {
    "read_product": "ioscan.formats",
    "find_products": "ioscan.formats",
    "navigate_frame": "ioscan.geometry.navigate",
    "Navigation": "ioscan.geometry.navigate",
    "detect_frame": "ioscan.detect",
    "DetectConfig": "ioscan.detect",
    "FrameDetections": "ioscan.detect",
    "measure_frame": "ioscan.measure",
    "MeasureConfig": "ioscan.measure",
    "open_store": "ioscan.catalog.store",
    "Store": "ioscan.catalog.store",
    "scan": "ioscan.workflows.scan",
    "process_product": "ioscan.workflows.process",
    "analyse_product": "ioscan.workflows.process",
    "track_catalog": "ioscan.workflows.track",
    "TrackConfig": "ioscan.track.config",
    "Settings": "ioscan.settings",
    "get_instrument": "ioscan.instruments",
    "Frame": "ioscan.records",
    "BandImage": "ioscan.records",
    "Detection": "ioscan.records",
    "DetectionFlag": "ioscan.records",
    "Observation": "ioscan.records",
    "BandSummary": "ioscan.records",
    "IoscanError": "ioscan.errors",
}

__all__ = ["__version__", *_PUBLIC]


__getattr__, __dir__ = lazy_exports("ioscan", _PUBLIC, globals())


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from ioscan.catalog.store import Store, open_store
    from ioscan.detect import DetectConfig, FrameDetections, detect_frame
    from ioscan.errors import IoscanError
    from ioscan.formats import find_products, read_product
    from ioscan.geometry.navigate import Navigation, navigate_frame
    from ioscan.instruments import get_instrument
    from ioscan.measure import MeasureConfig, measure_frame
    from ioscan.records import BandImage, BandSummary, Detection, DetectionFlag, Frame, Observation
    from ioscan.settings import Settings
    from ioscan.track.config import TrackConfig
    from ioscan.workflows.process import analyse_product, process_product
    from ioscan.workflows.scan import scan
    from ioscan.workflows.track import track_catalog
