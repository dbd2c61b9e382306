"""Fixtures of the fault matrix (tests/faults/station.py, tests/faults/smallfs.py)."""

from .station import stations  # noqa: F401  (a fixture)
