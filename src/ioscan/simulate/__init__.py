"""Simulated Io observations with known truth.

* :mod:`~ioscan.simulate.population` — hot spots seeded from published tables, evolved in time;
* :mod:`~ioscan.simulate.scene` — surface (reflected sunlight, cold thermal emission) and hot-spot radiance;
* :mod:`~ioscan.simulate.psf`, :mod:`~ioscan.simulate.render_jiram`, :mod:`~ioscan.simulate.render_ao` —
  detector-level rendering of JIRAM and ground-based AO frames;
* :mod:`~ioscan.simulate.campaign` — a Juno-like campaign written as PDS3/FITS products + SPICE kernels +
  truth tables (:func:`~ioscan.simulate.campaign.simulate_campaign`);
* :mod:`~ioscan.simulate.ephemeris`, :mod:`~ioscan.simulate.kernels` — analytic ephemeris and kernel writer.
"""
