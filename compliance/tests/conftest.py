import pytest

from compliance.models import PlatformComplianceSettings


@pytest.fixture
def platform_settings(db):
    return PlatformComplianceSettings.load()
