"""`fdi-drift reconcile`: plan corrections, or send them with --apply."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from fdi_drift.commands import common
from fdi_drift.drift.model import ReconcileMode, Status
from fdi_drift.drift.report import report_to_json
from fdi_drift.plan import plan_exit_code, plan_to_json, render_plan
from fdi_drift.service import Runtime


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "reconcile",
        summary="plan corrections, or send them with --apply",
        description="One check, then the corrections each drifted resource's policy and the "
        "rails allow: printed as a plan (the exact requests, secrets redacted), or sent, "
        "audited and read back with --apply.",
        exits={
            0: "nothing to do, or every correction applied",
            1: "an error, a failed or unverified write, or an unknown resource",
            2: "changes pending (planned or blocked)",
        },
        examples=[
            "fdi-drift reconcile -c config.yaml",
            "fdi-drift reconcile -c config.yaml --apply",
        ],
        run=run,
    )
    common.config_argument(parser)
    parser.add_argument(
        "--apply", action="store_true", help="send the requests (default: only print them)"
    )
    parser.add_argument(
        "--output", choices=("text", "json"), default="text", help="the plan as text or JSON"
    )
    parser.add_argument(
        "--full", action="store_true", help="print long request bodies whole, not shortened"
    )


def run(args: argparse.Namespace) -> int:
    common.configure_logs(args, "WARNING")
    return asyncio.run(_reconcile(args))


async def _reconcile(args: argparse.Namespace) -> int:
    runtime = Runtime(common.settings_of(args))
    try:
        for intent in runtime.unfinished_writes():
            print(
                f"warning: audit record {intent.get('id')} has no outcome: a write to "
                f"{intent.get('resource')} may or may not have happened; check it by hand",
                file=sys.stderr,
            )
        await runtime.reload(strict=True)  # an invalid tree raises: nothing is planned from it
        # By hand, the command is the authorisation: it plans as `dry-run` and applies as
        # `auto`, while each resource's own policy and every rail still hold.
        mode = ReconcileMode.AUTO if args.apply else ReconcileMode.DRY_RUN
        outcome = await runtime.cycle(mode=mode)
    finally:
        await runtime.aclose()
    assert outcome is not None  # reload(strict=True) left a tree in force
    report, corrections = outcome
    if args.output == "json":
        body = {**report_to_json(report), "corrections": plan_to_json(corrections)}
        common.out(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    else:
        common.out(render_plan(corrections, applying=args.apply, full=args.full))
    unknown = any(s.status is Status.UNKNOWN for s in report.statuses)
    return common.EXIT_ERROR if unknown else plan_exit_code(corrections)
