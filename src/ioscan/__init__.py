"""ioscan — find, measure and follow the volcanoes of Io in infrared images."""

__version__ = "0.1.0"
