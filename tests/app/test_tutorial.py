"""docs/tutorial.md quotes the app's source in ```text blocks headed by the file's path; they must not drift.

An excerpt is one or more chunks separated by ``...`` lines; each chunk must appear verbatim in the
quoted file, in order. (The page's ```python blocks are run by tests/test_docs.py.)
"""

from __future__ import annotations

from pathlib import Path

from tests.test_docs import parse_blocks

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"


def excerpts() -> list[tuple[int, Path, list[str]]]:
    found = []
    for block in parse_blocks(TUTORIAL.read_text()):
        first, _, body = block.source.partition("\n")
        if block.lang == "text" and first.startswith("# sample_shopping_cart/"):
            chunks = [c.strip("\n") for c in ("\n" + body).split("\n...\n")]
            found.append((block.line, ROOT / first[2:].strip(), chunks))
    return found


def test_excerpts_quote_the_source() -> None:
    found = excerpts()
    assert len(found) >= 5
    for line, path, chunks in found:
        assert path.is_file(), f"docs/tutorial.md:{line}: {path} does not exist"
        source, at = path.read_text(), 0
        for chunk in chunks:
            index = source.find(chunk, at)
            assert index >= 0, f"docs/tutorial.md:{line}: this part of the excerpt is not in {path.name}:\n{chunk}"
            at = index + len(chunk)
