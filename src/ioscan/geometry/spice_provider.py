"""Backplanes exactly as SPICE computes them (``sincpt`` ELLIPSOID + ``ilumin``, ``LT+S``), vectorised.

Per frame, SPICE is asked once for states and rotations; every pixel is then solved in numpy following
SPICE's own algorithm (``ZZSFXCOR``, the core of ``sincpt``) step by step:

1. the target centre's one-iteration light time ``lt`` (``spkezp``, ``LT``) gives the first target epoch
   ``tc = et − lt``; the observer position in IAU_IO at ``tc`` and the frame rotation come from SPICE;
2. each pixel's apparent ray (instrument frame at ``et``, → J2000) is corrected for stellar aberration
   by the *exact* inverse of ``stelab``: for a unit apparent direction u′ and β = v_obs/c, the ray is
   u′ − β (``stelab`` maps u to k·u + β with |k·u + β| = 1, so this is its exact inverse, which SPICE
   reaches by iterating ``stlabx``/``stelab`` to 1e-17);
3. ray–ellipsoid intersection at ``tc``; misses within a few km of the limb are retried with the light time
   to the (approximate) nearest ellipsoid point, as SPICE does;
4. one light-time refinement per pixel to its own intercept point (SPICE's ``LT`` = one iteration):
   target position and body rotation at the pixel's epoch ``tc + dt`` are first-order in ``dt`` (≤ 7 ms;
   second-order terms are < 1e-7 km);
5. ``ilumin``: emission and phase use the apparent (aberrated) observer direction, the Sun is seen from Io's
   centre at the pixel's target epoch with ``LT+S``; the surface normal is the ellipsoid's.

Kernels are loaded once per process (:func:`load_kernels`, a registry keyed by the metakernel's absolute
path). Relative ``PATH_VALUES`` in a metakernel are resolved against the metakernel's own folder, so a
kernel set can be moved. CSPICE is not thread-safe: use processes for parallelism.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ioscan import body as iobody
from ioscan.errors import GeometryError
from ioscan.geometry.backplanes import (
    REGISTRY,
    SUN_OCCULTED_KEY,
    Backplanes,
    LazyLayers,
    lat_pc_deg_of,
    local_solar_time_h_of,
    lon_w_deg_of,
    surface_arrays,
)
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.ellipsoid import intersect_components, limb_quadric
from ioscan.geometry.pose import (
    CameraPose,
    _assemble,
    _limb_conic_of_rays,
    _limb_grid_of_rays,
    _limb_rays,
    _scatter_layers,
)
from ioscan.records import LabelGeometry

CLIGHT_KM_S = 299792.458

# ------------------------------------------------------------------------------------------ allocator
_TUNED = False


def tune_allocator() -> bool:
    """Keep freed numpy temporaries in the process heap (glibc ``mallopt``), once per process.

    A 432×256 frame's temporaries are ~0.9 MB each; with glibc's default (adaptive) mmap and trim
    thresholds many of them are returned to the OS on free and page-faulted back on the next allocation,
    which makes element-wise numpy work up to 10× slower. Raising M_MMAP_THRESHOLD to 32 MB and
    M_TRIM_THRESHOLD to 512 MB keeps them in the heap (memory is retained up to the peak use).
    No-op (returns False) off glibc or when ``IOSCAN_NO_MALLOPT`` is set.
    """
    global _TUNED
    if _TUNED:
        return True
    import ctypes
    import os
    import sys

    if os.environ.get("IOSCAN_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(-1, 512 * 1024 * 1024) == 1 and libc.mallopt(-3, 32 * 1024 * 1024) == 1
    except (OSError, AttributeError):
        return False
    _TUNED = bool(ok)
    return _TUNED


# ------------------------------------------------------------------------------------------ kernel registry
_LOADED: dict[str, Path] = {}  # metakernel absolute path → resolved temporary copy that was furnsh'ed
_GEOMETRIES: dict[tuple[str, str, str], SpiceGeometry] = {}  # (metakernel, observer, target) → geometry
_TMPDIR: tempfile.TemporaryDirectory | None = None


def _sp():
    import spiceypy

    return spiceypy


@contextlib.contextmanager
def spice_errors(context: str):
    """Turn a SpiceyError into a GeometryError naming ``context`` (and reset SPICE's error status)."""
    sp = _sp()
    from spiceypy.utils.exceptions import SpiceyError

    try:
        yield
    except SpiceyError as exc:
        sp.reset()
        short = getattr(exc, "short", "") or ""
        detail = (getattr(exc, "long", "") or str(exc)).strip().replace("\n", " ")
        detail = re.sub(r"\s+", " ", detail)
        raise GeometryError(f"{context}: {short} {detail[:400]}".strip()) from None


_STRING = re.compile(r"'((?:[^']|'')*)'")


def _assignment(text: str, name: str) -> list[str] | None:
    """Quoted strings assigned to ``name`` in the data sections of a text kernel (None if absent)."""
    data = "\n".join(part.split("\\begintext")[0] for part in text.split("\\begindata")[1:])
    m = re.search(rf"\b{name}\s*\+?=\s*(\([^)]*\)|'[^']*')", data)
    if m is None:
        return None
    return [s.replace("''", "'") for s in _STRING.findall(m.group(1))]


def _resolved_metakernel(mk: Path) -> Path:
    """Check a metakernel's listed files exist and write a copy whose PATH_VALUES are absolute."""
    global _TMPDIR
    try:
        text = mk.read_text(errors="replace")
    except OSError as exc:
        raise GeometryError(f"cannot read metakernel {mk}: {exc.strerror}") from None
    files = _assignment(text, "KERNELS_TO_LOAD")
    if not files:
        raise GeometryError(f"metakernel {mk} lists no KERNELS_TO_LOAD")
    values = _assignment(text, "PATH_VALUES") or []
    symbols = _assignment(text, "PATH_SYMBOLS") or []
    abs_values = [str((mk.parent / v).resolve()) if not Path(v).is_absolute() else v for v in values]
    new_files = []
    for f in files:
        path = f
        for sym, val in zip(symbols, abs_values, strict=False):
            path = path.replace(f"${sym}", val)
        p = Path(path)
        if not p.is_absolute():
            p = (mk.parent / p).resolve()
        if not p.is_file():
            raise GeometryError(f"metakernel {mk} lists {f!r}, but {p} does not exist")
        new_files.append(str(p))
    if _TMPDIR is None:
        _TMPDIR = tempfile.TemporaryDirectory(prefix="ioscan_mk_")
    out = Path(_TMPDIR.name) / f"mk{len(list(Path(_TMPDIR.name).iterdir()))}_{mk.name}"
    # SPICE string values are limited to 80 characters per token: use the '+' continuation for long paths
    chunks = []
    for f in new_files:
        parts = [f[i : i + 70] for i in range(0, len(f), 70)]
        chunks.append(
            " ".join(f"'{p}+'" for p in parts[:-1]) + (" " if len(parts) > 1 else "") + f"'{parts[-1]}'"
        )
    out.write_text("KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( " + "\n".join(chunks) + " )\n\\begintext\n")
    return out


def load_kernels(metakernel) -> str:
    """Load a metakernel once per process (no-op if already loaded); returns its registry key.

    Other kernel sets loaded through this registry are unloaded first, so two sets never mix in the pool.
    """
    mk = Path(metakernel).expanduser().resolve()
    key = str(mk)
    if key in _LOADED:
        return key
    if not mk.is_file():
        raise GeometryError(f"metakernel {mk} does not exist")
    unload_kernels()
    resolved = _resolved_metakernel(mk)
    sp = _sp()
    try:
        with spice_errors(f"loading kernels of {mk}"):
            sp.furnsh(str(resolved))
    except GeometryError:
        with contextlib.suppress(Exception):
            sp.unload(str(resolved))
        sp.reset()
        raise
    _LOADED[key] = resolved
    return key


def unload_kernels(metakernel=None) -> None:
    """Unload one metakernel loaded by :func:`load_kernels` (all of them by default)."""
    sp = _sp()
    keys = list(_LOADED) if metakernel is None else [str(Path(metakernel).expanduser().resolve())]
    for key in keys:
        for cached in [k for k in _GEOMETRIES if k[0] == key]:
            del _GEOMETRIES[cached]
        resolved = _LOADED.pop(key, None)
        if resolved is not None:
            with contextlib.suppress(Exception):
                sp.unload(str(resolved))
            sp.reset()


def spice_geometry(metakernel, *, observer: str = "JUNO", target: str = "IO") -> SpiceGeometry:
    """The :class:`SpiceGeometry` of a kernel set, one per process and (metakernel, observer, target): a scan
    navigates every frame with the same one, so its cameras (IK reads), its UTC → ET conversions and its
    radii are looked up once, not per frame. Forgotten when the kernels are unloaded."""
    key = (str(Path(metakernel).expanduser().resolve()), observer.upper(), target.upper())
    geo = _GEOMETRIES.get(key)
    if geo is None or key[0] not in _LOADED:
        geo = SpiceGeometry(metakernel, observer=observer, target=target)
        _GEOMETRIES[key] = geo
    return geo


# ------------------------------------------------------------------------------------------------ geometry
@dataclass
class FrameInputs:
    """Everything one frame needs from SPICE (J2000 = inertial, body = IAU_IO)."""

    et: float
    lt_s: float  # one-iteration light time observer → target centre
    observer_body_km: np.ndarray  # observer relative to target, body frame at tc = et − lt
    j2000_to_body: np.ndarray  # X0 at tc
    j2000_to_body_rate: np.ndarray  # dX/dt at tc, 1/s
    inst_to_j2000: np.ndarray  # at et
    beta: np.ndarray  # observer velocity wrt SSB / c, J2000
    target_velocity_j2000: np.ndarray  # target wrt SSB at tc, km/s
    observer_minus_target_j2000: np.ndarray  # SSB observer(et) − SSB target(tc), km
    sun_body_km: np.ndarray  # Sun seen from target centre, LT+S, body frame at tc
    sun_body_rate: np.ndarray  # d/dt of sun_body_km, km/s


class SpiceGeometry:
    """Observation geometry of a kernel set (metakernel) for one observer looking at Io.

    Args:
        metakernel: path to the ``.tm`` file.
        observer: SPICE name of the observer (default "JUNO").
        target: SPICE name of the target (default "IO"); body frame ``IAU_<target>``.
        layouts: SPICE frame → :class:`~ioscan.instruments.DetectorLayout` to use instead of the instrument
            registry's (e.g. to score the other sample sign, ``ioscan check-convention``); None: the registry.
    """

    abcorr = "LT+S"

    def __init__(
        self, metakernel, *, observer: str = "JUNO", target: str = "IO", layouts: dict | None = None
    ):
        self.metakernel = Path(metakernel).expanduser().resolve()
        self.layouts = {str(k).upper(): v for k, v in (layouts or {}).items()}
        self.observer = observer.upper()
        self.target = target.upper()
        self.body_frame = f"IAU_{self.target}"
        self._cameras: dict[tuple, FrameCamera] = {}
        self._ets: dict[str, float] = {}
        self._last_inputs: FrameInputs | None = None
        self._inputs: dict[str, FrameInputs] = {}  # instrument frame → its inputs at self._last_inputs.et
        self._occulted: tuple[float, int | None] | None = None  # (et, code) of the last sun_occultation
        tune_allocator()
        self._ensure()
        sp = _sp()
        with spice_errors(f"reading {self.target} radii from {self.metakernel}"):
            radii = sp.bodvrd(self.target, "RADII", 3)[1]
            self._target_id = sp.bods2c(self.target)
            self._observer_id = sp.bods2c(self.observer)
        self.body = iobody.Ellipsoid(*map(float, radii))

    # ----------------------------------------------------------------------------------------- helpers
    def _ensure(self) -> None:
        if str(self.metakernel) not in _LOADED:  # the path is resolved already: no file-system lookups
            load_kernels(self.metakernel)

    def et(self, time_utc) -> float:
        """UTC (ISO string) → ephemeris time with the loaded LSK (floats pass through)."""
        if isinstance(time_utc, (int, float, np.floating)):
            return float(time_utc)
        self._ensure()
        key = str(time_utc)
        if key not in self._ets:
            if len(self._ets) > 4096:
                self._ets.clear()
            with spice_errors(f"bad time {time_utc!r} (kernels {self.metakernel.name})"):
                self._ets[key] = float(_sp().str2et(key))
        return self._ets[key]

    def _check_frame(self, frame_name: str) -> int:
        self._ensure()
        code = _sp().namfrm(frame_name)
        if code == 0:
            raise GeometryError(f"unknown frame {frame_name!r} in kernels {self.metakernel}")
        return code

    def camera(self, frame_name: str, *, pointing_offset_px=(0.0, 0.0)) -> FrameCamera:
        """Frame camera of an instrument frame: pixel layout and axis convention as the instrument declares
        them (:func:`ioscan.instruments.detector_layout`), IFOV from the IK (``INS<id>_IFOV``, via gdpool).

        A frame without a declared convention is refused (GeometryError): NAIF's kernels do not say which way
        samples and lines run, and a guess transposes or mirrors the geometry without any error.
        ``pointing_offset_px`` = (d_sample, d_line) moves the optical centre: the scene appears shifted by
        that many pixels relative to the SPICE pointing.
        """
        key = (frame_name, float(pointing_offset_px[0]), float(pointing_offset_px[1]))
        if key in self._cameras:
            return self._cameras[key]
        from ioscan.instruments import detector_layout

        self._check_frame(frame_name)
        layout = self.layouts.get(frame_name.upper()) or detector_layout(frame_name)
        if layout is None:
            raise GeometryError(
                f"no pixel-axis convention is declared for {frame_name} (ioscan.instruments): "
                "refusing to guess which way its samples and lines run"
            )
        sp = _sp()
        with spice_errors(f"instrument {frame_name} has no usable IK in {self.metakernel}"):
            pre = f"INS{sp.bods2c(frame_name)}_"
            ifov = float(sp.gdpool(pre + "IFOV", 0, 1)[0])
            bore = np.asarray(sp.gdpool(pre + "BORESIGHT", 0, 3), dtype=float)
        declared = np.asarray(layout.axes.boresight, dtype=float)
        if float(bore @ declared) < np.linalg.norm(bore) * (1.0 - 1e-12):
            raise GeometryError(
                f"the IK boresight of {frame_name} {tuple(bore)} is not the declared one {tuple(declared)}"
            )
        cam = FrameCamera.from_layout(layout, ifov, (key[1], key[2]))
        self._cameras[key] = cam
        return cam

    def frame_inputs(self, time_utc, frame_name: str) -> FrameInputs:
        """Query SPICE once for everything the per-pixel solution needs.

        The inputs of the last epoch are kept per instrument frame: a navigation asks for the same frame's
        several times (backplanes and pose of each band, again when it re-points), SPICE once."""
        et = self.et(time_utc)
        if self._last_inputs is not None and self._last_inputs.et == et:
            known = self._inputs.get(frame_name)
            if known is not None:
                return known
        else:
            self._inputs.clear()
        self._check_frame(frame_name)
        sp = _sp()
        with spice_errors(
            f"no pointing (CK/frame chain) for {frame_name} at {time_utc} (kernels {self.metakernel.name})"
        ):
            r2j = np.asarray(sp.pxform(frame_name, "J2000", et))
        if self._last_inputs is not None and self._last_inputs.et == et:  # e.g. the other band of the frame
            self._inputs[frame_name] = dataclasses.replace(self._last_inputs, inst_to_j2000=r2j)
            return self._inputs[frame_name]
        where = f"{self.observer} → {self.target} at {time_utc} (kernels {self.metakernel.name})"
        with spice_errors(f"no ephemeris for {where}"):
            tpos, lt = sp.spkezp(self._target_id, et, "J2000", "LT", self._observer_id)
            tc = et - lt
            obs_ssb = sp.spkssb(self._observer_id, et, "J2000")
            tgt_ssb = sp.spkssb(self._target_id, tc, "J2000")
            sun0 = sp.spkezp(10, tc, self.body_frame, self.abcorr, self._target_id)[0]
            sun1 = sp.spkezp(10, tc + 1.0, self.body_frame, self.abcorr, self._target_id)[0]
        with spice_errors(
            f"no orientation of {self.body_frame} at {time_utc} (kernels {self.metakernel.name})"
        ):
            x6 = np.asarray(sp.sxform("J2000", self.body_frame, tc))
        x0 = x6[:3, :3]
        rel = np.asarray(obs_ssb[:3]) - np.asarray(tgt_ssb[:3])
        self._last_inputs = FrameInputs(
            et=et,
            lt_s=float(lt),
            observer_body_km=x0 @ rel,
            j2000_to_body=x0,
            j2000_to_body_rate=x6[3:, :3],
            inst_to_j2000=r2j,
            beta=np.asarray(obs_ssb[3:]) / CLIGHT_KM_S,
            target_velocity_j2000=np.asarray(tgt_ssb[3:]),
            observer_minus_target_j2000=rel,
            sun_body_km=np.asarray(sun0),
            sun_body_rate=np.asarray(sun1) - np.asarray(sun0),
        )
        self._inputs = {frame_name: self._last_inputs}
        return self._last_inputs

    # --------------------------------------------------------------------------------------- products
    def backplanes(
        self,
        time_utc,
        frame_name: str,
        *,
        pointing_offset_px=(0.0, 0.0),
        pointing_correction_j2000: np.ndarray | None = None,
        defer_surface: bool = False,
    ) -> Backplanes:
        """All registered backplanes of ``frame_name``'s image at ``time_utc`` (sincpt/ilumin, LT+S).

        ``defer_surface``: the surface terms (incidence included) are made on the first read of a layer that
        needs them, and incidence can be read at a few pixels alone (``Backplanes.values_at``) — for a
        predicted geometry that a limb registration may replace (the same values either way).

        Two ways to correct the reconstructed pointing: ``pointing_offset_px`` translates the optical centre
        (a first-order model), ``pointing_correction_j2000`` (from :meth:`pointing_correction`) re-points the
        instrument by an exact rotation W (true instrument-to-J2000 = W · reconstructed), which also serves
        every other band of the same detector.
        """
        cam = self.camera(frame_name, pointing_offset_px=pointing_offset_px)
        inp = self.frame_inputs(time_utc, frame_name)
        if pointing_correction_j2000 is not None:
            corrected = np.asarray(pointing_correction_j2000) @ inp.inst_to_j2000
            inp = dataclasses.replace(inp, inst_to_j2000=corrected)
        self._check_outside(inp, time_utc)
        arrays, conic = _spice_arrays(cam, inp, self.body, defer_surface=defer_surface)
        meta = {
            "provider": "spice",
            "abcorr": self.abcorr,
            "observer": self.observer,
            "target": self.target,
            "frame": frame_name,
            "time_utc": str(time_utc),
            "et": inp.et,
            "metakernel": str(self.metakernel),
            "pointing_offset_px": tuple(map(float, pointing_offset_px)),
            SUN_OCCULTED_KEY: self._sun_occultation_kept(inp.et - inp.lt_s),
        }
        return Backplanes(arrays=arrays, meta=meta, limb_conic_px=conic)

    def _sun_occultation_kept(self, et: float) -> int | None:
        """:meth:`sun_occultation` at ``et``, kept for the last epoch: every band of a frame, predicted and
        re-pointed, asks at the same target epoch (it depends on the time alone), SPICE once."""
        kept = self._occulted
        if kept is None or kept[0] != et:
            kept = (et, self.sun_occultation(et))
            self._occulted = kept
        return kept[1]

    def sun_occultation(self, et: float) -> int | None:
        """The Sun's occultation by Jupiter seen from the target's centre at ``et`` (TDB s): CSPICE
        ``occult``'s code (LT), 0 none, −1 partial, −3 total (the target in Jupiter's umbra: no sunlight at
        all); None where the kernels cannot say (no Sun or Jupiter shape or ephemeris). The backplanes'
        incidence is the Sun's direction alone: this says whether it shines."""
        sp = _sp()
        from spiceypy.utils.exceptions import SpiceyError

        try:
            code = sp.occult(
                "SUN", "ELLIPSOID", "IAU_SUN", "JUPITER", "ELLIPSOID", "IAU_JUPITER", "LT", self.target, et
            )
        except SpiceyError:
            sp.reset()
            return None
        return int(code)

    def pointing_correction(self, time_utc, frame_name: str, anchor_px, offset_px) -> np.ndarray:
        """Rotation W (J2000, 3×3) that makes a scene point predicted at pixel ``anchor_px`` = (sample, line)
        of ``frame_name`` appear at ``anchor_px + offset_px``, as a limb fit measures it.

        The instrument is re-pointed rigidly (true = W · reconstructed), so the correction is exact at the
        anchor and right everywhere else in the frame, unlike a pixel translation, which is off by
        ~θ·x² (0.1–0.4 px at the frame edges for a 2° correction).
        """
        cam = self.camera(frame_name)
        p = np.asarray(cam.rays(anchor_px[0], anchor_px[1]), dtype=float)
        q = np.asarray(cam.rays(anchor_px[0] + offset_px[0], anchor_px[1] + offset_px[1]), dtype=float)
        p, q = p / np.linalg.norm(p), q / np.linalg.norm(q)
        # instrument rotation R with R q = p (the pixel where the point appears looks where the predicted
        # pixel looked), by Rodrigues' formula about q × p
        axis = np.cross(q, p)
        sin_a, cos_a = float(np.linalg.norm(axis)), float(q @ p)
        if sin_a < 1e-15:
            return np.eye(3)
        k = axis / sin_a
        kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
        r_inst = np.eye(3) + sin_a * kx + (1.0 - cos_a) * (kx @ kx)
        m = self.frame_inputs(time_utc, frame_name).inst_to_j2000
        return m @ r_inst @ m.T

    def _check_outside(self, inp: FrameInputs, time_utc) -> None:
        if float(np.sum((inp.observer_body_km / self.body.radii_km) ** 2)) <= 1.0:
            raise GeometryError(
                f"observer {self.observer} is inside {self.target}'s ellipsoid at {time_utc} "
                f"(kernels {self.metakernel.name})"
            )

    def pose(
        self, time_utc, frame_name: str, *, pointing_correction_j2000: np.ndarray | None = None
    ) -> CameraPose:
        """Camera pose at the light-time-corrected target epoch, for pinhole use (``backplanes_from_pose``,
        ``project_points``, :class:`ioscan.geometry.views.View`); ``pointing_correction_j2000`` as in
        :meth:`backplanes`.

        Stellar aberration is folded in as one rotation that is exact at the boresight; the differential
        aberration across a 432-pixel JIRAM field is < 0.1 px (that is what :meth:`backplanes` adds).
        """
        return self.pose_maker(time_utc, frame_name, pointing_correction_j2000=pointing_correction_j2000)()

    def pose_maker(
        self, time_utc, frame_name: str, *, pointing_correction_j2000: np.ndarray | None = None
    ) -> Callable[[], CameraPose]:
        """:meth:`pose` in two steps: what it asks of SPICE (and its checks) now, and a call that makes the
        same pose from that alone, later or never (a navigation's predicted views, which a registration
        replaces unread; picklable)."""
        cam = self.camera(frame_name)
        inp = self.frame_inputs(time_utc, frame_name)
        if pointing_correction_j2000 is not None:
            corrected = np.asarray(pointing_correction_j2000) @ inp.inst_to_j2000
            inp = dataclasses.replace(inp, inst_to_j2000=corrected)
        self._check_outside(inp, time_utc)
        return functools.partial(_pose_of, cam, inp, str(time_utc))

    def sub_observer(self, time_utc) -> tuple[float, float, float]:
        """(planetographic lat °N, west lon °W, range km to Io's centre) of the sub-observer point
        (``subpnt`` NEAR POINT/ELLIPSOID, LT+S)."""
        lat, lon, _, rng = self._sub_point(time_utc, "subpnt")
        return lat, lon, rng

    def _sub_point(self, time_utc, which: str):
        et = self.et(time_utc)
        sp = _sp()
        with spice_errors(f"{which} for {self.observer} at {time_utc} (kernels {self.metakernel.name})"):
            fn = sp.subpnt if which == "subpnt" else sp.subslr
            spoint, _, srfvec = fn(
                "NEAR POINT/ELLIPSOID", self.target, et, self.body_frame, self.abcorr, self.observer
            )
            lon, lat, _ = sp.recpgr(self.target, spoint, self.body.a_km, self.body.flattening)
            rng = float(np.linalg.norm(sp.spkpos(self.target, et, "J2000", self.abcorr, self.observer)[0]))
        return math.degrees(lat), math.degrees(lon) % 360.0, spoint, rng

    def label_geometry(self, time_utc, frame_name: str) -> LabelGeometry:
        """The disk geometry a label would carry, computed by SPICE (subpnt/subslr NEAR POINT/ELLIPSOID)."""
        cam = self.camera(frame_name)
        et = self.et(time_utc)
        lat, lon, _, rng = self._sub_point(time_utc, "subpnt")
        slat, slon, _, _ = self._sub_point(time_utc, "subslr")
        sp = _sp()
        with spice_errors(f"label geometry of {frame_name} at {time_utc} (kernels {self.metakernel.name})"):
            centre_inst = np.asarray(sp.spkpos(self.target, et, frame_name, self.abcorr, self.observer)[0])
            _, lt = sp.spkezp(self._target_id, et, "J2000", "LT", self._observer_id)
            body_to_j2000 = np.asarray(sp.pxform(self.body_frame, "J2000", et - lt))
            j2000_to_inst = np.asarray(sp.pxform("J2000", frame_name, et))
        pole_inst = j2000_to_inst @ body_to_j2000 @ np.array([0.0, 0.0, 1.0])
        u_s, u_l, b = cam.axes()
        c = centre_inst / np.linalg.norm(centre_inst)
        p = pole_inst - (pole_inst @ c) * c  # north on the sky plane at the disk centre
        pa = math.degrees(math.atan2(-(p @ u_s), -(p @ u_l))) % 360.0
        s, ln, _ = cam.project(centre_inst)
        return LabelGeometry(
            sub_observer_lat_deg=lat,
            sub_observer_lon_w_deg=lon,
            sub_solar_lat_deg=slat,
            sub_solar_lon_w_deg=slon,
            range_km=rng,
            north_pa_deg=pa,
            pixel_scale_km=rng * cam.ifov_rad,
            disk_center_sample=float(s),
            disk_center_line=float(ln),
        )


def _pose_of(cam: FrameCamera, inp: FrameInputs, time_utc: str) -> CameraPose:
    """:meth:`SpiceGeometry.pose` of a camera and its (re-pointed) inputs."""
    inst_to_body = inp.j2000_to_body @ inp.inst_to_j2000
    b = inst_to_body @ np.asarray(cam.boresight, dtype=float)
    corrected = b - inp.j2000_to_body @ inp.beta
    rot = _rotation_between(b, corrected / np.linalg.norm(corrected))
    return CameraPose(
        observer_km=inp.observer_body_km.copy(),
        inst_to_body=rot @ inst_to_body,
        sun_km=inp.sun_body_km.copy(),
        time_utc=time_utc,
        abcorr="LT+S",
    )


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector a to unit vector b (Rodrigues)."""
    v = np.cross(a, b)
    s = float(np.linalg.norm(v))
    c = float(a @ b)
    if s < 1e-300:
        return np.eye(3)
    k = v / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)


# ------------------------------------------------------------------------------------- per-pixel solution
#: rays whose miss distance is within this fraction of the radius are retried with a better light time
_NEAR_MISS = 5e-3


class _Epoch:
    """Observer and ray directions at target epoch tc + dt, to first order in dt (|dt| ≲ 10 ms).

    O(dt) = O0 + dt·g with g = Ẋ·(obs − tgt) − X0·v_tgt (the dt² term, < 1e-7 km, is dropped);
    ray(dt) = ray + dt·ω × ray with ω the body frame's angular velocity in body coordinates.
    """

    def __init__(self, inp: FrameInputs, radii: np.ndarray):
        x0, xd = inp.j2000_to_body, inp.j2000_to_body_rate
        self.o0 = np.asarray(inp.observer_body_km, dtype=float)
        self.g = xd @ inp.observer_minus_target_j2000 - x0 @ inp.target_velocity_j2000
        wmat = xd @ x0.T  # skew: W·v = ω × v
        self.omega = np.array([wmat[2, 1], wmat[0, 2], wmat[1, 0]])
        self.w = 1.0 / radii**2
        w, o, g = self.w, self.o0, self.g
        self.qc0 = float(np.sum(w * o * o) - 1.0)
        self.qc1 = float(2.0 * np.sum(w * o * g))
        self.qc2 = float(np.sum(w * g * g))

    def rays(self, d, dt):
        wx, wy, wz = self.omega
        # Io's spin axis is body +Z: only ω_z matters unless the pole moves fast (|ω_xy| > 1e-9 rad/s)
        full = abs(wx) > 1e-9 or abs(wy) > 1e-9
        out = [d[0] - (wz * dt) * d[1], d[1] + (wz * dt) * d[0], d[2]]
        if full:
            out[0] += (wy * dt) * d[2]
            out[1] -= (wx * dt) * d[2]
            out[2] = d[2] + dt * (wx * d[1] - wy * d[0])
        return out

    def intersect(self, d, dt, mask=None):
        """(t, observer components) of the near intersection at epoch tc + dt (t NaN on a miss or where
        ``mask`` is False)."""
        w = self.w
        o = [self.o0[k] + dt * self.g[k] for k in range(3)]
        wd = [d[k] * w[k] for k in range(3)]
        qa = d[0] * wd[0]
        qa += d[1] * wd[1]
        qa += d[2] * wd[2]
        qb = o[0] * wd[0]
        qb += o[1] * wd[1]
        qb += o[2] * wd[2]
        qc = dt * self.qc2
        qc += self.qc1
        qc *= dt
        qc += self.qc0
        disc = qb * qb
        disc -= qa * qc
        hit = disc >= 0.0
        hit &= qb < 0.0
        if mask is not None:
            hit &= mask
        np.maximum(disc, 0.0, out=disc)
        np.sqrt(disc, out=disc)
        disc -= qb
        with np.errstate(invalid="ignore", divide="ignore"):
            qc /= disc
        return np.where(hit, qc, np.nan), o


def spice_backplane_arrays(
    cam: FrameCamera, inp: FrameInputs, body: iobody.Ellipsoid
) -> dict[str, np.ndarray]:
    """Every backplane of ``cam`` as ``sincpt``/``ilumin`` (ELLIPSOID, LT+S, reception) would give them.

    See the module docstring for the algorithm; ``inp`` comes from :meth:`SpiceGeometry.frame_inputs`.
    """
    return _spice_arrays(cam, inp, body)[0]


def _disk_box(limb_px: np.ndarray, margin_px: float) -> tuple[int, int, int, int] | None:
    """(first line, end line, first sample, end sample) of the pixels whose limb distance exceeds
    −``margin_px`` (the disk and a margin around it); None when that box holds most of the frame."""
    near = limb_px > -margin_px
    rows = np.flatnonzero(near.any(axis=1))
    if rows.size == 0:
        return (0, 0, 0, 0)
    cols = np.flatnonzero(near[rows[0] : rows[-1] + 1].any(axis=0))
    box = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    if (box[1] - box[0]) * (box[3] - box[2]) >= 0.6 * limb_px.size:
        return None
    return box


#: pixels farther than this outside the predicted limb (beyond the near-miss distance) are not traced: the
#: limb grid (light time of the limb) and the per-pixel solution (of the centre, refined) differ by a few
#: tenths of a pixel at most (:func:`_spice_arrays`)
_BOX_MARGIN_PX = 4.0


#: the per-pixel steps of :func:`_spice_arrays` compiled (:mod:`ioscan.geometry.compiled`: the numpy
#: steps' numbers bit for bit, ``tests/geometry/test_compiled.py``); False: the numpy steps (the reference)
COMPILED = True


class _EpochTerms:
    """What the per-pixel solution needs that depends on the frame's epoch, observer and Sun alone, not on
    the pointing (``FrameInputs.inst_to_j2000``): made once for every band of a frame and again when it is
    re-pointed (:meth:`of`, kept for the last inputs), the same numbers as made per call."""

    #: (the inputs' arrays and light time, Io's radii) → terms, the last ones made
    _kept: tuple | None = None

    def __init__(self, inp: FrameInputs, body: iobody.Ellipsoid):
        c = CLIGHT_KM_S
        from ioscan.geometry.compiled import readonly

        x0 = inp.j2000_to_body
        self.x0 = x0
        self.beta = x0 @ inp.beta
        self.radii = radii = body.radii_km
        self.ep = ep = _Epoch(inp, radii)
        # the limb seen with the light time of the limb (≈ √(|O|² − R²)/c), not of the centre: at close
        # range the difference moves the limb by a few tenths of a pixel
        self.r0 = r0 = float(np.linalg.norm(ep.o0))
        dt_limb = inp.lt_s - math.sqrt(max(r0 * r0 - body.mean_radius_km**2, 0.0)) / c
        self.spin = spin = np.eye(3) + dt_limb * (inp.j2000_to_body_rate @ x0.T)
        self.limb_observer = ep.o0 + dt_limb * ep.g
        self.quadric = limb_quadric(np.asarray(self.limb_observer, dtype=float), radii)
        self.spin_beta = spin @ self.beta
        # a near miss passes within ~(√(1 + _NEAR_MISS) − 1)·a of the ellipsoid, seen from ≥ |O| − a
        self.near_km = (math.sqrt(1.0 + _NEAR_MISS) - 1.0) * float(radii.max()) * 1.01
        self.o0 = o0 = tuple(float(v) for v in ep.o0)
        # the compiled path's constants (:func:`_compiled_arrays`)
        off = np.asarray(self.beta, dtype=float)
        w = 1.0 / np.asarray(radii, dtype=float) ** 2
        self.qc = float(o0[0] * o0[0] * w[0] + o0[1] * o0[1] * w[1] + o0[2] * o0[2] * w[2] - 1.0)
        self.use_off = bool(np.any(off != 0.0))
        self.off_ro, self.o_ro, self.w_ro = readonly(off, o0, w)
        self.w = w
        wx, wy, _ = ep.omega
        self.full = abs(wx) > 1e-9 or abs(wy) > 1e-9
        self.epoch_ro = (*readonly(ep.o0, ep.g, ep.omega), self.full, *readonly(ep.w), ep.qc0, ep.qc1, ep.qc2)
        self.sun = inp.sun_body_km + inp.sun_body_rate * (0.5 * body.mean_radius_km / c)
        a = body.a_km
        c_km = a * (1.0 - body.flattening)
        e2 = 1.0 - (c_km / a) ** 2
        ep2 = (a / c_km) ** 2 - 1.0
        self.constants = (float(a), float(c_km), float(ep2 * c_km), float(-e2 * a))
        self.sun_lon_w = float(iobody.vector_to_lon_w_deg(inp.sun_body_km))

    @classmethod
    def of(cls, inp: FrameInputs, body: iobody.Ellipsoid) -> _EpochTerms:
        """The terms of ``inp`` and ``body``, kept for the last ones asked: the same when every input but the
        pointing is the same object (``SpiceGeometry.frame_inputs`` keeps them per epoch and shares them
        between bands; a re-pointing replaces ``inst_to_j2000`` alone) and the light time and radii equal."""
        key = (
            inp.j2000_to_body,
            inp.j2000_to_body_rate,
            inp.observer_body_km,
            inp.observer_minus_target_j2000,
            inp.target_velocity_j2000,
            inp.beta,
            inp.sun_body_km,
            inp.sun_body_rate,
        )
        scalars = (float(inp.lt_s), float(body.a_km), float(body.b_km), float(body.c_km))
        kept = cls._kept
        if kept is not None and kept[1] == scalars and all(a is b for a, b in zip(kept[0], key, strict=True)):
            return kept[2]
        terms = cls(inp, body)
        cls._kept = (key, scalars, terms)
        return terms


@dataclass(frozen=True)
class _FrameSetup:
    """What both paths of :func:`_spice_arrays` start from: the camera-to-body rotation ``m``, the
    aberration term ``beta`` (body frame), Io's ``radii`` (km), the epoch model ``ep`` and its observer
    position ``o0`` (km), the frame's ``shape``, the limb grid seen with the limb's light time and the box
    of pixels that can meet Io or be a near miss (:func:`_disk_box`; None: the whole frame)."""

    m: np.ndarray
    beta: np.ndarray
    radii: np.ndarray
    ep: _Epoch
    o0: tuple[float, float, float]
    shape: tuple[int, int]
    cam: FrameCamera
    limb_rays: tuple
    limb: object
    box: tuple[int, int, int, int] | None

    @classmethod
    def of(cls, cam: FrameCamera, inp: FrameInputs, body: iobody.Ellipsoid) -> _FrameSetup:
        e = _EpochTerms.of(inp, body)
        m = e.x0 @ inp.inst_to_j2000
        spun = e.spin @ m
        limb_rays = _limb_rays(cam, e.limb_observer, spun, e.radii, extra=e.spin_beta, quadric=e.quadric)
        limb = _limb_grid_of_rays(cam, limb_rays)  # the grid's rays, and the conic's
        span_km = max(e.r0 - float(e.radii.max()), 1e-3) * cam.ifov_rad
        box = _disk_box(limb, e.near_km / span_km + _BOX_MARGIN_PX)
        return cls(m, e.beta, e.radii, e.ep, e.o0, (cam.n_lines, cam.n_samples), cam, limb_rays, limb, box)

    def limb_conic(self):
        """The limb conic :func:`limb_distance_px` measures the distance to (the grid's rays)."""
        return _limb_conic_of_rays(self.cam, self.limb_rays)


def _candidates(cand: np.ndarray, box, n_samples: int, d: tuple, t1, t_near, norms):
    """Only the rays that can meet Io (``cand``) kept when a box was traced or they are few: (frame pixel
    indices or None, ``cand`` or None once applied, and ``d``, ``t1``, ``t_near``, ``norms`` kept)."""
    idx = None
    if box is not None or cand.sum() < 0.6 * cand.size:
        idx = np.flatnonzero(cand)
        if box is not None:  # box pixels → frame pixels
            l0, l1, s0, s1 = box
            idx = (l0 + idx // max(s1 - s0, 1)) * n_samples + s0 + idx % max(s1 - s0, 1)
            keep = np.flatnonzero(cand)
        else:
            keep = idx
        d = tuple(comp[keep] for comp in d)
        t1, t_near, norms = t1[keep], t_near[keep], norms[keep]
        cand = None
    return idx, cand, d, t1, t_near, norms


def _retry_light_time(ep: _Epoch, inp: FrameInputs, d: tuple, t2, dlen, again: np.ndarray):
    """The rays that met the body only on the light-time retry (``again``) take one more iteration, as SPICE
    does: (their indices, rays, intersection parameters, ray origins), or None when there are none."""
    if not again.any():
        return None
    j = np.flatnonzero(again)
    dj = tuple(v[j] for v in d)
    dtj = inp.lt_s - t2[j] * dlen[j] / CLIGHT_KM_S
    d3 = ep.rays(dj, dtj)
    t3, o3 = ep.intersect(d3, dtj)
    return j, d3, t3, o3


def _spice_arrays(
    cam: FrameCamera,
    inp: FrameInputs,
    body: iobody.Ellipsoid,
    compiled: bool | None = None,
    defer_surface: bool = False,
):
    """:func:`spice_backplane_arrays` and the limb conic ``limb_distance_px`` measures the distance to.

    Rays are traced only in the box that holds the predicted disk (:func:`_disk_box`: the limb grid, which
    is needed anyway, beyond the near-miss distance plus :data:`_BOX_MARGIN_PX`): every pixel that can meet
    Io or be a near miss lies in it, and its numbers are those of the whole-frame solution, bit for bit
    (every step is per pixel; ``tests/geometry/test_backplane_box.py``). ``compiled`` (default
    :data:`COMPILED`): the per-pixel arithmetic in three compiled passes (:func:`_compiled_arrays`), the
    same numbers; ``defer_surface``: see :meth:`SpiceGeometry.backplanes` (the compiled path's)."""
    if COMPILED if compiled is None else compiled:
        return _compiled_arrays(cam, inp, body, defer_surface)
    c = CLIGHT_KM_S
    f = _FrameSetup.of(cam, inp, body)
    m, beta, radii, ep, o0, shape, limb, box = f.m, f.beta, f.radii, f.ep, f.o0, f.shape, f.limb, f.box
    # rays at tc with stellar aberration removed exactly: d = |r|·X0·(u' − β)
    d = cam.rotated_ray_components(m, beta, box=box)
    t1, disc1, t_near = intersect_components(o0, d, radii, closest=True)
    norms = cam.ray_norms(box)
    idx, cand, d, t1, t_near, norms = _candidates(
        disc1 > -_NEAR_MISS, box, cam.n_samples, d, t1, t_near, norms
    )
    hit1 = np.isfinite(t1)
    dlen = d[0] * d[0]
    dlen += d[1] * d[1]
    dlen += d[2] * d[2]
    np.sqrt(dlen, out=dlen)
    # light time to the intercept, or (near misses) to the ray's closest approach to the ellipsoid;
    # pixel target epoch tc + dt = et − distance/c
    dt = np.where(hit1, t1, t_near)
    dt *= dlen
    dt *= -1.0 / c
    dt += inp.lt_s
    d2 = ep.rays(d, dt)
    t2, o2 = ep.intersect(d2, dt, cand)
    hit = np.isfinite(t2)
    retry = _retry_light_time(ep, inp, d, t2, dlen, hit & ~hit1)
    if retry is not None:
        j, d3, t3, o3 = retry
        for k in range(3):
            d2[k][j] = d3[k]
            o2[k] = np.array(np.broadcast_to(o2[k], t2.shape))
            o2[k][j] = o3[k]
        t2[j] = t3
        hit[j] = np.isfinite(t3)
    p = [d2[k] * t2 for k in range(3)]
    for k in range(3):
        p[k] += o2[k]
    rng = t2 * dlen  # |d2| = |d| (rotation), so range = t·|d|
    # ilumin: observer direction = apparent (aberrated) ray −A, A = d2 + |r|·β (|A| = |r|);
    # the Sun as seen from Io's centre (LT+S) at the mean target epoch of the disk (< 1e-5° from per pixel)
    a_vec = [d2[k] + norms * beta[k] for k in range(3)]
    sun = inp.sun_body_km + inp.sun_body_rate * (0.5 * body.mean_radius_km / c)
    to_sun = [sun[k] - p[k] for k in range(3)]
    sun_lon_w = float(iobody.vector_to_lon_w_deg(inp.sun_body_km))
    surf = surface_arrays(p, a_vec, to_sun, rng, cam.ifov_rad, sun_lon_w, body, obs_norm=norms, obs_sign=-1.0)
    return _assemble(shape, idx, hit, surf, limb), f.limb_conic()


def _compiled_arrays(cam: FrameCamera, inp: FrameInputs, body: iobody.Ellipsoid, defer_surface: bool = False):
    """:func:`_spice_arrays` with its per-pixel arithmetic compiled: the rays of the box and their first
    intersection (:func:`~ioscan.geometry.compiled.box_rays_intersect`), each candidate's light time and
    intersection at its own epoch (:func:`~ioscan.geometry.compiled.light_time_intersect`; the rare rays
    that meet Io only then take one more iteration in numpy, as there), and the surface terms up to the
    transcendental functions (:func:`~ioscan.geometry.compiled.surface_terms`), which numpy evaluates as
    :func:`~ioscan.geometry.backplanes.surface_arrays` does. Every step is the numpy path's, in its order."""
    from ioscan.geometry.compiled import (
        box_rays_intersect,
        gather_candidates,
        light_time_intersect,
        readonly,
        surface_terms,
    )

    c = CLIGHT_KM_S
    f = _FrameSetup.of(cam, inp, body)
    et_ = _EpochTerms.of(inp, body)  # (kept by _FrameSetup.of)
    m, beta, ep, shape, limb, box = f.m, f.beta, f.ep, f.shape, f.limb, f.box
    # rays at tc with stellar aberration removed exactly (FrameCamera.rotated_ray_components's terms)
    u_s, u_l, b = cam.axes()
    mb, ms, ml = m @ b, m @ u_s, m @ u_l
    s_off, l_off = cam.pixel_offsets()
    if box is not None:
        s_off, l_off = s_off[box[2] : box[3]], l_off[box[0] : box[1]]
    norms = cam.ray_norms(box)
    w = et_.w
    s_off, l_off, mb, ms, ml, norms = readonly(s_off, l_off, mb, ms, ml, norms)
    dx, dy, dz, t1, disc1, t_near = box_rays_intersect(
        s_off, l_off, mb, ms, ml, norms, et_.off_ro, et_.use_off, et_.o_ro, et_.w_ro, et_.qc
    )
    d = (dx, dy, dz)
    if box is not None:  # _candidates' selection with a box, in one compiled pass
        l0, _, s0, s1 = box
        idx, *kept = gather_candidates(
            *readonly(disc1), -_NEAR_MISS, l0, s0, max(s1 - s0, 1), cam.n_samples,
            *readonly(dx, dy, dz, t1, t_near), norms,
        )  # fmt: skip
        cand, d, (t1, t_near, norms) = None, tuple(kept[:3]), kept[3:]
    else:
        idx, cand, d, t1, t_near, norms = _candidates(
            disc1 > -_NEAR_MISS, box, cam.n_samples, d, t1, t_near, norms
        )
    hit1 = np.isfinite(t1)
    mask = cand if cand is not None else np.ones(0, dtype=bool)
    args = readonly(*d, t1, t_near, mask)
    ex, ey, ez, ox, oy, oz, t2, dlen, dt = light_time_intersect(
        *args, cand is not None, float(inp.lt_s), -1.0 / c, *et_.epoch_ro
    )
    hit = np.isfinite(t2)
    retry = _retry_light_time(ep, inp, d, t2, dlen, hit & ~hit1)
    if retry is not None:
        j, d3, t3, o3 = retry
        for k, (e, o) in enumerate(((ex, ox), (ey, oy), (ez, oz))):
            e[j] = d3[k]
            o[j] = o3[k]
        t2[j] = t3
        hit[j] = np.isfinite(t3)
    sun, constants = et_.sun, et_.constants
    per_ray = (ex, ey, ez, ox, oy, oz, t2, dlen, norms)
    extra = (cam.ifov_rad, et_.sun_lon_w)
    every: list = []  # the surface terms of every candidate (made at once, or when a layer first needs them)

    def terms(pos: np.ndarray | None = None) -> tuple:
        """:func:`surface_terms` of every candidate, or of the candidates ``pos`` alone (each ray's own steps:
        the same numbers), then the pixel's angular size and the sub-solar west longitude."""
        if pos is not None and not every:
            rays = (v[pos] for v in per_ray)
            return (*surface_terms(*readonly(*rays, beta, sun, w), *constants), *extra)
        if not every:
            every.extend(surface_terms(*readonly(*per_ray, beta, sun, w), *constants))
        return (*(every if pos is None else (v[pos] for v in every)), *extra)

    # the limb fit reads the limb, the disk and incidence (with ``defer_surface`` at its Sun fit's few
    # thousand disk pixels alone, ``make_at``: a limb-registered frame's predicted geometry makes no surface
    # terms for the whole box); the other layers are made on first read, those a scan reads whole
    # (REST_TOGETHER) together, the others alone (a scan never reads lat_pc_deg nor local_solar_time_h, and
    # phase_deg at one pixel)
    ready = {"on_disk": _on_disk(shape, idx, hit), "limb_distance_px": limb}
    if not defer_surface:
        incidence = _surface_layer("incidence_deg", terms(), {}, False)
        ready = _scatter_layers(shape, idx, hit, {"incidence_deg": incidence}) | ready
    made: dict[str, np.ndarray] = {}  # the longitudes before their scatter (the local time reads them)

    def layer(name: str) -> dict[str, np.ndarray]:
        names = REST_TOGETHER if name in REST_TOGETHER else (name,)
        layers = {n: _surface_layer(n, terms(), made, idx is None) for n in names}
        return _scatter_layers(shape, idx, hit, layers)

    def at(name: str, flat: np.ndarray) -> np.ndarray | None:
        """Layer ``name`` at the frame's flat pixel indices ``flat`` (on the disk; else None)."""
        flat = np.asarray(flat, dtype=np.intp)
        if not flat.size:
            return np.empty(0)
        if idx is None:
            pos = flat
        else:
            pos = np.minimum(np.searchsorted(idx, flat), max(len(idx) - 1, 0))
            if not len(idx) or not np.array_equal(idx[pos], flat):
                return None
        if not hit[pos].all():
            return None
        return _surface_layer(name, terms(pos), {}, True)

    layers = LazyLayers(ready, tuple(REGISTRY), make_layer=layer, make_at=at, finite_on_disk=_FINITE_ON_DISK)
    return layers, f.limb_conic()


#: the SPICE layers made together on the first read of any of them (those a scan reads whole)
REST_TOGETHER = ("lat_deg", "lon_w_deg", "emission_deg", "range_km", "pixel_scale_km")

#: the compiled SPICE layers that are finite exactly on the disk (``on_disk`` 1): at a hit the point is
#: finite and on the ellipsoid, so the normal's and the Sun direction's lengths are finite and > 0, and the
#: clipped cosine, its arccos and the degrees are finite; off the disk the scatter writes NaN
_FINITE_ON_DISK = frozenset({"incidence_deg"})


def _angle_deg(cos: np.ndarray) -> np.ndarray:
    """arccos in degrees, as :func:`ioscan.geometry.backplanes.surface_arrays` takes it (a new array)."""
    angle = np.arccos(cos)
    angle *= 180.0 / np.pi
    return angle


def _on_disk(shape, idx, hit) -> np.ndarray:
    """The ``on_disk`` image (1.0 where a candidate met Io, else 0.0), as :func:`_assemble` makes it, in one
    compiled pass (:func:`ioscan.geometry.compiled.mark_hits`, :func:`~ioscan.geometry.compiled.hits_as_float`
    without ``idx``)."""
    from ioscan.geometry.compiled import hits_as_float, mark_hits, readonly, readonly_index

    if idx is None:
        return hits_as_float(*readonly(hit)).reshape(shape)
    return mark_hits(shape[0] * shape[1], readonly_index(idx), *readonly(hit)).reshape(shape)


def _surface_layer(name: str, terms: tuple, made: dict, scattered_in_place: bool) -> np.ndarray:
    """One layer of :func:`ioscan.geometry.backplanes.surface_arrays`' transcendental steps on the compiled
    terms ``terms`` (:func:`surface_terms`' and the pixel's angular size and the sub-solar west longitude),
    in numpy as there (the same functions and order: the same numbers, per pixel, whichever pixels).
    ``made`` keeps the longitudes, which the local solar time is made from; a scatter that writes its NaN
    into the array itself (``scattered_in_place``: a candidate per pixel) gets copies of what is kept."""
    x, y, z, rho, rng, num, den, ce, ci, cp, ifov_rad, sun_lon_w_deg = terms
    if name == "incidence_deg":
        return _angle_deg(ci)
    if name == "lat_deg":
        lat = np.arctan2(num, den)
        lat *= 180.0 / np.pi
        return lat
    if name in ("lon_w_deg", "local_solar_time_h"):
        if "lon_w_deg" not in made:
            made["lon_w_deg"] = lon_w_deg_of(x, y)
        lon_w = made["lon_w_deg"]
        if name == "local_solar_time_h":
            return local_solar_time_h_of(lon_w, sun_lon_w_deg)
        return lon_w.copy() if scattered_in_place else lon_w
    if name == "lat_pc_deg":
        return lat_pc_deg_of(z, rho)
    if name == "emission_deg":
        return _angle_deg(ce)
    if name == "phase_deg":
        return _angle_deg(cp)
    if name == "range_km":
        return rng.copy() if scattered_in_place else rng
    if name == "pixel_scale_km":
        return rng * ifov_rad
    raise KeyError(name)
