"""The documentation holds together: a short README, every citation in the code pointing at a file (and heading) of
this repository, and every relative link between documents resolving."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README_MAX_LINES = 200
CODE = [
    *REPO.glob("layers/common/audience_sync/**/*.py"),
    *REPO.glob("functions/*/app.py"),
    *REPO.glob("localmode/**/*.py"),
    *REPO.glob("audience_sync_cli/*.py"),
    *REPO.glob("bench/*.py"),
    *REPO.glob("tests/**/*.py"),
    REPO / "template.yaml",
    REPO / "pyproject.toml",
    REPO / "Makefile",
]
# A document cited by path, optionally with the heading: docs/api.md, "Signed webhooks"; or the README's heading
CITATION = re.compile(r'(docs/[\w/.-]+\.md)(?:,\s*"([^"]+)")?')
README_CITATION = re.compile(r'README,?\s+"([^"]+)"')
# Documents outside this repository: the team's brief and research, the seeds.
OUTSIDE = re.compile(
    r"linkedin-api\.md|serverless-patterns\.md|local-toolchain\.md|braze-api\.md|peers\.md|PRODUCT\.md|PLATFORM\.md"
    r"|/work/shared|\bseeds?/|\bseed \d{3}|\bthe seed\b|\bseed's\b"
)
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def headings(document: Path) -> set[str]:
    return {
        line.lstrip("#").strip() for line in document.read_text(encoding="utf-8").splitlines() if line.startswith("#")
    }


def source(path: Path) -> str:
    # this file names the outside documents it refuses
    return "" if path == Path(__file__).resolve() else path.read_text(encoding="utf-8")


def test_the_readme_is_short() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the rest belongs in docs/"


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(REPO)))
def test_citations_in_code_point_inside_the_repository(path: Path) -> None:
    text = source(path)
    assert not OUTSIDE.findall(text), f"{path.name} cites a document outside the repository"
    for cited, wrapped in CITATION.findall(text):
        heading = " ".join(wrapped.split())  # a citation may wrap over two lines of a comment
        target = REPO / cited
        assert target.is_file(), f"{path.name} cites {cited}, which does not exist"
        if heading:
            assert heading in headings(target), f'{path.name} cites "{heading}", not a heading of {cited}'
    for heading in README_CITATION.findall(text):
        assert heading in headings(REPO / "README.md"), f'{path.name} cites README "{heading}", not a heading of it'


def test_the_citation_check_sees_citations() -> None:
    cited = {c for path in CODE for c, _ in CITATION.findall(source(path))}
    assert {"docs/architecture.md", "docs/integrations/linkedin.md"} <= cited


@pytest.mark.parametrize(
    "document", [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))], ids=lambda p: str(p.relative_to(REPO))
)
def test_relative_links_resolve(document: Path) -> None:
    for link in MARKDOWN_LINK.findall(document.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", link):  # http(s), mailto
            continue
        assert (document.parent / link).exists(), f"{document.relative_to(REPO)} links to {link}, which is missing"
