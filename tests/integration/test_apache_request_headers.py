"""How httpd treats scheme request headers and onsuccess response headers, asked of httpd itself."""

from __future__ import annotations

import json
import urllib.error
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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_onsuccess_headers_reach_httpds_own_2xx_and_every_proxied_answer(
    tmp_path: Path, upstream: int
) -> None:
    # Given a header set without `always`, static files, a redirect and a proxied path
    port = free_port()
    (tmp_path / "web").mkdir()
    (tmp_path / "web/index.html").write_text("<!doctype html><title>app</title>\n")
    config = write_httpd_conf(
        tmp_path,
        port,
        f'    DocumentRoot "{tmp_path}/web"\n'
        f'    <Directory "{tmp_path}/web">\n        Require all granted\n    </Directory>\n'
        "    Header set X-Frame-Options DENY\n"
        "    Redirect /old /index.html\n"
        f"    ProxyPass /xas/ http://127.0.0.1:{upstream}/xas/\n",
        ("dir", "alias", "headers", "proxy", "proxy_http"),
    )
    opener = urllib.request.build_opener(_NoRedirects)

    # When httpd answers with its own 200, 404 and 302, and passes on the runtime's
    sent: dict[str, tuple[int, bool]] = {}
    with running_httpd(config, tmp_path, port):
        for path in (
            "/index.html",
            "/missing",
            "/old",
            "/xas/",
            "/xas/status/500",
            "/xas/status/302",
        ):
            try:
                with opener.open(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                    sent[path] = (answer.status, "X-Frame-Options" in answer.headers)
            except urllib.error.HTTPError as answer:
                sent[path] = (answer.code, "X-Frame-Options" in answer.headers)

    # Then the header is on httpd's own 2xx and on every proxied answer, nowhere else,
    # which is the rule the configuration-against-live comparison applies
    assert sent == {
        "/index.html": (200, True),
        "/missing": (404, False),
        "/old": (302, False),
        "/xas/": (200, True),
        "/xas/status/500": (500, True),
        "/xas/status/302": (302, True),
    }
