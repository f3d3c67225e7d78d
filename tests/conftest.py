"""Plugins and fixtures for the whole test suite: `pytester`, to run pytest on a user's test
file, and `zookeeper_url`, a path of its own on the test ZooKeeper server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.zookeeper_helpers import fresh_zookeeper_url

pytest_plugins = ["pytester"]


@pytest.fixture
def zookeeper_url() -> Iterator[str]:
    """A zookeeper:// URL to a path of its own on the test server, removed after the test
    (skipped when the server is unreachable, failed under CI=true; see tests/zookeeper_helpers)."""
    with fresh_zookeeper_url() as url:
        yield url
