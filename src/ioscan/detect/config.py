"""Detection settings (:class:`DetectConfig`) and the instrument's default PSF."""

from __future__ import annotations

from dataclasses import dataclass

from ioscan.detect.psf import PsfModel


def default_psf(
    instrument: str, wavelength_um: float, *, plate_scale_arcsec: float | None = None
) -> PsfModel:
    """The instrument's PSF model from the registry (:meth:`ioscan.instruments.Instrument.psf`)."""
    from ioscan.instruments import get_instrument

    model = get_instrument(instrument).psf(wavelength_um, plate_scale_arcsec=plate_scale_arcsec)
    return PsfModel(model.weights, model.sigmas_px)


#: values of ``DetectConfig.disk_model``
DISK_MODEL_MODES = ("off", "regions", "band", "flat")


@dataclass
class DetectConfig:
    """Settings of :func:`ioscan.detect.detect_frame`.

    Attributes:
        psf: PSF model (:class:`~ioscan.detect.psf.PsfModel`) or Gaussian σ in pixels, for every band or
            as a dict band → model/σ; None for the instrument default (:func:`default_psf`).
        threshold_snr: detection threshold on the calibrated matched-filter S/N (see
            :mod:`ioscan.detect.background`). A 128 × 432 frame searched whole (as a frame without a disk in
            view is) holds ~0.15 noise peaks above 4.5, ~0.07 above 5 (the ideal matched filter: 0.064) and
            ~0.03 above 5.2, and unflagged faint cosmic-ray hits add ~0.02: 5.2 keeps such frames at ≲ 0.05
            false detections each (benchmarks/bench_generalise.py, night side). bench_detect.py, whose search
            regions are the disks of I1 frames, picks its own threshold for that rate (4.51 before).
        limb_halfwidth_px: half-width of the (bright) limb band left out of the search and fits (None:
            1.5 σ + 0.5 px, plus the excess of ``pointing_error_px`` over 0.5 px when the limb comes from the
            geometry).
        local_window_px: block size of the local scale of the matched-filter output (averaged over 3 × 3
            blocks; None: max(8, 4 σ_core) px).
        saturation_margin: fraction below saturation at which a pixel counts as saturated (5 %).
        saturated_frame_fraction: valid-pixel fraction at saturation that makes a band "saturated".
        near_limb_px: |limb distance| below which a detection is flagged NEAR_LIMB (None: 2 σ + 1).
        search_margin_px: with a disk known, search only pixels within this distance outside the limb
            (None: 3 σ + pointing_error_px); hot spots are on Io.
        pointing_error_px: 1-σ pointing error of the geometry, pixels: widens the limb band, and beyond
            3 px the limb is found in the data (1.0 by default; a scan passes its navigation's).
        pointing_reach_px: (sample, line) px, the farthest the true scene may lie from the geometry's (the
            pointing prior's bound; a scan passes it for frames not registered): where the limb is not taken
            from the geometry, only the geometry's disk grown by this and the margin is searched
            (:func:`ioscan.detect.region.reach_box`); None: the whole band.
        check_geometry_limb: compare the geometry's limb with the sharp limb seen in the image
            (:func:`ioscan.detect.limb.geometry_limb_offset_px`); beyond max(1 px, 3 × the pointing error)
            the image's limb is used for the background regions and the geometry only for positions.
        limb_profile_with_geometry: where the geometry's limb stands (its check passed) and a sharp limb of
            radius ≥ :data:`ioscan.detect.region.GEOMETRY_CIRCLE_MIN_RADIUS_PX` is also seen in the image
            along it (:func:`ioscan.detect.limb.find_limb`, not soft, within
            :data:`ioscan.detect.region.GEOMETRY_CIRCLE_AGREE_PX` of the geometry's limb), that circle is kept
            as the image's limb: its measured profile shapes the background in the limb zone on top of the
            geometry's shading, the bright limb band is searched, and the PSF and limb-ridge rules of a limb
            seen apply (:func:`ioscan.detect.region.locate_limb`). The geometry still sets the regions, the
            search region and what is off the disk. Off by default (issue 11: on the independent renderer
            given its exact geometry, ``bench_generalise --geometry``, +4–6 points at S/N ≥ 7 but the false
            rate −0.09 / +0.08 per frame on two seeds; the project's simulator unchanged in ``bench_detect``,
            its demo −1 hot spot recovered).
        geometry_lit_model_core: narrow PSFs: where the geometry's limb stands and its sunlit disk holds at
            least :data:`ioscan.detect.shading.MIN_SUNLIT_PIXELS` pixels, the core measured on the frame
            (where it differs from the model's) takes the fluxes only, and the model's core detects
            (background annuli, matched filter, fits, spike test), as where a limb is seen in the image
            (``psf_filter_where_limb_seen`` off): on textured sunlit ground the annuli sized for the model's
            core follow the ground better, and a core measured there can be far off (1.3 px for a true 0.8).
            On by default (issue 11; the independent renderer's 125 sunlit frames given its exact geometry,
            ``bench_generalise --geometry``: 0.520 / 0.049 / 0.272 → 0.574 / 0.057 / 0.216, S/N ≥ 7 / 5–7 /
            false per frame; held-out seed 47 0.586 / 0.068 / 0.312 → 0.606 / 0.077 / 0.304; night frames and
            the project's simulator, ``bench_detect``, bit for bit).
        limb_profile_with_geometry_soft: with ``limb_profile_with_geometry``, keep a soft image limb too (a
            limb darkened into its edge, whose steepest rise lies up to ~1 px inside the true limb) where it
            agrees with the geometry's; the agreement test still tells a terminator taken for the limb.
        limb_profile_with_geometry_min_radius_px: with ``limb_profile_with_geometry``, the smallest radius
            (px) of an image limb kept (None: :data:`ioscan.detect.region.GEOMETRY_CIRCLE_MIN_RADIUS_PX`).
            With the two above and ``use_shading`` off, detection given the geometry models the sunlit disk
            as detection without it does (issue 11; renderer, 125 sunlit frames: 0.624 / 0.066 / 0.112, S/N
            ≥ 7 / 5–7 / false per frame; seed 47 0.700 / 0.094 / 0.104, where no geometry gives 0.654 /
            0.074 / 0.120 and 0.696 / 0.094 / 0.160); not a default, the project's simulator needs its
            shading template (its surface follows the template's law).
        shading_limb_mismatch: narrow PSFs, the geometry's limb standing: where a limb is also seen in the
            image along it (soft or not, any radius) and the geometry's shading template misses its measured
            shape 0–3 px inside the limb by more than this (as a fraction of the disk's level 10 px in,
            :func:`ioscan.detect.limb_profile.template_limb_mismatch`), the template is not used on that
            band: the limb's measured profile and the local background model the disk, as without geometry
            (:attr:`ioscan.detect.region.Limb.image_model`). None (default): the template always. 0.1 on the
            renderer's 125 sunlit frames: 0.574 / 0.057 / 0.216 → 0.600 / 0.057 / 0.136; seed 47 0.606 /
            0.077 / 0.304 → 0.655 / 0.077 / 0.144; but on the project's simulator its small far disks
            (radius 23–31 px) switch too: ``bench_detect 5 0`` day far gains 0.2 false per frame and the
            pooled threshold rises 4.64 → 4.73 (S/N 3–5 0.155 → 0.107, 5–7 0.536 → 0.522), the demo loses a
            detection and a hot spot (874 / 223, 85 of 85 recovered), so not a default.
        shading_foreign_law: narrow PSFs, the geometry's limb standing: where the sunlit disk's own pixels
            0–3 px inside the limb follow another law than the template's
            (:func:`ioscan.detect.shading.law_differs`: Minnaert k refitted with μ floored at 0.3, or 0.2
            where that k is implausible, and the template's own law, both with the limb's and the
            terminator's edges integrated over 3 × 3 sub-pixels, leave a misfit
            :data:`ioscan.detect.shading.FLOOR_MARGIN` smaller than the pixel-centre law's), the template is
            not used on that band: the image's own model of the disk instead
            (:attr:`ioscan.detect.region.Limb.image_model`: the limb's measured profile; only where a limb is
            seen in the image along the geometry's). The project's simulator (its surface follows the
            template's law) never switches. On by default (issue 11: the renderer's 125 sunlit frames given
            its geometry 0.574 / 0.057 / 0.216 → 0.600 / 0.049 / 0.152, S/N ≥ 7 / 5–7 / false per frame,
            seed 47 0.606 / 0.077 / 0.304 → 0.651 / 0.077 / 0.144; ``bench_detect 5 0`` 20 of 20 frames
            identical; the test, made on the limb zone and the blur's reach of it, costs a few ms CPU per
            sunlit band; docs/studies/day-side-detection.md, *The geometry path on foreign sunlit
            surfaces*, and docs/architecture.md, *The foreign law's test, cheap and on*).
        geometry_dark_limb_unsplit: narrow PSFs, the geometry's limb standing and no pixel of the frame
            sunlit (night side, or Io in Jupiter's shadow): where the disk just inside the limb band and the
            sky just outside differ by less than ``DARK_LIMB_STEP_SIGMA`` pixel-noise σ in their medians over
            the whole limb, the background sees no limb at all (as without geometry: the band searched, no
            sky/disk regions); the geometry still sets the search region and the flags. Without it the
            band's per-place test (:func:`ioscan.detect.background.dark_limb`, box means) is raised by the
            hot spots on the limb themselves and leaves them in the unsearched band. On by default (issue
            11; renderer night, 124 frames given the geometry: 0.907 / 0.345 / 0.016 → 0.965 / 0.471 /
            0.016; seed 47 0.920 / 0.257 / 0.016 → 0.977 / 0.330 / 0.016; ``bench_detect 20 0`` night far
            0.170 / 0.841 / 1.0 / 0.976 → 0.223 / 0.873 / 1.0 / 0.981 at S/N 3–5 / 5–7 / 7–10 / ≥ 10, the
            other configurations and the demo unchanged).
        cosmic_ray_dchi2: χ² advantage of a 1–3-pixel connected spike over the PSF above which a source is
            flagged COSMIC_RAY (a likelihood-ratio test); None: calibrated for the PSF in use so that a true
            source at the detection threshold reaches it with probability 3 %
            (:func:`ioscan.detect.find.spike_threshold`: 10.7–12.2 for Gaussian cores of 0.6–1 px); see
            also ``cosmic_ray_dchi2_floor``.
        drop_cosmic_rays: remove COSMIC_RAY-flagged sources from the list instead of keeping them flagged.
        deblend_saddle_snr: two maxima are distinct sources when the matched-filter S/N dips by at least
            this much (or 10 % of the fainter peak) between them.
        max_sources: cap on detections per band (brightest kept; a message says so).
        use_shading: with geometry and a narrow PSF (JIRAM), divide the sunlit disk by its expected Minnaert
            shading (k fitted per band, :mod:`ioscan.detect.shading`) before the local background, so the
            steep bright limb is followed (not for broad AO PSFs, where it raised the false rate).
        use_limb_profile: where the limb comes from the image (no geometry, or one the image disagrees with)
            and a sharp bright limb is seen (narrow PSFs), measure its radial profile along it and let the
            background follow it (:mod:`ioscan.detect.limb_profile`). With a geometry the expected Minnaert
            shading does that job (``use_shading``).
        search_limb_band: with a measured limb profile, search the bright limb band too (hot spots at emission
            angles of 80–90° sit in it). On by default since the along-limb clutter and side tests catch the
            band's misfits (issue 11; with ``limb_zone_own_scale_px`` 4 and those tests, 250 sunlit renderer
            frames 0.608 / 0.081 / 0.308 → 0.650 / 0.068 / 0.292, S/N ≥ 7 / 5–7 / false per frame; held-out
            seed 47 0.610 / 0.078 / 0.384 → 0.660 / 0.065 / 0.368; README). Alone, without those tests, it
            traded: +34 hot spots for +64 false detections on the limb.
        limb_ridge_chi2: within a limb profile's reach of a limb seen in the image, a detection whose PSF
            fit χ²/dof exceeds this (scaled for PSF-model error,
            :func:`ioscan.detect.artefacts.flag_limb_ridges`) is flagged ARTEFACT: a residual of the limb, not
            a point source. None: no such test.
        limb_ridge_min_psf_gain: the limb-ridge χ² test (``limb_ridge_chi2``) leaves alone a detection that a
            point source fits this much better than a ridge along the limb: (χ²_ridge − χ²_psf) / χ²_psf
            over ±4 px along the limb, ±2.5 px across (:func:`ioscan.detect.misfits.psf_over_ridge_gain`).
            None: off. 0.65 by default, with ``limb_ridge_shape_max_gain`` 0.35 (issue 11, 125 sunlit renderer
            frames: 0.650 / 0.057 / 0.240 → 0.650 / 0.057 / 0.208, S/N ≥ 7 / 5–7 / false per frame; held-out
            seed 47 0.663 / 0.103 / 0.280 → 0.669 / 0.103 / 0.248).
        limb_ridge_shape_max_gain: within the limb-ridge χ² test's zone, a detection whose gain (as
            ``limb_ridge_min_psf_gain``) is below this is flagged ARTEFACT whatever its χ²: a ridge along the
            limb fits it about as well as a point source — unless a point source on top of the best ridge
            keeps S/N ≥ 5.2 (:func:`ioscan.detect.misfits.point_beyond_ridge_snr`,
            :data:`ioscan.detect.artefacts.LIMB_POINT_MIN_SNR`: a source beside or on the limb's residual; the
            χ² test still applies to it). None: off.
        remove_column_streaks: JIRAM: subtract the down-track streaks of very bright sources, found in the
            data (:mod:`ioscan.detect.columns`), before the background.
        textured_ground_option: on a sunlit disk (shading in use), also offer per pixel a quartic background
            over the small annulus (:func:`ioscan.detect.background.filter_options`). In the benchmark it
            raised completeness at SNR ≥ 10 on the texture-limited far day side from 0.14 to 0.24, but its
            false detections there (0.06 → 0.12 per frame) raised the pooled threshold from 4.51 to 4.63 and
            cost night-side completeness (far, SNR 7–10: 0.96 → 0.94); off by default.
        subtract_and_search: after the first pass, subtract its sources with the full PSF and search again
            near the bright ones (:mod:`ioscan.detect.second_pass`): faint neighbours a few pixels from bright
            hot spots.
        estimate_psf: measure the PSF on the frame's bright, isolated, unsaturated sources before detection
            (:mod:`ioscan.detect.psf_estimate`) and, when its core differs from the model's by more than 10 %,
            detect with the measured core width (where a limb is seen only with
            ``psf_filter_where_limb_seen``); only for core-dominated models (core ≥ 90 % of the flux:
            JIRAM's, not an AO core beside its halo).
        psf_model_error: relative error f of the PSF model assumed by the second pass: its S/N is divided by
            √(1 + (f · S/N of the subtracted model)²): PSF mismatch around a bright source makes no sources.
        psf_elongation: with ``estimate_psf``, keep the measured core's elongation (σ_line / σ_sample, when it
            differs from 1 by more than 15 %) in the matched filter and the fits (an axis-aligned elongated
            core, :attr:`ioscan.detect.psf.PsfModel.elongation`); False: a round core of the geometric-mean
            width, as before.
        cosmic_ray_dchi2_floor: None (default): one spike-test threshold, calibrated at ``threshold_snr``. A
            number: calibrate it at each source's own matched-filter S/N as well
            (:mod:`ioscan.detect.spike_calibration`), never below this floor (nor above the single one).
            Off by default: with 8 it removed 4 of seed 7's 15 night-side hit remnants on the independent
            renderer but cost 0.6–0.8 % of completeness at S/N ≥ 7 there, and on the project's simulator
            (``bench_detect`` frames, JIRAM's 0.6-px core with its halo) it flagged 30 true hot spots and no
            false detection in 100 frames (completeness at S/N 7–10 0.706 → 0.671).
        source_ring_mask: leave clear sources (filtered S/N > 10 × the local scale) with every pixel their
            filtered response reaches through the background annulus (a box out to its outer edge + 2 px) out
            of the local noise scale, away from the limb and the frame edges
            (:mod:`ioscan.detect.background`). Without it the annulus' negative ring counts as noise: cores
            ≳ 1 px lose 15–20 % of their S/N on white noise (0.83 / 0.82 of the ideal at σ 1.0 / 1.2 px;
            0.93 / 0.95 with it). Off by default: on the independent renderer's sunlit frames it raised the
            false rate (0.65 → 0.74 per frame, on the disk) for no completeness gain at S/N ≥ 7; on its night
            frames it found more at S/N 5–7 (0.465 → 0.494, false rate unchanged; an earlier form of it).
        limb_fit: in a measured limb profile's zone (a bright limb seen in the image), take the S/N from a
            joint fit per pixel of the PSF amplitude and a background free across the limb (linear B-splines
            in limb distance ``limb_fit_knot_px`` apart × the measured profile, each × a polynomial of degree
            ``limb_fit_knot_degree`` along a (2 ``limb_fit_half_px`` + 1)² window, and a sub-pixel shift of
            the limb; :mod:`ioscan.detect.localfit`). Off by default: told the true background its noise
            scale near the limb is ~1 (the annulus background's 1.3–2.5), but the freedom costs as much S/N
            in white noise; on the independent renderer's 100 sunlit frames (default seed) 0.573 / 0.058 /
            1.10 (S/N ≥ 7 / 5–7 / false per frame) against 0.604 / 0.068 / 0.64, at ~4× the detection time
            of a sunlit frame (docs/studies/day-side-detection.md, *Local joint fits, tried*). Frames
            without a limb profile (night side; frames whose geometry's limb the image confirms) are not
            changed by it.
        limb_fit_half_px: the limb fit's window half-size (px).
        limb_fit_knot_px: the limb fit's knot spacing across the limb (px).
        limb_fit_knot_degree: each knot's value varies over the window as a polynomial of this degree (1:
            0.617 / 0.058 / 1.24 on the same frames).
        limb_zone_min_fit_snr: within a limb profile's reach of a limb seen in the image (as
            ``limb_ridge_chi2``), a detection whose PSF fit's S/N is below this is flagged ARTEFACT (None:
            only the everywhere floor of :data:`ioscan.detect.artefacts.MIN_FIT_SNR`). Off by default, a
            trade: on the independent renderer's 100 sunlit frames (default seed) 2 gives 0.589 / 0.068 /
            0.47 (S/N ≥ 7 / 5–7 / false per frame), 3 gives 0.583 / 0.068 / 0.42, against 0.604 / 0.068 /
            0.64 (false detections on the limb 0.35 → 0.21 / 0.18); on 500 sunlit frames 2 gives 0.592 /
            0.098 / 0.63 against 0.603 / 0.098 / 0.76 (on the limb 0.37 → 0.26).
        edge_min_fit_fraction: at the frame edge (flagged EDGE), a detection whose PSF fit keeps less than
            this fraction of its matched-filter S/N is flagged ARTEFACT
            (:func:`ioscan.detect.artefacts.flag_edge_unconfirmed`: the edge reflection's misfit where a
            sunlit limb or a gradient crosses the edge). None (default): no such test. See the README for
            its numbers on the independent renderer.
        psf_one_source_snr: with ``estimate_psf``, where no limb is seen in the image, a single isolated
            source of fitted S/N ≥ this measures the PSF's core width (elsewhere two sources, or one of S/N ≥
            100, are needed; a single source's elongation is not used). With a core sharper than the data,
            faint 1–3-pixel cosmic-ray hits fit as sources: on the independent renderer's night frames 13 of
            14 hit remnants sat on frames that had kept the model (0.6 px; truth 0.8). Not on frames with a
            limb in the image: there the measured core cost the sunlit side 2 points of completeness at S/N
            ≥ 7 and 0.08 false detections per frame (the limb band, profile and background were tuned with
            the model's core; README). None: two sources everywhere, as before.
        psf_spike_one_source_snr: with ``estimate_psf``, let the cosmic-ray spike test compare sources with
            the core measured on the frame wherever it is measured, a single isolated source of fitted S/N ≥
            this sufficing even where a limb is seen (amplitudes refitted with that core); the matched filter,
            background and fits keep their rules. None (default): the spike test uses the filter's core. Not
            a default: the spike test reads the small annulus' residual, which on sunlit ground keeps too
            little of a σ-0.8-px core's wings for the measured core to describe it; with 15 the independent
            renderer's 125 sunlit frames went 0.637 → 0.622 complete at S/N ≥ 7 (true hot spots flagged as
            hits 1.3 % → 2.6 %), hit remnants 6 → 5; with the true core forced in, 0.611 (4.5 % flagged),
            remnants 2.
        psf_filter_where_limb_seen: where a limb is seen in the image, let the core measured on the frame
            replace the model's in the background, matched filter and fits (as where none is seen). False
            (default): there the model's core stays (the spike test too). On the independent renderer's
            sunlit frames the background's small annulus, sized for the model's 0.6-px core, follows the
            textured ground better than one sized for the measured core, which outweighs the filter's shape
            loss (PSF match 0.886): forcing the true core (0.8 px) on all 125 frames cost 0.637 → 0.568 at
            S/N ≥ 7 (local scale 1.21 → 1.53 at 8–20 px from the limb). True → False, 125 sunlit frames:
            0.637 / 0.049 / 0.248 false per frame → 0.641 / 0.066 / 0.216; held-out seed 47 0.649 / 0.068 /
            0.312 → 0.661 / 0.077 / 0.264; PSF width jitter 0.3 and elongation 1.4 0.507 / 0.033 / 0.288 →
            0.515 / 0.033 / 0.224; 124 night frames unchanged (0.965 / 0.479 / 0.032).
        psf_annuli_model_core: where a limb is seen in the image and the core measured on the frame replaces
            the model's (``psf_filter_where_limb_seen``), the background annuli, the limb band left out of the
            search and the cosmic-ray spike test (which reads the small annulus' residual) stay sized for the
            model's core, while the matched filter, fits and photometry take the measured one. Not a default
            (independent renderer, 125 sunlit frames, S/N ≥ 7 / 5–7 / false per frame): with
            ``psf_filter_where_limb_seen`` 0.641 / 0.066 / 0.216 → 0.632 / 0.066 / 0.264; the true core
            (0.8 px) forced on every frame 0.568 / 0.049 / 0.248 with annuli of 0.8 px, 0.622 / 0.082 /
            0.248 with these (PSF match 0.886 → 1.007, local scale at 8–20 px from the limb 1.15 → 1.25
            instead of 1.53; beyond 8 px 0.856 → 0.862 complete, within 8 px 0.485 → 0.448: the limb zone's
            code, tuned with the model's core, loses sources on the limb itself).
        flux_psf_where_limb_seen: where a limb is seen in the image and detection keeps the model's core
            (``psf_filter_where_limb_seen`` off), measure the core on the band's bright isolated sources (two,
            or one of S/N ≥ 100) and, where it differs from the model's by > 10 %, take each detection's flux
            and flux error from it (the ratio of the measured core's fit to the model's on the same residual,
            :mod:`ioscan.detect.photometry_psf`); positions, S/N and flags stay the model's. Default on: with
            the model's core the independent renderer's sunlit fluxes without geometry were 20–26 % low.
        spike_measured_core: where a limb is seen and the fluxes take a core measured on the frame
            (``flux_psf_where_limb_seen``: single sources or the stack), a second cosmic-ray spike test on the
            final detections with that core (amplitudes refitted with it, threshold calibrated for it),
            flagging COSMIC_RAY where it says so. Not a default: on the independent renderer's 250 sunlit
            frames (two seeds) it removed 5 false detections and lost 18 true hot spots of S/N ≥ 7 (with
            ``spike_measured_core_model_dchi2`` 2: 4 and 4); 8 of the 13 cosmic-ray remnants sit on frames
            with no measured core (docs/studies/night-side-psf-and-noise.md, *A second spike test with the
            fluxes' measured core*).
        spike_measured_core_model_dchi2: with ``spike_measured_core``, flag only detections whose spike
            test with the model's core (``extra["spike_dchi2"]``) also exceeds this advantage (None: any).
        unmeasured_psf_width_margin: where a narrow (core σ < 2 px) PSF was not measured on the frame
            (``estimate_psf`` off, or no source fit to measure it), the background annuli are sized
            for a core this many times wider than the model's (the matched filter keeps the model's core):
            a true core wider than the model's otherwise leaves its wings in the small annulus, which then
            absorbs part of the flux. 1.0 (default): the model's core. Where the PSF was measured, nothing
            changes. Not a default: 1.3 cost the independent renderer's 500 sunlit frames 0.601 → 0.564 at
            S/N ≥ 7 (false 0.774 → 0.790; the wider annulus follows the sunlit disk's curvature less well)
            and left its night frames unchanged within noise (docs/studies/night-side-psf-and-noise.md,
            *Annuli for an unmeasured PSF's plausible width, tried*).
        keep_source_pixels: on sunlit ground (a shading template or a limb profile in use; narrow PSFs),
            the photometry's background under a source of first-fit S/N ≥ 100 that is not a cosmic-ray hit
            takes its own outlier pixels (core and wings, within 3 px) as they are, not replaced by the mean
            of the ground around (:func:`ioscan.detect.background.source_residual`; the effective PSF models
            it). Replaced, a bright source's ~6 × 6-px hole on textured sunlit ground put ±2 % of its flux
            under it (``benchmarks/bench_source_leak.py``). Off by default, a trade: on the simulator's
            campaign (seed 20261208) the L band's bright fluxes scatter less (S/N 300–3,000: 2.2 % → 1.7 %)
            but the bright sources' fit χ² rises ~10× and measurement's χ²-excess error term with it (pulls
            of S/N ≥ 300 fall to 0.3–0.7); README. The S/N map and the search do not change.
        edge_limb_step: narrow PSFs: within the small background annulus' reach of the frame edge and
            within the limb band's half-width + 1 px of the limb, a detection whose net peak is below half
            the limb's local step height is flagged ARTEFACT
            (:func:`ioscan.detect.misfits.flag_edge_limb_steps`: the edge's reflection does not continue a
            limb crossing it obliquely, and the limb's place there is extrapolated). See the README (issue 11
            part 2) for its numbers.
        limb_band_step_test: with ``search_limb_band`` (narrow PSFs), a detection within the limb band's
            half-width of the limb whose net peak is below half the limb's local step is flagged ARTEFACT (the
            edge test's rule, :func:`ioscan.detect.misfits.flag_edge_limb_steps`, along the whole limb: the
            measured profile's misplacement leaves a fraction of the step). Off by default; its numbers are in
            the README (issue 11 part 2).
        ridge_test: narrow PSFs: flag ARTEFACT the detections lying on a ridge of the S/N map
            (``ridge_max_fraction``); False: no such test.
        ridge_max_fraction: narrow PSFs: a detection whose S/N map keeps at least this fraction of its peak
            on both sides 3 px (≥ 4 σ_core) away along some direction lies on a ridge — the terminator's foot,
            a limb ridge, an albedo edge that the local background does not follow — and is flagged ARTEFACT
            (:func:`ioscan.detect.misfits.flag_ridges`; a point source's filtered response is gone there).
            Only where the background estimate varies by ≥ 5 white-noise σ within 4 px (structure to misfit).
            The map is read around its largest value in the 3 × 3 pixels at the fitted position (a fit beside
            the unsearched limb band lands where the map is 0).
        along_limb_test: narrow PSFs with a limb distance map (geometry or an image limb): a detection within
            10 px of the limb whose residual (data − background) keeps, at its own limb distance 3–8 px away
            along the limb, a median of at least ``along_limb_max_fraction`` of its peak is the limb model's
            misfit (a misplaced or misshapen limb profile leaves a residual that runs along the limb; a point
            source's is gone 3 px away) and is flagged ARTEFACT
            (:func:`ioscan.detect.misfits.flag_along_limb`; only where the background varies by ≥ 5
            white-noise σ within 4 px). Numbers: README (issue 11).
        along_limb_max_fraction: that fraction.
        edge_plateau_test: narrow PSFs: a detection whose residual peak lies within 1 px of the frame edge and
            whose residual 3 px along the edge keeps at least ``edge_plateau_max_fraction`` of the peak on one
            side is flagged ARTEFACT (:func:`ioscan.detect.misfits.flag_edge_plateaus`: beyond the edge the
            background is a reflection of the edge rows, which does not follow sunlit ground that keeps
            changing past the edge, and leaves a plateau along the edge row; a point source's residual is
            gone 3 px away); only where the background varies by ≥ 5 white-noise σ within 4 px.
        edge_plateau_max_fraction: that fraction.
        white_noise_d2: fit the white (read + shot) noise to the separable second difference [1, −2, 1] ⊗
            [1, −2, 1] of the image instead of its Laplacian residual
            (:func:`ioscan.detect.background.second_difference`): it cancels smooth structure to third order
            and column patterns, which raise the Laplacian's estimate on sunlit ground (σ ÷ truth at the
            independent renderer's sunlit hot spots 1.04 → 1.00–1.02). Off by default: where the local scale
            is above 1 the S/N does not depend on σ, and on 250 sunlit frames it changed nothing (0.6124 /
            0.0766 / 0.460 → 0.6114 / 0.0766 / 0.452, S/N ≥ 7 / 5–7 / false per frame; seed 99 0.604 / 0.092 /
            0.474 → 0.597 / 0.096 / 0.514; night and ``bench_detect`` within one source; README).
        own_option_zones: narrow PSFs: the pixels near the limb band or the frame edge whose scale comes from
            their own blocks and the profiles against the distance to the limb / edge are, for each
            background option, those its own annulus and filter reach from there (as for the broad-PSF tight
            option), not those of the largest annulus: the small annulus' pixels 8–11 px inside a limb then
            share blocks with the disk beyond, not with the limb's misfit. Off by default: on 250 sunlit
            frames the scale of the hot spots missed 8–20 px from the limb fell 2.0 → 1.6, but completeness
            moved within noise (0.6124 / 0.0766 / 0.452 → 0.6179 / 0.0638 / 0.448; seed 99 0.604 / 0.092 /
            0.474 → 0.608 / 0.108 / 0.494; night 0.968 / 0.449 / 0.044 → 0.967 / 0.461 / 0.048; README).
        limb_scale_quantile: narrow PSFs with a measured limb profile: the quantile of |S/N| (÷ its value
            for a unit Gaussian) in the limb zone's limb-distance bins and cells that sets the zone's own
            scale (:func:`ioscan.detect.background.estimate_background`; 0.5: the median). 0.9 by default: on
            250 sunlit frames of the independent renderer 0.5 and 0.75 both gave 0.606 / 0.081 / 0.304 against
            0.608 / 0.081 / 0.308 (S/N ≥ 7 / 5–7 / false per frame) — that factor is mostly 1 there; what
            raises the zone's scale is the blocks and the limb-distance profile it is multiplied into.
        limb_zone_own_scale_px: narrow PSFs with a measured limb profile: the limb zone's pixels at least this
            far inside the limb (px) take the zone's white-noise S/N scaled by the zone's own profile and
            cells alone (:data:`limb_scale_quantile`, the sources the default pass finds left out, the limb
            misfit's clutter kept in), not that × the block scale and the limb-distance profile shared with
            the disk near the limb (on a sunlit renderer limb without hot spots the default leaves the S/N
            there a robust scatter of ~0.35, this ~1; within the frame edge's reach the default stays).
            4 px by default, with the along-limb clutter and side tests on (issue 11; figures at
            ``search_limb_band``); None or ``inf`` (``--set detect.limb_zone_own_scale_px=inf``): off.
            Alone, without those tests, a trade: on 250 sunlit frames 4 px
            gave 0.608 / 0.081 / 0.308 → 0.623 / 0.081 / 0.332 (+14 hot spots at S/N ≥ 7, +6 false
            detections); on seed 31 0.546 / 0.105 / 0.331 → 0.554 / 0.114 / 0.419 (+8, +22).
        unmodelled_limb_own_profile: narrow PSFs with a measured limb profile: the pixels near the limb
            outside the profile's zone (a dark limb, the limb beyond the seen arc) take their block scale
            raised by a limb-distance profile of their own, not the one shared with the modelled bright arc,
            whose misfit raised their scale as much as its own
            (:func:`ioscan.detect.background._unmodelled_limb_scale`; issue 11, numbers in the README).
        negative_scale_cap: narrow PSFs on dark ground: the S/N map's block scale is capped by the one from
            the blocks' negative pixels alone (sources are positive, noise symmetric): faint sources crowded
            in a block no longer raise the scale they are detected against
            (:func:`ioscan.detect.background.estimate_background`; issue 11, "nightlimb", "darkcap"). Dark
            ground (:func:`ioscan.detect.background.dark_ground`): no shading template or limb profile in
            use and the band's background flat within 3 white-noise σ; within reach of sunlit pixels
            (geometry) the scale stays uncapped. On sunlit ground the residual is not symmetric and the cap
            would understate the S/N's scatter (1.71 against 1 ± 0.15,
            ``tests/benchmarks/test_bench_generalise_limb_zone``). On by default: renderer night, elongation
            1.5, 0.9459 → 0.9537 at S/N ≥ 7, false per frame unchanged; figures in
            docs/studies/night-side-psf-and-noise.md, *The night limb's S/N, decomposed*, and
            docs/architecture.md, *The negative-pixel cap on dark ground only*.
        fill_along_limb_px: sources within this many px of the limb also get their outlier-fill error
            (``extra["fill_flux_err"]``) from copies of their hole along the limb, at their own limb distance
            (:func:`ioscan.detect.photometry.fill_flux_err`; the larger of that and the rings' estimate);
            0: the rings' copies only. Errors only: fluxes and detections do not depend on it (renderer day
            frames, S/N 100–1k, 3–10 px inside the limb: flux pulls 1.95 → 1.45; README, issue 14 round 10).
        edge_contrast_test: narrow PSFs: a detection within 3 px of the frame edge whose net residual peak
            is below ``edge_contrast_min_fraction`` of the residual's spread around it (95th − 5th percentile
            over 15 × 15 px without the central 7 × 7) is a peak of the background's misfit where sharp
            structure — a crescent's sliver, a limb the image limb does not model — crosses the edge, which
            the edge's reflection cannot continue, and is flagged ARTEFACT
            (:func:`ioscan.detect.edge_contrast.flag_edge_misfits`). Numbers: README (issue 11).
        edge_contrast_min_fraction: that fraction.
        edge_refit_test: narrow PSFs: a detection within 1 px of the frame edge, where the background varies
            by ≥ 5 white-noise σ within 4 px, is refitted on the image alone over a window 8 px deep from the
            edge and ± 6 px along it (the PSF plus a quadratic free to curve across the edge, which the edge's
            reflection is not); a refit S/N below ``edge_refit_min_fraction`` of its matched-filter S/N is the
            reflection's misfit on sunlit ground, flagged ARTEFACT
            (:func:`ioscan.detect.edge_refit.flag_edge_refits`). Numbers: README (issue 11).
        edge_refit_min_fraction: that fraction.
        edge_chi2_test: narrow PSFs: a detection at the frame edge (flagged EDGE) whose PSF fit's χ²/dof
            exceeds ``edge_max_chi2`` × (1 + (0.05 × its matched-filter S/N)²) is flagged ARTEFACT
            (:func:`ioscan.detect.artefacts.flag_edge_misfit_chi2`: where a sunlit limb meets the edge, the
            edge's pad leaves a bright residual far from a point source's shape). Numbers: README (issue 11).
        edge_max_chi2: that test's χ²/dof factor.
        along_limb_clutter_test: narrow PSFs, structured ground: flag ARTEFACT the detections within 10 px of
            the limb that are one crest of a residual along the limb whose amplitude changes within a few px
            (:func:`ioscan.detect.misfits.flag_along_limb_clutter`: the residual's robust scatter at the
            peak's limb distance 3–12 px along the limb, the white noise taken out, ≥
            ``along_limb_clutter_max_fraction`` of the peak). On by default (README, issue 11).
        along_limb_clutter_max_fraction: that test's fraction of the peak.
        along_limb_side_test: narrow PSFs, structured ground: flag ARTEFACT the detections within 10 px of
            the limb whose residual 3 px along the limb keeps ≥ ``along_limb_side_max_fraction`` of the peak
            on either side (:func:`ioscan.detect.misfits.flag_along_limb_sides`: the end or shoulder of a
            misfit's crest). On by default (README, issue 11).
        along_limb_side_max_fraction: that test's fraction of the peak.
        faint_peak_map_snr: maxima of the S/N map from this up to ``threshold_snr`` are candidates that a
            local fit decides (:func:`ioscan.detect.localfit.decide_faint_peaks`: the PSF + a quadratic
            background in an 11 × 11 px window, its S/N ÷ its own scatter on a grid of the frame's pixels
            away from the sources, in the same limb-distance zone, at least ``faint_peak_fit_snr``); None:
            off (the default: on 250 renderer frames day S/N ≥ 7 / 5–7 0.634 / 0.041 → 0.652 / 0.082 and night
            5–7 0.487 → 0.555, but held-out seed 47's day false per frame 0.328 → 0.360 and detection 1.47×
            the time, 4.4× bare SEP against issue 15's 3×). Numbers: docs/measurements.md (issue 11).
        faint_peak_fit_snr: that decision's threshold on the calibrated local-fit S/N.
        faint_peak_limb_fit: in the limb model's zone that local fit's background is free across the limb
            (:func:`ioscan.detect.localfit.limb_fit_snr`), else a quadratic as elsewhere.
        limb_ridge_confirm_snr: a detection whose calibrated local-fit S/N (that fit,
            ``extra["local_fit_snr"]``) reaches this is left alone by the limb-ridge χ² test
            (``limb_ridge_chi2``); None (default): off (on 125 sunlit frames 10 would keep 11 hot spots of S/N
            ≥ 7 for 35 limb residuals).
        faint_peak_compact_snr: a faint candidate the local fit confirms must also keep this calibrated S/N
            with a centred Gaussian of σ 2 px freed beside the PSF (sharper than a bump of the ground); None:
            no such test.
        local_fit_min_snr: narrow PSFs: a detection whose calibrated local-fit S/N is below this is flagged
            ARTEFACT (:func:`ioscan.detect.localfit.flag_local_fit_unconfirmed`); None: off (the default,
            as ``faint_peak_map_snr``: the fit's calibration on the frame is what costs the time).
        disk_model: narrow PSFs, a sharp limb seen in the image: subtract a global model of the sunlit disk
            (:mod:`ioscan.detect.disk_model`) before the background; the background then sees the fitted
            limb only as the border of its regions (``"regions"``, the limb band unsearched), the same with
            the band searched (``"band"``), or no limb (``"flat"``). ``"off"`` (default): no model.
        disk_model_filter: with the disk model in use, the S/N map is the PSF's matched filter on the data
            less the model with the model's own noise, calibrated per block and per limb cell
            (:func:`ioscan.detect.disk_model.disk_snr_map`), not the local background's;
            ``disk_model_filter_px``: only within this many px of the fitted limb (None: everywhere).
    """

    psf: PsfModel | float | dict[str, PsfModel | float] | None = None
    threshold_snr: float = 5.2
    limb_halfwidth_px: float | None = None
    local_window_px: int | None = None
    saturation_margin: float = 0.05
    saturated_frame_fraction: float = 0.5
    near_limb_px: float | None = None
    search_margin_px: float | None = None
    pointing_error_px: float = 1.0
    pointing_reach_px: tuple[float, float] | None = None
    check_geometry_limb: bool = True
    limb_profile_with_geometry: bool = False
    limb_profile_with_geometry_soft: bool = False
    limb_profile_with_geometry_min_radius_px: float | None = None
    geometry_lit_model_core: bool = True
    shading_limb_mismatch: float | None = None
    shading_foreign_law: bool = True
    geometry_dark_limb_unsplit: bool = True
    cosmic_ray_dchi2: float | None = None
    drop_cosmic_rays: bool = False
    deblend_saddle_snr: float = 1.5
    max_sources: int = 500
    use_shading: bool = True
    use_limb_profile: bool = True
    search_limb_band: bool = True
    limb_ridge_chi2: float | None = 3.0
    limb_ridge_min_psf_gain: float | None = 0.65
    limb_ridge_shape_max_gain: float | None = 0.35
    remove_column_streaks: bool = True
    textured_ground_option: bool = False
    subtract_and_search: bool = True
    psf_model_error: float = 0.1
    estimate_psf: bool = True
    psf_elongation: bool = True
    cosmic_ray_dchi2_floor: float | None = None
    source_ring_mask: bool = False
    limb_fit: bool = False
    limb_fit_half_px: int = 5
    limb_fit_knot_px: float = 2.0
    limb_fit_knot_degree: int = 2
    limb_zone_min_fit_snr: float | None = None
    edge_min_fit_fraction: float | None = None
    psf_one_source_snr: float | None = 15.0
    unmeasured_psf_width_margin: float = 1.0
    psf_spike_one_source_snr: float | None = None
    psf_filter_where_limb_seen: bool = False
    psf_annuli_model_core: bool = False
    flux_psf_where_limb_seen: bool = True
    spike_measured_core: bool = False
    spike_measured_core_model_dchi2: float | None = None
    keep_source_pixels: bool = False
    edge_limb_step: bool = True
    ridge_test: bool = True
    limb_band_step_test: bool = False
    ridge_max_fraction: float = 0.35
    along_limb_test: bool = True
    along_limb_max_fraction: float = 0.5
    edge_plateau_test: bool = True
    edge_plateau_max_fraction: float = 0.7
    white_noise_d2: bool = False
    own_option_zones: bool = False
    limb_scale_quantile: float = 0.9
    limb_zone_own_scale_px: float | None = 4.0
    unmodelled_limb_own_profile: bool = True
    negative_scale_cap: bool = True
    fill_along_limb_px: float = 20.0
    edge_contrast_test: bool = True
    edge_contrast_min_fraction: float = 0.25
    edge_refit_test: bool = True
    edge_refit_min_fraction: float = 0.5
    edge_chi2_test: bool = True
    edge_max_chi2: float = 4.0
    along_limb_clutter_test: bool = True
    along_limb_clutter_max_fraction: float = 0.25
    along_limb_side_test: bool = True
    along_limb_side_max_fraction: float = 0.4
    faint_peak_map_snr: float | None = None
    faint_peak_fit_snr: float = 5.2
    faint_peak_limb_fit: bool = True
    limb_ridge_confirm_snr: float | None = None
    local_fit_min_snr: float | None = None
    faint_peak_compact_snr: float | None = 3.5
    disk_model: str = "off"
    disk_model_filter: bool = False
    disk_model_filter_px: float | None = None

    def __post_init__(self) -> None:
        if self.disk_model not in DISK_MODEL_MODES:
            raise ValueError(
                f"disk_model must be one of {', '.join(DISK_MODEL_MODES)}, not {self.disk_model!r}"
            )

    def psf_for(
        self, band: str, instrument: str, wavelength_um: float, *, plate_scale_arcsec: float | None = None
    ) -> PsfModel:
        """PSF model for one band: the configured one, else the instrument's."""
        p = self.psf.get(band) if isinstance(self.psf, dict) else self.psf
        if isinstance(p, PsfModel):
            return p
        if isinstance(p, (int, float)):
            return PsfModel.gaussian(float(p))
        return default_psf(instrument, wavelength_um, plate_scale_arcsec=plate_scale_arcsec)
