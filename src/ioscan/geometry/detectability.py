"""The probability that a known hot spot in view is detected in a frame: P_d,j of the hot-spot matcher.

The matcher (:mod:`ioscan.geometry.hotspot_registration`) charges ln(1 − P_d,j) for every anchor an offset
puts in view and did not match, and credits ln P_d,j − ln(1 − P_d,j) for every match. With one P_d for all,
a far frame's right offset pays for ~150 anchors far too faint to be seen at that range, while offsets that
push the disk out of the frame pay nothing, and "nothing matched" wins. Here P_d,j is what the anchor's
catalogue brightness says of its S/N in this frame:

    S_pred,j,b = c_b · (P_M,j / π) · 1e9 · |det J_j,b| / 1e6    [W m⁻² sr⁻¹ µm⁻¹ summed over pixels]

(the spectral intensity P_M/π, GW µm⁻¹ sr⁻¹, over the pixel area it covers: |det J| = cos e / s², the
Jacobian px/km of :meth:`ioscan.geometry.views.View.pixels_per_km`, s the pixel scale, e the emission
angle — the published JIRAM intensity formula of :mod:`ioscan.measure.intensity`, inverted), with P_M,j the
anchor's M-band spectral radiant power (GW µm⁻¹; the catalogue's average), c_b the colour that takes it to
band b (:func:`band_colour`), and

    P_d,j,b = max(P_0 · Φ[(ln S_pred,j,b − ln(t · σ_b)) / σ_ln,j,b] · U_j,b, P_D_FLOOR)

with σ_b the band's flux noise for a faint point source (:func:`band_flux_noise`, from the frame's own
detections), t the matcher's S/N cut, σ_ln,j,b the log-normal spread of the prediction — the hot spots'
variability (:data:`VARIABILITY_SIGMA_LN`), the catalogue brightness's own (M power from total power:
:data:`M_FROM_POWER_SIGMA_LN`) and the colour's (:func:`band_colour`), in quadrature —, P_0 the configured
``anchor_detect_prob`` (0.5: what a source above the threshold still loses to fading, blends with unknown
sources, the frame's edges, cosmic rays — the matcher's former P_d for all), and U_j,b = Π (1 − Φ_k) over
the brighter anchors k within ``same_source_px`` of j in band b (Φ_k their Φ[…]): the matcher matches one of
detections that close, and the detector merges the closest, so a fainter neighbour of a detected source is
not seen apart. (Measured on bench_scan's campaign, seed 5: at 390,000 km 124 of the 181 hot spots in view
have S/N ≥ 5 alone, but the disk is 40 px across and 29 detections come out: without U the right offset
(4 anchors matched) lost to "nothing matched" by 42 nats; P_d ≤ 0.9 instead of P_0 · Φ lost a 30-match
registration at 133,000 km, where only 88 of the 149 anchors in view have a detection near them.) An anchor's
P_d,j is its largest over the bands that show it. Anchors without a brightness, and frames whose bands give
no noise, keep P_0.

:data:`P_D_FLOOR` 0.02: no hot spot is certain to be missed (outbursts brighten sources by factors of
10–1000 for days; the log-normal's tail is lighter than Io's; the blend factor treats neighbours as merged
whatever their separation below the radius). It keeps a miss's charge ≥ ln 0.98 and the gain of matching
a faint anchor ≥ ln(0.02 / 0.98) = −3.9 nats: a detection matched to one must beat clutter by that much.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

#: log-normal σ of a hot spot's M-band power about its catalogue average: JIRAM Table S1's per-source range
#: ln(max/min unsaturated) over the orbits that saw it, divided by the expected range of that many normal
#: draws, is 0.75 on average over the 225 sources seen on ≥ 2 orbits (median 0.65); rounded up, since
#: orbits that did not see a source are not in the table
VARIABILITY_SIGMA_LN = 0.8
#: M-band spectral power (GW/µm) per GW of total power of a Table 10 source without a JIRAM average: the
#: median of ln(M_avg / P) over the 97 sources in both tables (e^−3.53), and its scatter (0.79)
M_PER_POWER_UM = 0.0293
M_FROM_POWER_SIGMA_LN = 0.79
#: the M band's wavelength (JIRAM M, µm) that catalogue M powers are given at
M_BAND_UM = 4.78
#: colour temperatures of Io's hot spots that the colour's spread covers (K; the reference at their
#: geometric mean): a band's colour c_b = B_λb(T) / B_λM(T) at ~650 K, its σ half the ln range over them
COLOUR_T_RANGE_K = (450.0, 950.0)
#: the least P_d,j (module docstring)
P_D_FLOOR = 0.02
#: quantile of a band's detections' flux errors taken as its faint-source flux noise (the bright sources'
#: errors carry their own shot noise and fit excess)
NOISE_QUANTILE = 0.25


def _planck_ln(wavelength_um: float, t_k) -> np.ndarray:
    """ln B_λ(T) up to a constant of λ alone's: −5 ln λ − ln(exp(hc/λkT) − 1)."""
    x = 14387.77 / (wavelength_um * np.asarray(t_k, dtype=float))
    return -5.0 * math.log(wavelength_um) - np.log(np.expm1(x))


def band_colour(wavelength_um: float) -> tuple[float, float]:
    """(ln c_b, σ of ln c_b): ln of a hot spot's spectral radiance at ``wavelength_um`` over its M-band
    one, at the geometric mean of :data:`COLOUR_T_RANGE_K`, and half the range of that over the
    temperatures (0 at the M band). JIRAM L (3.45 µm): c ≈ 0.8, σ ≈ 0.45."""
    lo, hi = COLOUR_T_RANGE_K
    ts = np.array([lo, math.sqrt(lo * hi), hi])
    ln_c = _planck_ln(wavelength_um, ts) - _planck_ln(M_BAND_UM, ts)
    return float(ln_c[1]), float(0.5 * abs(ln_c[2] - ln_c[0]))


def band_flux_noise(errs: np.ndarray) -> float:
    """A band's flux noise for a faint point source (the unit of ``errs``): the :data:`NOISE_QUANTILE`
    quantile of its detections' flux errors (finite, > 0); NaN without any."""
    e = np.asarray(errs, dtype=float)
    e = e[np.isfinite(e) & (e > 0)]
    return float(np.quantile(e, NOISE_QUANTILE)) if len(e) else math.nan


def detect_prob(
    m_power_gw_um: np.ndarray,
    power_sigma_ln: np.ndarray,
    area_px_per_km2: np.ndarray,
    band_noise: np.ndarray,
    band_wavelength_um: np.ndarray,
    min_snr: float,
    default: float,
    anc_xy: np.ndarray | None = None,
    blend_px: float = 0.0,
) -> np.ndarray:
    """(m,) P_d,j of anchors (module docstring).

    Args:
        m_power_gw_um: (m,) catalogue M-band spectral radiant power, GW/µm (NaN: unknown).
        power_sigma_ln: (m,) log-normal σ of that value as a prediction (variability included).
        area_px_per_km2: (m, B) |det J| of each anchor in each band, px² per km² of surface (NaN or 0 where
            the band does not show it).
        band_noise: (B,) each band's faint-source flux noise, W m⁻² sr⁻¹ µm⁻¹ summed over pixels (NaN:
            unknown).
        band_wavelength_um: (B,) each band's wavelength.
        min_snr: the S/N a detection needs.
        default: P_d of anchors whose brightness or bands' noise is unknown.
        anc_xy: (m, B, 2) the anchors' predicted pixels (their separations do not depend on the offset).
        blend_px: an anchor closer than this to a brighter one in a band is seen apart only where that one
            is not detected (the matcher matches one of detections this close: ``same_source_px``).
    """
    p = np.asarray(m_power_gw_um, dtype=float)
    sig = np.asarray(power_sigma_ln, dtype=float)
    area = np.asarray(area_px_per_km2, dtype=float)
    noise = np.asarray(band_noise, dtype=float)
    m, nb = area.shape if area.ndim == 2 else (len(p), 0)
    best = np.full(m, -np.inf)
    for b in range(nb):
        if not (np.isfinite(noise[b]) and noise[b] > 0 and np.isfinite(band_wavelength_um[b])):
            continue
        ln_c, sig_c = band_colour(float(band_wavelength_um[b]))
        with np.errstate(divide="ignore", invalid="ignore"):
            ln_s = ln_c + np.log(p / math.pi) + math.log(1e3) + np.log(area[:, b])
            z = (ln_s - math.log(min_snr * noise[b])) / np.sqrt(sig**2 + sig_c**2)
        ok = np.isfinite(z)
        pb = np.where(ok, ndtr(np.where(ok, z, 0.0)), np.nan)
        if anc_xy is not None and blend_px > 0 and ok.sum() > 1:
            pb[ok] = pb[ok] * _unblended(anc_xy[ok, b], ln_s[ok], pb[ok], blend_px)
        best[ok] = np.maximum(best[ok], pb[ok])
    out = np.maximum(default * best, P_D_FLOOR)
    return np.where(np.isfinite(best), out, default)


def _unblended(xy: np.ndarray, ln_s: np.ndarray, p: np.ndarray, radius_px: float) -> np.ndarray:
    """(k,) Π (1 − p_k) over the brighter anchors k within ``radius_px`` of each anchor (one band)."""
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    brighter = (ln_s[None, :] > ln_s[:, None]) & (d < radius_px)
    return np.exp(brighter.astype(float) @ np.log1p(-np.minimum(p, 1.0 - 1e-12)))
