import pytest
import structlog


@pytest.fixture(autouse=True)
def _logging_back_to_defaults():
    """Commands configure structlog onto the (captured) stderr; undo it for later tests."""
    yield
    structlog.reset_defaults()
