"""The table of events a replay applied, written row by row.

rich lays a table out from all of its rows at once: for 200,000 events that was 1.35 GB and two
minutes. This table has rich's look (heavy head, light body) but its column widths come from
`EventRows`, which measures each row as it is rendered (to one line, for an `EventSpool`), so the
rows can then be written one at a time from wherever they were kept. Cells wider than their
column fold onto more lines, as rich's ``overflow="fold"`` does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from rich.cells import cell_len, chop_cells

from eventsourcing.cli.rendering import UNDECODED, compact, dumps, is_decoded, payload
from eventsourcing.events import DomainEvent, RecordedEvent

HEADERS = ("version", "timestamp (UTC)", "type", "payload")
_MIN_FOLDED = 8


def _width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


_SEP = "\x1f"  # between the cells of a rendered row: no cell holds it (the payload is JSON, which escapes it)


class EventRows:
    """Renders events as table rows (cells joined by a separator, one line) and remembers each column's widest cell."""

    def __init__(self) -> None:
        self.widths = [len(h) for h in HEADERS]

    def __call__(self, recorded: RecordedEvent[DomainEvent]) -> str:
        body = dumps(payload(recorded)) if is_decoded(recorded) else UNDECODED
        event_type = recorded.event_type
        if not event_type.isprintable():  # a stored name with a line break or the separator: shown escaped
            event_type = json.dumps(event_type)[1:-1]
        cells = (str(recorded.version), compact(recorded.timestamp), event_type, body)
        widths = self.widths
        for i, cell in enumerate(cells):
            w = _width(cell)
            if w > widths[i]:
                widths[i] = w
        return _SEP.join(cells)


def fit(widths: list[int], total: int) -> list[int]:
    """Column widths within ``total`` cells: version and timestamp never fold; payload, then type, give way."""
    version, timestamp, type_, body = widths
    room = total - (version + timestamp) - 3 * len(widths) - 1  # borders and padding: "│ " ... " │"
    if type_ + body > room:
        body = max(room - type_, room // 2, _MIN_FOLDED)
        type_ = max(room - body, _MIN_FOLDED)
    return [version, timestamp, type_, body]


def write_events_table(title: str, rows: Iterable[str], widths: list[int], total: int) -> None:
    """``title``, then a table of ``rows`` (as `EventRows` rendered them) fitted in ``total`` cells."""
    w = fit(widths, total)
    out = sys.stdout.write
    out(title + "\n")
    out("┏" + "┳".join("━" * (n + 2) for n in w) + "┓\n")
    out("┃" + "┃".join(f" {_pad(h, n)} " for h, n in zip(HEADERS, w, strict=True)) + "┃\n")
    out("┡" + "╇".join("━" * (n + 2) for n in w) + "┩\n")
    # One format for every row: ASCII cells (the usual case) are padded by str.format, which counts
    # characters; cells with wide or combining characters take the slower path that counts cells.
    line = f"│ {{:>{w[0]}}} │ {{:<{w[1]}}} │ {{:<{w[2]}}} │ {{:<{w[3]}}} │\n"
    for row in rows:
        cells = row.split(_SEP)
        out(_ascii_row(cells, w, line) if all(map(str.isascii, cells)) else _row(cells, w))
    out("└" + "┴".join("─" * (n + 2) for n in w) + "┘\n")
    sys.stdout.flush()


def _ascii_row(cells: list[str], widths: list[int], line: str) -> str:
    if all(len(cell) <= n for cell, n in zip(cells, widths, strict=True)):
        return line.format(*cells)
    *first, body = cells
    n = widths[-1]
    if all(len(cell) <= w for cell, w in zip(first, widths, strict=False)):
        # The usual fold: only the payload is wider than its column. Its continuation lines share one
        # blank prefix, so they are sliced and padded, not formatted cell by cell.
        prefix = "│ " + " │ ".join(" " * w for w in widths[:-1]) + " │ "
        rest = [f"{prefix}{body[i : i + n]:<{n}} │\n" for i in range(n, len(body), n)]
        return line.format(*first, body[:n]) + "".join(rest)
    folded = [[cell[i : i + n] for i in range(0, len(cell) or 1, n)] for cell, n in zip(cells, widths, strict=True)]
    height = max(map(len, folded))
    return "".join(line.format(*(p[i] if i < len(p) else "" for p in folded)) for i in range(height))


def _row(cells: list[str], widths: list[int]) -> str:
    folded = [_fold(cell, n) for cell, n in zip(cells, widths, strict=True)]
    height = max(map(len, folded))
    lines = []
    for i in range(height):
        parts = []
        for column, (pieces, n) in enumerate(zip(folded, widths, strict=True)):
            piece = pieces[i] if i < len(pieces) else ""
            parts.append(f" {_pad(piece, n, right=column == 0)} ")
        lines.append("│" + "│".join(parts) + "│\n")
    return "".join(lines)


def _fold(text: str, width: int) -> list[str]:
    if _width(text) <= width:
        return [text]
    if text.isascii():
        return [text[i : i + width] for i in range(0, len(text), width)]
    return chop_cells(text, width)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap
