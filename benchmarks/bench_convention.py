"""The sample-sign check (``ioscan check-convention``) on simulated 5-frame sets; prints one JSON object.

A pool of JIRAM frames is planned as the simulated campaign plans them (all ranges, modes, pointing errors
along track) and rendered twice with the campaign's renderer: once in a world whose samples run along the
declared axis (−Y), once in a mirrored world (+Y); each frame is then judged from its image, its
detections and the **reconstructed** pose (what the kernels say), as ``check-convention`` judges products.
Sets of 5 frames are drawn from the pool (without replacement within a set) and decided. A second pool comes
from the limb-fit scene renderer (:mod:`ioscan.simulate.limb_scene`: Minnaert disk, its own photometry, no
albedo map, no catalogue hot spots), and a third from the independent renderer
(:mod:`ioscan.simulate.independent`, written apart from ioscan's geometry: its camera is a direct view, so its
images are a +Y world and, flipped left–right, a −Y world); the check was written against neither.

Targets (issue 10): the right sign wins or "unconfirmed" on ≥ 95 % of sets; never the wrong sign confirmed.
Options: ``--quick`` (smaller pools), ``--frames N`` (campaign pool size), ``--sets N`` (sets per world).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from ioscan.geometry import convention as cv
from ioscan.geometry.camera import FrameCamera
from ioscan.instruments import DetectorLayout, jiram
from ioscan.records import BandImage, DetectionFlag, Frame

ORBITS = (5, 9, 11, 17, 20, 25, 27, 33, 37, 41, 43, 45, 47, 49, 51, 53, 55, 57, 58, 60)
NOT_HOT = int(DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT)


def _detections(image: np.ndarray, band: str, wavelength_um: float, bandwidth_um: float, sat) -> np.ndarray:
    from ioscan.detect import detect_frame

    frame = Frame(
        "bench",
        "JIRAM",
        "JUNO",
        "2020-01-01T00:00:00",
        0.1,
        {band: BandImage(band, image, "W m-2 sr-1", wavelength_um, bandwidth_um, sat, 0, None)},
    )
    found = detect_frame(frame, None)
    dets = [(d.sample, d.line, float(np.hypot(d.sample_err_px, d.line_err_px))) for d in found.hot_spots]
    return np.array(dets, float).reshape(-1, 3)


def campaign_pool(n_frames: int, seed: int) -> list[dict]:
    """Frames of the campaign renderer, each judged in a −Y and a +Y world."""
    from ioscan.simulate import campaign as cp
    from ioscan.simulate import ephemeris as eph
    from ioscan.simulate.render_jiram import render_band

    per_orbit = max(1, int(math.ceil(n_frames / len(ORBITS))))
    plans = cp.plan_campaign(list(ORBITS), seed, per_orbit)
    rng = np.random.default_rng(seed)
    plans = [plans[i] for i in sorted(rng.choice(len(plans), size=min(n_frames, len(plans)), replace=False))]
    pop = cp._population(seed, None)
    surface = cp.default_surface(pop)
    anchors = cv.catalogue_anchors()
    prior = jiram.JIRAM.pointing
    out = []
    for plan in plans:
        state = pop.state_at(plan.time_utc)
        sun = eph.sun_position_body(plan.time_utc)
        rec, tru = cp.recorded_jiram_to_body(plan), cp.true_jiram_to_body(plan)
        row = {
            "product_id": plan.product_id,
            "mode": plan.mode,
            "range_km": float(np.linalg.norm(plan.observer_km)),
        }
        for world, axes in (("-Y", jiram.PIXEL_AXES), ("+Y", cv.mirrored_axes(jiram.PIXEL_AXES))):
            bands = []
            t0 = time.perf_counter()
            r_noise = np.random.default_rng(plan.seed)
            for b in jiram.MODES[plan.mode]:
                layout = jiram.DETECTORS[jiram.BANDS[b].spice_frame]
                cam = FrameCamera.with_axes(
                    axes,
                    n_samples=layout.n_samples,
                    n_lines=layout.n_lines,
                    ifov_rad=jiram.IFOV_RAD,
                    center_sample=layout.center_sample,
                    center_line=layout.center_line,
                )
                r = render_band(
                    b,
                    cam,
                    cp.band_pose(plan, b, tru, sun),
                    state,
                    exposure_s=plan.exposure_s,
                    rng=r_noise,
                    surface=surface,
                )
                band = jiram.BANDS[b]
                dets = _detections(r.image, b, band.center_um, band.bandwidth_um, r.saturation_w_m2_sr)
                bands.append(
                    cv.BandView(
                        r.image,
                        cp.band_pose(plan, b, rec, sun),
                        layout,
                        jiram.IFOV_RAD,
                        jiram.LIMB_PSF_SIGMA_PX,
                        dets,
                    )
                )
            t1 = time.perf_counter()
            ev = cv.frame_evidence(
                cv.FrameView(plan.product_id, bands),
                jiram.PIXEL_AXES,
                prior.sigma_px,
                prior.max_px,
                anchors=anchors,
                frame_clip=np.inf,
            )
            row[world] = {
                "llr": ev.llr,
                "image": ev.declared.image_term - ev.mirror.image_term,
                "hot_spots": ev.declared.hot_spot_term - ev.mirror.hot_spot_term,
                "t_render_detect_s": t1 - t0,
                "t_check_s": time.perf_counter() - t1,
            }
        out.append(row)
    return out


def limb_scene_pool(n_frames: int, seed: int) -> list[dict]:
    """Frames of the limb-fit scene renderer (Minnaert disk, random geometry and pointing error)."""
    from ioscan.simulate.limb_scene import render_io, rotate_pointing, scene_geometry

    rng = np.random.default_rng([seed, 7])
    prior = jiram.JIRAM.pointing
    out = []
    for k in range(n_frames):
        range_km = float(10 ** rng.uniform(np.log10(4e4), np.log10(4e5)))
        cs, cl, phase = float(rng.uniform(150, 280)), float(rng.uniform(20, 108)), float(rng.uniform(0, 120))
        geom, cam_decl, pose = scene_geometry(
            range_km=range_km,
            ifov_rad=jiram.IFOV_RAD,
            n_samples=432,
            n_lines=128,
            center_sample=cs,
            center_line=cl,
            phase_deg=phase,
            sun_azimuth_deg=float(rng.uniform(0, 360)),
            sub_obs_lat_deg=float(rng.uniform(-60, 60)),
            sub_obs_lon_w_deg=float(rng.uniform(0, 360)),
            north_pa_deg=float(rng.uniform(0, 360)),
            axes=jiram.PIXEL_AXES,
        )
        d_line = float(np.clip(rng.normal(0, prior.sigma_px[1]), -prior.max_px[1], prior.max_px[1]))
        d_samp = float(np.clip(rng.normal(0, prior.sigma_px[0]), -prior.max_px[0], prior.max_px[0]))
        k_m = float(rng.uniform(0.6, 1.0))
        night = float(rng.uniform(0.0, 0.05))
        row = {"name": f"limb_scene_{k}", "range_km": range_km, "phase_deg": phase, "center_px": [cs, cl]}
        for world, axes in (("-Y", jiram.PIXEL_AXES), ("+Y", cv.mirrored_axes(jiram.PIXEL_AXES))):
            cam = FrameCamera.with_axes(
                axes,
                n_samples=432,
                n_lines=128,
                ifov_rad=jiram.IFOV_RAD,
                center_sample=cam_decl.center_sample,
                center_line=cam_decl.center_line,
            )
            true_pose = rotate_pointing(cam, pose, -d_samp * jiram.IFOV_RAD, -d_line * jiram.IFOV_RAD)
            img = render_io(cam, true_pose, minnaert_k=k_m, night_level=night, psf_sigma_px=0.8)
            img = img + np.random.default_rng([seed, k]).normal(0, 0.01 * max(img.max(), 1e-3), img.shape)
            # the scene's camera has its optical centre on Io's centre (a frame aimed at Io)
            layout = DetectorLayout(432, 128, cam_decl.center_sample, cam_decl.center_line, jiram.PIXEL_AXES)
            view = cv.FrameView(
                f"limb_scene_{k}", [cv.BandView(img, pose, layout, jiram.IFOV_RAD, 0.8, np.zeros((0, 3)))]
            )
            ev = cv.frame_evidence(view, jiram.PIXEL_AXES, prior.sigma_px, prior.max_px, frame_clip=np.inf)
            row[world] = {
                "llr": ev.llr,
                "image": ev.declared.image_term - ev.mirror.image_term,
                "hot_spots": 0.0,
            }
        out.append(row)
    return out


def _independent_pose(view):
    """Pose of the independent renderer's camera for a JIRAM frame whose samples run along +Y: its camera has
    samples along +x, lines along +y (a direct view), i.e. the instrument's X = −y_cam, Y = +x_cam."""
    from ioscan.geometry.pose import CameraPose

    b2c = view.body_to_cam
    inst_in_cam = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # columns: X, Y, Z
    return CameraPose(
        observer_km=-(b2c.T @ view.center_cam_km),
        inst_to_body=b2c.T @ inst_in_cam,
        sun_km=b2c.T @ view.sun_dir_cam * 7.8e8,
    )


def independent_pool(n_frames: int, seed: int) -> list[dict]:
    """Frames of the independent renderer (:mod:`ioscan.simulate.independent`: its own geometry, smooth
    albedo, Minnaert/Lambert shading, Gaussian PSF, column effects, cosmic rays). Its camera is a direct
    view, so its images are a +Y world; flipped left–right they are a −Y world. A pointing error along track
    (the instrument's prior) separates the predicted pose from the true one."""
    from ioscan.simulate.independent import draw_scene, render_scene
    from ioscan.simulate.limb_scene import rotate_pointing

    rng = np.random.default_rng([seed, 11])
    prior = jiram.JIRAM.pointing
    layout = jiram.DETECTORS[jiram.M_BAND.spice_frame]
    cam_plus = FrameCamera.with_axes(
        cv.mirrored_axes(jiram.PIXEL_AXES),
        n_samples=432,
        n_lines=128,
        ifov_rad=jiram.IFOV_RAD,
        center_sample=layout.center_sample,
        center_line=layout.center_line,
    )
    out = []
    for k in range(n_frames):
        params = draw_scene(rng, kind="day", mode="I2", range_km=(40_000.0, 400_000.0))
        img = render_scene(params).bands["M"].image.astype(float)
        d_line = float(np.clip(rng.normal(0, prior.sigma_px[1]), -prior.max_px[1], prior.max_px[1]))
        d_samp = float(np.clip(rng.normal(0, prior.sigma_px[0]), -prior.max_px[0], prior.max_px[0]))
        # predicted = true turned so that the scene appears shifted by (d_samp, d_line) from the prediction
        pred = rotate_pointing(
            cam_plus, _independent_pose(params.view), d_samp * jiram.IFOV_RAD, d_line * jiram.IFOV_RAD
        )
        row = {
            "name": f"independent_{k}",
            "range_km": params.view.range_km,
            "phase_deg": params.view.phase_deg,
            "center_px": [params.view.center_sample_px, params.view.center_line_px],
        }
        for world, im in (("+Y", img), ("-Y", img[:, ::-1].copy())):
            view = cv.FrameView(
                row["name"], [cv.BandView(im, pred, layout, jiram.IFOV_RAD, 0.8, np.zeros((0, 3)))]
            )
            ev = cv.frame_evidence(view, jiram.PIXEL_AXES, prior.sigma_px, prior.max_px, frame_clip=np.inf)
            row[world] = {
                "llr": ev.llr,
                "image": ev.declared.image_term - ev.mirror.image_term,
                "hot_spots": 0.0,
            }
        out.append(row)
    return out


def score_sets(
    pool: list[dict], n_sets: int, set_size: int, threshold: float, clip: float, seed: int
) -> dict:
    """Fractions of sets (per world) that confirm the right sign, stay unconfirmed, or confirm the wrong."""
    rng = np.random.default_rng([seed, 99])
    out = {}
    for world, sign in (("-Y", 1.0), ("+Y", -1.0)):
        llr = np.array([p[world]["llr"] for p in pool])
        right = unconfirmed = wrong = 0
        for _ in range(n_sets):
            pick = rng.choice(len(pool), size=min(set_size, len(pool)), replace=False)
            total = float(np.sum(np.clip(llr[pick], -clip, clip)))
            if abs(total) < threshold:
                unconfirmed += 1
            elif np.sign(total) == sign:
                right += 1
            else:
                wrong += 1
        out[world] = {
            "right": round(right / n_sets, 4),
            "unconfirmed": round(unconfirmed / n_sets, 4),
            "wrong": round(wrong / n_sets, 4),
            "right_or_unconfirmed": round((right + unconfirmed) / n_sets, 4),
        }
    return out


def frame_stats(pool: list[dict], clip: float) -> dict:
    """How many single frames favour the truth by more than the clip, are undecided, or favour the mirror."""
    stats = {}
    for world, sign in (("-Y", 1.0), ("+Y", -1.0)):
        llr = sign * np.array([p[world]["llr"] for p in pool])
        stats[world] = {
            "n": int(llr.size),
            "strong_right": int(np.sum(llr >= clip)),
            "weak": int(np.sum(np.abs(llr) < clip)),
            "strong_wrong": int(np.sum(llr <= -clip)),
            "most_wrong_llr": round(float(llr.min()), 2) if llr.size else None,
            "frames_against_truth": [
                {
                    k: (round(v, 1) if isinstance(v, float) else v)
                    for k, v in p.items()
                    if not isinstance(v, dict)
                }
                | {
                    "llr": round(float(x), 2),
                    "image": round(p[world]["image"], 2),
                    "hot_spots": round(p[world]["hot_spots"], 2),
                }
                for p, x in zip(pool, llr, strict=True)
                if x <= -clip
            ],
        }
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small pools (a minute or two)")
    ap.add_argument("--frames", type=int, default=60, help="campaign frames in the pool")
    ap.add_argument("--scene-frames", type=int, default=30, help="limb-scene frames in the second pool")
    ap.add_argument("--independent-frames", type=int, default=30, help="independent-renderer frames")
    ap.add_argument("--sets", type=int, default=1000, help="5-frame sets drawn per world")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    if args.quick:
        args.frames, args.scene_frames, args.independent_frames, args.sets = 16, 8, 8, 400
    t0 = time.perf_counter()
    camp = campaign_pool(args.frames, args.seed)
    t1 = time.perf_counter()
    scene = limb_scene_pool(args.scene_frames, args.seed)
    t2 = time.perf_counter()
    indep = independent_pool(args.independent_frames, args.seed)
    t3 = time.perf_counter()
    thr, clip = cv.DEFAULT_THRESHOLD, cv.DEFAULT_FRAME_CLIP
    result = {
        "threshold_ln": thr,
        "frame_clip_ln": clip,
        "set_size": 5,
        "campaign_sets": score_sets(camp, args.sets, 5, thr, clip, args.seed),
        "limb_scene_sets": score_sets(scene, args.sets, 5, thr, clip, args.seed),
        "independent_sets": score_sets(indep, args.sets, 5, thr, clip, args.seed),
        "campaign_frames": frame_stats(camp, clip),
        "limb_scene_frames": frame_stats(scene, clip),
        "independent_frames": frame_stats(indep, clip),
        "median_check_s_per_frame": round(
            float(np.median([p[w]["t_check_s"] for p in camp for w in ("-Y", "+Y")])), 3
        ),
        "pool_s": {
            "campaign": round(t1 - t0, 1),
            "limb_scene": round(t2 - t1, 1),
            "independent": round(t3 - t2, 1),
        },
        "target": "right or unconfirmed on >= 95 % of 5-frame sets, wrong on none",
    }
    result["meets_target"] = all(
        r[w]["right_or_unconfirmed"] >= 0.95 and r[w]["wrong"] == 0
        for r in (result["campaign_sets"], result["limb_scene_sets"], result["independent_sets"])
        for w in ("-Y", "+Y")
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
