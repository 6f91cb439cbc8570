"""Executable documentation: every fenced code block in README.md and docs/**/*.md is run or checked.

- ```python blocks run in order, in one namespace per page (a block may use names from earlier blocks of
  the same page), as ``__main__`` in a fresh interpreter whose working directory is a temporary
  directory outside the repository. A fresh interpreter per page is what a reader gets when they paste
  the page into a script, and it keeps pages apart: event type names are process-wide, so two pages
  (or a page and a test module) that both declare ``ShoppingCart.Opened`` must not meet in one registry.
- Each page runs twice, in the same directory and against the same database or broker: a reader runs a
  page again, so a page must not depend on starting from nothing (fixed stream ids in a file or a
  database left by the first run). A page that uses a SQLite file removes it first; a page on a server
  uses fresh ids (or topics) each run.
  A failure names the page and the block's line; tracebacks point at lines of the Markdown file.
- ```bash / ```sh / ```shell / ```console blocks are not run (one of them is the test suite itself).
  Each command they name is checked instead: a path-like command (``./scripts/demo``) must exist in the
  repository and be executable, ``python x.py`` and ``python -m pkg`` must name a file or module that
  exists, ``pip install async-eventsourcing[extra]`` may only name extras declared in pyproject.toml, and
  the project's own console scripts must be declared there.
- ```json and ```toml blocks must parse. ```text blocks (and blocks without a language) are plain text.
  Any other language fails, so that no block is silently ignored: use ``text`` or add a checker here.
- Relative links between pages must point at files that exist.

Environment: a page that mentions one of the variables in `ENV_FROM_FIXTURES` gets it from the named
fixture (for example ``postgres_url``, which starts a throwaway PostgreSQL); if that fixture does not
exist, the variable must already be set in the environment, or the page fails and says why.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DISTRIBUTION = PYPROJECT["project"]["name"]

# Environment variable a page may read -> the fixture that provides its value.
ENV_FROM_FIXTURES = {"EVENTSOURCING_TEST_POSTGRES_URL": "postgres_url", "EVENTSOURCING_KAFKA": "kafka_bootstrap"}

PYTHON = {"python", "py"}
SHELL = {"bash", "sh", "shell", "console"}
PLAIN = {"", "text", "plain", "plaintext"}
PAGE_TIMEOUT = 600  # seconds: pages that start a database server still finish well within this


@dataclass(frozen=True)
class Block:
    lang: str
    line: int  # 1-based line of the block's first content line in the page
    source: str


_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")


def parse_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text (CommonMark fences, indented up to 3 spaces)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        lang = opening["info"].split()[0].lower() if opening["info"] else ""
        body: list[str] = []
        i += 1
        start = i + 1
        while i < len(lines):
            closing = _FENCE.match(lines[i])
            if (
                closing
                and not closing["info"]
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
            ):
                break
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))) :])
            i += 1
        else:
            raise ValueError(f"the code block opened at line {start - 1} is never closed")
        blocks.append(Block(lang, start, "\n".join(body) + "\n"))
        i += 1
    return blocks


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else str(page)


# -- python ------------------------------------------------------------------------------------------

# Runs in the child interpreter: execute the blocks of one page in one namespace, stop at the first failure.
_RUNNER = """
import json, sys, traceback
spec = json.load(sys.stdin)
namespace = {"__name__": "__main__", "__file__": spec["path"]}
for block in spec["blocks"]:
    try:
        # Pad with newlines so that line numbers in tracebacks are the Markdown file's line numbers.
        code = compile("\\n" * (block["line"] - 1) + block["source"], spec["path"], "exec")
        exec(code, namespace)
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            print(f"{spec['path']}:{block['line']}: the python block exited with {exit_.code!r}", file=sys.stderr)
            sys.exit(1)
    except BaseException:
        traceback.print_exc()
        print(f"{spec['path']}:{block['line']}: this python block failed", file=sys.stderr)
        sys.exit(1)
"""


def run_python(page: Path, blocks: list[Block], cwd: Path, env: dict[str, str], run: str = "run") -> None:
    spec = {"path": str(page), "blocks": [{"line": b.line, "source": b.source} for b in blocks]}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _RUNNER],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=PAGE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{page_id(page)} ({run}): python blocks still running after {PAGE_TIMEOUT}s\n{err.stderr or ''}")
    if done.returncode != 0:
        pytest.fail(
            f"{page_id(page)} ({run}): python blocks failed (exit {done.returncode})\n"
            f"--- stderr ---\n{done.stderr}\n--- stdout (last 4000 characters) ---\n{done.stdout[-4000:]}",
            pytrace=False,
        )


# -- shell -------------------------------------------------------------------------------------------


def shell_commands(block: Block) -> Iterator[tuple[int, list[str]]]:
    """(line, words) for each simple command of a shell block; ``console`` blocks: lines after ``$ ``."""
    lines = block.source.splitlines()
    if block.lang == "console":
        prompts = [(n, line[2:]) for n, line in enumerate(lines) if line.startswith("$ ")]
        if not prompts:
            raise ValueError("a console block needs `$ ` before each command (use `text` for output only)")
        lines_with_numbers = prompts
    else:
        lines_with_numbers = list(enumerate(lines))
    pending, first = "", 0
    for n, line in lines_with_numbers:
        if not pending:
            first = n
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text, pending = pending + line, ""
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token in (";", "&&", "||", "|", "&"):
                if words:
                    yield block.line + first, words
                words = []
            else:
                words.append(token)


def _extras_declared() -> set[str]:
    return set(PYPROJECT["project"].get("optional-dependencies", {}))


def _scripts_declared() -> set[str]:
    return set(PYPROJECT["project"].get("scripts", {}))


def check_command(words: list[str]) -> str | None:
    """What is wrong with one documented command, or None."""
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):  # VAR=value prefixes
        words = words[1:]
    if not words:
        return None
    command, args = words[0], words[1:]
    name = command.rsplit("/", 1)[-1]
    if "/" in command and not command.startswith(("/", "~", "$")):
        path = ROOT / command
        if not path.is_file():
            return f"{command}: no such file in the repository"
        if not os.access(path, os.X_OK):
            return f"{command}: not executable"
    if re.fullmatch(r"python(3(\.\d+)?)?", name):
        if args[:2] == ["-m", "pip"]:
            return check_pip(args[2:])
        if args[:1] == ["-m"] and len(args) > 1:
            module = args[1]
            top = module.split(".")[0]
            if importlib.util.find_spec(top) is None and not (ROOT / top).exists():
                return f"python -m {module}: no module {top!r}"
            return None
        script = next((a for a in args if not a.startswith("-")), None)
        if script is not None and script.endswith(".py") and not (ROOT / script).is_file():
            return f"python {script}: no such file in the repository"
        return None
    if name in ("pip", "pip3"):
        return check_pip(args)
    if name == "eventsourcing" and name not in _scripts_declared():
        return f"{name}: not a console script declared in pyproject.toml [project.scripts]"
    return None


def check_pip(args: list[str]) -> str | None:
    if args[:1] != ["install"]:
        return None
    for arg in args[1:]:
        requirement = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[([^\]]*)\])?(.*)", arg)
        if arg.startswith("-") or requirement is None:
            continue
        name, extras = requirement[1], requirement[2]
        if name == "." or _normalise(name) == _normalise(DISTRIBUTION):
            unknown = {e.strip() for e in (extras or "").split(",") if e.strip()} - _extras_declared()
            if unknown:
                return f"pip install {arg}: extras {sorted(unknown)} are not declared in pyproject.toml"
        elif name == "eventsourcing":
            return f"pip install {arg}: the distribution is {DISTRIBUTION!r} (`eventsourcing` is another project)"
    return None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- links -------------------------------------------------------------------------------------------

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def broken_links(page: Path, text: str) -> list[str]:
    prose = re.sub(r"(?ms)^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1\s*$", "", text)  # links inside code do not count
    broken = []
    for target in _LINK.findall(prose):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # absolute URLs and anchors within the page
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    return broken


# -- the tests ---------------------------------------------------------------------------------------


def _env_for(page_text: str, request: pytest.FixtureRequest) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    for variable, fixture in ENV_FROM_FIXTURES.items():
        if variable not in page_text:
            continue
        try:
            env[variable] = str(request.getfixturevalue(fixture))
        except pytest.FixtureLookupError:
            if not os.environ.get(variable):
                pytest.fail(f"the page reads ${variable}: provide a `{fixture}` fixture or set the variable")
    return env


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page(page: Path, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    text = page.read_text()
    blocks = parse_blocks(text)
    problems: list[str] = []
    for block in blocks:
        where = f"{page_id(page)}:{block.line}"
        if block.lang in SHELL:
            try:
                commands = list(shell_commands(block))
            except ValueError as err:
                problems.append(f"{where}: {err}")
                continue
            problems += [f"{page_id(page)}:{n}: {p}" for n, words in commands if (p := check_command(words))]
        elif block.lang == "json":
            try:
                json.loads(block.source)
            except ValueError as err:
                problems.append(f"{where}: invalid JSON: {err}")
        elif block.lang == "toml":
            try:
                tomllib.loads(block.source)
            except tomllib.TOMLDecodeError as err:
                problems.append(f"{where}: invalid TOML: {err}")
        elif block.lang not in PYTHON | PLAIN:
            problems.append(f"{where}: no checker for ```{block.lang} blocks (use ```text, or add one to {__name__})")
    assert not problems, "\n".join(problems)
    python = [b for b in blocks if b.lang in PYTHON]
    if python:
        assert not tmp_path.is_relative_to(ROOT)  # pages run where a user runs them, not in the repository
        env = _env_for(text, request)
        for run in ("first run", "second run"):  # a reader runs a page again, in the same folder and database
            run_python(page, python, tmp_path, env, run)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_links(page: Path) -> None:
    broken = broken_links(page, page.read_text())
    assert not broken, f"{page_id(page)}: links to files that do not exist: {broken}"


def test_parser_and_checks() -> None:
    """The collector itself: if it silently found nothing, every page would pass."""
    sample = "\n".join(
        [
            "text",
            "```python",
            "x = 1",
            "```",
            "  ````bash title",
            "  ./scripts/demo  # comment",
            "  ```",
            "  ````",
            "~~~",
            "plain",
            "~~~",
        ]
    )
    blocks = parse_blocks(sample)
    assert [(b.lang, b.line) for b in blocks] == [("python", 3), ("bash", 6), ("", 10)]
    assert blocks[1].source == "./scripts/demo  # comment\n```\n"
    assert any(b.lang == "python" for b in parse_blocks((ROOT / "README.md").read_text()))
    shell = Block("bash", 1, "A=1 ./scripts/nope --x && ./scripts/demo \\\n  --flag; pip install 'x[y]'\n")
    commands = list(shell_commands(shell))
    assert [words[0] for _, words in commands] == ["A=1", "./scripts/demo", "pip"]
    assert check_command(commands[0][1]) == "./scripts/nope: no such file in the repository"
    assert check_command(commands[1][1]) is None
    assert check_command(["pip", "install", f"{DISTRIBUTION}[no-such-extra]"]) is not None
    assert check_command(["pip", "install", f"{DISTRIBUTION}[dev]"]) is None
    assert check_command(["python", "docs/no-such-file.py"]) is not None
    console = Block("console", 1, "$ ./scripts/demo\noutput line\n")
    assert [words for _, words in shell_commands(console)] == [["./scripts/demo"]]


# The documented import paths are namespaced: `import projections` is refused (and could be a user's own module).
_TOP_LEVEL_PATH = re.compile(
    r"(?:^\s*|`)(?:from\s+(?:projections|snapshots|sample_shopping_cart)(?:\.\w+)*\s+import\b"
    r"|import\s+(?:projections|snapshots|sample_shopping_cart)\b)"
    r"|(?<![\w./-])`(?:projections|snapshots|sample_shopping_cart)\.\w"
)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_import_paths_are_namespaced(page: Path) -> None:
    """Code and prose name `eventsourcing.projections`, never `projections.` or `from projections ...`."""
    stale = [
        f"{page_id(page)}:{n}: {line.strip()}"
        for n, line in enumerate(page.read_text().splitlines(), 1)
        if _TOP_LEVEL_PATH.search(line)
    ]
    assert not stale, "write eventsourcing.projections / .snapshots / .sample_shopping_cart:\n" + "\n".join(stale)


def test_the_namespace_check_catches_top_level_paths() -> None:
    for bad in (
        "from projections import Projector",
        "    from snapshots.sql import SQLSnapshotStore",
        "import snapshots",
        "`from sample_shopping_cart import x`",
        "`projections.testing.X` checks",
    ):
        assert _TOP_LEVEL_PATH.search(bad), bad
    for good in (
        "from eventsourcing.projections import Projector",
        "`eventsourcing.snapshots.testing.SnapshotStoreContract`",
        "await snapshots.list(stream_id=counter.id)",
        "# sample_shopping_cart/domain/cart.py",
        "[projections](projections.md)",
        "`snapshots list` with `--app`",
        "A `Repository` given `snapshots=` (a store) loads from snapshots; given also",
    ):
        assert not _TOP_LEVEL_PATH.search(good), good
