"""The documentation's links: every relative link and every link into this repository on GitHub
names a file that exists and, with a `#fragment`, a heading of that file."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.deploy.markdown import anchors, github_anchor, headings, is_external, links

ROOT = Path(__file__).parents[2]
REPO_URL = "https://github.com/fdi-drift/fdi-drift/blob/main/"
PAGES = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        ROOT / "deploy" / "README.md",
        ROOT / "desired_state" / "README.md",
    ]
)
DASHBOARD = ROOT / "deploy" / "grafana" / "fdi-drift-dashboard.json"


def broken(page: Path, target: str) -> str | None:
    """What is wrong with one link target of a page, or None when it resolves."""
    if target.startswith(REPO_URL):
        base, target = ROOT, target.removeprefix(REPO_URL)
    elif is_external(target):
        return None
    else:
        base = page.parent
    path_part, _, fragment = target.partition("#")
    path_part = unquote(path_part)
    if path_part.startswith("/"):
        return "an absolute path, which GitHub resolves against its own host"
    destination = (base / path_part).resolve() if path_part else page
    if not destination.is_relative_to(ROOT):
        return "outside the repository"
    if not destination.exists():
        return "no such file"
    if fragment:
        if destination.suffix != ".md":
            return f"an anchor into {destination.name}, which has no headings"
        if unquote(fragment) not in anchors(destination):
            return f"no heading of {destination.relative_to(ROOT)} has the anchor #{fragment}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_of_the_page_resolves(page: Path) -> None:
    """Each relative or in-repository link names an existing file, and its anchor a heading."""
    problems = [
        f"{page.relative_to(ROOT)}:{link.line}: {link.target}: {reason}"
        for link in links(page)
        if (reason := broken(page, link.target)) is not None
    ]
    assert not problems, "\n".join(problems)


def test_the_main_pages_are_actually_scanned() -> None:
    """The link reader finds the links of the README, the runbook and deploy/README.md."""
    for page in ("README.md", "docs/runbook.md", "deploy/README.md"):
        local = [link for link in links(ROOT / page) if not is_external(link.target)]
        assert len(local) >= 3, page
        assert any("#" in link.target for link in local), page


def test_broken_paths_and_anchors_are_reported() -> None:
    """A missing file, a missing heading and a link out of the repository are each caught."""
    page = ROOT / "README.md"
    assert broken(page, "docs/runbook.md#fdidriftresourcedrifted") is None
    assert broken(page, "#reconciling") is None
    assert broken(page, "docs/no-such-page.md") == "no such file"
    assert broken(page, "README.md#alerts-1") is not None
    assert broken(page, "#fdidriftresourcedrifted") is not None
    assert broken(page, "../outside.md") == "outside the repository"
    assert broken(page, f"{REPO_URL}docs/runbook.md#no-such-alert") is not None
    assert broken(page, "https://example.com/#anything") is None


def test_links_in_code_are_not_links(tmp_path: Path) -> None:
    """Bracket-and-parenthesis text in fenced blocks and code spans is not read as a link."""
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\nSee [a page](other.md#part) and `[x](not-a-link.md)`.\n\n"
        "```sh\n# not a heading\njq '.[0](y)'\n```\n\nThen [the\ntitle](#title).\n",
        encoding="utf-8",
    )
    assert [(link.target, link.line) for link in links(page)] == [
        ("other.md#part", 3),
        ("#title", 10),
    ]
    assert [heading.text for heading in headings(page)] == ["Title"]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("FdiDriftResourceDrifted", "fdidriftresourcedrifted"),
        ("How a cycle works", "how-a-cycle-works"),
        ("Composite tasks (kind: FdiCompositeTask)", "composite-tasks-kind-fdicompositetask"),
        (
            "Reliability: limits, deadlines and the fault matrix",
            "reliability-limits-deadlines-and-the-fault-matrix",
        ),
        ("snake_case and hyphen-ated", "snake_case-and-hyphen-ated"),
    ],
)
def test_anchors_are_computed_as_github_does(heading: str, anchor: str) -> None:
    """Lower case, punctuation other than `-` and `_` dropped, spaces turned into `-`."""
    assert github_anchor(heading) == anchor


def test_repeated_headings_get_numbered_anchors(tmp_path: Path) -> None:
    """A second heading with the same text answers to `-1`, as GitHub numbers it."""
    page = tmp_path / "page.md"
    page.write_text("# Notes\n\n## Notes\n\n## `Code` heading\n", encoding="utf-8")
    assert anchors(page) == {"notes", "notes-1", "code-heading"}


def test_dashboard_links_into_the_repository_resolve() -> None:
    """The dashboard's links into this repository name files and headings that exist."""
    urls = [link["url"] for link in json.loads(DASHBOARD.read_text(encoding="utf-8"))["links"]]
    ours = [url for url in urls if url.startswith(REPO_URL)]
    assert ours
    assert [url for url in ours if broken(DASHBOARD, url) is not None] == []
    assert any(url.startswith(f"{REPO_URL}docs/runbook.md") for url in ours)
