"""A folder like the archive's: Io frames among Jupiter frames. Jupiter frames are stored with status "no_io"
and nothing detected on them, however bright a point they show; Io frames are searched."""

from __future__ import annotations

import numpy as np

from ioscan.catalog.store import open_store
from ioscan.simulate.independent import draw_scene, render_scene, write_product
from ioscan.workflows.process import io_in_view, process_product
from ioscan.workflows.scan import scan
from real_label import copy_real


def _point_source_image(level: float, flux: float, rng: np.random.Generator) -> np.ndarray:
    """128 × 432: a flat level (Jupiter filling the frame, or sky), noise, one bright point at (200, 60)."""
    yy, xx = np.mgrid[0:128, 0:432]
    img = level + rng.normal(0.0, 5e-5, (128, 432))
    img += flux * np.exp(-0.5 * ((xx - 200.3) ** 2 + (yy - 60.6) ** 2) / 0.8**2) / (2 * np.pi * 0.64)
    return img


def test_mixed_folder_io_frames_searched_jupiter_frames_not(tmp_path):
    rng = np.random.default_rng(4)
    folder = tmp_path / "JNOJIR_2004"
    # two Jupiter frames (the real label), each with a bright point a detector would take for a hot spot
    for k in range(2):
        copy_real(folder, f"JIR_IMG_RDR_2017033T11400{k}_V02", _point_source_image(0.01, 0.05, rng))
    # the same label with Io as its target, and the independent renderer's Io frames (day and night)
    copy_real(
        folder,
        "JIR_IMG_RDR_2017033T114009_V02",
        _point_source_image(0.0, 0.05, rng),
        TARGET_NAME='"IO"',
        TARGET_TYPE='"SATELLITE"',
    )
    for i, kind in enumerate(("day", "night")):
        params = draw_scene(rng, kind=kind, start_time_utc=f"2023-03-01T00:0{i}:00.000")
        write_product(render_scene(params), folder)

    one = process_product(folder / "JIR_IMG_RDR_2017033T114000_V02.LBL")
    assert one.status == "no_io" and one.detections == [] and one.observation is not None
    assert any("no Io in view" in m and "JUPITER" in m for m in one.messages)

    with open_store(f"sqlite:///{tmp_path / 'cat.db'}") as store:
        summary = scan([folder], store=store, workers=0)
        assert summary.n_errors == 0, summary.errors
        assert summary.n_processed == 5
        obs = store.observations_frame().set_index("product_id")
        jupiter = obs.loc[["JIR_IMG_RDR_2017033T114000_V02", "JIR_IMG_RDR_2017033T114001_V02"]]
        assert set(jupiter["status"]) == {"no_io"} and (jupiter["n_detections"] == 0).all()
        io = obs.drop(jupiter.index)
        assert "no_io" not in set(io["status"])
        assert obs.loc["JIR_IMG_RDR_2017033T114009_V02", "n_detections"] >= 1  # its point is searched
        det = store.detections_frame()
        assert len(det) == io["n_detections"].sum() > 0


def test_kernels_decide_when_the_label_names_another_target():
    """Without kernels a Jupiter label means no Io in view; with a SPICE navigation whose predicted disk
    reaches the frame, Io is searched (Io in front of Jupiter)."""
    from types import SimpleNamespace

    frame = SimpleNamespace(
        bands={"M": None},
        metadata={
            "target": {
                "name": "JUPITER",
                "io_in_view": None,
                "io_bands": [],
                "reason": "label target JUPITER, not Io",
            }
        },
    )
    assert io_in_view(frame).in_view is False
    near = np.full((4, 4), -20.0)
    far = np.full((4, 4), -5000.0)
    nav = SimpleNamespace(
        source="spice", pointing_error_px=150.0, backplanes={"M": {"limb_distance_px": near}}
    )
    assert io_in_view(frame, nav).in_view is True
    nav.backplanes = {"M": {"limb_distance_px": far}}
    assert io_in_view(frame, nav).in_view is False


class _Plane(dict):
    """Backplanes as :func:`io_in_view` reads them: ``limb_distance_px`` and the limb's ellipse."""

    limb_conic_px = None


def _disk_beyond_the_top(gap_px: float) -> _Plane:
    """A 128 × 432 band whose predicted disk (radius 40 px) lies ``gap_px`` beyond its first line."""
    radius, cx, cy = 40.0, 200.0, -gap_px - 40.0
    lines, samples = np.mgrid[0:128, 0:432].astype(float)
    plane = _Plane(limb_distance_px=radius - np.hypot(samples - cx, lines - cy))
    plane.limb_conic_px = np.array([[-1.0, 0.0, cx], [0.0, -1.0, cy], [cx, cy, radius**2 - cx**2 - cy**2]])
    return plane


def test_an_io_label_is_believed_up_to_the_pointing_bound_a_jupiter_label_only_within_one_sigma():
    """An unregistered frame whose predicted disk lies 100 px beyond it along track (the prior: 1σ 51 px,
    bound 8 × 147 px): searched when its label names Io (detection searches the bound's box), not when the
    label names Jupiter; beyond the bound neither."""
    from types import SimpleNamespace

    def frame(name, in_view):
        reason = "label target IO" if name == "IO" else f"label target {name}, not Io"
        t = {"name": name, "io_in_view": in_view, "io_bands": ["M"] if in_view else [], "reason": reason}
        return SimpleNamespace(bands={"M": None}, metadata={"target": t})

    def nav(gap_px):
        return SimpleNamespace(
            source="spice",
            registered=False,
            prior=SimpleNamespace(max_px=(8.0, 147.0)),
            pointing_error_px=51.0,
            backplanes={"M": _disk_beyond_the_top(gap_px)},
        )

    io, jupiter = frame("IO", True), frame("JUPITER", None)
    assert io_in_view(io, nav(100.0)).in_view is True
    assert io_in_view(jupiter, nav(100.0)).in_view is False
    assert io_in_view(jupiter, nav(30.0)).in_view is True  # Io in front of Jupiter, within 1σ
    assert io_in_view(io, nav(160.0)).in_view is False
    assert "bound" in io_in_view(io, nav(160.0)).reason
