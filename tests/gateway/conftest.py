from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integrations.sandbox import DEPARTMENTS, SandboxHandle
from tests.gateway.helpers import SandboxAdmin


@pytest.fixture
async def admin(sandbox: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    """Sandbox admin; every fault a test switches on is switched off afterwards."""
    admin = SandboxAdmin(sandbox)
    for department in DEPARTMENTS:
        await admin.clear(department)
    yield admin
    for department in DEPARTMENTS:
        await admin.clear(department)
