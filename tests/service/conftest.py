from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.service.billing_world import World, make_world


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    """An organization with the metering catalog, on a clock the test moves (tests/service/billing_world.py)."""
    return make_world(session_factory)
