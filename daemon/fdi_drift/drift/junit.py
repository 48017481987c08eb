"""A cycle report as JUnit XML, for CI dashboards: one test case per resource.

Drift (drifted, missing, blocked, invalid) is a failure with the fields in its text; a resource
that could not be read is an error; unmanaged resources are left out (nobody declared them).
Test cases are grouped in one suite per kind; a case's class name is the resource's scope.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from fdi_drift.drift.model import CycleReport, ResourceStatus, Status
from fdi_drift.drift.report import ATTENTION_ORDER, change_lines

_FAILURES = frozenset({Status.DRIFTED, Status.MISSING, Status.BLOCKED, Status.INVALID})
# Characters XML 1.0 cannot hold at all, escaped or not: a value may carry them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def report_to_junit(report: CycleReport) -> str:
    """The report as a JUnit XML document (testsuites > testsuite per kind > testcase)."""
    declared = [s for s in report.statuses if s.status is not Status.UNMANAGED]
    root = ET.Element("testsuites", name="fdi-drift", tests=str(len(declared)))
    root.set("failures", str(sum(1 for s in declared if s.status in _FAILURES)))
    root.set("errors", str(sum(1 for s in declared if s.status is Status.UNKNOWN)))
    for kind in sorted({str(s.key.kind) for s in declared}):
        _suite(root, kind, [s for s in declared if str(s.key.kind) == kind], report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _suite(
    root: ET.Element, kind: str, statuses: list[ResourceStatus], report: CycleReport
) -> None:
    suite = ET.SubElement(root, "testsuite", name=kind, tests=str(len(statuses)))
    suite.set("failures", str(sum(1 for s in statuses if s.status in _FAILURES)))
    suite.set("errors", str(sum(1 for s in statuses if s.status is Status.UNKNOWN)))
    suite.set("time", f"{max(0.0, report.finished_at - report.started_at):.3f}")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="revision", value=report.revision)
    for status in _ordered(statuses):
        key = status.key
        scope = "/".join(part for part in (key.project_id, key.instance_id) if part)
        case = ET.SubElement(suite, "testcase", classname=f"{kind}.{scope}", name=_clean(key.name))
        message = status.status.value.replace("_", " ")
        if status.reason:
            message = _clean(f"{message}: {status.reason}")
        text = _clean("\n".join([f"desired: {status.source}", *change_lines(status.changes)]))
        if status.status in _FAILURES:
            failure = ET.SubElement(case, "failure", message=message, type=status.status.value)
            failure.text = text
        elif status.status is Status.UNKNOWN:
            error = ET.SubElement(case, "error", message=message, type=status.status.value)
            error.text = text


def _ordered(statuses: Iterable[ResourceStatus]) -> list[ResourceStatus]:
    rank = {status: number for number, status in enumerate(ATTENTION_ORDER)}
    return sorted(statuses, key=lambda s: (rank[s.status], s.key.name))
