"""The example host's nginx: one site per application, written into the example tree.

`write_proxy(folder, apps)` adds `etc/nginx/nginx.conf` and a private demo CA with one
certificate per site, so that the demo shows the proxy checks of §5, §7 and §9 as well:

- the hardened applications get the layout the checklist asks for (TLS 1.2+, plain HTTP
  only redirecting, static content from `web/`, only the runtime's handlers proxied, the
  scheme header set by the proxy, the security headers on every answer);
- the weak one is proxied wholesale over TLS 1.0 too, copies the client's scheme header,
  sends no security header, also answers on plain HTTP, and aliases the client system
  under a location that lets `..` out of it;
- one hardened site carries the inheritance trap: a nested location with a header of its
  own, which silently drops the server's `X-Forwarded-Scheme`.

The certificates are made fresh at every build, valid from a day before to a year after.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from mxguard.lab.example import AppLayout

NGINX_DIR = "etc/nginx"
CA_FILE = f"/{NGINX_DIR}/certs/example-ca.pem"  # as the audited host sees it
DOMAIN = "example.com"

_HEADERS = """\
        add_header Strict-Transport-Security "max-age=31536000" always;
        add_header X-Content-Type-Options nosniff always;
        add_header X-Frame-Options DENY always;
        add_header Referrer-Policy strict-origin-when-cross-origin always;
        add_header Content-Security-Policy "default-src 'none'; img-src 'self'; \
script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; \
frame-ancestors 'none'" always;
"""

_HANDLERS = "xas|p|file|link|ws|rest|odata|api|oauth|sso"


def write_proxy(folder: str, apps: Sequence[AppLayout]) -> str:
    """Write the proxy configuration and certificates into `folder`; return the CA's path."""
    certs = os.path.join(folder, NGINX_DIR, "certs")
    os.makedirs(certs, mode=0o755, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(ca_key, ca_key, _name("mxguard example CA"), is_ca=True)
    _write(os.path.join(certs, "example-ca.pem"), _pem(ca_cert), 0o644)

    servers = []
    for index, app in enumerate(apps):
        host = f"{app.name}.{DOMAIN}"
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate(key, ca_key, _name(host), issuer=ca_cert, host=host)
        cert_path = f"/{NGINX_DIR}/certs/{app.name}.pem"
        key_path = f"/{NGINX_DIR}/certs/{app.name}.key"
        _write(folder + cert_path, _pem(leaf) + _pem(ca_cert), 0o644)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(folder + key_path, private, 0o600)
        if app.hardened:
            servers.append(_good_site(app, host, cert_path, key_path, trap=index == len(apps) - 1))
        else:
            servers.append(_weak_site(app, host, cert_path, key_path))

    config = (
        "# The example host's reverse proxy, written by mxguard's example builder.\n"
        "user www-data;\n"
        "events {}\n\n"
        "http {\n"
        "    access_log off;\n"
        "    ssl_protocols TLSv1.2 TLSv1.3;\n\n" + "\n".join(servers) + "}\n"
    )
    _write(os.path.join(folder, NGINX_DIR, "nginx.conf"), config.encode(), 0o644)
    return CA_FILE


def _good_site(app: AppLayout, host: str, cert: str, key: str, *, trap: bool) -> str:
    upstream = f"http://127.0.0.1:{app.runtime_port}"
    rest = (
        # A location with a header of its own inherits none of the server's.
        "        location /rest/ {\n"
        "            proxy_set_header Host $host;\n"
        f"            proxy_pass {upstream};\n"
        "        }\n\n"
        if trap
        else ""
    )
    return f"""\
    server {{
        listen 80;
        server_name {host};
        server_tokens off;
        return 301 https://$host$request_uri;
    }}

    server {{
        listen 443 ssl;
        server_name {host};
        server_tokens off;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {app.app_base}/web;

{_HEADERS}
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Scheme https;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;

        location / {{
            try_files $uri $uri/ @runtime;
        }}

        location @runtime {{
            proxy_pass {upstream};
        }}

        location /mxclientsystem/ {{
            alias {app.app_base}/runtimes/{app.runtime_version}/runtime/mxclientsystem/;
        }}

{rest}        location ~ ^/({_HANDLERS})/ {{
            proxy_pass {upstream};
        }}

        location ~ ^/(ws-doc|rest-doc|odata-doc|api-doc)/ {{
            deny all;
        }}

        location ^~ /mxdevtools {{
            return 404;
        }}

        location ^~ /debugger/ {{
            return 404;
        }}
    }}
"""


def _weak_site(app: AppLayout, host: str, cert: str, key: str) -> str:
    return f"""\
    server {{
        listen 80;
        listen 443 ssl;
        server_name {host};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1 TLSv1.1 TLSv1.2;

        location / {{
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Scheme $http_x_forwarded_scheme;
            proxy_pass http://127.0.0.1:{app.runtime_port};
        }}

        # Without the location's trailing slash, /mxclientsystem../ reaches runtime/.
        location /mxclientsystem {{
            alias {app.app_base}/runtimes/{app.runtime_version}/runtime/mxclientsystem/;
        }}
    }}
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    *,
    issuer: x509.Certificate | None = None,
    host: str | None = None,
    is_ca: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer is not None:
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key())
        builder = builder.add_extension(authority, critical=False)
    if is_ca:
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(usage, critical=True)
    if host is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _write(path: str, data: bytes, mode: int) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)
