"""A thousand loopback targets in one run complete without error, within bounds."""

from __future__ import annotations

import time
from pathlib import Path

from livelab import Emulator, audit_live, make_app, start_emulator

from mxguard.live.client import Limits

HOSTS = 20
PATHS_PER_HOST = 50


def test_a_thousand_targets_complete_without_error(
    tmp_path: Path, emulators: list[Emulator]
) -> None:
    # Given one emulated runtime answering on 20 loopback addresses
    addresses = [f"127.0.{200 + n // 250}.{n % 250 + 1}" for n in range(HOSTS)]
    emulator = start_emulator(make_app(tmp_path), runtime_listen=",".join(addresses))
    emulators.append(emulator)
    urls = tuple(
        f"http://{address}:{emulator.runtime_port}/site-{n}/"
        for address in addresses
        for n in range(PATHS_PER_HOST)
    )
    assert len(set(urls)) == 1000

    # When every one of them is probed in one run
    started = time.monotonic()
    snapshot, _ = audit_live(urls=urls, limits=Limits(per_host=6, overall=120))
    elapsed = time.monotonic() - started

    # Then every site was probed and none failed (the time is a figure for bench/, not a test)
    assert snapshot.live is not None
    sites = snapshot.live.sites
    assert len(sites) == 1000
    failures = [s.url for s in sites if s.error or any(r.error for r in s.redirect_chain)]
    assert failures == []
    assert all(len(s.pages) == 3 and s.session and not s.session.error for s in sites)
    print(f"1000 loopback targets probed in {elapsed:.1f} s")
