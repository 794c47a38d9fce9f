"""A test frame shared by the navigation tests and the limb-fit phase study's test."""

from __future__ import annotations

import numpy as np

from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.records import BandImage, Frame, LabelGeometry


def shifted_disk_frame(blank: bool = False) -> Frame:
    """A 256 × 256 Lambert disk 6.3 px right of its label's position, noise σ 0.01 (blank: noise only)."""
    true = LabelGeometry(0.0, 200.0, 0.0, 230.0, 6.0e8, 0.0, 30.0, 134.3, 128.0)
    bp = backplanes_from_label(true, 256, 256)
    mu0 = np.cos(np.radians(np.nan_to_num(bp["incidence_deg"], nan=90.0)))
    image = np.where(bp.on_disk & (not blank), np.clip(mu0, 0, None), 0.0)
    image = image + np.random.default_rng(3).normal(0, 0.01, image.shape)
    return Frame(
        "NIRC2_TEST",
        "NIRC2",
        "EARTH",
        "2020-01-01T00:00:00",
        1.0,
        {"Lp": BandImage("Lp", image.astype(np.float32), "W m-2 sr-1 um-1", 3.78, 0.7)},
        label_geometry=LabelGeometry(**{**true.__dict__, "disk_center_sample": 128.0}),
    )
