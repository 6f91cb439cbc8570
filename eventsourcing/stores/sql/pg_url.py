"""PostgreSQL URLs: the library's own options split from libpq's, checked before anything connects.

A URL is ``postgresql://user:password@host:port/database?param=value&...`` (``postgres://`` too),
with libpq's connection parameters in the query, as ``psql`` takes them: ``sslmode``,
``sslrootcert``, ``sslcert``, ``sslkey``, ``connect_timeout``, ``application_name``,
``target_session_attrs``, ``options=-c name=value`` ... TLS settings belong in the URL, so every
PostgreSQL component (events, snapshots, views, schemas) reads them from the same place.

The library's own parameter, ``command_timeout`` (seconds, or ``none``), is taken out of the query
here; asyncpg gets the rest. Parameters asyncpg does not implement are refused by name rather than
ignored (a ``channel_binding=require`` silently dropped would be a security downgrade); any other
parameter is sent to the server as a setting, as asyncpg does (``?search_path=app``).
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode

from eventsourcing.errors import ConfigurationError
from eventsourcing.urls import redact

SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
DEFAULT_COMMAND_TIMEOUT = 30.0

# libpq parameters asyncpg reads from the DSN itself.
_ASYNCPG_PARAMS = frozenset(
    {
        "host",
        "port",
        "dbname",
        "database",
        "user",
        "password",
        "passfile",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "service",
    }
)
# libpq parameters that are server settings under another name, or that the library applies itself.
_SETTINGS = frozenset({"application_name", "client_encoding"})
# libpq parameters asyncpg cannot honour: refused, naming them.
_UNSUPPORTED = frozenset(
    {
        "hostaddr",
        "channel_binding",
        "gssencmode",
        "requiressl",
        "sslcompression",
        "sslsni",
        "requirepeer",
        "require_auth",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "load_balance_hosts",
        "gssdelegation",
    }
)


@dataclass(frozen=True)
class PostgresURL:
    """A checked PostgreSQL URL: what asyncpg connects with, and what the library applies itself."""

    dsn: str
    """``postgresql://...`` with the libpq parameters asyncpg understands (the password kept)."""
    shown: str
    """The URL as messages and ``repr`` show it: the password hidden."""
    command_timeout: float | None
    """Seconds a command may wait for the server before `StoreUnavailable` (None: no limit)."""
    connect_timeout: float | None
    """Seconds to connect (libpq's ``connect_timeout``; default: the command timeout)."""
    server_settings: dict[str, str] = field(default_factory=dict)
    """Session settings from the URL (``application_name``, ``options=-c ...``, other parameters)."""


def parse_postgres_url(url: str, *, command_timeout: float | None = DEFAULT_COMMAND_TIMEOUT) -> PostgresURL:
    """Check ``url`` and split it; ``command_timeout`` is the default when the URL does not set one.

    Raises `ConfigurationError` naming what is wrong (never showing the password).
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"a PostgreSQL URL must be a string, not {type(url).__name__}")
    shown = redact(url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ConfigurationError(f"not a PostgreSQL URL: {shown} (use postgresql://user@host:port/database)")
    location, _, query = rest.partition("?")
    if "#" in query:
        query = query.split("#", 1)[0]
    authority = location.split("/", 1)[0]
    hosts = authority.rsplit("@", 1)[-1]
    for host in hosts.split(","):
        _check_port(host, shown)
    try:
        params = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as err:
        raise ConfigurationError(f"the query of {shown} is not name=value pairs: {err}") from err

    timeout = _seconds(command_timeout, "command_timeout", shown) if command_timeout is not None else None
    connect_timeout: float | None = None
    settings: dict[str, str] = {}
    fallback_name: str | None = None
    kept: list[tuple[str, str]] = []
    for name, value in params:
        key = name.lower()
        if key == "command_timeout":
            timeout = None if value.lower() in ("none", "off") else _seconds(value, "command_timeout", shown)
        elif key == "connect_timeout":
            # libpq: zero, negative or absent means wait indefinitely; under 2 s counts as 2 s.
            number = _number(value, "connect_timeout", shown)
            connect_timeout = None if number <= 0 else max(number, 2.0)
        elif key in _SETTINGS:
            settings[key] = value
        elif key == "fallback_application_name":
            fallback_name = value
        elif key == "options":
            settings.update(_options(value, shown))
        elif key in _UNSUPPORTED:
            raise ConfigurationError(
                f"the libpq parameter {name!r} in {shown} is not supported by this library's PostgreSQL driver "
                "(asyncpg); remove it or configure it on the server"
            )
        elif key == "port":
            _check_port(f"h:{value}", shown)
            kept.append((name, value))
        else:
            kept.append((name, value))  # asyncpg's own, or a server setting it passes on
    if fallback_name is not None:
        settings.setdefault("application_name", fallback_name)
    dsn = f"postgresql://{location}"
    if kept:
        dsn += "?" + urlencode(kept, quote_via=quote)
    return PostgresURL(
        dsn=dsn,
        shown=shown,
        command_timeout=timeout,
        connect_timeout=connect_timeout if connect_timeout is not None else timeout,
        server_settings=settings,
    )


def _check_port(host: str, shown: str) -> None:
    if host.endswith("]") or ":" not in host:  # no port, or a bare IPv6 literal
        return
    port = host.rsplit(":", 1)[1]
    if port == "":
        return
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"the port {port!r} in {shown} is not a TCP port (a number from 1 to 65535)")


def _number(value: object, name: str, shown: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} in {shown} must be a number of seconds, not {value!r}") from None
    if math.isnan(number):
        raise ConfigurationError(f"{name} in {shown} must be a number of seconds, not {value!r}")
    return number


def _seconds(value: object, name: str, shown: str) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}")
    number = _number(value, name, shown)
    if not 0 < number < math.inf:
        raise ConfigurationError(f"{name} must be a positive number of seconds (or 'none'), not {value!r}")
    return number


def _options(value: str, shown: str) -> dict[str, str]:
    """libpq's ``options``: command-line switches for the server; the ``-c name=value`` form is supported."""
    settings: dict[str, str] = {}
    try:
        words = shlex.split(value)
    except ValueError as err:
        raise ConfigurationError(f"options in {shown} cannot be parsed: {err}") from err
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c" and i + 1 < len(words):
            setting, i = words[i + 1], i + 2
        elif (word.startswith("-c") and len(word) > 2) or (word.startswith("--") and "=" in word):
            setting, i = word[2:], i + 1
        else:
            raise ConfigurationError(f"options in {shown}: only '-c name=value' settings are supported, not {word!r}")
        name, sep, setting_value = setting.partition("=")
        if not sep or not name:
            raise ConfigurationError(f"options in {shown}: {setting!r} is not name=value")
        settings[name.replace("-", "_")] = setting_value
    return settings
