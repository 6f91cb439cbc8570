"""Where the shop keeps its data: the default store that `demo` and `serve` share, the views' default
place beside a store, and the one line both print to say so.

`demo` and `serve` meet on one SQLite file in the user's data directory (``$XDG_DATA_HOME``, else
``~/.local/share``), whatever folder they are run from: the page shows the demo's carts. A fixed
folder rather than the working directory, because the two commands are often run from different ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from eventsourcing.urls import redact

DATA_FOLDER = "async-eventsourcing-shop"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / DATA_FOLDER


def default_store_url(*, create_folder: bool = True) -> str:
    """``sqlite:///<data dir>/shop.db``, its folder created (SQLite creates files, not folders)."""
    folder = default_data_dir()
    if create_folder:
        folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'shop.db'}"


def default_views_url(store_url: str) -> str | None:
    """The views' database beside the store (see `Shop`); None where there is no place to keep them."""
    scheme = store_url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite") and store_url.endswith(".db"):
        return store_url[: -len(".db")] + "-views.db"
    if scheme.startswith("sqlite"):
        return store_url + "-views"
    if scheme.startswith("postgres"):
        return store_url
    index = parse_qs(urlsplit(store_url).query).get("index", [""])[-1] if scheme == "kafka" else ""
    if index and index != "memory":
        path = Path(index)
        return f"sqlite:///{path.with_name(path.stem + '-views.db')}"
    return None


def describe(store_url: str, views_url: str | None = None) -> str:
    """One line saying where the events and the views live (passwords redacted)."""
    views = views_url or default_views_url(store_url)
    where_views = "rebuilt from the log at each start" if views is None else _place(views)
    return f"events in {_place(store_url)}; views in {where_views}"


def _place(url: str) -> str:
    scheme, _, rest = url.partition(":")
    if scheme.lower().startswith("sqlite") and rest.startswith("///") and ":memory:" not in rest:
        return os.path.abspath(rest[len("///") :].split("?", 1)[0])  # a relative path: from where?
    if scheme.lower() == "memory":
        return "memory (gone when the process stops)"
    return redact(url)
