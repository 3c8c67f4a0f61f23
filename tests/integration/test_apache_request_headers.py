"""Which `RequestHeader` actions replace the client's scheme header, asked of a running httpd."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from proxylab import free_port, running_httpd, write_httpd_conf

from mxguard.proxy.apache import parse_apache
from mxguard.proxy.model import select_route


@pytest.mark.parametrize(
    ("directives", "received", "kept"),
    [
        ("RequestHeader set X-Forwarded-Scheme https", ["https"], False),
        ("RequestHeader setifempty X-Forwarded-Scheme https", ["http"], True),
        ("RequestHeader append X-Forwarded-Scheme https", ["http, https"], True),
        ("RequestHeader merge X-Forwarded-Scheme https", ["http, https"], True),
        (
            "RequestHeader set X-Forwarded-Scheme https\n"
            "RequestHeader setifempty X-Forwarded-Scheme https",
            ["https"],
            False,
        ),
    ],
    ids=["set", "setifempty", "append", "merge", "set-then-setifempty"],
)
def test_the_runtime_receives_what_the_model_says(
    directives: str, received: list[str], kept: bool, tmp_path: Path, upstream: int
) -> None:
    # Given httpd proxying /xas/ to a stand-in runtime with the scheme header set this way
    port = free_port()
    config = write_httpd_conf(
        tmp_path,
        port,
        f"    {directives.replace(chr(10), chr(10) + '    ')}\n"
        f"    ProxyPass /xas/ http://127.0.0.1:{upstream}/xas/\n",
        ("headers", "proxy", "proxy_http"),
    )

    # When a client that claims plain HTTP calls /xas/
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/xas/", headers={"X-Forwarded-Scheme": "http"}
    )
    with (
        running_httpd(config, tmp_path, port),
        urllib.request.urlopen(request, timeout=5) as r,  # noqa: S310 - a loopback http URL
    ):
        seen = json.loads(r.read())["headers"]["X-Forwarded-Scheme"]

    # Then the runtime got what httpd really sends, and mxguard's model agrees on whose it is
    assert seen == received
    [site] = parse_apache(str(config)).sites
    route = select_route(site, "/xas/")
    assert route is not None
    [header] = [h for h in route.request_headers if h.name == "X-Forwarded-Scheme"]
    assert bool(header.client_value_kept_by) is kept
