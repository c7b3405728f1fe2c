"""Test-wide fixtures."""
import sys

import pytest

from schemas import errors


@pytest.fixture(autouse=True)
def _interrupts_exit_by_systemexit(monkeypatch):
  """An interrupted ``main`` ends its process with os._exit (schemas.errors.exit_now), which in
  a test that calls ``main`` in-process would end the test runner itself; here it raises
  SystemExit with the same code, which the tests read. Subprocess tests keep the real path."""
  monkeypatch.setattr(errors, "exit_now", sys.exit)
