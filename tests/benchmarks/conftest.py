"""Shared scenes of the benchmark studies' tests."""

from __future__ import annotations

import pytest

from ioscan.simulate.independent import (
    DetectorParams,
    HotSpotParams,
    Photometry,
    SceneParams,
    view_geometry,
)


@pytest.fixture(scope="session")
def clean_sunlit_scene():
    """A function (range km, disk centre line px) → the independent renderer's parameters of a clean sunlit
    disk: Lambert (Minnaert k = 1), phase 30°, no albedo texture, hot spots, cosmic rays or column pattern."""

    def params(range_km: float, center_line_px: float) -> SceneParams:
        view = view_geometry(
            range_km=range_km,
            center_sample_px=200.0,
            center_line_px=center_line_px,
            phase_deg=30.0,
            sun_azimuth_deg=90.0,
        )
        return SceneParams(
            seed=3,
            view=view,
            hot_spots=HotSpotParams(n_surface_mean=0.0, limb_sources_mean=0.0),
            detector=DetectorParams(cosmic_rays_mean=0.0, column_gain_rms=0.0, column_offset_rms_w_m2_sr=0.0),
            photometry=Photometry(minnaert_k=1.0),
            albedo_contrast=1e-6,
        )

    return params
