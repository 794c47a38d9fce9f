"""detect.photometry: the outlier fill's flux error made only for the sources it concerns."""

from __future__ import annotations

import numpy as np

from ioscan.detect import band as band_mod
from ioscan.detect.photometry import fill_flux_err
from ioscan.detect.psf import PsfModel


def _fill_calls(monkeypatch) -> list:
    """fill_flux_err's arguments on the simulator's sunlit L ground with S/N ~60 sources on a grid and faint
    ones between them (holes under the bright ones only)."""
    from ioscan.detect.band import detect_band
    from ioscan.detect.config import DetectConfig
    from ioscan.records import BandImage
    from ioscan.simulate.psf import jiram_psf
    from ioscan.simulate.sunlit_ground import sunlit_ground_frame

    f = sunlit_ground_frame(100000.0, 11)
    rng = np.random.default_rng(11)
    nl, ns = f.image.shape
    pos = np.array(
        [(ln + rng.uniform(-0.5, 0.5), s + rng.uniform(-0.5, 0.5)) for ln in range(14, nl - 13, 24)
         for s in range(14, ns - 13, 24)]
    )  # fmt: skip
    li, sj = np.rint(pos[:, 0]).astype(int), np.rint(pos[:, 1]).astype(int)
    sigma = f.detector.noise_sigma_w_m2_sr("L", f.exposure_s, np.maximum(f.ground[li, sj], 0.0))
    src = np.zeros_like(f.image)
    snr = np.where(np.arange(len(pos)) % 2 == 0, 60.0, 8.0)
    jiram_psf().add_point_sources(src, pos[:, 1], pos[:, 0], snr * sigma)
    img = BandImage(
        band="L", data=(f.image + src).astype(np.float32), unit="W/(m^2*sr)", wavelength_um=3.455,
        bandwidth_um=0.28,
    )  # fmt: skip
    seen: list = []
    real = band_mod.fill_flux_err

    def record(model, x, y, psf, along_limb_px):
        seen.append((model, x, y, psf, along_limb_px))
        return real(model, x, y, psf, along_limb_px)

    monkeypatch.setattr(band_mod, "fill_flux_err", record)
    detect_band(img, f.backplanes, instrument="JIRAM", config=DetectConfig(estimate_psf=False))
    monkeypatch.undo()
    assert seen
    return seen


def test_fill_error_stamps_made_only_for_sources_with_a_hole(monkeypatch):
    """The compiled loop makes the PSF's stamps only for the sources whose 3 × 3 centre touches an outlier
    (the others have no hole: 0), and its values are the numpy loop's bit for bit, also on any subset of the
    sources (each source's value is its own)."""
    calls = _fill_calls(monkeypatch)
    sizes: list[int] = []
    real = PsfModel.stamp_grid_at  # (the stamps from their first pixel: the fill's centre stamps)

    def counting(self, sj0, li0, m, x0, y0, derivatives=True):
        sizes.append(len(x0))
        return real(self, sj0, li0, m, x0, y0, derivatives)

    n_holes = n_sources = 0
    for model, x, y, psf, along in calls:
        monkeypatch.setattr(PsfModel, "stamp_grid_at", counting)
        sizes.clear()
        got = fill_flux_err(model, x, y, psf, along)
        monkeypatch.undo()
        holes = int(np.count_nonzero(got))  # (nan or > 0: a hole under the source)
        assert sizes == ([holes] if holes else [])
        want = fill_flux_err(model, x, y, psf, along, compiled=False)
        assert got.tobytes() == want.tobytes()
        odd = np.arange(len(x)) % 2 == 1
        assert fill_flux_err(model, x[odd], y[odd], psf, along).tobytes() == got[odd].tobytes()
        n_holes, n_sources = n_holes + holes, n_sources + len(x)
    assert 0 < n_holes < n_sources
