"""The README and docs/ stay true: commands match CI, examples run, tables are complete,
links lead somewhere.

Every ``python`` block of README.md and of each docs/*.md page runs as written against an
emulator (``POWERTOKENS_BASE_URL`` points at it); a block that defines ``test_*`` functions
is run by pytest in a subprocess. Every relative link (and its ``#anchor``) must resolve.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from llama_index.core.llms.function_calling import FunctionCallingLLM

import langchain_powertokens
import powertokens
from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaIndexPowerTokens
from powertokens.emulator import Emulator
from tests._background import Job, Jobs, background

from . import test_comparison

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXT = {page: page.read_text(encoding="utf-8") for page in PAGES}
README = TEXT[ROOT / "README.md"]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
# Pages written on a parallel branch: a link to one is checked once the file exists.
PENDING: set[Path] = set()  # pages announced before they exist (none now)

pytestmark = [
    pytest.mark.filterwarnings("ignore:PowerTokens accepts only tool_choice"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
]


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def section(title: str, text: str = README) -> str:
    """The text of the ``## title`` section of a page (the README by default)."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def page(name: str) -> str:
    """The text of ``docs/<name>``."""
    return TEXT[ROOT / "docs" / name]


def _python_blocks() -> list[tuple[str, str]]:
    blocks: list[tuple[str, str]] = []
    heading_or_block = re.compile(r"^#{1,2} ([^\n]+)$|" + BLOCK.pattern, re.DOTALL | re.MULTILINE)
    for path in PAGES:
        heading = ""
        for match in heading_or_block.finditer(TEXT[path]):
            if match.group(1):
                heading = match.group(1)
            elif match.group(2) == "python":
                prefix = f"{_name(path)}: {heading}"
                count = sum(1 for h, _ in blocks if h.startswith(prefix + " #"))
                blocks.append((f"{prefix} #{count + 1}", match.group(3)))
    return blocks


PYTHON_BLOCKS = _python_blocks()
# docs/testing.md's example tests run in-process, all together, under pytester in
# tests/testing/test_plugin.py (test_the_examples_in_the_docs_pass); a fresh interpreter
# each here would only repeat them, at seconds apiece.
RUN_HERE = [
    (name, source)
    for name, source in PYTHON_BLOCKS
    if not (name.startswith("docs/testing.md") and "def test_" in source)
]


def test_the_two_commands_are_the_ones_ci_runs() -> None:
    bash = BLOCK.search(section("Two commands"))
    assert bash is not None
    assert bash.group(1) == "bash"
    commands = [line for line in bash.group(2).splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    setup = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[all'
    assert commands[0] == f'{setup}]" && .venv/bin/python demo.py'
    assert commands[1] == f'{setup}]" -r requirements-dev.txt && .venv/bin/python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert commands[1] in ci


@pytest.fixture(scope="module")
def service() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


class ForkServer:
    """tests/tour/_forkserver.py in a subprocess: example scripts run in forks of one
    interpreter that imported the libraries once (each still starts clean)."""

    def __init__(self, job: Job) -> None:
        # At the suite's priority: the examples it runs are what the suite waits for.
        self.process = job.popen(
            [sys.executable, str(Path(__file__).with_name("_forkserver.py"))],
            nice=False,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "ready\n"

    def run(
        self, path: Path, env: dict[str, str], module: str = "", argv: tuple[str, ...] = ()
    ) -> tuple[int, str, str]:
        """Run ``path`` as a script, or ``python -m module *argv`` in ``path``'s folder."""
        out, err = path.with_suffix(".out"), path.with_suffix(".err")
        command: dict[str, Any] = {"path": str(path), "cwd": str(path.parent), "env": env}
        command.update(out=str(out), err=str(err))
        if module:
            command.update(module=module, argv=list(argv))
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        status = json.loads(self.process.stdout.readline())
        return status, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _warm_forkserver(job: Job) -> ForkServer:
    """The fork server, started and warmed up (its imports done) while the suite runs."""
    return ForkServer(job)


@pytest.fixture(scope="module")
def forkserver(background_jobs: Jobs) -> Iterator[ForkServer]:
    server: ForkServer = background_jobs.result(_warm_forkserver)
    yield server
    server.close()


def test_there_are_examples_for_each_quickstart() -> None:
    headings = {name.split(" #")[0] for name, _ in PYTHON_BLOCKS}
    assert {
        "README.md: Quickstart: the core client",
        "README.md: Quickstart: LangChain",
        "README.md: Quickstart: LlamaIndex",
        "docs/core.md: Async",
        "docs/langchain.md: Tools and structured output",
        "docs/llamaindex.md: A query engine and an agent",
        "docs/emulator.md: In your tests",
    } <= headings


@pytest.mark.slow  # a clean interpreter per example
@pytest.mark.parametrize(("name", "source"), RUN_HERE, ids=[n for n, _ in RUN_HERE])
@background(_warm_forkserver)  # tests/_background.py
def test_python_example_runs_as_written(
    name: str, source: str, service: Emulator, tmp_path: Path, forkserver: ForkServer
) -> None:
    # A clean interpreter per example, as a user pasting it into a file would run it: a
    # script runs in a fork of the warmed-up fork server, a test file under a new pytest.
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOKENS_")}
    env.update(POWERTOKENS_API_KEY="pt-readme-key", POWERTOKENS_BASE_URL=service.url)
    # The plugin's fixtures (pt_*) bring an emulator of their own.
    own_server = "Emulator()" in source or "pt_" in source
    if "pytest_plugins" in source:  # a conftest.py snippet: it must load the plugin alone
        (tmp_path / "conftest.py").write_text(source, encoding="utf-8")
        (tmp_path / "test_loaded.py").write_text(
            "def test_loaded(pt_client):\n"
            "    assert pt_client.chat([{'role': 'user', 'content': 'echo:ok'}]).content == 'ok'\n",
            encoding="utf-8",
        )
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # no entry point: the snippet's line only
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."]
        own_server = True
    elif re.search(r"^def test_|^async def test_", source, re.MULTILINE):
        (tmp_path / "test_readme_example.py").write_text(source, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."]
    else:
        (tmp_path / "example.py").write_text(source, encoding="utf-8")
        command = []
    service.reset()
    if command:  # python -m pytest ...: in a fork too
        status, stdout, stderr = forkserver.run(
            tmp_path / "pytest-run", env, module="pytest", argv=tuple(command[3:])
        )
    else:
        status, stdout, stderr = forkserver.run(tmp_path / "example.py", env)
    assert status == 0, f"{name}:\n{stdout}\n{stderr}"
    assert "Traceback" not in stderr
    if not own_server:
        assert service.request_count > 0  # it really talked to the service


# --- the tables are complete --------------------------------------------------------------


def _own_fields(cls: type, base: type) -> set[str]:
    return set(cls.model_fields) - set(base.model_fields)  # type: ignore[attr-defined]


def test_the_configuration_table_names_every_setting() -> None:
    table = section("Settings", page("configuration.md"))
    core = {
        p for p in inspect.signature(powertokens.PowerTokens.__init__).parameters if p != "self"
    }
    core |= set(inspect.signature(powertokens.AsyncPowerTokens.__init__).parameters) - {"self"}
    core |= set(powertokens.ChatParams.__annotations__) | {"extra_headers", "timeout"}
    langchain = _own_fields(ChatPowerTokens, BaseChatModel)
    llama = _own_fields(LlamaIndexPowerTokens, FunctionCallingLLM)
    llama |= set(inspect.signature(LlamaIndexPowerTokens.__init__).parameters) - {
        "self",
        "kwargs",
    }
    missing = sorted(name for name in core | langchain | llama if f"`{name}`" not in table)
    assert not missing, f"add to the configuration table: {missing}"


def test_the_error_table_names_every_error() -> None:
    table = section("The error classes", page("errors.md"))
    core = [
        name
        for name in powertokens.__all__
        if isinstance(getattr(powertokens, name), type)
        and issubclass(getattr(powertokens, name), powertokens.PowerTokensError)
        and name not in ("PowerTokensError", "APIError", "APIStatusError")
    ]
    dual = [n for n in langchain_powertokens.__all__ if n.endswith("Error")]
    dual = [n for n in dual if n not in ("PowerTokensAPIError", "PowerTokensAPIStatusError")]
    missing = [name for name in core + dual if f"`{name}`" not in table]
    assert not missing, f"add to the error table: {missing}"


def test_the_comparison_table_cites_every_comparison_test_and_only_those() -> None:
    table = page("comparison.md").splitlines()
    rows = "\n".join(line for line in table if line.startswith("|"))
    cited = set(re.findall(r"`(test_\w+)`", rows))
    defined = {
        node.name
        for node in ast.parse(inspect.getsource(test_comparison)).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    assert cited == defined


# --- links lead somewhere -----------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text without fenced blocks and inline code, where a link is not a link."""
    return re.sub(r"`[^`\n]*`", "", BLOCK.sub("", text))


def _anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of a page."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _prose(text.replace("`", "")), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _links() -> list[tuple[Path, str]]:
    return [(path, target) for path in PAGES for target in LINK.findall(_prose(TEXT[path]))]


def test_the_link_check_sees_links_and_anchors() -> None:
    targets = {target for path, target in _links() if path.name == "README.md"}
    assert "docs/index.md" in targets
    assert "quickstart-the-core-client" in _anchors(README)
    assert "preserved-thinking" in _anchors(page("models.md"))


@pytest.mark.parametrize(
    ("path", "target"), _links(), ids=[f"{_name(p)}->{t}" for p, t in _links()]
)
def test_every_relative_link_points_to_an_existing_file(path: Path, target: str) -> None:
    if re.match(r"[a-z]+:", target):  # https:, mailto:
        return
    file, _, anchor = target.partition("#")
    resolved = (path.parent / file).resolve() if file else path
    if resolved in PENDING and not resolved.exists():
        return
    assert resolved.exists(), f"{_name(path)}: {target} points to nothing"
    assert resolved.is_relative_to(ROOT), f"{_name(path)}: {target} leaves the repository"
    if anchor and resolved.suffix == ".md":
        anchors = _anchors(resolved.read_text(encoding="utf-8"))
        assert anchor in anchors, f"{_name(path)}: no heading for #{anchor} in {file or 'itself'}"
