"""Frames of the independent renderer (:mod:`ioscan.simulate.independent`) shared by tests."""

from __future__ import annotations

import numpy as np

from ioscan.records import BandImage, Frame
from ioscan.simulate.independent import draw_scene, render_scene


def sunlit_independent_frame(seed: int = 5) -> Frame:
    """The first sunlit M-band frame the renderer draws with ``seed`` (no geometry: the limb and its profile
    are found in the image)."""
    rng = np.random.default_rng(seed)
    for i in range(20):
        r = render_scene(draw_scene(rng, kind="day", start_time_utc=f"2023-03-01T00:00:{i:02d}.000"))
        if r.illumination == "day":
            break
    b = r.bands["M"]
    band = BandImage("M", b.image, "W m-2 sr-1", 4.78, 0.4975)
    return Frame("T", "JIRAM", "JUNO", "2023-03-01T00:00:00", 0.01, {"M": band})


def bench_generalise_rendered(index: int, seed: int = 20261205):
    """Frame ``index`` of ``bench_generalise``'s sequence (default seed; even frames requested on the day
    side, I2): the M-band Frame (no geometry) and the renderer's whole result (truth, illumination)."""
    rng = np.random.default_rng(seed)
    for i in range(index + 1):
        params = draw_scene(rng, kind="day" if i % 2 == 0 else "night", mode="I2")
    r = render_scene(params)
    return m_band_frame(r, params), r


def m_band_frame(r, params) -> Frame:
    """The M-band Frame (no geometry) of the renderer's result ``r`` of scene ``params``."""
    b = r.bands["M"]
    band = BandImage("M", b.image, "W m-2 sr-1", 4.78, 0.4975, line_offset=b.line_offset)
    return Frame("T", "JIRAM", "JUNO", params.start_time_utc, params.exposure_s, {"M": band})


def bench_generalise_frame(index: int, seed: int = 20261205):
    """:func:`bench_generalise_rendered`'s Frame, its truth's (sample, line) positions, px, and the
    renderer's illumination ("day" or "night")."""
    frame, r = bench_generalise_rendered(index, seed)
    return frame, r.truth[["sample", "line"]].to_numpy(float), r.illumination
