"""`--from-outside` between two network namespaces made by the test, with nftables in one.

The emulated runtime runs in the "server" namespace; mxguard runs in the "client" one. Only
the namespaces' own addresses are used; nothing connects from the root namespace to them.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from livelab import EMULATOR, Emulator, make_app, start_emulator, stop

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
MXGUARD = Path(sys.executable).with_name("mxguard")


@dataclass
class Pair:
    server: str
    client: str
    server_address: str
    client_address: str

    def run(self, namespace: str, *command: str, check: bool = True) -> str:
        result = subprocess.run(
            ["ip", "netns", "exec", namespace, *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{command}: {result.stderr}")
        return result.stdout

    def firewall(self, *rules: str) -> None:
        """Load an nftables input chain with `rules` into the server namespace."""
        table = "table inet mxguard_test {\n chain input {\n"
        table += "  type filter hook input priority 0; policy accept;\n"
        table += "".join(f"  {rule}\n" for rule in rules) + " }\n}\n"
        subprocess.run(
            ["ip", "netns", "exec", self.server, "nft", "-f", "-"],
            input=table,
            text=True,
            check=True,
            timeout=30,
        )


@pytest.fixture
def pair() -> Iterator[Pair]:
    suffix = secrets.token_hex(4)
    server, client = f"mxg-s-{suffix}", f"mxg-c-{suffix}"
    net = f"10.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
    made: list[str] = []
    try:
        for name in (server, client):
            subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
            made.append(name)
            subprocess.run(
                ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
                check=True,
                timeout=30,
            )
        # The pair is made inside the server namespace, so no name ever exists outside.
        subprocess.run(
            ["ip", "netns", "exec", server, "ip", "link", "add", "veth-s", "type", "veth",
             "peer", "name", "veth-c", "netns", client],
            check=True,
            timeout=30,
        )  # fmt: skip
        for name, link, address in ((server, "veth-s", 1), (client, "veth-c", 2)):
            for command in (
                ["ip", "addr", "add", f"{net}.{address}/30", "dev", link],
                ["ip", "link", "set", link, "up"],
            ):
                subprocess.run(["ip", "netns", "exec", name, *command], check=True, timeout=30)
        yield Pair(server, client, f"{net}.1", f"{net}.2")
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


def _emulator_in(pair: Pair, tmp_path: Path, **settings: object) -> Emulator:
    return start_emulator(
        make_app(tmp_path),
        command_prefix=("ip", "netns", "exec", pair.server),
        emulator=EMULATOR,
        **settings,  # type: ignore[arg-type]
    )


def _audit_from_client(pair: Pair, *arguments: str) -> dict[tuple[str, str], dict[str, object]]:
    output = pair.run(
        pair.client,
        str(MXGUARD),
        "audit",
        "--from-outside",
        pair.server_address,
        "--format",
        "json",
        "--fail-on",
        "critical",
        *arguments,
        check=False,
    )
    report = json.loads(output)
    return {(f["check"], f["subject"]): f for f in report["findings"]}


def test_an_open_admin_port_fails_and_a_firewalled_runtime_port_passes(
    pair: Pair, tmp_path: Path
) -> None:
    # Given a runtime in the server namespace listening on every address, admin password "1",
    # and an nftables rule that drops the runtime port
    emulator = _emulator_in(pair, tmp_path, admin_pass="1", runtime_listen="*", admin_listen="*")
    try:
        pair.firewall(f"tcp dport {emulator.runtime_port} drop")
        config = tmp_path / "m2ee.yaml"
        config.write_text(
            "m2ee:\n  app_name: shop\n"
            f"  runtime_port: {emulator.runtime_port}\n  admin_port: {emulator.admin_port}\n"
        )

        # When mxguard probes it from the client namespace
        findings = _audit_from_client(
            pair, "--config", str(config), "--try-default-admin-passwords"
        )
    finally:
        stop(emulator.process)

    # Then the admin port fails with its address, the dropped runtime port passes
    admin = findings[("admin-port-reachable-from-outside", "app:shop")]
    assert admin["status"] == "fail"
    assert admin["evidence"]["address"] == f"{pair.server_address}:{emulator.admin_port}"
    runtime = findings[("runtime-port-reachable-from-outside", "app:shop")]
    assert runtime["status"] == "pass" and runtime["evidence"]["state"] == "filtered"
    default = findings[("admin-api-accepts-default-password", "app:shop")]
    assert default["status"] == "fail" and default["severity"] == "critical"
    assert findings[("admin-api-accepts-unauthenticated", "app:shop")]["status"] == "pass"


def test_without_a_config_the_usual_ports_are_probed(pair: Pair, tmp_path: Path) -> None:
    # Given the usual ports: runtime 8080 open to all, admin 9000 rejected by nftables
    emulator = _emulator_in(
        pair,
        tmp_path,
        runtime_port=8080,
        admin_port=9000,
        runtime_listen="*",
        admin_listen="*",
    )
    try:
        pair.firewall("tcp dport 9000 reject with tcp reset")
        findings = _audit_from_client(pair)
    finally:
        stop(emulator.process)

    runtime = findings[
        ("runtime-port-reachable-from-outside", f"url:http://{pair.server_address}:8080/")
    ]
    assert runtime["status"] == "fail"
    assert runtime["evidence"]["address"] == f"{pair.server_address}:8080"
    for port in (8000,):
        closed = findings[
            ("runtime-port-reachable-from-outside", f"url:http://{pair.server_address}:{port}/")
        ]
        assert closed["status"] == "pass"
    for port in (8090, 9000):
        closed = findings[
            ("admin-port-reachable-from-outside", f"url:http://{pair.server_address}:{port}/")
        ]
        assert closed["status"] == "pass" and closed["evidence"]["state"] == "closed"
