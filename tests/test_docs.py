"""The science notes ship in ``docs/SCIENCE.md`` and every ``SCIENCE.md §N[.M]`` citation
in the sources (and benchmarks) names a heading that exists there."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "docs" / "SCIENCE.md"
CITING_PACKAGES = ("engine", "app", "widgets", "benchmarks")

_NUMBER = r"\d+(?:\.\d+)*"
_ITEM = rf"§\s*{_NUMBER}(?:\s*[-–]\s*§?\s*{_NUMBER})?"
_SEPARATOR = r"\s*(?:,|/|&|\band\b)?\s*"
CITATION = re.compile(rf"SCIENCE(?:\.md)?\s*{_ITEM}(?:{_SEPARATOR}{_ITEM})*")
HEADING = re.compile(rf"^#+\s+({_NUMBER})\.?\s")
LIST_ITEM = re.compile(r"^(\d+)\.\s")


def section_numbers(markdown: str) -> set[str]:
    """Numbers of the numbered headings (``## 3.``, ``### 3.4``, ``#### 6.2.1``), and
    ``N.M.K`` for item ``K.`` of a numbered list in section ``N.M`` (``§2.9.4``: the
    fourth known-answer test of §2.9)."""
    numbers, section = set(), None
    for line in markdown.splitlines():
        heading = HEADING.match(line + " ")
        if heading:
            section = heading.group(1)
            numbers.add(section)
        elif section and (item := LIST_ITEM.match(line)):
            numbers.add(f"{section}.{item.group(1)}")
    return numbers


def cited_sections(text: str) -> list[tuple[int, str]]:
    """``(line, section)`` for every section a ``SCIENCE.md §…`` citation names.

    A chain (``SCIENCE.md §3.2, §3.6``) names each of its items, a range (``§4.1-4.4``)
    both ends.
    """
    found = []
    for match in CITATION.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found += [(line, number) for number in re.findall(_NUMBER, match.group(0))]
    return found


def broken_citations(root: Path, sections: set[str]) -> list[str]:
    """``file:line: §N.M`` for every cited section that is not a heading of the notes."""
    broken = []
    for package in CITING_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for line, number in cited_sections(path.read_text(encoding="utf-8")):
                if number not in sections:
                    broken.append(f"{path.relative_to(root)}:{line}: §{number}")
    return broken


def test_citation_parser_reads_chains_and_ranges():
    text = 'x\n"""Tweedie (SCIENCE.md §3.2, §3.6 items 1-2); CT (SCIENCE §4.1-4.4 / §4.9).'
    assert cited_sections(text) == [(2, "3.2"), (2, "3.6"), (2, "4.1"), (2, "4.4"),
                                    (2, "4.9")]
    assert cited_sections("a paper's §3.1 is not a citation of the notes") == []


def test_heading_parser_reads_every_level():
    text = ("## 3. Diffusion\n### 3.4 Algorithms\n1. DPS\n   2. not an item\n2. DDS\n"
            "#### 6.2.1 Unroll [code]\n### 6.1. Toy\n")
    assert section_numbers(text) == {"3", "3.4", "3.4.1", "3.4.2", "6.2.1", "6.1"}


def test_science_notes_ship_in_docs():
    sections = section_numbers(NOTES.read_text(encoding="utf-8"))
    assert {"1", "1.4", "2.3", "3.4", "4.5", "6.2.1", "7.1.9"} <= sections


def test_every_science_citation_names_an_existing_section():
    sections = section_numbers(NOTES.read_text(encoding="utf-8"))
    cited = [n for pkg in CITING_PACKAGES for p in (ROOT / pkg).rglob("*.py")
             for _, n in cited_sections(p.read_text(encoding="utf-8"))]
    if not cited:
        pytest.fail("no SCIENCE.md citations found: the parser no longer matches the sources")
    broken = broken_citations(ROOT, sections)
    assert not broken, "SCIENCE.md citations naming no heading of docs/SCIENCE.md:\n" \
        + "\n".join(broken)


def test_a_missing_section_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "mod.py").write_text('"""Fine (SCIENCE.md §1.2).\n\n'
                                                'Gone (SCIENCE.md §1.9, §1.2)."""\n')
    assert broken_citations(tmp_path, {"1", "1.2"}) == ["engine/mod.py:3: §1.9"]
