"""One frame end to end (read → navigate → detect → measure), and a batch over many frames on Dask.

Workers only compute; the calling process is the single writer to the catalogue (one transaction per frame),
so a crash loses nothing already committed and leaves nothing half-written. Re-runs skip products whose
checksum is already stored.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioscan.errors import IoscanError


@dataclass
class FrameResult:
    """What one product yields: a summary row, band rows, detections, or an error."""

    path: str
    checksum_sha256: str | None = None
    observation: dict = field(default_factory=dict)
    bands: list[dict] = field(default_factory=list)
    detections: list = field(default_factory=list)
    status: str = "ok"
    error: str | None = None
    messages: list[str] = field(default_factory=list)


def _geometry_summary(nav) -> dict:
    """Navigation outcome, and the point, range, scale and phase of the disk pixel nearest the observer
    (in the band that sees most of the disk)."""
    if not nav.backplanes:
        return {"geometry_source": "none"}
    bp = max(nav.backplanes.values(), key=lambda b: int(b.on_disk.sum()))
    disk = bp.on_disk
    out = {
        "geometry_source": nav.source,
        "pointing_offset_sample_px": nav.offset_px[0],
        "pointing_offset_line_px": nav.offset_px[1],
        "pointing_offset_err_px": max(max(nav.offset_err_px), nav.pointing_floor_px),
        "registered": bool(nav.registered),
    }
    if disk.any():
        rng = np.where(disk, bp["range_km"], np.inf)
        i = np.unravel_index(np.argmin(rng), rng.shape)
        out.update(
            sub_observer_lat_deg=float(bp["lat_deg"][i]),
            sub_observer_lon_w_deg=float(bp["lon_w_deg"][i]),
            range_km=float(bp["range_km"][i]),
            pixel_scale_km=float(bp["pixel_scale_km"][i]),
            phase_deg=float(bp["phase_deg"][i]),
        )
    return out


def detect_product(path: str | Path, kernels: str | Path | None = None, register: bool = True):
    """Read, navigate and detect one product: returns (Frame, Navigation, FrameDetections). May raise
    IoscanError for unreadable products or unusable kernels."""
    from ioscan.detect import DetectConfig, detect_frame
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame

    frame = read_product(Path(path))
    nav = navigate_frame(frame, kernels=Path(kernels) if kernels else None, register=register)
    config = DetectConfig(pointing_error_px=max(max(nav.offset_err_px), nav.pointing_floor_px))
    found = detect_frame(frame, nav.backplanes or None, config=config)
    return frame, nav, found


def _detection_limit_gw_um_sr(noise: float | None, band, nav_bp, psf_sigma_px: float) -> float | None:
    """5σ point-source limit in spectral intensity at the frame's nearest on-disk pixel (normal view).

    A matched filter on a Gaussian PSF of σ pixels reaches S/N = flux / (noise · √(4πσ²)).
    """
    if noise is None or nav_bp is None or not np.isfinite(noise) or not nav_bp.on_disk.any():
        return None
    from ioscan.frame import BAND_RADIANCE_UNIT

    scale_km = float(np.nanmin(np.where(nav_bp.on_disk, nav_bp["pixel_scale_km"], np.nan)))
    spectral = noise / band.bandwidth_um if band.unit == BAND_RADIANCE_UNIT else noise
    effective_area_px = 4.0 * np.pi * psf_sigma_px**2
    return float(5.0 * spectral * np.sqrt(effective_area_px) * (scale_km * 1e3) ** 2 / 1e9)


def process_product(
    path: str | Path, kernels: str | Path | None = None, register: bool = True
) -> FrameResult:
    """Read, navigate, detect and measure one product. Never raises: errors come back in the result."""
    from ioscan.geometry.coverage import coverage_grid, encode_grid
    from ioscan.geometry.navigate import psf_sigma_px

    result = FrameResult(path=str(path))
    try:
        frame, nav, found = detect_product(path, kernels, register)
        result.checksum_sha256 = frame.checksum_sha256
        result.messages += [*nav.messages, *found.messages]
        result.detections = found.detections
        result.status = found.status
        result.observation = {
            "product_id": frame.product_id,
            "instrument": frame.instrument,
            "observer": frame.observer,
            "mode": frame.mode,
            "orbit": frame.orbit,
            "time_utc": frame.time_utc,
            "exposure_s": frame.exposure_s,
            "file_path": str(path),
            "checksum_sha256": frame.checksum_sha256,
            "status": found.status,
            "coverage_grid": encode_grid(coverage_grid(nav.backplanes.values())) if nav.backplanes else None,
            **_geometry_summary(nav),
        }
        noise = found.noise or {}
        result.bands = [
            {
                "band": b.band,
                "wavelength_um": b.wavelength_um,
                "bandwidth_um": b.bandwidth_um,
                "unit": b.unit,
                "saturation": b.saturation,
                "noise": noise.get(b.band),
                "detection_limit_gw_um_sr": _detection_limit_gw_um_sr(
                    noise.get(b.band), b, nav.backplanes.get(b.band), psf_sigma_px(frame, b)
                ),
            }
            for b in frame.bands.values()
        ]
    except IoscanError as exc:
        result.status, result.error = "error", str(exc)
    except Exception as exc:  # one bad product must never stop a run: report it with its traceback tail
        result.status = "error"
        where = traceback.format_exc(limit=-1).strip().splitlines()
        result.error = f"{Path(path).name}: unexpected {type(exc).__name__}: {exc} [{where[-3].strip()}]"
    return result


@dataclass
class ScanSummary:
    """Counts of one scan run."""

    n_found: int = 0
    n_skipped: int = 0
    n_processed: int = 0
    n_errors: int = 0
    n_detections: int = 0
    by_status: dict = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)


def product_checksum(path: Path) -> str:
    """Checksum the reader will record: of the IMG beside a PDS3 label (same stem), else of the file."""
    from ioscan.formats import file_checksum_sha256

    if path.suffix.lower() == ".lbl":
        for suffix in (".IMG", ".img"):
            img = path.with_suffix(suffix)
            if img.exists():
                return file_checksum_sha256(img)
    return file_checksum_sha256(path)


def _dask_client(scheduler: str | None, workers: int):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster)


def scan(
    paths: Iterable[str | Path],
    *,
    store,
    kernels: str | Path | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    register: bool = True,
    progress: Callable[[int, int, FrameResult | None], None] | None = None,
    run_parameters: dict | None = None,
) -> ScanSummary:
    """Process every product under ``paths`` into ``store``; skip products already stored (by checksum).

    ``workers=0`` runs in this process (no Dask); otherwise a LocalCluster of ``workers`` single-threaded
    processes (CSPICE is not thread-safe), or the Dask scheduler at ``scheduler``.
    """
    from ioscan.formats import find_products

    products = find_products([Path(p) for p in paths])
    summary = ScanSummary(n_found=len(products))
    todo = []
    for p in products:
        try:
            if store.has_checksum(product_checksum(p)):
                summary.n_skipped += 1
                continue
        except (IoscanError, OSError):
            pass  # unreadable: let the worker report it properly
        todo.append(p)
    run_id = store.start_run(
        "scan", {"paths": [str(p) for p in paths], "kernels": str(kernels or ""), **(run_parameters or {})}
    )
    total = len(todo)
    if progress:
        progress(0, total, None)

    def handle(res: FrameResult, done: int) -> None:
        summary.by_status[res.status] = summary.by_status.get(res.status, 0) + 1
        if res.status == "error":
            summary.n_errors += 1
            summary.errors.append((res.path, res.error or ""))
        else:
            store.add_observation(res.observation, res.bands, res.detections, run_id)
            summary.n_processed += 1
            summary.n_detections += len(res.detections)
        if progress:
            progress(done, total, res)

    status = "ok"
    try:
        if workers <= 0 and not scheduler:
            for i, p in enumerate(todo, 1):
                handle(process_product(p, kernels, register), i)
        elif todo:
            from dask.distributed import as_completed

            with _dask_client(scheduler, workers) as client:
                futures = [
                    client.submit(
                        process_product, str(p), str(kernels) if kernels else None, register, pure=False
                    )
                    for p in todo
                ]
                for i, fut in enumerate(as_completed(futures), 1):
                    handle(fut.result(), i)
    except BaseException:
        status = "interrupted"
        raise
    finally:
        store.finish_run(run_id, status)
    return summary
