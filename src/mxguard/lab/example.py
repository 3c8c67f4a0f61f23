"""An example host with Mendix installations laid out on disk, for the demo and the tests.

`build(folder)` writes a filesystem tree that `mxguard audit --root folder` can audit: an
`etc/` with accounts, and three applications:

- `shop`, hardened as the checklist asks;
- `ledger`, wrong in every way the host audit looks for;
- `reports`, run by the web server's own account;

and an nginx in front of them (see `example_proxy`), whose demo CA the audit is given with
`ca_bundle=CA_FILE`.

Ownership needs root to set; without it the tree belongs to whoever built it, and the
demo says so.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import secrets
import string
from dataclasses import dataclass, field

import posix1e

from mxguard.lab import example_proxy

logger = logging.getLogger(__name__)

ANNOUNCEMENT = (
    "mxguard demo: auditing a generated example host in {folder} (three Mendix projects laid "
    "out on disk; no Mendix runtime is involved)"
)
RUNTIME_VERSION = "10.24.3.78414"
CA_FILE = example_proxy.CA_FILE


@dataclass(frozen=True, slots=True, kw_only=True)
class AppLayout:
    """How one example application is laid out and configured."""

    name: str
    home: str
    uid: int
    gid: int
    runtime_port: int
    admin_port: int
    hardened: bool
    admin_pass: str = field(default_factory=lambda: random_password())
    intruder_uid: int | None = None  # an account that a weak layout lets in through an ACL
    runtime_version: str = RUNTIME_VERSION

    @property
    def app_base(self) -> str:
        """Return the project folder, which is also the account's home."""
        return self.home


def random_password(length: int = 40) -> str:
    """Return a random password of letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def m2ee_yaml(app: AppLayout) -> str:
    """Return the m2ee.yaml text for `app`."""
    listen = '"127.0.0.1,::1"' if app.hardened else '"*"'
    admin_listen = '"127.0.0.1,::1"' if app.hardened else '"0.0.0.0"'
    extra = "" if app.hardened else "  monitoring_pass: monitoring\n"
    dtap = "P" if app.hardened else "D"
    return (
        "# m2ee configuration written by mxguard's example builder\n"
        "m2ee:\n"
        f"  app_name: {app.name}\n"
        f"  app_base: {app.app_base}\n"
        f"  admin_port: {app.admin_port}\n"
        f"  admin_pass: {json.dumps(app.admin_pass)}\n"
        f"  admin_listen_addresses: {admin_listen}\n"
        f"  runtime_port: {app.runtime_port}\n"
        f"  runtime_listen_addresses: {listen}\n"
        f"{extra}"
        "mxnode:\n"
        f"  mxjar_repo: {app.app_base}/runtimes\n"
        "mxruntime:\n"
        f"  DTAPMode: {dtap}\n"
        "  DatabaseType: PostgreSQL\n"
        "  DatabaseHost: 127.0.0.1:5432\n"
        f"  DatabaseName: {app.name}\n"
        f"  DatabaseUserName: {app.name}\n"
        f"  DatabasePassword: {json.dumps(random_password(24))}\n"
    )


def write_app(top: str, app: AppLayout) -> None:
    """Write the project of `app` under the tree `top` (`/` for the live host)."""

    def at(path: str) -> str:
        return os.path.join(top, path.lstrip("/"))

    base = app.app_base
    folders = {
        base: 0o750 if app.hardened else 0o755,
        f"{base}/.m2ee": 0o700 if app.hardened else 0o755,
        f"{base}/model": 0o700 if app.hardened else 0o755,
        f"{base}/data": 0o700,
        f"{base}/data/database": 0o700,
        f"{base}/data/files": 0o700 if app.hardened else 0o777,
        f"{base}/data/tmp": 0o700,
        f"{base}/web": 0o755 if app.hardened else 0o775,
        f"{base}/runtimes": 0o755,
        f"{base}/runtimes/{app.runtime_version}/runtime/mxclientsystem": 0o755,
    }
    for folder in sorted(folders):
        os.makedirs(at(folder), exist_ok=True)

    files = {
        f"{base}/.m2ee/m2ee.yaml": (m2ee_yaml(app), 0o600 if app.hardened else 0o644),
        f"{base}/model/metadata.json": (
            _metadata(app.runtime_version),
            0o600 if app.hardened else 0o644,
        ),
        f"{base}/model/model.mdp": ("example model\n", 0o600 if app.hardened else 0o644),
        f"{base}/data/files/upload-1.bin": ("uploaded\n", 0o600 if app.hardened else 0o666),
        f"{base}/web/index.html": (
            "<!doctype html><title>app</title>\n",
            0o644 if app.hardened else 0o664,
        ),
        f"{base}/runtimes/{app.runtime_version}/runtime/mxclientsystem/mxui.js": ("//\n", 0o644),
    }
    for path, (text, mode) in files.items():
        with open(at(path), "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(at(path), mode)

    link = f"{base}/web/mxclientsystem"
    if not os.path.lexists(at(link)):
        os.symlink(f"../runtimes/{app.runtime_version}/runtime/mxclientsystem", at(link))
    if not app.hardened and not os.path.lexists(at(f"{base}/web/shared")):
        os.symlink("/etc", at(f"{base}/web/shared"))

    if os.geteuid() == 0:
        for folder in folders:
            os.lchown(at(folder), app.uid, app.gid)
        for path in [*files, link]:
            os.lchown(at(path), app.uid, app.gid)
        if not app.hardened:
            os.chown(at(f"{base}/model"), 0, 0)  # handed to root by a careless copy
    for folder, mode in folders.items():
        os.chmod(at(folder), mode)

    if not app.hardened and app.intruder_uid is not None:
        _grant_acl(at(f"{base}/data"), app.intruder_uid, posix1e.ACL_READ | posix1e.ACL_EXECUTE)
        _grant_acl(at(f"{base}/web"), app.intruder_uid, posix1e.ACL_WRITE | posix1e.ACL_EXECUTE)


def _grant_acl(path: str, uid: int, perms: int) -> None:
    acl = posix1e.ACL(file=path)
    entry = acl.append()
    entry.tag_type = posix1e.ACL_USER
    entry.qualifier = uid
    entry.permset.add(perms)
    acl.calc_mask()
    acl.applyto(path)


def _metadata(version: str) -> str:
    return json.dumps(
        {
            "RuntimeVersion": version,
            "AdminUser": "MxAdmin",
            "RequestHandlers": [{"Name": "/rest/"}, {"Name": "/odata/"}],
        },
        indent=2,
    )


def build(folder: str) -> list[AppLayout]:
    """Write the example host into `folder` and return the applications in it."""
    apps = [
        AppLayout(
            name="shop",
            home="/srv/shop",
            uid=1101,
            gid=1101,
            runtime_port=8000,
            admin_port=9000,
            hardened=True,
        ),
        AppLayout(
            name="ledger",
            home="/srv/ledger",
            uid=1102,
            gid=1102,
            runtime_port=8010,
            admin_port=9010,
            hardened=False,
            admin_pass="ledger",
            intruder_uid=1101,
            runtime_version="9.18.2.5432",  # behind its line's security fixes
        ),
        AppLayout(
            name="reports",
            home="/var/www/reports",
            uid=33,
            gid=33,
            runtime_port=8020,
            admin_port=9020,
            hardened=True,
        ),
    ]
    # The top of the tree stands for the host's `/`, which everyone may search.
    os.chmod(folder, 0o755)
    etc = os.path.join(folder, "etc")
    os.makedirs(etc, exist_ok=True)
    _write(etc, "hostname", "demo-host\n", 0o644)
    _write(
        etc,
        "passwd",
        "".join(
            [
                "root:x:0:0:root:/root:/bin/bash\n",
                "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n",
                "shop:x:1101:1101:shop app:/srv/shop:/usr/sbin/nologin\n",
                "ledger:x:1102:1102:ledger app:/srv/ledger:/bin/bash\n",
            ]
        ),
        0o644,
    )
    _write(
        etc,
        "group",
        "".join(
            [
                "root:x:0:\n",
                "sudo:x:27:ledger\n",
                "www-data:x:33:\n",
                "shop:x:1101:\n",
                "ledger:x:1102:\n",
            ]
        ),
        0o644,
    )
    _write(
        etc,
        "shadow",
        "".join(
            [
                "root:!:19000:0:99999:7:::\n",
                "www-data:*:19000:0:99999:7:::\n",
                "shop:!:19000:0:99999:7:::\n",
                # A usable password hash; its value is irrelevant to the audit and never read back.
                "ledger:$y$j9T$example$notarealhashnotarealhashnotarealhash:19000:0:99999:7:::\n",
            ]
        ),
        0o640,
    )
    os.makedirs(os.path.join(folder, "var", "www"), exist_ok=True)
    for app in apps:
        write_app(folder, app)
    # The web server's account runs `reports`: its ~/.m2ee is /var/www/.m2ee.
    reports = apps[2]
    m2ee = os.path.join(folder, "var/www/.m2ee")
    os.makedirs(m2ee, exist_ok=True)
    os.replace(
        os.path.join(folder, reports.app_base.lstrip("/"), ".m2ee", "m2ee.yaml"),
        os.path.join(m2ee, "m2ee.yaml"),
    )
    os.rmdir(os.path.join(folder, reports.app_base.lstrip("/"), ".m2ee"))
    os.chmod(m2ee, 0o700)
    if os.geteuid() == 0:
        os.chown(m2ee, 33, 33)
        os.chown(os.path.join(m2ee, "m2ee.yaml"), 33, 33)
    else:
        logger.warning("not root: the example tree belongs to the current account")
    example_proxy.write_proxy(folder, apps)
    return apps


def _write(folder: str, name: str, text: str, mode: int) -> None:
    path = posixpath.join(folder, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)
