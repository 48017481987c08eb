"""Headings, anchors and links of the repository's Markdown pages, read as GitHub reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^ {0,3}(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6}) +(.+?)(?: +#+)? *$", re.M)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# An inline link or image, its text on one or more lines: [text](target) or [text](target "t").
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(<?([^()\s<>]+)>?(?:\s+\"[^\"]*\")?\)")


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class Link:
    target: str
    line: int


def prose(text: str) -> str:
    """The text with fenced code blocks blanked line for line, so a `#` in code is no heading."""
    lines = []
    fence: str | None = None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if opening and (fence is None or opening.group(1) == fence):
            fence = opening.group(1) if fence is None else None
            lines.append("")
        else:
            lines.append(line if fence is None else "")
    return "\n".join(lines)


def line_of(text: str, offset: int) -> int:
    """The 1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def headings(path: Path) -> list[Heading]:
    """The page's ATX headings, in order, with code marks and link syntax taken out of the text."""
    text = prose(path.read_text(encoding="utf-8"))
    return [
        Heading(
            len(match.group(1)),
            re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(2)).replace("`", ""),
            line_of(text, match.start()),
        )
        for match in HEADING.finditer(text)
    ]


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation but `-` and `_` gone, spaces `-`."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of the page; a repeated heading gets `-1`, `-2`, ... as on GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(path):
        slug = github_anchor(heading.text)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def links(path: Path) -> list[Link]:
    """The inline link targets of the page's prose, leaving out code blocks and code spans."""
    text = prose(path.read_text(encoding="utf-8"))
    # Blank each code span but keep its line breaks, so line numbers stay true.
    text = CODE_SPAN.sub(lambda span: re.sub(r"[^\n]", " ", span.group(0)), text)
    return [Link(match.group(1), line_of(text, match.start())) for match in LINK.finditer(text)]


def is_external(target: str) -> bool:
    """Whether a link target names a scheme (`https:`, `mailto:`), so is not a repository path."""
    return re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) is not None
