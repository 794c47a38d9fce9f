"""PNG previews of simulated frames (day-side and night-side JIRAM I1, Keck AO) for a human to look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ioscan.simulate.campaign import FramePlan, simulate_frame, simulate_ground_frame
from ioscan.simulate.population import HotSpotPopulation

PREVIEW_DIR = Path("/tmp/ioscan_previews")


def _plan(sub_obs_dir, name) -> FramePlan:
    return FramePlan(
        product_id=name,
        orbit=43,
        mode="I1",
        time_utc="2022-06-01T16:13:19",
        exposure_s=0.05,
        observer_km=np.asarray(sub_obs_dir, float),
        observer_velocity_km_s=np.zeros(3),
        twist_deg=15.0,
        pointing_error_deg=(0.3, 0.01),
        seed=4,
    )


def _show(ax, img, title):
    pos = img[np.isfinite(img) & (img > 0)]
    scale = np.percentile(pos, 60) if pos.size else 1.0
    ax.imshow(np.arcsinh(img / scale), cmap="gray", origin="upper", interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def test_previews_render_and_look_like_io(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ioscan.simulate.ephemeris import sun_position_body

    sun = sun_position_body("2022-06-01T16:13:19")
    sun_dir = sun / np.linalg.norm(sun)
    day = simulate_frame(_plan(60_000 * sun_dir, "day"), population_seed=2)
    night = simulate_frame(_plan(-60_000 * sun_dir, "night"), population_seed=2)
    pop = HotSpotPopulation(2)
    ao, _, _ = simulate_ground_frame("2022-06-11T10:00:00", "Lp", population=pop, n_pixels=256, seed=1)
    # day side: a bright disk in reflected light; night side: dark disk with hot spots only
    assert np.median(day.bands["L"].noiseless[day.bands["L"].noiseless > 0]) > 0.01
    night_l = night.bands["L"].noiseless
    assert np.percentile(night_l, 50) < 1e-4 and night_l.max() > 1e-2
    out = []
    for name, frame in (("jiram_I1_day", day), ("jiram_I1_night", night)):
        fig, axes = plt.subplots(2, 1, figsize=(7, 4.4))
        for ax, band in zip(axes, ("L", "M"), strict=True):
            _show(ax, frame.bands[band].image, f"{name} {band} band (W m-2 sr-1)")
        fig.tight_layout()
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        out.append(path)
    fig, ax = plt.subplots(figsize=(4, 4))
    _show(ax, ao.image, "Keck AO Lp (W m-2 sr-1 um-1)")
    path = tmp_path / "ao_Lp.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    out.append(path)
    PREVIEW_DIR.mkdir(parents=True, exist_ok=True)
    for p in out:
        assert p.stat().st_size > 5000
        shutil.copy(p, PREVIEW_DIR / p.name)
