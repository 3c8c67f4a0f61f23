"""Proxy facts travel in the snapshot: derived facts only, and the same verdicts elsewhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from proxylab import App, TlsFiles

from mxguard.cli import main


def test_collect_then_evaluate_gives_the_same_proxy_verdicts(
    nginx_config: Callable[..., Path],
    app: App,
    tls: TlsFiles,
    tmp_path: Path,
) -> None:
    config = nginx_config("wrong-inheritance.conf")
    facts = tmp_path / "facts.json"
    args = ["--config", app.m2ee, "--proxy-config", str(config), "--ca-bundle", tls.ca]

    # Given a snapshot written by `collect`
    assert main(["collect", *args, "--output", str(facts)]) == 0
    raw = facts.read_text(encoding="utf-8")

    # Then it holds what was derived from the key, never the key
    key_text = Path(tls.key).read_text(encoding="ascii")
    body = "".join(key_text.splitlines()[1:-1])
    assert "PRIVATE KEY" not in raw
    assert body[:40] not in raw
    document = json.loads(raw)
    [tls_facts] = document["snapshots"][0]["proxy"]["tls_files"]
    assert tls_facts["key_matches"] is True and tls_facts["chain_status"] == "trusted"

    # And `evaluate` on it reaches the verdicts `audit` reaches
    evaluated = tmp_path / "evaluated.json"
    audited = tmp_path / "audited.json"
    main(["evaluate", str(facts), "--format", "json", "--output", str(evaluated)])
    main(["audit", *args, "--format", "json", "--output", str(audited)])

    def verdicts(path: Path) -> set[tuple[str, str, str]]:
        findings = json.loads(path.read_text(encoding="utf-8"))["findings"]
        return {
            (f["check"], f["subject"], f["status"])
            for f in findings
            if f["section"] in ("5", "7", "9") and "shop.example.com" in f["subject"]
        }

    assert verdicts(evaluated) == verdicts(audited)
    assert ("forwarded-scheme-header-missing", "route:shop.example.com:443 /xas/", "fail") in (
        verdicts(evaluated)
    )


def test_a_missing_proxy_config_is_a_usage_error(app: App, tmp_path: Path) -> None:
    assert main(["audit", "--proxy-config", str(tmp_path / "nope.conf")]) == 2
    assert main(["audit", "--ca-bundle", str(tmp_path / "nope.pem")]) == 2
