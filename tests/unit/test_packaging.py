"""The published metadata tells the truth about the code: every import declared, one version.

Pure file reading (``pyproject.toml`` and the packages' sources, parsed with ``ast``) and the
installed distributions' file lists; no build, no network.

Where an import must be declared depends on where it is and how it is imported:

* a module-level import in ``powertokens/`` needs a core dependency; in
  ``langchain_powertokens/`` a core dependency or the ``langchain`` extra; in
  ``llama_index_powertokens/`` (and ``llama_index/llms/powertokens``) a core dependency or
  the ``llama-index`` extra;
* a lazy import (inside a function, under ``if TYPE_CHECKING:``, or in a ``try`` that
  catches ``ImportError``) needs a core dependency or any extra;
* the package of a ``pytest11`` entry point is only loaded by pytest, so it may import
  ``pytest``.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import powertokens

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]

# source folder -> the extra (besides the core dependencies) its module-level imports may use
PACKAGES: dict[str, str | None] = {
    "powertokens": None,
    "langchain_powertokens": "langchain",
    "llama_index_powertokens": "llama-index",
    "llama_index/llms/powertokens": "llama-index",
}


def _name(requirement: str) -> str:
    """The normalized distribution name of a PEP 508 requirement string."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


CORE = {_name(r) for r in PROJECT["dependencies"]}
EXTRAS = {
    extra: {_name(r) for r in requirements}
    for extra, requirements in PROJECT.get("optional-dependencies", {}).items()
}


def _is_first_party(module: str) -> bool:
    """A module of this repository: a prefix of it is a regular package (or module) here."""
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        path = ROOT.joinpath(*parts[:end])
        if (path / "__init__.py").is_file() or path.with_suffix(".py").is_file():
            return True
    return False


@cache
def _installed() -> tuple[dict[str, set[str]], dict[str, frozenset[str]]]:
    """(top-level module -> distributions, distribution -> its files), from the installed
    distributions' file lists (the ``packages_distributions()`` of Python 3.10 reads only
    ``top_level.txt``, which wheels built by hatchling and others lack)."""
    tops: dict[str, set[str]] = {}
    files: dict[str, frozenset[str]] = {}
    for dist in metadata.distributions():
        name = _name(dist.metadata["Name"] or "")
        paths = frozenset(f.as_posix() for f in dist.files or [])
        files[name] = files.get(name, frozenset()) | paths
        for path in paths:
            top = path.split("/", 1)[0].removesuffix(".py")
            if top.isidentifier():
                tops.setdefault(top, set()).add(name)
    return tops, files


@cache
def _distributions(module: str) -> frozenset[str]:
    """The installed distributions providing ``module`` (the deepest dotted prefix that one
    provides: ``llama_index.core.llms`` is llama-index-core's, not every ``llama_index.*``)."""
    top = module.split(".")[0]
    tops, files = _installed()
    candidates = tops.get(top, set())
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        stem = "/".join(parts[:end])
        wanted = {f"{stem}/__init__.py", f"{stem}.py"}
        found = {dist for dist in candidates if wanted & files[dist]}
        if found:
            return frozenset(found)
    return frozenset(candidates)


def _catches_import_error(node: ast.Try) -> bool:
    names = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
    for handler in node.handlers:
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(t, ast.Name) and t.id in names for t in types):
            return True
    return False


def _imports(tree: ast.AST, lazy: bool = False) -> Iterator[tuple[str, int, bool]]:
    """(module, line, lazy) for every absolute import in ``tree``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, lazy
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.module, node.lineno, lazy
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or (
            isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        ):
            yield from _imports(node, lazy=True)
        elif isinstance(node, ast.Try) and _catches_import_error(node):
            for child in node.body:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), lazy=True)
            for rest in (*node.handlers, *node.orelse, *node.finalbody):
                yield from _imports(rest, lazy)
        else:
            yield from _imports(node, lazy)


def _pytest_plugin_packages() -> list[str]:
    """Source folders of the ``pytest11`` entry points' packages (loaded only by pytest)."""
    plugins = PROJECT.get("entry-points", {}).get("pytest11", {})
    return [value.split(":")[0].rsplit(".", 1)[0].replace(".", "/") for value in plugins.values()]


def _undeclared() -> list[str]:
    problems: list[str] = []
    any_extra = set().union(*EXTRAS.values()) if EXTRAS else set()
    plugin_folders = _pytest_plugin_packages()
    for folder, extra in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=where)
            for module, line, lazy in _imports(tree):
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or _is_first_party(module):
                    continue
                if top == "pytest" and any(where.startswith(f"{p}/") for p in plugin_folders):
                    continue
                allowed = CORE | (any_extra if lazy else EXTRAS.get(extra or "", set()))
                providers = _distributions(module)
                if not providers:
                    problems.append(f"{where}:{line}: {module} is not installed, so not declared")
                elif not providers & allowed:
                    kind = "lazy import" if lazy else "import"
                    wants = "a dependency or an extra" if lazy else "a dependency"
                    wants += f" or [{extra}]" if extra and not lazy else ""
                    problems.append(
                        f"{where}:{line}: {kind} of {module} ({' or '.join(sorted(providers))})"
                        f" is not declared in {wants}"
                    )
    return problems


def test_every_third_party_import_is_declared() -> None:
    problems = _undeclared()
    assert not problems, "declare in pyproject.toml:\n" + "\n".join(problems)


def test_the_dependency_check_sees_the_imports_it_checks() -> None:
    # guards the check above against passing vacuously
    tree = ast.parse((ROOT / "powertokens/emulator/http/connection.py").read_text(encoding="utf-8"))
    assert ("h11", False) in {(m, lazy) for m, _, lazy in _imports(tree)}
    assert _distributions("h11") == {"h11"}
    assert _distributions("llama_index.core.llms") == {"llama-index-core"}
    assert _distributions("typing_extensions") == {"typing-extensions"}
    assert "h11" in CORE


def test_the_all_extra_is_every_extra() -> None:
    others = set().union(*(names for extra, names in EXTRAS.items() if extra != "all"))
    assert EXTRAS["all"] == others


def test_development_tools_are_not_a_published_extra() -> None:
    tools = {"pytest", "ruff", "mypy", "hypothesis"}
    for extra, names in EXTRAS.items():
        assert not names & tools, f"[{extra}] publishes development tools: {names & tools}"
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    listed = {_name(line) for line in dev if line.strip() and not line.startswith("#")}
    assert tools | {"httpx-sse"} <= listed


def test_the_version_has_one_source() -> None:
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "powertokens._version.__version__"
    source = (ROOT / "powertokens" / "_version.py").read_text(encoding="utf-8")
    assert f'__version__ = "{powertokens.__version__}"' in source
    quoted = re.compile(rf"""["']{re.escape(powertokens.__version__)}["']""")
    elsewhere = [
        path.relative_to(ROOT).as_posix()
        for folder in PACKAGES
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "_version.py" and quoted.search(path.read_text(encoding="utf-8"))
    ]
    assert not elsewhere, f"the version is written out in {elsewhere}"


def test_the_user_agent_names_the_version() -> None:
    import httpx

    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 1,
                "model": "glm-5",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    http = httpx.Client(transport=httpx.MockTransport(answer))
    with powertokens.PowerTokens(
        api_key="k", base_url="https://example.test/v1", http_client=http
    ) as client:
        client.chat(model="glm-5", messages=[{"role": "user", "content": "hi"}])
    assert seen == [f"powertokens-python/{powertokens.__version__}"]


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "PowerTokens integration team" in text
    assert "License :: OSI Approved :: MIT License" not in PROJECT["classifiers"]  # PEP 639
    requires = PYPROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(7[7-9]|[89]\d)(\.\d+)*", r) for r in requires)


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_the_supported_pythons_are_classified(version: str) -> None:
    assert f"Programming Language :: Python :: {version}" in PROJECT["classifiers"]
    assert PROJECT["requires-python"] == ">=3.10"
