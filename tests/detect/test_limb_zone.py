"""detect.limb_zone_min_fit_snr: the PSF-fit S/N floor within a limb profile's reach, on a sunlit frame of the
independent renderer (no geometry: the limb and its profile are found in the image)."""

from independent_frames import sunlit_independent_frame
from ioscan.detect import DetectConfig, DetectionFlag, detect_frame
from ioscan.detect.limb_profile import SKY_REACH_PX, ZONE_REACH_PX


def test_floor_flags_only_detections_in_the_limb_zone_below_it():
    """With the floor at 8, exactly the detections within the zone (their limb distance −4 … 13 px) whose fit
    S/N is below 8 become ARTEFACT; every other detection keeps its flags; position, flux and S/N of all are
    unchanged (the floor only flags)."""
    frame = sunlit_independent_frame()
    # the limb-ridge test's shape comparison off: it runs before the floor and takes its detections
    shape_off = {"limb_ridge_min_psf_gain": None, "limb_ridge_shape_max_gain": None}
    base = detect_frame(frame, config=DetectConfig(**shape_off)).detections
    floored = detect_frame(frame, config=DetectConfig(limb_zone_min_fit_snr=8.0, **shape_off)).detections
    assert len(base) == len(floored) and len(base) > 0
    n_new = 0
    for a, b in zip(base, floored, strict=True):
        assert (a.sample, a.line, a.snr) == (b.sample, b.line, b.snr)
        d = a.extra["limb_distance_px"]
        in_zone = d is not None and -SKY_REACH_PX <= d <= ZONE_REACH_PX
        quiet = a.flags & (DetectionFlag.ARTEFACT | DetectionFlag.COSMIC_RAY)
        if in_zone and not quiet and a.snr < 8.0:
            assert b.flags == a.flags | DetectionFlag.ARTEFACT
            n_new += 1
        else:
            assert b.flags == a.flags
    assert n_new > 0
