"""An alias that lets `location..` climb out of its folder, shown by asking running servers."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from proxylab import (
    free_port,
    judge,
    running_httpd,
    running_nginx,
    write_httpd_conf,
    write_nginx_conf,
)

from mxguard.proxy.nginx import parse_nginx


def _fetch(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode().strip()
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.mark.parametrize("location", ["/mxclientsystem", "/mxclientsystem/"])
def test_a_location_without_the_aliases_slash_serves_the_folder_above(
    location: str, tmp_path: Path
) -> None:
    # Given the client system aliased under a location written with or without its slash,
    # and a file beside the client system folder
    runtime = tmp_path / "runtimes/10.6.0/runtime"
    (runtime / "mxclientsystem").mkdir(parents=True)
    (runtime / "mxclientsystem/mxui.js").write_text("client\n")
    (runtime / "beside.txt").write_text("beside the client system\n")
    port = free_port()
    config = write_nginx_conf(
        tmp_path,
        f"    server {{ listen 127.0.0.1:{port};\n"
        f"    location {location} {{ alias {runtime}/mxclientsystem/; }}\n}}\n",
    )

    # When nginx is asked for the file beside the folder, and mxguard reads the config
    with running_nginx(config, tmp_path, port):
        inside = _fetch(port, "/mxclientsystem/mxui.js")
        outside = _fetch(port, "/mxclientsystem../beside.txt")
    [finding] = judge(parse_nginx(str(config)), "alias-path-traversal")

    # Then the client system is served either way, the file beside it only without the
    # slash, and the check fails exactly then, naming the folder it reaches
    assert inside == (200, "client")
    if location.endswith("/"):
        assert outside[0] == 404
        assert finding.status.value == "pass"
    else:
        assert outside == (200, "beside the client system")
        assert finding.status.value == "fail"
        assert finding.evidence["reaches"] == str(runtime)
        line = config.read_text().splitlines()[int(finding.evidence["line"]) - 1]  # type: ignore[call-overload]
        assert line.strip().startswith("location /mxclientsystem {")


def test_httpd_matches_an_alias_by_whole_segments(tmp_path: Path) -> None:
    # Given the same alias in httpd, written without the trailing slash on the URL path
    runtime = tmp_path / "runtimes/10.6.0/runtime"
    (runtime / "mxclientsystem").mkdir(parents=True)
    (runtime / "mxclientsystem/mxui.js").write_text("client\n")
    (runtime / "beside.txt").write_text("beside the client system\n")
    port = free_port()
    config = write_httpd_conf(
        tmp_path,
        port,
        f'    <Directory "{runtime}">\n        Require all granted\n    </Directory>\n'
        f'    Alias /mxclientsystem "{runtime}/mxclientsystem/"\n',
        ("alias",),
    )

    # When httpd is asked for the file beside the folder
    with running_httpd(config, tmp_path, port):
        inside = _fetch(port, "/mxclientsystem/mxui.js")
        outside = _fetch(port, "/mxclientsystem../beside.txt")

    # Then it does not climb out, which is why the check judges only nginx's aliases
    assert inside == (200, "client")
    assert outside[0] == 404
