"""The emulator's own tests use the shared fixtures of tests/conftest_emulator.py."""

from tests.conftest_emulator import emulator, emulator_process, emulator_regions  # noqa: F401
