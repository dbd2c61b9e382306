"""Fixtures of the fault matrix (tests/faults/station.py, tests/faults/smallfs.py)."""

from .smallfs import small_fs  # noqa: F401  (a fixture)
from .station import stations  # noqa: F401  (a fixture)
