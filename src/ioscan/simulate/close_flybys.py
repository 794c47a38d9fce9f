"""Close-flyby sequences: JIRAM frames 1,500–20,000 km above Io where Io overfills the field, for the
registration benchmark and the demo.

Each sequence is a straight pass of Juno (15–40 km/s) with a closest altitude drawn log-uniform in
``altitude_km``; its frames follow at 20–60 s intervals, all pointed (in the reconstructed attitude) at one
target: with probability ``p_hot_spot`` the **published** position of a bright catalogue hot spot in view
(what a team would plan on), else a random point near the sub-spacecraft point. Every frame gets its own
pointing error (:func:`ioscan.simulate.campaign.draw_pointing_error_deg`); sequences are two hours apart.

:func:`simulate_close_flybys` writes the kernels, the PDS3 products and the truth like
:func:`ioscan.simulate.campaign.simulate_campaign`, and optionally a table of **refined** hot-spot
positions (``refined_hotspots.csv``: the truth displaced by a few km, as a catalogue refined on
limb-registered mid-range frames would give; ``lat_err_deg``/``lon_err_deg`` state that error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ioscan import body as iobody
from ioscan.simulate import campaign as camp
from ioscan.simulate import ephemeris as eph

ALTITUDE_KM = (1500.0, 20000.0)
CADENCE_S = (20.0, 60.0)
SEQUENCE_SPACING_H = 2.0


@dataclass
class CloseFlybyResult:
    """What :func:`simulate_close_flybys` wrote."""

    paths: list[Path]
    metakernel: Path
    truth_csv: Path
    frames_csv: Path
    refined_csv: Path | None
    n_frames: int


def _targets(pop, n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """Published positions (body km) and IDs of the ``n`` most powerful catalogue hot spots."""
    src = pop.sources[pop.sources.catalogue_lat_deg.notna()].nlargest(n, "power_gw")
    pts = iobody.surface_point_from_lat_pg(
        src.catalogue_lat_deg.to_numpy(float), src.catalogue_lon_w_deg.to_numpy(float)
    )
    return pts, src.id.to_numpy()


def plan_close_sequences(
    n_sequences: int,
    frames_per_sequence: int,
    seed: int,
    *,
    orbit: int = 57,
    altitude_km: tuple[float, float] = ALTITUDE_KM,
    p_hot_spot: float = 0.7,
    along: str = "gaussian",
    ref_dir: str | None = None,
    used: set[str] | None = None,
) -> list[camp.FramePlan]:
    """Frame plans of ``n_sequences`` close-flyby sequences (module docstring), deterministic in ``seed``."""
    rng = np.random.default_rng([seed, 0xC105E])
    pop = camp._population(seed, ref_dir)
    targets, _ = _targets(pop)
    start = camp._parse(camp.perijove_utc(orbit)) - timedelta(hours=SEQUENCE_SPACING_H * n_sequences / 2)
    used = set() if used is None else used  # product IDs taken (1-s resolution)
    plans = []
    for k in range(n_sequences):
        t_mid = start + timedelta(hours=SEQUENCE_SPACING_H * k)
        h = float(10 ** rng.uniform(*np.log10(altitude_km)))
        u = camp._random_unit(rng)
        u[2] *= 0.6
        u /= np.linalg.norm(u)
        v = camp._random_unit(rng)
        v -= (v @ u) * u
        v = v / np.linalg.norm(v) * float(rng.uniform(15.0, 40.0))
        dt = np.cumsum(np.r_[0.0, rng.uniform(*CADENCE_S, frames_per_sequence - 1)])
        dt -= dt.mean()
        mode = str(rng.choice(["I1", "I1", "I2", "I3"]))
        r0 = (iobody.IO.mean_radius_km + h) * u
        facing = np.sum(iobody.surface_normal(targets) * (r0 - targets), axis=-1) > 0.3 * np.linalg.norm(
            r0 - targets, axis=-1
        )
        if rng.random() < p_hot_spot and facing.any():
            target = targets[rng.choice(np.flatnonzero(facing))]
        else:  # a point within ~15° of nadir
            w = u + 0.25 * camp._random_unit(rng)
            target = iobody.surface_point_from_lat_pc(
                np.degrees(np.arcsin(w[2] / np.linalg.norm(w))), iobody.vector_to_lon_w_deg(w)
            )
        twist = float(rng.uniform(0.0, 360.0))
        for d in dt:
            t = t_mid + timedelta(seconds=float(np.round(d)))
            while camp._product_id(t) in used:
                t += timedelta(seconds=1)
            used.add(pid := camp._product_id(t))
            plans.append(
                camp.FramePlan(
                    product_id=pid,
                    orbit=orbit,
                    mode=mode,
                    time_utc=t.strftime("%Y-%m-%dT%H:%M:%S"),
                    exposure_s=float(10 ** rng.uniform(math.log10(0.005), math.log10(0.05))),
                    observer_km=r0 + v * float(d),
                    observer_velocity_km_s=v.copy(),
                    twist_deg=twist,
                    pointing_error_deg=camp.draw_pointing_error_deg(rng, along),
                    seed=int(rng.integers(0, 2**31 - 1)),
                    target_km=np.asarray(target, dtype=float),
                )
            )
    return plans


def refined_table(pop, sigma_km: float, seed: int) -> pd.DataFrame:
    """The catalogue hot spots' true positions displaced by ``sigma_km`` per axis, with that error stated
    (``lat_err_deg``; ``lon_err_deg`` in degrees of longitude), as a catalogue refined on limb-registered
    frames would list them."""
    rng = np.random.default_rng([seed, 0x4EF])
    src = pop.sources[pop.sources.catalogue_lat_deg.notna()]
    err_deg = sigma_km / (iobody.IO_MEAN_RADIUS_KM * math.pi / 180.0)
    lat = src.lat_deg.to_numpy(float)
    cos_lat = np.maximum(np.cos(np.radians(lat)), 0.05)
    d = rng.normal(0.0, err_deg, (len(src), 2))
    return pd.DataFrame(
        {
            "hotspot_id": src.id.to_numpy(),
            "lat_deg": np.clip(lat + d[:, 0], -90.0, 90.0),
            "lon_w_deg": (src.lon_w_deg.to_numpy(float) - d[:, 1] / cos_lat) % 360.0,
            "lat_err_deg": np.full(len(src), err_deg),
            "lon_err_deg": err_deg / cos_lat,
        }
    )


def simulate_close_flybys(
    out_dir,
    *,
    n_sequences: int = 12,
    frames_per_sequence: int = 5,
    seed: int = 0,
    orbit: int = 57,
    along: str = "gaussian",
    refined_sigma_km: float | None = 3.0,
    workers: int = 1,
    ref_dir: str | None = None,
) -> CloseFlybyResult:
    """Simulate close-flyby sequences into ``out_dir`` (``kernels/``, ``jiram/``, ``truth/truth.csv``,
    ``truth/frames.csv``, ``truth/refined_hotspots.csv``): see the module docstring."""
    from ioscan.simulate.kernels import write_kernel_set

    out = Path(out_dir)
    plans = plan_close_sequences(
        n_sequences, frames_per_sequence, seed, orbit=orbit, along=along, ref_dir=ref_dir
    )
    obs = [
        eph.PlannedObservation(
            p.time_utc, p.observer_km, p.observer_velocity_km_s, camp.recorded_jiram_to_body(p)
        )
        for p in plans
    ]
    times = [camp._parse(p.time_utc) for p in plans]
    mk = write_kernel_set(
        out / "kernels",
        obs,
        start_utc=(min(times) - timedelta(hours=2)).isoformat(),
        stop_utc=(max(times) + timedelta(hours=2)).isoformat(),
        io_step_s=7200.0,
    )
    names = sorted(p.name for p in (out / "kernels").iterdir() if p.name != mk.name)
    paths, truths, frames = camp.render_plans(
        plans,
        seed=seed,
        out_dir=out / "jiram",
        spice_file_names=names,
        ref_dir=ref_dir,
        workers=workers,
        metakernel=mk,
    )
    tdir = out / "truth"
    tdir.mkdir(parents=True, exist_ok=True)
    truth = pd.concat([t for t in truths if len(t)], ignore_index=True)
    truth.to_csv(tdir / "truth.csv", index=False)
    frames_df = pd.DataFrame(frames)
    frames_df["sequence"] = [i // frames_per_sequence for i in range(len(plans))]
    frames_df.to_csv(tdir / "frames.csv", index=False)
    refined = None
    if refined_sigma_km:
        refined = tdir / "refined_hotspots.csv"
        refined_table(camp._population(seed, ref_dir), refined_sigma_km, seed).to_csv(refined, index=False)
    return CloseFlybyResult(
        [Path(p) for p in paths], mk, tdir / "truth.csv", tdir / "frames.csv", refined, len(plans)
    )
