"""Fetch Microsoft's SARIF validator (the `Sarif.Multitool` of the SARIF SDK) for the tests.

The tests check mxguard's SARIF with the validator the format's own maintainers publish.
It comes from the npm registry as a self-contained Linux binary; this script downloads one
pinned version, checks it against the registry's published SHA-512, and keeps only the
binary under `.tools/sarif-multitool/`. Nothing is done when it is already there.
Standard library only: `./dev` runs it with the system Python before the project's
environment matters.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "5.7.0"
URL = (
    "https://registry.npmjs.org/@microsoft/sarif-multitool-linux/-/"
    f"sarif-multitool-linux-{VERSION}.tgz"
)
INTEGRITY = (
    "NxUbpq6ISCWoTQ/NfOYEwEDKq1Heka/rMoJ5R5LMydcAZQX/X7g5mWHcgxDub+0M07LC96tZ5LZHvF1Qy3gjTA=="
)
MEMBERS = {"package/Sarif.Multitool": 0o755, "package/sarif-2.1.0.json": 0o644}
MAX_BYTES = 200 * 1024 * 1024


def main() -> int:
    """Put the validator at `.tools/sarif-multitool/Sarif.Multitool`; return an exit code."""
    target = Path(__file__).resolve().parents[2] / ".tools" / "sarif-multitool"
    binary = target / "Sarif.Multitool"
    stamp = target / "version"
    if (
        binary.exists()
        and (target / "sarif-2.1.0.json").exists()
        and stamp.exists()
        and stamp.read_text().strip() == VERSION
    ):
        return 0
    try:
        with urllib.request.urlopen(URL, timeout=120) as answer:  # noqa: S310 - a fixed https URL
            data = answer.read(MAX_BYTES + 1)
    except OSError as exc:
        print(f"cannot fetch the SARIF validator from {URL}: {exc}", file=sys.stderr)
        return 1
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if len(data) > MAX_BYTES or digest != INTEGRITY:
        print(f"{URL}: the download does not match its published SHA-512", file=sys.stderr)
        return 1
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for name, mode in MEMBERS.items():
            member = archive.extractfile(name)
            if member is None:
                print(f"{URL}: {name} is missing", file=sys.stderr)
                return 1
            final = target / Path(name).name
            partial = final.with_name(final.name + ".partial")
            partial.write_bytes(member.read())
            os.chmod(partial, mode)
            partial.replace(final)
    stamp.write_text(VERSION + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
