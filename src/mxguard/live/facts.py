"""Facts observed over the network: TLS, HTTP responses, cookies, ports and the admin API.

Like every fact, these hold no secret: cookie values, session ids and passwords are never
kept, only cookie names and attributes, and which default password (if any) was accepted
is reduced to a count.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolSupport:
    """Whether a server accepts one TLS protocol version."""

    version: str  # TLSv1 | TLSv1.1 | TLSv1.2 | TLSv1.3
    status: str  # accepted | refused | cannot-test | error
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainCertificate:
    """A certificate the server sent after its own: an intermediate, or a root it need not send."""

    subject: str
    issuer: str
    not_after: str = ""
    is_expired: bool = False
    is_self_signed: bool = False
    key_type: str = ""
    key_bits: int = 0
    signature_algorithm: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateFacts:
    """The leaf certificate a server presented, and how it fares against the trust store."""

    subject: str
    issuer: str
    names: tuple[str, ...] = ()  # DNS names and IP addresses of subjectAltName
    not_before: str = ""
    not_after: str = ""
    days_left: int = 0  # at collection time; negative once expired
    is_expired: bool = False
    is_not_yet_valid: bool = False
    is_self_signed: bool = False
    key_type: str = ""  # RSA | EC | Ed25519 | Ed448 | DSA | other
    key_bits: int = 0
    signature_algorithm: str = ""
    chain_length: int = 0  # certificates sent, the leaf included; 0 when not known
    chain: tuple[ChainCertificate, ...] = ()  # what was sent after the leaf, in order
    chain_problem: str = ""  # an incomplete, disordered or expired chain, in words
    is_trusted: bool = False
    trust_error: str = ""
    is_hostname_match: bool = False
    trust_store: str = "system"  # system | the --ca-bundle path


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFacts:
    """What a TLS endpoint accepts and presents."""

    protocols: tuple[ProtocolSupport, ...] = ()
    negotiated_protocol: str = ""
    cipher: str = ""
    certificate: CertificateFacts | None = None
    error: str = ""  # why no handshake completed at all
    library: str = ""  # the TLS library the probes used


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """One response header; `Set-Cookie` values are never kept here (see `Cookie`)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Cookie:
    """A cookie a server set: its name and attributes, never its value."""

    name: str
    is_secure: bool = False
    is_http_only: bool = False
    same_site: str = ""  # as sent; empty when absent
    path: str = ""
    domain: str = ""
    problem: str = ""  # a malformed Set-Cookie line, described


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """One HTTP exchange: what was asked and what came back, or why nothing did."""

    url: str
    method: str = "GET"
    status: int = 0
    headers: tuple[Header, ...] = ()
    cookies: tuple[Cookie, ...] = ()
    body_sha256: str = ""
    body_bytes: int = 0
    is_body_truncated: bool = False
    error: str = ""
    elapsed_ms: int = 0

    def header(self, name: str) -> str | None:
        """Return the first value of header `name` (any case), or None."""
        wanted = name.lower()
        return next((h.value for h in self.headers if h.name.lower() == wanted), None)

    def header_values(self, name: str) -> tuple[str, ...]:
        """Return every value of header `name` (any case)."""
        wanted = name.lower()
        return tuple(h.value for h in self.headers if h.name.lower() == wanted)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """A path probed at a site, with the verdict on who served it."""

    path: str
    kind: str  # static | dynamic
    response: Response
    served_by: str = "unknown"  # proxy | runtime | unknown
    served_by_reason: str = ""
    direct: Response | None = None  # the same path fetched from the runtime port, on loopback


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionProbe:
    """An anonymous session started like the Mendix client does: `/`, then `/xas/`."""

    spoofed_headers: tuple[str, ...] = ()  # request headers the client forged, if any
    responses: tuple[Response, ...] = ()
    cookies: tuple[Cookie, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteProbe:
    """Everything probed at one `https://` or `http://` URL."""

    url: str
    origin: str  # how the URL became a target: --url, ApplicationRootUrl of app:NAME, ...
    probed_url: str = ""  # where the pages were probed: the end of the redirect chain
    app: str | None = None
    session_cookie: str = "XASSESSIONID"  # the configured name, without a __Host- prefix
    tls: TlsFacts | None = None
    redirect_chain: tuple[Response, ...] = ()  # from the http:// form of the URL
    redirect_error: str = ""
    # A redirect to another host, recorded but not followed: a site reached over loopback
    # is never followed off the host.
    redirect_not_followed: str = ""
    pages: tuple[Page, ...] = ()
    session: SessionProbe | None = None
    spoofed_session: SessionProbe | None = None
    error: str = ""  # why the probe stopped before it was complete
    # The loopback address and port connected to, when the URL's host was not resolved
    # (a proxy site probed on the host); empty when the URL's own host was connected to.
    connected_to: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PortProbe:
    """Whether a TCP port answered, and from where it was tried."""

    address: str
    port: int
    role: str  # runtime | admin
    app: str | None = None
    vantage: str = "loopback"  # loopback (on the host) | outside
    state: str = "closed"  # open | closed | filtered | error
    detail: str = ""
    http_status: int = 0  # when it answered HTTP


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminProbe:
    """How an admin port answered requests without and with default passwords."""

    address: str
    port: int
    app: str | None = None
    vantage: str = "loopback"
    unauthenticated_status: int = 0
    unauthenticated_result: int | None = None
    is_unauthenticated_refused: bool = False
    defaults_tried: int = 0  # 0 unless --try-default-admin-passwords
    defaults_accepted: int = 0  # how many of the default passwords worked; never which
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveFacts:
    """The network probes of one run, from the host itself or from outside."""

    vantage: str  # host | outside
    target_host: str = ""  # the --from-outside HOST
    sites: tuple[SiteProbe, ...] = ()
    ports: tuple[PortProbe, ...] = ()
    admin: tuple[AdminProbe, ...] = ()
    tried_default_passwords: bool = False
    elapsed_ms: int = 0
