"""Store URLs as they may be shown: the one place that hides secrets before a URL is printed.

Every message, ``repr`` and log line that names a store URL passes it through `redact`, whatever
the scheme (also a mistyped one): the password of the user info and the values of query
parameters that carry secrets are replaced by ``***``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

__all__ = ["redact", "scheme", "sql_dialect"]

MASK = "***"

# The scheme's slashes are optional: a mistyped ``postgres:/user:pw@host`` is masked too.
_USERINFO = re.compile(r"^(?P<head>[^:/?#]*:/*)(?P<user>[^@/?#:]*):(?P<password>[^@/?#]*)@", re.DOTALL)
_SECRET_KEYS = ("password", "passwd", "secret", "token", "sslkey", "sslpassword", "credential")


def redact(url: object) -> str:
    """``url`` with its password (and secret-bearing query parameters) replaced by ``***``."""
    text = str(url)
    text = _USERINFO.sub(lambda m: f"{m['head']}{m['user']}:{MASK}@", text, count=1)
    base, sep, query = text.partition("?")
    if not sep:
        return text
    fragment = ""
    if "#" in query:
        query, fragment = query.split("#", 1)
        fragment = "#" + fragment
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        return base + sep + MASK
    if not any(_secret(k) for k, _ in pairs):
        return text
    shown = urlencode([(k, MASK if _secret(k) else v) for k, v in pairs], safe="*/:,")
    return base + sep + shown + fragment


def scheme(url: str) -> str:
    """The scheme of ``url``, lower case, with its driver suffix (``postgresql+asyncpg``); "" if none."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep else ""


# The driver each SQL dialect runs on is fixed (aiosqlite, asyncpg): another driver's suffix
# (``postgresql+psycopg://``) is refused rather than silently ignored.
_SQL_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "postgresql+asyncpg": "postgresql",
}


def sql_dialect(url: str) -> str | None:
    """``"sqlite"`` or ``"postgresql"`` for the SQL URLs the library opens, None for any other URL."""
    return _SQL_SCHEMES.get(scheme(url))


def _secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_KEYS)
