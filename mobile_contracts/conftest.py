"""Fixtures of the consumer tests: one Pact per test, one pact file per consumer module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pact import Pact

from mobile_contracts.consumer import contract

# The pact library's usage report is an HTTP call to the internet; CI has none.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


@pytest.fixture(scope="module")
def pact_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this module's tests build their consumer's file, compared at the module's end."""
    return tmp_path_factory.mktemp(request.module.CONSUMER)


@pytest.fixture
def pact(request: pytest.FixtureRequest) -> Pact:
    # A Pact per test: its mock server expects exactly this test's interactions.
    return contract(request.module.CONSUMER)
