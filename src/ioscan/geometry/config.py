"""Navigation settings (:class:`NavigateConfig`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NavigateConfig:
    """Settings of navigation (:func:`ioscan.geometry.navigate.navigate_frame` and the hot-spot registration
    that follows detection, :func:`ioscan.geometry.navigate.register_on_hot_spots`).

    Attributes:
        register: re-register the pointing (limb, then known hot spots); JIRAM's reconstructed pointing can
            be off by ~2° along track.
        register_hot_spots: register frames without a usable limb on known hot spots.
        anchors: the known hot spots: "shipped" (the published tables shipped with ioscan), a CSV path
            (e.g. ``ioscan export hotspots`` of a catalogue refined on limb-registered frames: ``lat_deg``,
            ``lon_w_deg``, ``lat_err_deg``, ``lon_err_deg``), "shipped+FILE.csv" for both, or "none".
        chain: within a scan, register frames on the detections of frames of the same orbit registered
            before (limb or hot spots), in a second pass.
        chain_window_s: frames at most this far apart in time are chained, s.
        min_matches: distinct known hot spots a registration needs.
        max_false_match_prob: largest false-match probability a registration may have.
        anchor_detect_prob: probability that a known hot spot in view is detected (variability, fading,
            blends, edges) when its brightness is unknown (or with ``anchor_detect_model="constant"``);
            lower values make the matcher trust missing detections less.
        anchor_detect_model: "brightness": each known hot spot's detection probability from its catalogue
            brightness, the frame's range and emission angle and the band's noise
            (:mod:`ioscan.geometry.detectability`); "constant": ``anchor_detect_prob`` for all.
        min_snr: detections weaker than this are not matched.
        centroid_floor_px: 1σ added to every centroid in matching (extended sources at close range), px.
        saturated_centroid_px: 1σ added to saturated centroids in matching, px.
        edge_centroid_px: 1σ added in matching to the centroids of sources cut by the frame's edge, px.
        same_source_px: detections closer than this (px) may be one source (split, extended, or a source
            and its artefact): at most one of them is matched.
        posterior_samples: an unregistered frame's pointing uncertainty is the matcher's posterior (the
            prior weighted by what the detections say); False: the prior alone.
        n_pointing_samples: draws of the pointing error propagated into positions and intensities.
    """

    register: bool = True
    register_hot_spots: bool = True
    anchors: str = "shipped"
    chain: bool = True
    chain_window_s: float = 3600.0
    min_matches: int = 2
    max_false_match_prob: float = 0.01
    anchor_detect_prob: float = 0.5
    anchor_detect_model: str = "brightness"
    min_snr: float = 5.0
    centroid_floor_px: float = 0.5
    saturated_centroid_px: float = 1.0
    edge_centroid_px: float = 3.0
    same_source_px: float = 8.0
    posterior_samples: bool = True
    n_pointing_samples: int = 400

    def __post_init__(self) -> None:
        if not 0.0 < self.anchor_detect_prob < 1.0:
            raise ValueError(f"anchor_detect_prob must be in (0, 1), not {self.anchor_detect_prob}")
        if self.anchor_detect_model not in ("brightness", "constant"):
            raise ValueError(
                f'anchor_detect_model must be "brightness" or "constant", not {self.anchor_detect_model!r}'
            )
        if not 0.0 < self.max_false_match_prob < 1.0:
            raise ValueError(f"max_false_match_prob must be in (0, 1), not {self.max_false_match_prob}")
        if self.min_matches < 1 or self.n_pointing_samples < 16:
            raise ValueError("min_matches must be ≥ 1 and n_pointing_samples ≥ 16")
