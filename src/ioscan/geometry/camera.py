"""Frame-camera model: pixel (sample, line) ↔ ray direction in the instrument frame.

The instrument frame has its boresight along ``boresight`` (default +Z). A pixel's (un-normalised) ray is

    d = boresight + (sample − center_sample)·ifov·sample_axis + (line − center_line)·ifov·line_axis,

a gnomonic (pinhole) projection with square pixels of angular size ``ifov_rad``. Pixel coordinates are
0-based with pixel centres at integers. ``twist_deg`` rotates the sample/line axes about the boresight.

Which instrument-frame axes the samples and lines run along is an instrument fact (:class:`PixelAxes`,
declared per instrument in :mod:`ioscan.instruments`, e.g. ``jiram.PIXEL_AXES``); a real instrument's camera
is built with :meth:`FrameCamera.from_layout` from that declaration, never from a default. The defaults of
:class:`FrameCamera` (:data:`DIRECT_VIEW_AXES`) serve the abstract cameras built from label geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ioscan.instruments.base import DIRECT_VIEW_AXES, DetectorLayout, PixelAxes

__all__ = ["DIRECT_VIEW_AXES", "DetectorLayout", "FrameCamera", "PixelAxes", "image_directions"]


def image_directions(boresight_dir, north_dir, north_pa_deg: float, *, mirrored: bool):
    """(sample direction, line direction) of an image looking along ``boresight_dir`` in which the projection
    of ``north_dir`` appears at position angle ``north_pa_deg`` (from "up", −line, toward −sample).

    All vectors are in one frame; ``mirrored`` picks the handedness (see :class:`PixelAxes`). Looking straight
    along ``north_dir``, the frame's +X plays north.
    """
    b = np.asarray(boresight_dir, dtype=float)
    north = np.asarray(north_dir, dtype=float)
    p = north - (north @ b) * b
    if np.linalg.norm(p) < 1e-9:
        p = np.array([1.0, 0.0, 0.0]) - b[0] * b
    p /= np.linalg.norm(p)
    q = np.cross(p, b) if mirrored else np.cross(b, p)
    pa = np.radians(north_pa_deg)
    return -np.sin(pa) * p + np.cos(pa) * q, -np.cos(pa) * p - np.sin(pa) * q


@dataclass(frozen=True)
class FrameCamera:
    """A pinhole frame camera.

    Attributes:
        n_samples, n_lines: image size, pixels.
        ifov_rad: angular size of one pixel, rad.
        center_sample, center_line: pixel (0-based) where the boresight lands (optical centre).
        sample_axis, line_axis, boresight: unit vectors in the instrument frame.
        twist_deg: extra rotation of the detector about the boresight, degrees (positive turns the
            sample axis toward the line axis).
    """

    n_samples: int
    n_lines: int
    ifov_rad: float
    center_sample: float
    center_line: float
    sample_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    line_axis: tuple[float, float, float] = (0.0, 1.0, 0.0)
    boresight: tuple[float, float, float] = (0.0, 0.0, 1.0)
    twist_deg: float = 0.0
    _cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def with_axes(
        cls,
        axes: PixelAxes,
        *,
        n_samples: int,
        n_lines: int,
        ifov_rad: float,
        center_sample: float,
        center_line: float,
    ) -> FrameCamera:
        """Camera of an instrument with pixel-axis convention ``axes`` (IFOV in rad, centre 0-based px)."""
        return cls(
            n_samples=n_samples,
            n_lines=n_lines,
            ifov_rad=ifov_rad,
            center_sample=center_sample,
            center_line=center_line,
            sample_axis=tuple(float(v) for v in axes.sample_axis),
            line_axis=tuple(float(v) for v in axes.line_axis),
            boresight=tuple(float(v) for v in axes.boresight),
        )

    @classmethod
    def from_layout(cls, layout: DetectorLayout, ifov_rad: float, offset_px=(0.0, 0.0)) -> FrameCamera:
        """The camera of a detector layout for an IFOV (rad); ``offset_px`` = (d_sample, d_line) moves the
        optical centre."""
        return cls.with_axes(
            layout.axes,
            n_samples=layout.n_samples,
            n_lines=layout.n_lines,
            ifov_rad=ifov_rad,
            center_sample=layout.center_sample + float(offset_px[0]),
            center_line=layout.center_line + float(offset_px[1]),
        )

    @property
    def pixel_axes(self) -> PixelAxes:
        """The camera's pixel-axis convention (before the twist)."""
        return PixelAxes(self.sample_axis, self.line_axis, self.boresight)

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sample_axis, line_axis, boresight) after the twist, instrument frame."""
        s = np.asarray(self.sample_axis, dtype=float)
        ln = np.asarray(self.line_axis, dtype=float)
        b = np.asarray(self.boresight, dtype=float)
        t = np.radians(self.twist_deg)
        return np.cos(t) * s + np.sin(t) * ln, -np.sin(t) * s + np.cos(t) * ln, b

    def pixel_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """(sample, line) arrays of shape (n_lines, n_samples) of pixel-centre coordinates."""
        return np.meshgrid(np.arange(self.n_samples, dtype=float), np.arange(self.n_lines, dtype=float))

    def rays(self, sample=None, line=None) -> np.ndarray:
        """Un-normalised ray directions (..., 3) in the instrument frame (whole image by default).

        The whole-image result is cached (read-only) since it depends only on the camera.
        """
        whole = sample is None and line is None
        if whole and "rays" in self._cache:
            return self._cache["rays"]
        if whole:
            sample, line = self.pixel_grid()
        u_s, u_l, b = self.axes()
        ds = (np.asarray(sample, dtype=float) - self.center_sample) * self.ifov_rad
        dl = (np.asarray(line, dtype=float) - self.center_line) * self.ifov_rad
        d = b + ds[..., None] * u_s + dl[..., None] * u_l
        if whole:
            d.setflags(write=False)
            self._cache["rays"] = d
        return d

    def pixel_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """((sample − center_sample)·ifov for every sample, (line − center_line)·ifov for every line), rad.

        A pixel's ray is ``boresight + s_off·sample_axis + l_off·line_axis`` (axes after the twist).
        """
        if "offsets" not in self._cache:
            s_off = (np.arange(self.n_samples, dtype=float) - self.center_sample) * self.ifov_rad
            l_off = (np.arange(self.n_lines, dtype=float) - self.center_line) * self.ifov_rad
            s_off.setflags(write=False)
            l_off.setflags(write=False)
            self._cache["offsets"] = (s_off, l_off)
        return self._cache["offsets"]

    def ray_norms(self, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Length of every un-normalised pixel ray, (n_lines × n_samples) flattened, cached (read-only);
        with ``box`` = (first line, end line, first sample, end sample) those of the box only (flattened,
        the same numbers)."""
        if box is not None:
            l0, l1, s0, s1 = box
            return self.ray_norms().reshape(self.n_lines, self.n_samples)[l0:l1, s0:s1].ravel()
        if "norms" not in self._cache:
            u_s, u_l, b = self.axes()
            s, l = self.pixel_offsets()
            row = b @ b + 2.0 * (b @ u_s) * s + (u_s @ u_s) * s * s
            col = 2.0 * (b @ u_l) * l + (u_l @ u_l) * l * l
            n2 = np.add.outer(col, row) + np.multiply.outer(2.0 * (u_s @ u_l) * l, s)
            norms = np.sqrt(n2).ravel()
            norms.setflags(write=False)
            self._cache["norms"] = norms
        return self._cache["norms"]

    def rotated_ray_components(
        self, matrix: np.ndarray, offset=(0.0, 0.0, 0.0), box: tuple[int, int, int, int] | None = None
    ) -> tuple[np.ndarray, ...]:
        """Flat component arrays (x, y, z) of ``matrix @ ray − |ray|·offset`` for every pixel (of ``box`` =
        (first line, end line, first sample, end sample) only: the same numbers for those pixels).

        ``matrix`` rotates instrument vectors into another frame; ``offset`` (e.g. β = v/c, in that frame)
        is subtracted from the *unit* ray, scaled back by the ray length (so the result stays proportional
        to the corrected direction). Uses the rays' linearity in (sample, line): one outer sum per component.
        """
        u_s, u_l, b = self.axes()
        m = np.asarray(matrix, dtype=float)
        mb, ms, ml = m @ b, m @ u_s, m @ u_l
        s, l = self.pixel_offsets()
        if box is not None:
            s, l = s[box[2] : box[3]], l[box[0] : box[1]]
        off = np.asarray(offset, dtype=float)
        norms = self.ray_norms(box) if np.any(off != 0.0) else None
        out = []
        for k in range(3):
            comp = np.add.outer(l * ml[k], mb[k] + s * ms[k]).ravel()
            if norms is not None:
                comp -= norms * off[k]
            out.append(comp)
        return tuple(out)

    def project(self, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Instrument-frame directions (..., 3) → (sample, line, in_front) by the inverse of :meth:`rays`."""
        d = np.asarray(directions, dtype=float)
        u_s, u_l, b = self.axes()
        along = d @ b
        with np.errstate(divide="ignore", invalid="ignore"):
            sample = self.center_sample + (d @ u_s) / along / self.ifov_rad
            line = self.center_line + (d @ u_l) / along / self.ifov_rad
        return sample, line, along > 0
