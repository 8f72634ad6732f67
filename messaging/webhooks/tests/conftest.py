import pytest

from messaging.webhooks.testing import RecordingServer


@pytest.fixture
def receiver():
    """A real HTTP server on 127.0.0.1 standing in for the tenant's webhook receiver."""
    with RecordingServer() as server:
        yield server
