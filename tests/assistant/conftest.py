"""Fixtures for the service tests: `bank` is a small ingested bank with an open Runtime, one per module."""

from __future__ import annotations

import pytest
from ingested_bank import ingested_bank


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    with ingested_bank(tmp_path_factory.mktemp("bank")) as opened:
        yield opened
