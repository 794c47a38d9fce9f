"""Errors raised to users: each names the file, kernel, frame or time at fault."""


class IoscanError(Exception):
    """Base class of every error ioscan reports to a user (the CLI prints it without a traceback)."""


class ProductError(IoscanError):
    """A product file cannot be read: the message names the file and the problem."""


class GeometryError(IoscanError):
    """Geometry cannot be computed (kernels, times, frames, observer inside the body...)."""


class NavigationError(GeometryError):
    """A frame cannot be registered (no limb in view, too few limb points...)."""


class CatalogError(IoscanError):
    """A database or catalogue operation failed (bad import row, schema mismatch...)."""


class OutputError(IoscanError):
    """An output file cannot be written where asked (it would replace a catalogue, or exists without
    ``--force``, or its folder is missing)."""


class ClusterError(IoscanError):
    """A Dask cluster cannot be started or reached (scheduler address, no worker joining it)."""
