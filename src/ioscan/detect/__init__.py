"""Hot-spot detection and measurement: background, source finding, photometry."""
