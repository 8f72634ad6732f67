from __future__ import annotations

import pytest

from smsportal.factories import UserFactory


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)
