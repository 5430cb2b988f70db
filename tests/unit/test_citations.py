"""Comments, docstrings and docs cite this repository's docs/ pages, and only pages that exist.

A citation such as ``docs/wire.md "Stream"`` must name an existing page and, when a section
is quoted right after it, a heading of that page. Documents that are not in the repository
(the design notes and wire notes the project started from) must not be cited at all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "node_modules", ".mypy_cache", ".ruff_cache"}

# Built from parts so that this file does not cite them itself. The names are matched as
# written (upper case), so that this repository's own docs/wire.md never matches.
_OUTSIDE = "|".join(re.escape(name + ".md") for name in ("WIRE", "FRAMEWORKS", "DESIGN"))
FOREIGN = re.compile(rf"(?<![\w/])(?:{_OUTSIDE})|(?i:\bthe seed\b)|\.\./shared")
# A citation in prose or a comment; Markdown links (``](docs/...)``) are checked, anchors
# included, by tests/tour/test_readme.py.
CITATION = re.compile(r"(?<!\]\()(?<![\w/])docs/([\w-]+\.md)(?:,? \"([^\"\n]+)\")?")


def _files() -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            path = Path(folder) / name
            if path.suffix in (".py", ".md"):
                found.append(path)
    return found


FILES = _files()


def _headings(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {h.strip().strip("`") for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_the_scan_sees_the_code_and_the_docs() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in FILES}
    assert {"powertokens/_models.py", "README.md", "docs/wire.md"} <= names


def test_the_patterns_catch_what_they_are_for() -> None:
    assert FOREIGN.search("framing (" + "WIRE" + ".md)")
    assert FOREIGN.search("as in " + "the" + " Seed's example")
    assert not FOREIGN.search('see docs/wire.md "Stream" and seed=0')
    assert CITATION.findall('(docs/wire.md "Stream")') == [("wire.md", "Stream")]
    assert CITATION.findall("(docs/wire.md, as used)") == [("wire.md", "")]
    assert CITATION.findall("[the page](docs/wire.md)") == []


def _lines(pattern: re.Pattern[str]) -> list[tuple[Path, int, re.Match[str]]]:
    found = []
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            found.append((path, text.count("\n", 0, match.start()) + 1, match))
    return found


def test_no_file_cites_documents_outside_the_repository() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {match.group(0)}"
        for path, line, match in _lines(FOREIGN)
    ]
    assert not hits, "cite a docs/ page instead:\n" + "\n".join(hits)


def test_every_cited_docs_page_and_section_exists() -> None:
    wrong = []
    for path, line, match in _lines(CITATION):
        page, section = ROOT / "docs" / match.group(1), match.group(2)
        where = f"{path.relative_to(ROOT)}:{line}: {match.group(0)}"
        if not page.is_file():
            wrong.append(f"{where}: no such page")
        elif section and section not in _headings(page):
            wrong.append(f"{where}: no such heading")
    assert not wrong, "\n".join(wrong)
