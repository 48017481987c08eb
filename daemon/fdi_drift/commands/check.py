"""`fdi-drift check`: one cycle, the drift report, an exit status CI can read."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace

from fdi_drift.commands import common
from fdi_drift.commands.terminal import Painter, Progress, colour_wanted
from fdi_drift.drift.junit import report_to_junit
from fdi_drift.drift.model import CycleReport, UnknownReason
from fdi_drift.drift.report import exit_code, render_text
from fdi_drift.selectors import Selector
from fdi_drift.service import Runtime

# Failures a wrong or missing credential would cause: worth saying which ones were in use.
_CREDENTIAL_CAUSES = frozenset({UnknownReason.LIST_FAILED, UnknownReason.READ_FAILED})


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "check",
        summary="run one cycle and print the drift report",
        description="Read every declared resource once, compare it with the desired state and "
        "print what differs, field by field (values read live -> desired). Nothing is written "
        "and no history is recorded.",
        exits={
            0: "every selected resource is in sync",
            1: "an error, or a resource could not be read (unknown)",
            2: "drift: a resource differs or is missing",
        },
        examples=[
            "fdi-drift check -c config.yaml",
            "fdi-drift check -c config.yaml 'FdiTask/orders*' --output junit > drift.xml",
        ],
        run=run,
    )
    common.config_argument(parser)
    common.selectors_argument(parser)
    parser.add_argument(
        "--output",
        choices=("text", "json", "junit"),
        default="text",
        help="text for people (default), JSON, or JUnit XML: one test case per resource, "
        "drift as a failure",
    )
    parser.add_argument("--show-in-sync", action="store_true", help="list in-sync resources too")
    common.allow_empty_argument(parser)


def run(args: argparse.Namespace) -> int:
    common.configure_logs(args, "WARNING")
    return asyncio.run(_check(args))


async def _check(args: argparse.Namespace) -> int:
    runtime = Runtime(common.settings_of(args), history=False)  # a check records nothing
    progress = Progress("checking")
    try:
        progress.note("loading the desired state...")
        tree = await runtime.reload(strict=True)
        assert tree is not None  # strict: an invalid tree raised
        if not tree.resources and not args.allow_empty:
            return common.empty_tree_error(runtime.settings.desired_state)
        progress.note(f"checking {len(tree.resources)} resources...")
        report = await runtime.check()
    finally:
        progress.done()
        await runtime.aclose()
    assert report is not None  # reload(strict=True) left a tree in force
    report = _selected(report, args.selectors)
    if args.output == "json":
        common.out(json.dumps(_json(runtime, report), indent=2, ensure_ascii=False) + "\n")
    elif args.output == "junit":
        common.out(report_to_junit(report))
    else:
        paint = Painter(colour_wanted(sys.stdout, args.no_color))
        common.out(render_text(report, show_in_sync=args.show_in_sync, paint=paint))
        _credentials_in_use(runtime, report)
    return exit_code(report)


def _selected(report: CycleReport, selectors: list[Selector]) -> CycleReport:
    if not selectors:
        return report
    statuses = tuple(
        s
        for s in report.statuses
        if common.selected(
            selectors,
            str(s.key.kind),
            s.key.project_id,
            s.key.instance_id,
            s.key.name,
            s.live_id or s.key.id,
        )
    )
    return replace(report, statuses=statuses)


def _json(runtime: Runtime, report: CycleReport) -> dict[str, object]:
    """The report as JSON, times in RFC 3339, with the targets and their credentials."""
    body = common.report_json(report)
    fleet = runtime.fleet
    targets = [
        {
            "account": target.account or None,
            "region": target.region,
            "projects": list(target.projects) or None,
            "credentials": fleet.describe(target),
        }
        for target in fleet.targets
    ]
    return {**body, "targets": targets}


def _credentials_in_use(runtime: Runtime, report: CycleReport) -> None:
    fleet = runtime.fleet
    failing = [
        fleet.target_of(s.key.project_id) for s in report.statuses if s.cause in _CREDENTIAL_CAUSES
    ]
    for target in fleet.targets:  # in configuration order
        if any(target is other for other in failing):
            named = f" for {target.label}" if len(fleet.targets) > 1 else ""
            print(f"Credentials in use{named}: {fleet.describe(target)}.")
