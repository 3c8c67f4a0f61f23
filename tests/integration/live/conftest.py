"""Fixtures of the live tests: a test CA, certificates, and servers stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme
from livelab import Emulator, Nginx, stop


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A test certificate authority."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test CA as a PEM file, for --ca-bundle."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def loopback_cert(ca: trustme.CA) -> trustme.LeafCert:
    """A certificate for 127.0.0.1 and localhost."""
    return ca.issue_cert("127.0.0.1", "localhost")


@pytest.fixture
def emulators() -> Iterator[list[Emulator]]:
    """A list to put started emulators in; each is stopped after the test."""
    started: list[Emulator] = []
    yield started
    for emulator in started:
        stop(emulator.process)


@pytest.fixture
def nginxes() -> Iterator[list[Nginx]]:
    """A list to put started nginx servers in; each is stopped after the test."""
    started: list[Nginx] = []
    yield started
    for server in started:
        stop(server.process)
