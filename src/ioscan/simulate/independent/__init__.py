"""A second, independent renderer of JIRAM-imager-like frames of Io, with known truth.

Written without reading ``ioscan.simulate``'s other modules or ``ioscan.detect``: its own geometry (triaxial
Io, pinhole camera), a smooth albedo (no structure finer than ~8 px) with Lambert/Minnaert shading, a Gaussian
PSF (σ = 0.8 px by default, optional width change and along-track elongation), shot + read noise, weak column
offsets and gain changes, cosmic rays, saturation and on-board background subtraction. numpy/scipy only.

* :func:`draw_scene` — a random scene (:class:`SceneParams`); :func:`render_scene` — band images + truth
  (:class:`RenderedFrame`);
* :func:`write_product` — a real-archive-style PDS3 product (``.IMG`` little-endian float32 + ``.LBL``
  modelled on ``JIR_IMG_RDR_2017033T114006_V02.LBL``, no geometry in the label).

Modules: :mod:`.geometry`, :mod:`.surface`, :mod:`.psf`, :mod:`.detector`, :mod:`.sources`, :mod:`.scene`,
:mod:`.render`, :mod:`.pds3`.
"""

from ioscan.simulate.independent.detector import DetectorParams
from ioscan.simulate.independent.geometry import ViewGeometry
from ioscan.simulate.independent.pds3 import write_product
from ioscan.simulate.independent.psf import GaussianPsf
from ioscan.simulate.independent.render import RenderedBand, RenderedFrame, render_scene
from ioscan.simulate.independent.scene import SceneParams, draw_scene, view_geometry
from ioscan.simulate.independent.sources import HotSpotParams
from ioscan.simulate.independent.surface import AlbedoMap, Photometry

__all__ = [
    "AlbedoMap",
    "DetectorParams",
    "GaussianPsf",
    "HotSpotParams",
    "Photometry",
    "RenderedBand",
    "RenderedFrame",
    "SceneParams",
    "ViewGeometry",
    "draw_scene",
    "render_scene",
    "view_geometry",
    "write_product",
]
