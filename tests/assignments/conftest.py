"""The bundled assignments' tests: the shared ``released`` fixture."""
from ..released import released  # noqa: F401 - a fixture
