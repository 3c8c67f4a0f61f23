"""TLS probes: protocol versions, the negotiated cipher, and the server's certificate.

Each handshake is one connection under the connect timeout and the probe deadline. The
protocol probes pin one version at a time; where the local OpenSSL refuses to even offer a
version (a build without it, or a policy it cannot be talked out of), the version is
reported as `cannot-test` with the reason, never guessed.
"""

from __future__ import annotations

import _ssl
import asyncio
import contextlib
import ipaddress
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from mxguard.live.client import Gate, Limits
from mxguard.live.facts import CertificateFacts, ChainCertificate, ProtocolSupport, TlsFacts

VERSIONS = (
    ("TLSv1", ssl.TLSVersion.TLSv1),
    ("TLSv1.1", ssl.TLSVersion.TLSv1_1),
    ("TLSv1.2", ssl.TLSVersion.TLSv1_2),
    ("TLSv1.3", ssl.TLSVersion.TLSv1_3),
)
_HAS = {
    "TLSv1": ssl.HAS_TLSv1,
    "TLSv1.1": ssl.HAS_TLSv1_1,
    "TLSv1.2": ssl.HAS_TLSv1_2,
    "TLSv1.3": ssl.HAS_TLSv1_3,
}
# OpenSSL reasons that mean the local library would not offer the version at all.
_LOCAL_REFUSALS = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "UNSUPPORTED_PROTOCOL")
# Reasons that mean the server answered TLS, but not with this version.
_SERVER_REFUSALS = (
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "UNSUPPORTED_PROTOCOL",
    "SSLV3_ALERT_HANDSHAKE_FAILURE",
    "NO_PROTOCOLS_AVAILABLE",
    "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH",
    "NO_SHARED_CIPHER",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Handshake:
    protocol: str = ""
    cipher: str = ""
    der: bytes = b""
    chain: tuple[bytes, ...] | None = None  # every certificate sent, leaf first; None: unknown
    error: str = ""
    reason: str = ""  # OpenSSL's reason code, when there is one
    is_local: bool = False


def _version_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0/1.1 as a choice for connections; testing for them is
        # exactly why they are chosen here.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3 at its default security level will not offer TLS 1.0/1.1; level 0 does.
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


async def _handshake(
    host: str, port: int, context: ssl.SSLContext, server_name: str, limits: Limits, gate: Gate
) -> _Handshake:
    async with gate.slot(host):
        try:
            async with asyncio.timeout(min(limits.connect_timeout * 2, limits.deadline)):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=context,
                    server_hostname=server_name or None,
                    ssl_handshake_timeout=limits.connect_timeout,
                )
        except TimeoutError:
            return _Handshake(
                error=f"the TLS handshake did not finish in {limits.connect_timeout:g} s"
            )
        except ssl.SSLCertVerificationError as exc:
            return _Handshake(
                error=exc.verify_message or str(exc), reason="CERTIFICATE_VERIFY_FAILED"
            )
        except ssl.SSLError as exc:
            reason = exc.reason or ""
            return _Handshake(error=f"{reason or exc}", reason=reason, is_local=_is_local(exc))
        except ConnectionResetError:
            return _Handshake(
                error="the server reset the connection during the handshake", reason="RESET"
            )
        except OSError as exc:
            return _Handshake(error=f"cannot connect: {exc.strerror or exc}", reason="CONNECT")
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            cipher = ssl_object.cipher() if ssl_object else None
            return _Handshake(
                protocol=ssl_object.version() or "" if ssl_object else "",
                cipher=cipher[0] if cipher else "",
                der=(ssl_object.getpeercert(binary_form=True) or b"") if ssl_object else b"",
                chain=_sent_chain(ssl_object),
            )
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()


def _sent_chain(ssl_object: Any) -> tuple[bytes, ...] | None:
    """Return the certificates the server sent, as DER, leaf first; None when unknown.

    Python makes this public only from 3.13 (`get_unverified_chain`); 3.11 and 3.12 have the
    same call on the object underneath. Without it the chain is reported as not known.
    """
    inner = getattr(ssl_object, "_sslobj", None)
    read = getattr(ssl_object, "get_unverified_chain", None) or getattr(
        inner, "get_unverified_chain", None
    )
    if read is None:
        return None
    try:
        # The public call gives DER bytes; the one underneath gives certificate objects.
        return tuple(
            c if isinstance(c, bytes) else bytes(c.public_bytes(_ssl.ENCODING_DER))
            for c in read() or ()
        )
    except (ssl.SSLError, ValueError, AttributeError):
        return None


def _is_local(exc: ssl.SSLError) -> bool:
    # An error raised before anything was sent is the local library refusing the setup.
    return (exc.reason or "") in ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE")


async def probe_tls(
    host: str,
    port: int,
    *,
    server_name: str,
    limits: Limits,
    gate: Gate,
    ca_bundle: str | None = None,
) -> TlsFacts:
    """Return which TLS versions `host:port` accepts and what certificate it presents."""
    library = ssl.OPENSSL_VERSION
    default = ssl.create_default_context()
    default.check_hostname = False
    default.verify_mode = ssl.CERT_NONE
    first = await _handshake(host, port, default, server_name, limits, gate)
    if first.error:
        return TlsFacts(error=_describe(first), library=library)

    protocols = await asyncio.gather(
        *(
            _protocol(host, port, name, version, server_name, limits, gate)
            for name, version in VERSIONS
        )
    )
    trusted = await _trust(host, port, server_name, limits, gate, ca_bundle)
    certificate = describe_certificate(
        first.der,
        server_name=server_name,
        trust_error=trusted,
        trust_store=f"system + {ca_bundle}" if ca_bundle else "system",
        chain=first.chain,
    )
    return TlsFacts(
        protocols=tuple(protocols),
        negotiated_protocol=first.protocol,
        cipher=first.cipher,
        certificate=certificate,
        library=library,
    )


def _describe(handshake: _Handshake) -> str:
    if handshake.reason in (
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
    ):
        return f"the server does not speak TLS ({handshake.error})"
    return handshake.error


async def _protocol(
    host: str,
    port: int,
    name: str,
    version: ssl.TLSVersion,
    server_name: str,
    limits: Limits,
    gate: Gate,
) -> ProtocolSupport:
    if not _HAS[name]:
        return ProtocolSupport(
            version=name,
            status="cannot-test",
            detail=f"{ssl.OPENSSL_VERSION} was built without {name}",
        )
    try:
        context = _version_context(version)
    except (ssl.SSLError, ValueError) as exc:
        return ProtocolSupport(
            version=name,
            status="cannot-test",
            detail=f"{ssl.OPENSSL_VERSION} refuses to offer {name}: {exc}",
        )
    result = await _handshake(host, port, context, server_name, limits, gate)
    if not result.error:
        if result.protocol and result.protocol != name:
            return ProtocolSupport(
                version=name, status="error", detail=f"negotiated {result.protocol} instead"
            )
        return ProtocolSupport(version=name, status="accepted", detail=result.cipher)
    if result.is_local:
        return ProtocolSupport(
            version=name,
            status="cannot-test",
            detail=f"{ssl.OPENSSL_VERSION} would not offer {name}: {result.error}",
        )
    if result.reason in _SERVER_REFUSALS or result.reason == "RESET" or "EOF" in result.error:
        return ProtocolSupport(version=name, status="refused", detail=result.error)
    return ProtocolSupport(version=name, status="error", detail=result.error)


async def _trust(
    host: str, port: int, server_name: str, limits: Limits, gate: Gate, ca_bundle: str | None
) -> str:
    """Return why the chain is not trusted, or an empty string when it is."""
    # An internal CA is trusted besides the system store, not instead of it.
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    context.check_hostname = False  # the name is matched separately, so each fault shows
    result = await _handshake(host, port, context, server_name, limits, gate)
    return result.error


def describe_certificate(
    der: bytes,
    *,
    server_name: str,
    trust_error: str,
    trust_store: str,
    chain: tuple[bytes, ...] | None = None,
) -> CertificateFacts | None:
    """Return the facts of a DER certificate (and the chain sent with it), judged now."""
    if not der:
        return None
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        return CertificateFacts(subject="", issuer="", trust_error=f"unreadable certificate: {exc}")
    now = datetime.now(UTC)
    sent = _load_chain(chain[1:] if chain else ())
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    names = _names(certificate)
    key_type, key_bits = _key(certificate)
    algorithm = _signature(certificate)
    return CertificateFacts(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        names=names,
        not_before=not_before.isoformat(),
        not_after=not_after.isoformat(),
        days_left=(not_after - now).days,
        is_expired=now > not_after,
        is_not_yet_valid=now < not_before,
        is_self_signed=certificate.issuer == certificate.subject,
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=algorithm,
        chain_length=len(chain) if chain else 0,
        chain=tuple(_chain_entry(c, now) for c in sent),
        chain_problem=(
            _chain_problem(certificate, sent, now, trusted=not trust_error) if chain else ""
        ),
        is_trusted=not trust_error,
        trust_error=trust_error,
        is_hostname_match=matches_hostname(names, _common_names(certificate), server_name),
        trust_store=trust_store,
    )


def _load_chain(ders: Sequence[bytes]) -> list[x509.Certificate]:
    loaded = []
    for der in ders:
        with contextlib.suppress(ValueError):
            loaded.append(x509.load_der_x509_certificate(der))
    return loaded


_SIGNATURE_FAMILIES = {
    "rsa": {
        SignatureAlgorithmOID.RSA_WITH_MD5,
        SignatureAlgorithmOID.RSA_WITH_SHA1,
        SignatureAlgorithmOID.RSA_WITH_SHA224,
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.RSASSA_PSS,
    },
    "ec": {
        SignatureAlgorithmOID.ECDSA_WITH_SHA1,
        SignatureAlgorithmOID.ECDSA_WITH_SHA224,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    },
    "dsa": {SignatureAlgorithmOID.DSA_WITH_SHA1, SignatureAlgorithmOID.DSA_WITH_SHA256},
}


def _signature(certificate: x509.Certificate) -> str:
    """Return the signature algorithm as `hash-with-family` (the issuer's key family)."""
    oid = certificate.signature_algorithm_oid
    family = next((name for name, oids in _SIGNATURE_FAMILIES.items() if oid in oids), "")
    try:
        digest = certificate.signature_hash_algorithm
    except Exception:  # noqa: BLE001 - an unknown algorithm is a fact, not a crash
        return oid.dotted_string
    if digest is None:  # Ed25519 and Ed448 hash inside the algorithm
        return {SignatureAlgorithmOID.ED25519: "ed25519", SignatureAlgorithmOID.ED448: "ed448"}.get(
            oid, oid.dotted_string
        )
    return f"{digest.name}-with-{family}" if family else digest.name


def _chain_entry(certificate: x509.Certificate, now: datetime) -> ChainCertificate:
    key_type, key_bits = _key(certificate)
    return ChainCertificate(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_after=certificate.not_valid_after_utc.isoformat(),
        is_expired=now > certificate.not_valid_after_utc,
        is_self_signed=certificate.issuer == certificate.subject,
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=_signature(certificate),
    )


def _chain_problem(
    leaf: x509.Certificate, sent: Sequence[x509.Certificate], now: datetime, *, trusted: bool
) -> str:
    """Return what is wrong with the certificates sent after the leaf, in words."""
    expired = [c for c in sent if now > c.not_valid_after_utc]
    if expired:
        return f"the chain holds an expired certificate: {expired[0].subject.rfc4514_string()}"
    if trusted or leaf.issuer == leaf.subject:
        return ""
    subjects = [c.subject for c in sent]
    if leaf.issuer not in subjects:
        sent_words = "only its own certificate" if not sent else f"{len(sent) + 1} certificates"
        return (
            f"incomplete chain: the server sends {sent_words}, not the one that issued it "
            f"({leaf.issuer.rfc4514_string()})"
        )
    issued = [leaf, *sent]
    for position, certificate in enumerate(issued[:-1]):
        if issued[position + 1].subject != certificate.issuer:
            return "the chain is out of order: each certificate must be followed by its issuer"
    return ""


def _names(certificate: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    alt = extension.value
    dns = alt.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in alt.get_values_for_type(x509.IPAddress)]
    return (*dns, *ips)


def _common_names(certificate: x509.Certificate) -> tuple[str, ...]:
    return tuple(
        str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )


def _key(certificate: x509.Certificate) -> tuple[str, int]:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return "other", 0


def matches_hostname(names: tuple[str, ...], common_names: tuple[str, ...], host: str) -> bool:
    """Return whether `host` is covered by the certificate's names (CN only without SANs)."""
    candidates = names or common_names
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    for name in candidates:
        if address is not None:
            with contextlib.suppress(ValueError):
                if ipaddress.ip_address(name) == address:
                    return True
            continue
        if _dns_match(name.lower().rstrip("."), host.lower().rstrip(".")):
            return True
    return False


def _dns_match(pattern: str, host: str) -> bool:
    if not pattern.startswith("*."):
        return pattern == host
    # A wildcard covers exactly one leftmost label, never a bare suffix.
    head, _, rest = host.partition(".")
    return bool(head) and rest == pattern[2:] and "." in rest
