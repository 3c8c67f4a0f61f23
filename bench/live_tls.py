"""How long the live TLS and header probes take for N sites: mxguard beside sslyze and testssl.sh.

Starts, on loopback ports chosen at run time:

- one emulated Mendix runtime (src/mxguard/lab/emulator.py, not Mendix) for /xas/;
- one Debian nginx with its own `-p` prefix and `-c` config holding N TLS server blocks on N
  ports (default 20), certificates from trustme: static `/` and `/mxclientsystem`, `/xas/`
  proxied to the runtime, security headers. Every fourth site also accepts TLS 1.0 and 1.1
  (ciphers `ALL:@SECLEVEL=0`), so each tool has something to find.

Then times, in this one run, each tool on all N `https://127.0.0.1:PORT/` sites:

- mxguard, in this process: `collect_live` (the live collector `mxguard audit --url ...`
  runs) with `--ca-bundle`, then `evaluate`. The host audit of this machine is left out on
  purpose: on a shared machine it would find other people's test runtimes and probe them.
- sslyze, one process for all N targets (it scans them concurrently): TLS 1.0 to 1.3,
  certificate info against the test CA, HTTP headers, Mozilla profile check off.
- testssl.sh: protocols (-p), server defaults and certificate (-S), headers (-h), `--fast`,
  all N as one mass test (`--file`, `--mode parallel` by default), and one site alone.

The peers are installed when missing: sslyze into bench/.venv-peers/ (never the project's
lock), testssl.sh with apt-get when running as root. Every process started here is stopped
by its pid, and the temporary folder removed.

    .venv/bin/python bench/live_tls.py [--sites 20] [--testssl-mode parallel|serial]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trustme
from peerlab import (
    debian_package,
    free_port,
    package_version,
    peer_venv,
    run_timed,
    seconds,
    stop,
    table,
    wait_for_port,
)

from mxguard.collect.live import LiveOptions, collect_live
from mxguard.engine import evaluate
from mxguard.facts import Mode, Snapshot
from mxguard.live.client import Limits

ROOT = Path(__file__).resolve().parents[1]
EMULATOR = ROOT / "src" / "mxguard" / "lab" / "emulator.py"
LAUNCHER = "/opt/mendix/10.6.1.24711/runtime/launcher/runtimelauncher.jar"
CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)


def make_app(folder: Path) -> Path:
    """Create a project folder whose web/ holds an index and a client file."""
    app = folder / "app"
    (app / "web" / "mxclientsystem" / "mxui").mkdir(parents=True)
    (app / "web" / "index.html").write_text("<!doctype html><title>bench</title>\n")
    (app / "web" / "mxclientsystem" / "mxui" / "mxui.js").write_text("// client\n")
    for path in [folder, app, *app.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return app


def start_emulator(app: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start the emulated runtime on a free loopback port; return it and the port."""
    port = free_port()
    environment = {
        "PATH": "/usr/bin:/bin",
        "M2EE_RUNTIME_PORT": str(port),
        "M2EE_ADMIN_PORT": str(free_port()),
        "M2EE_ADMIN_PASS": os.urandom(16).hex(),
        "M2EE_RUNTIME_LISTEN_ADDRESSES": "127.0.0.1",
        "M2EE_ADMIN_LISTEN_ADDRESSES": "127.0.0.1",
    }
    process = subprocess.Popen(
        ["/usr/bin/python3", str(EMULATOR), LAUNCHER, str(app)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port)
    except TimeoutError:
        stop(process)
        raise
    return process, port


def nginx_config(prefix: Path, app: Path, runtime: int, ports: list[int]) -> str:
    """Return an nginx.conf with one TLS server block per port."""
    blocks = []
    for index, port in enumerate(ports):
        weak = index % 4 == 3
        protocols = "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3" if weak else "TLSv1.2 TLSv1.3"
        ciphers = "ssl_ciphers ALL:@SECLEVEL=0;" if weak else ""
        blocks.append(f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {prefix}/cert.pem;
        ssl_certificate_key {prefix}/key.pem;
        ssl_protocols {protocols};
        {ciphers}
        add_header Strict-Transport-Security "max-age=31536000" always;
        add_header X-Content-Type-Options "nosniff" always;
        add_header X-Frame-Options "DENY" always;
        add_header Referrer-Policy "strict-origin-when-cross-origin" always;
        add_header Content-Security-Policy "{CSP}" always;
        location / {{
            root {app}/web;
            try_files $uri $uri/ =404;
        }}
        location /mxclientsystem {{
            root {app}/web;
        }}
        location /xas/ {{
            proxy_pass http://127.0.0.1:{runtime};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Scheme https;
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}""")
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ text/html html; application/javascript js; }}{"".join(blocks)}
}}
"""


def start_nginx(nginx: str, prefix: Path, config: str, ports: list[int]) -> subprocess.Popen[bytes]:
    """Start nginx in the foreground with its own prefix; wait for every port."""
    path = prefix / "nginx.conf"
    path.write_text(config)
    command = [nginx, "-p", f"{prefix}/", "-c", str(path), "-e", str(prefix / "error.log")]
    process = subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for port in ports:
            wait_for_port("127.0.0.1", port)
    except TimeoutError:
        stop(process)
        log = (prefix / "error.log").read_text(errors="replace")
        raise RuntimeError(f"nginx did not start: {log[-2000:]}") from None
    return process


def run_mxguard(urls: list[str], ca: str, per_host: int) -> tuple[float, str]:
    """Probe `urls` with the live collector and evaluate; return seconds and a summary."""
    options = LiveOptions(
        urls=tuple(urls), ca_bundle=ca, show_progress=False, limits=Limits(per_host=per_host)
    )
    started = time.perf_counter()
    live = collect_live(options, (), ())
    snapshot = Snapshot(
        tool_version="bench",
        host="bench",
        collected_at="2026-01-01T00:00:00Z",
        mode=Mode.LIVE,
        live=live,
    )
    report = evaluate([snapshot])
    elapsed = time.perf_counter() - started
    weak = {
        f.subject
        for f in report.findings
        if f.check == "live-tls-protocol-below-1-2-accepted" and f.status.value == "fail"
    }
    errors = [s.url for s in live.sites if s.error or (s.tls and s.tls.error)]
    failing = sorted({f.check for f in report.findings if f.status.value == "fail"})
    return elapsed, (
        f"{len(report.findings)} findings; {len(weak)} sites accept TLS < 1.2; "
        f"{len(errors)} probe errors; failing checks: {', '.join(failing) or 'none'}"
    )


def run_sslyze(peers: Path, targets: list[str], ca: str, folder: Path, timeout: float) -> list[str]:
    """Scan every target in one sslyze process; return the table row."""
    out = folder / "sslyze.json"
    command = [str(peers / "python"), "-m", "sslyze", "--quiet", "--json_out", str(out)]
    command += ["--mozilla_config", "disable", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3"]
    command += ["--certinfo", "--certinfo_ca_file", ca, "--http_headers", *targets]
    done = run_timed(command, timeout=timeout)
    result = f"exit {done.returncode}"
    if out.exists():
        scans = json.loads(out.read_text()).get("server_scan_results", [])
        completed = [s for s in scans if s.get("scan_status") == "COMPLETED"]
        weak = 0
        for scan in completed:
            results = scan.get("scan_result") or {}
            for key in ("tls_1_0_cipher_suites", "tls_1_1_cipher_suites"):
                accepted = ((results.get(key) or {}).get("result") or {}).get(
                    "accepted_cipher_suites"
                )
                if accepted:
                    weak += 1
                    break
        result = f"{len(completed)}/{len(scans)} scans completed; {weak} sites accept TLS < 1.2"
    elif done.returncode == -9:
        result = f"killed after {timeout:.0f} s"
    version = package_version(peers, "sslyze")
    return [
        f"sslyze {version}",
        "`python -m sslyze --mozilla_config disable --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 "
        "--certinfo --certinfo_ca_file CA --http_headers` (all targets, one process)",
        seconds(done.seconds),
        seconds(done.seconds / len(targets)),
        result,
    ]


TESTSSL_FLAGS = ["-p", "-S", "-h", "--fast"]


def testssl_common(ca: str) -> list[str]:
    """Options every testssl.sh run here gets: quiet, plain, no DNS, the test CA."""
    return ["--quiet", "--color", "0", "--warnings", "off", "--nodns", "none", "--add-ca", ca]


def run_testssl_mass(
    testssl: str, urls: list[str], ca: str, folder: Path, mode: str, timeout: float
) -> list[str]:
    """Test every URL as one testssl.sh mass test; return the table row."""
    lines = folder / "testssl-targets.txt"
    lines.write_text("".join(f"{' '.join(TESTSSL_FLAGS)} {url}\n" for url in urls))
    reports = folder / "testssl-json"
    reports.mkdir()
    command = [testssl, *testssl_common(ca), "--mode", mode, "--jsonfile", f"{reports}/"]
    command += ["--file", str(lines)]
    done = run_timed(command, timeout=timeout, cwd=str(folder))
    weak = 0
    written = sorted(reports.glob("*.json"))
    for path in written:
        weak += _testssl_offers_old_tls(path)
    result = f"{len(written)} reports; {weak} sites offer TLS < 1.2 (exit {done.returncode})"
    if done.returncode == -9:
        result = f"killed after {timeout:.0f} s; {result}"
    return [
        f"testssl.sh {_testssl_version(testssl)} ({mode})",
        f"`testssl.sh --quiet --nodns none --add-ca CA --mode {mode} --file F`, "
        f"each line `{' '.join(TESTSSL_FLAGS)} URL`",
        seconds(done.seconds),
        seconds(done.seconds / len(urls)),
        result,
    ]


def run_testssl_one(testssl: str, url: str, ca: str, folder: Path, timeout: float) -> list[str]:
    """Test one URL alone; return the table row."""
    report = folder / "testssl-one.json"
    command = [testssl, *testssl_common(ca), "--jsonfile", str(report), *TESTSSL_FLAGS, url]
    done = run_timed(command, timeout=timeout, cwd=str(folder))
    offers = _testssl_offers_old_tls(report) if report.exists() else 0
    return [
        f"testssl.sh {_testssl_version(testssl)} (one site)",
        f"`testssl.sh --quiet --nodns none --add-ca CA {' '.join(TESTSSL_FLAGS)} URL`",
        seconds(done.seconds),
        seconds(done.seconds),
        f"exit {done.returncode}; offers TLS < 1.2: {'yes' if offers else 'no'}",
    ]


def _testssl_offers_old_tls(path: Path) -> int:
    try:
        entries = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return 0
    if isinstance(entries, dict):
        entries = entries.get("scanResult", [])
    for entry in entries:
        if entry.get("id") in ("TLS1", "TLS1_1") and "not offered" not in entry.get("finding", ""):
            return 1
    return 0


def _testssl_version(testssl: str) -> str:
    done = subprocess.run(
        [testssl, "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    for word in done.stdout.split():
        if word[:1].isdigit() and "." in word:
            return word
    return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--testssl-mode", choices=["parallel", "serial"], default="parallel")
    parser.add_argument(
        "--per-host",
        type=int,
        default=Limits().per_host,
        help="mxguard's connections per host at once (default: its own default); all sites "
        "share the host 127.0.0.1",
    )
    parser.add_argument("--no-sslyze", action="store_true")
    parser.add_argument("--no-testssl", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800, help="per peer run, seconds")
    args = parser.parse_args()

    nginx = debian_package("nginx-light", "nginx")
    if nginx is None:
        print("nginx is not installed (apt-get install nginx-light); nothing to measure")
        return 2
    testssl = None if args.no_testssl else debian_package("testssl.sh", "testssl")
    peers = None if args.no_sslyze else peer_venv(["sslyze"])

    folder = Path(tempfile.mkdtemp(prefix="mxguard-bench-tls-"))
    started: list[subprocess.Popen[bytes]] = []
    rows: list[list[str]] = []
    try:
        folder.chmod(0o755)  # nginx workers read the app's files
        authority = trustme.CA()
        ca = str(folder / "ca.pem")
        authority.cert_pem.write_to_path(ca)
        leaf = authority.issue_cert("127.0.0.1", "localhost")
        leaf.private_key_pem.write_to_path(str(folder / "key.pem"))
        leaf.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
        app = make_app(folder / "project")
        emulator, runtime = start_emulator(app)
        started.append(emulator)
        ports = [free_port() for _ in range(args.sites)]
        config = nginx_config(folder, app, runtime, ports)
        started.append(start_nginx(nginx, folder, config, ports))
        urls = [f"https://127.0.0.1:{port}/" for port in ports]
        print(f"{args.sites} TLS sites on 127.0.0.1 ports {min(ports)}-{max(ports)}", flush=True)

        elapsed, summary = run_mxguard(urls, ca, args.per_host)
        rows.append(
            [
                "mxguard (in process)",
                "`collect_live(urls, ca_bundle)` + `evaluate`, as `mxguard audit --url ... "
                f"--ca-bundle CA` probes; {args.per_host} connections per host",
                seconds(elapsed),
                seconds(elapsed / len(urls)),
                summary,
            ]
        )
        print(f"mxguard done in {elapsed:.1f} s", flush=True)
        if peers is not None:
            targets = [f"127.0.0.1:{port}" for port in ports]
            rows.append(run_sslyze(peers, targets, ca, folder, args.timeout))
            print(f"sslyze done in {rows[-1][2]}", flush=True)
        elif not args.no_sslyze:
            rows.append(["sslyze", "could not be installed", "-", "-", "-"])
        if testssl is not None:
            mode = args.testssl_mode
            rows.append(run_testssl_mass(testssl, urls, ca, folder, mode, args.timeout))
            print(f"testssl.sh ({mode}) done in {rows[-1][2]}", flush=True)
            rows.append(run_testssl_one(testssl, urls[-1], ca, folder, args.timeout))
        elif not args.no_testssl:
            rows.append(
                ["testssl.sh", "missing (apt-get install testssl.sh as root)", "-", "-", "-"]
            )
    finally:
        for process in reversed(started):
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)
    print(table(["tool", "what ran", f"all {args.sites} sites", "per site", "result"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
