"""Where a database is: `--database-url` values, Mendix's DatabaseHost, redaction."""

from __future__ import annotations

import pytest

from mxguard.collect.dbtarget import (
    PASSWORD_VARIABLE,
    dialect_of,
    parse_url_option,
    redact_url,
    scrub,
    split_host,
)
from mxguard.errors import UsageError


def test_an_app_prefixed_url_names_its_installation() -> None:
    option = parse_url_option("shop=postgresql://app:s%40cret@db.example:6543/shopdb")
    target = option.target
    assert option.installation == "shop"
    assert (target.dialect, target.host, target.port, target.name) == (
        "postgresql",
        "db.example",
        6543,
        "shopdb",
    )
    assert (target.user, target.password) == ("app", "s@cret")
    assert target.subject == "db:shopdb@db.example:6543"
    assert target.is_local is False
    assert "s@cret" not in repr(target)


def test_a_bare_url_takes_default_ports_and_tls_options() -> None:
    mysql = parse_url_option("mariadb://app:pw@127.0.0.1/ledger?ssl=true").target
    assert (mysql.installation, mysql.dialect, mysql.port, mysql.use_ssl) == (
        "",
        "mysql",
        3306,
        True,
    )
    assert mysql.is_local is True
    pg = parse_url_option("postgres://app:pw@[::1]/x?sslmode=disable").target
    assert (pg.host, pg.port, pg.use_ssl, pg.subject) == ("::1", 5432, False, "db:x@[::1]:5432")


def test_the_password_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, "from-the-environment")
    assert parse_url_option("mysql://app@localhost/db").target.password == "from-the-environment"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("oracle://u:Hidden-Pw-1@h/db", "no Oracle support"),
        ("postgresql://u:Hidden-Pw-1@h", "a host and a database name"),
        ("postgresql://u:Hidden-Pw-1@h:99999/db", "out of range"),
        ("ftp://u:Hidden-Pw-1@h/db", "not supported"),
    ],
)
def test_an_unusable_url_is_a_usage_error_without_its_password(value: str, said: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_url_option(value)
    assert said in str(raised.value) and "Hidden-Pw-1" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "dialect", "expected"),
    [
        ("127.0.0.1:5433", "postgresql", ("127.0.0.1", 5433)),
        ("db.internal", "mysql", ("db.internal", 3306)),
        ("[::1]:3307", "mysql", ("::1", 3307)),
        ("::1", "postgresql", ("::1", 5432)),
        ("/var/run/postgresql", "postgresql", ("/var/run/postgresql", None)),
        ("sql01\\MENDIX", "sqlserver", ("sql01\\MENDIX", 1433)),
        ("host:notaport", "postgresql", ("host", 5432)),
    ],
)
def test_database_host_forms(text: str, dialect: str, expected: tuple[str, int | None]) -> None:
    assert split_host(text, dialect) == expected


@pytest.mark.parametrize(
    ("database_type", "dialect", "reason"),
    [
        ("PostgreSQL", "postgresql", ""),
        ("POSTGRESQL", "postgresql", ""),
        ("MySQL", "mysql", ""),
        ("SQLSERVER", "sqlserver", ""),
        ("HSQLDB", "", "built-in development database"),
        ("SAPHANA", "", "SAP HANA"),
        ("Cassandra", "", "not supported"),
    ],
)
def test_mendix_database_types(database_type: str, dialect: str, reason: str) -> None:
    found, why = dialect_of(database_type)
    assert found == dialect and reason in why


def test_scrub_removes_secrets_urls_and_password_pairs() -> None:
    text = (
        "failed: host=db password=abc123xyz dbname=x; "
        "url postgresql://app:Sup3rSecret@db/x; the secret Sup3rSecret again"
    )
    cleaned = scrub(text, ("Sup3rSecret",))
    assert "abc123xyz" not in cleaned and "Sup3rSecret" not in cleaned
    assert "host=db" in cleaned
    assert redact_url("mysql://a:b@c/d") == "mysql://a:***@c/d"
    # A one-character secret is not blotted out of every number in the message.
    assert scrub("connect to 127.0.0.1 failed", ("1",)) == "connect to 127.0.0.1 failed"
