"""docs/reliability.md shows the fault matrix as the tests run it: same rows, same words."""

from __future__ import annotations

from pathlib import Path

from tests.faults.test_matrix import ROWS

DOC = Path(__file__).parents[2] / "docs" / "reliability.md"
HEADER = "| row | area | injected | what must hold |"


def table() -> str:
    """The matrix as the markdown table docs/reliability.md must hold."""
    lines = [HEADER, "| --- | --- | --- | --- |"]
    lines += [f"| `{r.id}` | {r.area} | {r.injected} | {r.must_hold} |" for r in ROWS]
    return "\n".join(lines)


def test_the_reliability_page_holds_the_matrix_as_tested() -> None:
    """Every row of the matrix is in the page's table, in order and in the same words."""
    text = DOC.read_text(encoding="utf-8")
    assert table() in text, "docs/reliability.md is out of date; its table should be:\n" + table()


def test_the_matrix_has_at_least_45_distinct_rows() -> None:
    """The matrix covers what issue 9 asks for: 45 rows or more, each named once."""
    assert len(ROWS) >= 45
    assert len({r.id for r in ROWS}) == len(ROWS)
