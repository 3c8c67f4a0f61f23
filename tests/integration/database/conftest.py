"""Session-wide database servers: one real PostgreSQL and one real MariaDB per test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dbservers import Server, mariadb_server, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[Server]:
    with mariadb_server() as server:
        yield server


@pytest.fixture(params=["postgres", "mariadb"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each test that takes `server` runs against both real servers."""
    found: Server = request.getfixturevalue(request.param)
    return found
