"""Navigation settings (:class:`NavigateConfig`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NavigateConfig:
    """Settings of navigation (:func:`ioscan.geometry.navigate.navigate_frame`).

    Attributes:
        register: re-register the pointing on Io's limb (JIRAM's reconstructed pointing can be off by ~2°).
    """

    register: bool = True
