"""The proxy collector: find the reverse proxy's configuration, parse it, read its TLS files.

Discovery takes nginx's main file from the running master process's `-c` (and `-p`) when
there is one, else the usual paths; Apache's from `/etc/apache2/apache2.conf` or
`/etc/httpd/conf/httpd.conf`. `--proxy-config` adds files, told apart by content.

Certificates are parsed here, and only what is derived from them enters the snapshot
(names, dates, whether the chain is trusted, whether the key matches). A private key is
read only to compare its public half with the certificate's; it is never kept or logged.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import posixpath
import re
import stat
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification

from mxguard.discovery.rootfs import Root
from mxguard.facts import Account
from mxguard.proxy.apache import parse_apache
from mxguard.proxy.iis import parse_iis
from mxguard.proxy.model import ProxyConfig, ProxyFacts, TlsFileFacts
from mxguard.proxy.nginx import is_nginx_dump, parse_nginx, parse_nginx_dump
from mxguard.safeio import open_regular

logger = logging.getLogger(__name__)

NGINX_PATHS = ("/etc/nginx/nginx.conf", "/usr/local/nginx/conf/nginx.conf")
APACHE_PATHS = ("/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf")
SYSTEM_TRUST = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
MAX_PEM_BYTES = 1024 * 1024
MAX_SNIFF_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyOptions:
    """What the proxy collector looks at."""

    root: str = "/"
    configs: Sequence[str] = ()  # explicit files, each told apart by content
    ca_bundle: str | None = None  # an internal CA's PEM file, on this machine
    discover: bool = True


def collect_proxy(options: ProxyOptions, accounts: Sequence[Account] = ()) -> ProxyFacts:
    """Return every proxy configuration found, parsed, with facts about its TLS files."""
    root = Root(options.root)
    searched: list[str] = []
    candidates = list(_explicit(options.configs))
    if options.discover:
        candidates.extend(_discovered(root, searched))

    configs: list[ProxyConfig] = []
    seen: set[str] = set()
    for server, path, prefix in candidates:
        explicit = path in options.configs
        # A named file inside a `--root` tree is the same file discovery finds there.
        key = root.view_of(path) if explicit else path
        if key in seen:
            continue
        seen.add(key)
        parsed = _parse(server, path, prefix, root, explicit=explicit)
        configs.append(replace(parsed, is_explicit=explicit))

    store = _trust_store(root, options.ca_bundle)
    tls_files = tuple(_tls_files(configs, root, store, accounts))
    reason = "" if configs else "no proxy configuration was found at " + ", ".join(searched)
    return ProxyFacts(
        configs=tuple(configs),
        tls_files=tls_files,
        searched=tuple(searched),
        reason=reason,
        ca_bundle=options.ca_bundle or "",
    )


def detect_server(text: str, path: str) -> str:
    """Return `nginx`, `nginx-dump` (`nginx -T`), `apache` or `iis` for a file's text."""
    head = text.lstrip("\ufeff \t\r\n")
    if path.lower().endswith(".config") or head.startswith(("<?xml", "<configuration")):
        return "iis"
    if is_nginx_dump(text):
        return "nginx-dump"
    if re.search(r"^\s*<(VirtualHost|Directory|Location|IfModule|Files)\b", text, re.M | re.I):
        return "apache"
    if re.search(
        r"^\s*(ServerRoot|DocumentRoot|LoadModule|ProxyPass|SSLEngine|IncludeOptional)\s",
        text,
        re.M | re.I,
    ):
        return "apache"
    return "nginx"


def _explicit(configs: Sequence[str]) -> Iterator[tuple[str, str, str | None]]:
    for path in configs:
        try:
            with open_regular(path) as handle:
                text = handle.read(MAX_SNIFF_BYTES).decode("utf-8", errors="replace")
        except OSError:
            text = ""
        yield detect_server(text, path), path, None


def _discovered(root: Root, searched: list[str]) -> Iterator[tuple[str, str, str | None]]:
    if root.is_live:
        searched.append("running nginx master processes")
        yield from _nginx_processes()
    for server, paths in (("nginx", NGINX_PATHS), ("apache", APACHE_PATHS)):
        for path in paths:
            searched.append(path)
            if os.path.isfile(root.real(path)):
                yield server, path, None
                break


def _nginx_processes() -> Iterator[tuple[str, str, str | None]]:
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            words = " ".join(process.info.get("cmdline") or []).split()
        except (psutil.Error, TypeError):
            continue
        if not words or "nginx" not in (process.info.get("name") or "") or "master" not in words:
            continue
        config = _argument(words, "-c")
        prefix = _argument(words, "-p")
        if config:
            if not config.startswith("/") and prefix:
                config = posixpath.join(prefix, config)
            yield "nginx", config, prefix


def _argument(words: Sequence[str], flag: str) -> str | None:
    for index, word in enumerate(words):
        if word == flag and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(flag) and len(word) > len(flag) and not word.startswith("--"):
            return word[len(flag) :]
    return None


def _parse(
    server: str, path: str, prefix: str | None, root: Root, *, explicit: bool
) -> ProxyConfig:
    # An explicit file is a path on this machine; inside a `--root` tree it is read as the
    # host's path, so that its includes stay inside the tree too.
    reader_root = root
    if explicit:
        viewed = root.view_of(path)
        if root.is_live or viewed == os.path.abspath(path):  # a file outside the tree
            reader_root = Root("/")
        path = viewed
    logger.debug("parsing %s configuration %s", server, path)
    if server == "iis":
        return parse_iis(path, root=reader_root)
    if server == "apache":
        return parse_apache(path, root=reader_root)
    if server == "nginx-dump":
        return parse_nginx_dump(path, prefix=prefix)
    return parse_nginx(path, prefix=prefix, root=reader_root)


def _trust_store(root: Root, ca_bundle: str | None) -> list[x509.Certificate]:
    certificates: list[x509.Certificate] = []
    for path in SYSTEM_TRUST:
        real = root.real(path) if os.path.isfile(root.real(path)) else path
        certificates.extend(_load_pems(real))
        if certificates:
            break
    if ca_bundle:
        certificates.extend(_load_pems(ca_bundle))
    return certificates


def _load_pems(path: str) -> list[x509.Certificate]:
    try:
        with open_regular(path) as handle:
            data = handle.read(64 * MAX_PEM_BYTES)
    except OSError:
        return []
    # Some authorities in system stores carry non-positive serial numbers; cryptography
    # warns about each. They are still trust anchors, so the warning is not the user's news.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            return x509.load_pem_x509_certificates(data)
        except ValueError:
            return []


def _tls_files(
    configs: Sequence[ProxyConfig],
    root: Root,
    store: list[x509.Certificate],
    accounts: Sequence[Account],
) -> Iterator[TlsFileFacts]:
    seen: set[tuple[str, str]] = set()
    for config in configs:
        for site in config.sites:
            if site.tls is None or not site.tls.certificate_file:
                continue
            pair = (site.tls.certificate_file, site.tls.key_file)
            if pair in seen:
                continue
            seen.add(pair)
            base = posixpath.dirname(config.path)
            yield describe_tls_files(
                certificate=_absolute(pair[0], base),
                key=_absolute(pair[1], base) if pair[1] else "",
                named_certificate=pair[0],
                named_key=pair[1],
                root=root,
                store=store,
                accounts=accounts,
            )


def _absolute(path: str, base: str) -> str:
    return path if path.startswith("/") else posixpath.join(base, path)


def describe_tls_files(
    *,
    certificate: str,
    key: str,
    named_certificate: str,
    named_key: str,
    root: Root,
    store: list[x509.Certificate],
    accounts: Sequence[Account] = (),
) -> TlsFileFacts:
    """Return what can be derived from a certificate file and its key file."""
    try:
        data = _read(root, certificate)
        chain = x509.load_pem_x509_certificates(data)
    except FileNotFoundError:
        return _broken(named_certificate, named_key, "missing", "the file does not exist")
    except OSError as exc:
        return _broken(named_certificate, named_key, "unreadable", str(exc.strerror or exc))
    except ValueError:
        return _broken(named_certificate, named_key, "invalid", "no PEM certificate in it")

    leaf = chain[0]
    names = _names(leaf)
    status, problem = _verify_chain(leaf, chain[1:], store, names)
    key_facts = _key_facts(root, key, leaf, accounts) if key else {"key_status": "unknown"}
    return TlsFileFacts(
        certificate_file=named_certificate,
        key_file=named_key,
        subject=leaf.subject.rfc4514_string(),
        names=names,
        not_before=leaf.not_valid_before_utc.isoformat(),
        not_after=leaf.not_valid_after_utc.isoformat(),
        is_self_signed=leaf.issuer == leaf.subject,
        chain_status=status,
        chain_problem=problem,
        **key_facts,
    )


def _broken(certificate: str, key: str, status: str, problem: str) -> TlsFileFacts:
    return TlsFileFacts(certificate_file=certificate, key_file=key, status=status, problem=problem)


def _read(root: Root, path: str) -> bytes:
    real = root.real(root.resolve(path))
    with open_regular(real) as handle:
        return handle.read(MAX_PEM_BYTES)


def _names(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        common = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return tuple(str(a.value) for a in common)
    dns = extension.value.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in extension.value.get_values_for_type(x509.IPAddress)]
    return (*dns, *ips)


def _name_covered_by(name: str) -> str:
    # A wildcard covers one label in its place, never the bare domain after it.
    return f"mxguard-probe{name[1:]}" if name.startswith("*.") else name


def _verify_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    store: list[x509.Certificate],
    names: Sequence[str],
) -> tuple[str, str]:
    if not store:
        return "unknown", "no trust store could be read"
    # Judge the chain alone: at a moment inside the validity period, under the leaf's own name.
    moment = min(max(datetime.now(UTC), leaf.not_valid_before_utc), leaf.not_valid_after_utc)
    moment -= timedelta(seconds=1) if moment == leaf.not_valid_after_utc else timedelta(0)
    subject: x509.DNSName | x509.IPAddress
    try:
        subject = x509.IPAddress(ipaddress.ip_address(names[0]))
    except (ValueError, IndexError):
        subject = x509.DNSName(_name_covered_by(names[0]) if names else "invalid.invalid")
    try:
        verifier = (
            verification.PolicyBuilder()
            .store(verification.Store(store))
            .time(moment)
            .extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=_LEAF_POLICY,
            )
            .build_server_verifier(subject)
        )
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        return "untrusted", str(exc)
    except ValueError as exc:
        return "unknown", str(exc)
    return "trusted", ""


# The leaf's extensions are judged loosely (a critical subjectAltName or extendedKeyUsage,
# which browsers accept, is not a failure of trust); the chain to an anchor is what counts.
_LEAF_POLICY = verification.ExtensionPolicy.permit_all().require_present(
    x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None
)


def _key_facts(
    root: Root, path: str, leaf: x509.Certificate, accounts: Sequence[Account]
) -> dict[str, Any]:
    try:
        real = root.real(root.resolve(path))
        info = os.stat(real)
    except FileNotFoundError:
        return {"key_status": "missing", "key_problem": "the file does not exist"}
    except OSError as exc:
        return {"key_status": "unreadable", "key_problem": str(exc.strerror or exc)}
    if not stat.S_ISREG(info.st_mode):
        return {"key_status": "unreadable", "key_problem": "not a regular file"}
    owner = next((a.name for a in accounts if a.uid == info.st_uid), "")
    group = next((a.name for a in accounts if a.gid == info.st_gid), "")
    facts: dict[str, Any] = {
        "key_uid": info.st_uid,
        "key_gid": info.st_gid,
        "key_mode": stat.S_IMODE(info.st_mode),
        "key_owner": owner,
        "key_group": group,
    }
    try:
        with open_regular(real) as handle:
            data = handle.read(MAX_PEM_BYTES)
    except OSError as exc:
        return {**facts, "key_status": "unreadable", "key_problem": str(exc.strerror or exc)}
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        return {**facts, "key_status": "ok", "key_problem": "the key is encrypted"}
    except (ValueError, UnsupportedAlgorithm):
        return {**facts, "key_status": "invalid", "key_problem": "no PEM private key in it"}
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = private.public_key().public_bytes(serialization.Encoding.DER, spki)
    theirs = leaf.public_key().public_bytes(serialization.Encoding.DER, spki)
    del private, data
    return {**facts, "key_status": "ok", "key_matches": ours == theirs}
