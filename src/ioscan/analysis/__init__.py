"""Science outputs from the catalogue: coverage and exposure, latitude and hemisphere statistics with their
significance, the thermal-emission map with its spherical-harmonic expansion and tidal-heating patterns, time
series and their correlation with external series, and mosaics of registered frames.

One module per job (docs/architecture.md): :mod:`~ioscan.analysis.catalog_view` (the only reader of the
catalogue), :mod:`~ioscan.analysis.grids` (cells, areas, regions), :mod:`~ioscan.analysis.coverage`
(exposure), :mod:`~ioscan.analysis.significance` (tests, intervals, power),
:mod:`~ioscan.analysis.distributions` (bands and hemispheres), :mod:`~ioscan.analysis.calibration`
(simulated populations), :mod:`~ioscan.analysis.published` (the shipped tables),
:mod:`~ioscan.analysis.harmonics`, :mod:`~ioscan.analysis.tidal`, :mod:`~ioscan.analysis.timeseries`,
:mod:`~ioscan.analysis.external`, :mod:`~ioscan.analysis.mosaic`. Nothing here prints or touches the database
directly.
"""
