"""Simultan: online seminars with simultaneous interpretation."""

__version__ = "0.1.0"
