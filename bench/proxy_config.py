"""How long nginx configuration analysis takes for many sites: mxguard beside gixy-ng.

Generates one nginx.conf with N Mendix sites (default 2,000): each a TLS server block with
security headers at server level and locations for /, /xas/, /mxclientsystem and
/file, behind a shared port-80 server that redirects to https. Every third site carries a
mistake both tools can see (an `add_header` in `location /` that drops the server's
headers); every fifth forwards the client's X-Forwarded-Proto. The file must pass
`nginx -t` before anything is timed. Then, on that same file, in this one run:

- mxguard, as a command: `mxguard audit --proxy-config FILE --root TREE --ca-bundle CA
  --format json`, where TREE holds only the config, its certificate and key, and empty
  account files (so the host audit of this machine stays out of the figure);
- mxguard in this process: `engine.collect` + `engine.evaluate` with the same options, to
  show what interpreter start-up and rendering add;
- gixy-ng (`gixy -f json FILE`), installed into bench/.venv-peers/.

    .venv/bin/python bench/proxy_config.py [--sites 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trustme
from peerlab import debian_package, package_version, peer_venv, run_timed, seconds, table

from mxguard import engine

ROOT = Path(__file__).resolve().parents[1]
MXGUARD = ROOT / ".venv" / "bin" / "mxguard"
CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)


def site(index: int, tls: Path) -> str:
    """Return the server block of site `index`."""
    name = f"app{index:04d}"
    upstream = 20000 + index
    root_headers = (
        '\n            add_header Cache-Control "no-store";' if index % 3 == 0 else ""
    )  # a location with its own add_header drops every server-level one
    proto = "$http_x_forwarded_proto" if index % 5 == 0 else "https"
    return f"""
    server {{
        listen 443 ssl;
        server_name {name}.example.test;
        ssl_certificate {tls}/cert.pem;
        ssl_certificate_key {tls}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        add_header Strict-Transport-Security "max-age=31536000" always;
        add_header X-Content-Type-Options "nosniff" always;
        add_header X-Frame-Options "DENY" always;
        add_header Referrer-Policy "strict-origin-when-cross-origin" always;
        add_header Content-Security-Policy "{CSP}" always;
        location / {{
            root /srv/{name}/web;
            try_files $uri $uri/ @runtime;{root_headers}
        }}
        location /mxclientsystem {{
            root /srv/{name}/web;
            expires 1h;
        }}
        location /xas/ {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Scheme https;
            proxy_set_header X-Forwarded-Proto {proto};
            proxy_set_header X-Real-IP $remote_addr;
        }}
        location /file {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Scheme https;
            client_max_body_size 100m;
        }}
        location @runtime {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Scheme https;
        }}
    }}"""


def write_tree(folder: Path, sites: int) -> tuple[Path, Path]:
    """Write FOLDER/nginx.conf with `sites` server blocks and FOLDER/root, an audit tree.

    The config names its certificate and key by absolute paths under FOLDER/tls; the tree
    holds copies at the same paths (and empty account files), nothing else: no Mendix
    installation, so the figure is the proxy analysis alone, and nginx (reading the host)
    and mxguard (reading the tree) see the same bytes. The config itself stays outside the
    tree: mxguard would otherwise read it twice, once as named and once as discovered.
    Returns the config's path and the tree's.
    """
    root = folder / "root"
    tls = folder / "tls"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(folder / "ca.pem"))
    leaf = authority.issue_cert("example.test", "*.example.test")
    for place in (tls, root / tls.relative_to("/")):
        place.mkdir(parents=True)
        leaf.private_key_pem.write_to_path(str(place / "key.pem"))
        (place / "key.pem").chmod(0o600)
        leaf.cert_chain_pems[0].write_to_path(str(place / "cert.pem"))
    blocks = "".join(site(n, tls) for n in range(sites))
    config = folder / "nginx.conf"
    config.write_text(f"""worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    server_tokens off;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 8192;
    client_body_temp_path client_body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    server {{
        listen 80 default_server;
        return 301 https://$host$request_uri;
    }}{blocks}
}}
""")
    return config, root


def nginx_test(nginx: str, config: Path) -> tuple[bool, str]:
    """Return whether `nginx -t` accepts `config`, and its message."""
    prefix = f"{config.parent}/"
    done = subprocess.run(
        [nginx, "-t", "-q", "-p", prefix, "-c", str(config), "-e", f"{prefix}error.log"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0, done.stderr.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900, help="per peer run, seconds")
    args = parser.parse_args()

    nginx = debian_package("nginx-light", "nginx")
    if nginx is None:
        print("nginx is not installed (apt-get install nginx-light); nothing to measure")
        return 2
    folder = Path(tempfile.mkdtemp(prefix="mxguard-bench-proxy-"))
    try:
        config, root = write_tree(folder, args.sites)
        ok, message = nginx_test(nginx, config)
        lines = len(config.read_text().splitlines())
        print(f"{config}: {args.sites} sites, {lines} lines; nginx -t: {'ok' if ok else message}")
        if not ok:
            return 1
        rows = measure(config, root, args.rounds, args.timeout)
    finally:
        shutil.rmtree(folder)
    print(table(["tool", "command", "best", "median", "result"], rows))
    return 0


def measure(config: Path, root: Path, rounds: int, timeout: float) -> list[list[str]]:
    """Time every tool `rounds` times on `config` and return the table's rows."""
    rows: list[list[str]] = []

    ca = str(config.parent / "ca.pem")
    command = [str(MXGUARD), "audit", "--proxy-config", str(config), "--root", str(root)]
    command += ["--ca-bundle", ca, "--format", "json"]
    runs = [run_timed(command, timeout=timeout) for _ in range(rounds)]
    findings = json.loads(runs[-1].stdout)["findings"] if runs[-1].stdout else []
    failed = [f for f in findings if f["status"] in ("fail", "warn")]
    routes = {f["subject"] for f in findings if f["subject"].startswith("route:")}
    dropped = {
        f["subject"].split()[0]
        for f in findings
        if f["check"] == "hsts-missing-or-short" and f["status"] == "fail"
    }
    rows.append(
        [
            "mxguard (command)",
            "`mxguard audit --proxy-config FILE --root TREE --ca-bundle CA --format json`",
            *_best_median([r.seconds for r in runs]),
            f"{len(findings)} findings on {len(routes)} routes, {len(failed)} failed or warned; "
            f"sites whose `/` loses the server's headers: {len(dropped)}",
        ]
    )

    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        snapshot = engine.collect(
            engine.AuditOptions(root=str(root), proxy_configs=(str(config),), ca_bundle=ca)
        )
        report = engine.evaluate([snapshot])
        timings.append(time.perf_counter() - started)
    sites = sum(len(c.sites) for c in snapshot.proxy.configs) if snapshot.proxy else 0
    rows.append(
        [
            "mxguard (in process)",
            "`engine.collect` + `engine.evaluate`",
            *_best_median(timings),
            f"{sites} sites modelled, {len(report.findings)} findings",
        ]
    )

    peers = peer_venv(["gixy-ng"])
    if peers is None:
        rows.append(["gixy-ng", "not installed (see above)", "-", "-", "-"])
        return rows
    version = package_version(peers, "gixy-ng")
    command = [str(peers / "gixy"), "-f", "json", str(config)]
    runs = [run_timed(command, timeout=timeout) for _ in range(rounds)]
    last = runs[-1]
    try:
        issues = json.loads(last.stdout) if last.stdout.strip() else []
        kinds = ", ".join(sorted({i.get("plugin", "?") for i in issues}))
        dropped = sum(
            i.get("config", "").count("server_name ")
            for i in issues
            if i.get("plugin") == "add_header_redefinition"
        )
        result = (
            f"{len(issues)} issues ({kinds}); server blocks named by "
            f"add_header_redefinition: {dropped}"
        )
    except json.JSONDecodeError:
        result = f"exit {last.returncode}: {last.stderr.strip()[-200:]}"
    if last.returncode == -9:
        result = f"killed after {timeout:.0f} s"
    rows.append(
        [
            f"gixy-ng {version}",
            "`gixy -f json FILE`",
            *_best_median([r.seconds for r in runs]),
            result,
        ]
    )
    return rows


def _best_median(values: list[float]) -> list[str]:
    return [seconds(min(values)), seconds(statistics.median(values))]


if __name__ == "__main__":
    sys.exit(main())
