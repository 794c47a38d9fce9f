"""The limb-following background's S/N maps for ``bench_dayside_bound.py`` (issue 11, day side).

:func:`tangential_maps` gives, for one sunlit band image, the calibrated S/N maps of the joint PSF +
background fit in the limb's local polar frame (benchmarks/tangential_background.py) for the
settings of :data:`VARIANTS`, on the limb circle ioscan's :func:`find_limb` found (None: no map).
Calibration as the bound's other realisable maps (best of the 9 phases ÷ the robust local scale of the
centred phase per limb class, :func:`bench_dayside_bound.calibrated`), except that with ``_masked`` the
pixels within the fit's reach of a peak |S/N| ≥ :data:`MASK_SNR` (the sources' own responses and the
negative side lobes their fits leave along the arc) are left out of the scale, as ioscan leaves its
sources out of its own. ``_limb8``: that map within 0–8 px inside the found limb (where it is defined),
ioscan's own calibrated map everywhere else (the zone where the limb-following fit helps, the rest as is).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from tangential_background import TangentialSettings, tangential_snr

#: name → settings of the maps studied
VARIANTS: dict[str, TangentialSettings] = {
    "tang_t7_d2": TangentialSettings(),
    "tang_t7_d3": TangentialSettings(degree_t=3, max_half_u_px=3.0, radial_fraction=0.15),
}
#: |centred S/N| from which a pixel's fit reach is left out of the local scale (``_masked`` maps)
MASK_SNR = 25.0
#: the limb band's pixels (limb distance ≥ this, px) are given a map; the sky none
MIN_LIMB_DISTANCE_PX = -3.0
#: the ``_limb8`` maps use the limb-following fit at limb distances in this range (px), ioscan's map elsewhere
LIMB_ZONE_PX = (0.0, 8.0)


def masked_for_scale(centred: np.ndarray, reach_px: float) -> np.ndarray:
    """``centred`` with the pixels within ``reach_px`` (box) of a |value| ≥ MASK_SNR set to NaN."""
    strong = np.abs(np.nan_to_num(centred)) >= MASK_SNR
    near = ndimage.maximum_filter(strong, size=2 * int(np.ceil(reach_px)) + 1, mode="constant")
    return np.where(near, np.nan, centred)


def tangential_maps(
    image: np.ndarray,
    var: np.ndarray,
    circle,
    classes: np.ndarray,
    kernels: list[np.ndarray],
    valid: np.ndarray,
    calibrated,
    local_scale,
    ioscan_snr: np.ndarray,
) -> dict[str, np.ndarray]:
    """name → calibrated S/N map (NaN off the disk and its limb band, or everywhere without a limb) for each
    of :data:`VARIANTS`, plain, ``_masked`` and ``_limb8`` with ``ioscan_snr`` (module docstring);
    ``calibrated`` / ``local_scale`` are the bound's functions (passed in: this module is imported by it)."""
    out: dict[str, np.ndarray] = {}
    for name, settings in VARIANTS.items():
        if circle is None:
            out[name] = out[f"{name}_masked"] = np.full(image.shape, np.nan)
            out[f"{name}_limb8"] = ioscan_snr
            continue
        centred, best = tangential_snr(
            image,
            var,
            circle.center_sample,
            circle.center_line,
            circle.radius_px,
            np.array(kernels),
            valid,
            settings,
        )
        depth = circle.distance_px(image.shape)
        inside = depth >= MIN_LIMB_DISTANCE_PX
        out[name] = np.where(inside, calibrated(centred, best, classes), np.nan)
        reach = settings.half_t_px + kernels[0].shape[0] // 2
        scale = local_scale(masked_for_scale(centred, reach), classes)
        out[f"{name}_masked"] = np.where(inside, best / scale, np.nan)
        zone = (depth >= LIMB_ZONE_PX[0]) & (depth <= LIMB_ZONE_PX[1]) & np.isfinite(out[name])
        out[f"{name}_limb8"] = np.where(zone, out[name], ioscan_snr)
    return out
