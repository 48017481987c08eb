"""`fdi-drift reconcile`: plan corrections, or send them with --apply.

Like Terraform: `--out PLAN` saves the plan (nothing is sent) and `--apply --plan PLAN` sends
exactly its requests, or nothing of it when anything in it is stale. `--apply` alone, with a
person at a terminal, shows the plan and asks before it sends; `--yes`, or no terminal (CI),
does not ask.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fdi_drift.commands import common
from fdi_drift.drift.model import CycleReport, Placement, ReconcileMode, ResourceStatus, Status
from fdi_drift.plan import (
    plan_exit_code,
    plan_to_json,
    render_plan,
    render_saved,
    saved_plan_exit_code,
)
from fdi_drift.plan_file import check_plan, plan_of, read_plan, write_plan
from fdi_drift.reconciler import Correction
from fdi_drift.selectors import Selector
from fdi_drift.service import Runtime, package_version


@dataclass(frozen=True, slots=True)
class Terminal:
    """Whether a person is at the command (stdin and stdout both terminals), and asking them."""

    interactive: Callable[[], bool] = lambda: sys.stdin.isatty() and sys.stdout.isatty()
    ask: Callable[[str], str] = input


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "reconcile",
        summary="plan corrections, or send them with --apply",
        description="One check, then the corrections each drifted resource's policy and the "
        "rails allow: printed as a plan (the exact requests, secrets redacted), or sent, "
        "audited and read back with --apply. On a terminal, --apply shows the plan and asks "
        "first. --out saves the plan; --apply --plan sends exactly what it holds, or nothing "
        "of it if live or the desired state changed since (stale).",
        exits={
            0: "nothing to do, or every correction applied",
            1: "an error, a failed or unverified write, or an unknown resource; with --plan, "
            "anything of the plan not applied (stale, blocked, failed); an apply not confirmed",
            2: "changes pending (planned or blocked)",
        },
        examples=[
            "fdi-drift reconcile -c config.yaml",
            "fdi-drift reconcile -c config.yaml --out plan.json",
            "fdi-drift reconcile -c config.yaml --apply --plan plan.json",
        ],
        run=run,
    )
    common.config_argument(parser)
    parser.add_argument(
        "--apply", action="store_true", help="send the requests (default: only print them)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PLAN",
        help="without --apply: save the plan to PLAN (its exact requests, secrets as "
        "{secretRef} references), for --apply --plan PLAN; nothing is sent",
    )
    parser.add_argument(
        "--plan",
        type=Path,
        metavar="PLAN",
        help="with --apply: send exactly the requests of a plan saved with --out, after "
        "checking every resource in it; if any changed since (stale), nothing is sent",
    )
    parser.add_argument(
        "--yes", action="store_true", help="with --apply: do not ask before sending"
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        type=common.selector,
        metavar="SELECTOR",
        help="correct only these resources (NAME, ID, KIND/NAME or PROJECT/INSTANCE/NAME, "
        "globs allowed); repeatable; not with --plan, whose resources are fixed",
    )
    parser.add_argument(
        "--output", choices=("text", "json"), default="text", help="the plan as text or JSON"
    )
    parser.add_argument(
        "--full", action="store_true", help="print long request bodies whole, not shortened"
    )


def run(args: argparse.Namespace, terminal: Terminal | None = None) -> int:
    misuse = _misuse(args)
    if misuse:
        print(f"fdi-drift reconcile: error: {misuse}", file=sys.stderr)
        return common.EXIT_ERROR
    common.configure_logs(args, "WARNING")
    return asyncio.run(_reconcile(args, terminal or Terminal()))


def _misuse(args: argparse.Namespace) -> str:
    if args.out is not None and args.apply:
        return "--out saves a plan without sending it: not with --apply"
    if args.plan is not None and not args.apply:
        return "--plan is sent with --apply: fdi-drift reconcile --apply --plan PLAN"
    if args.yes and not args.apply:
        return "--yes answers the question --apply asks: only with --apply"
    if args.target and args.plan is not None:
        return "--target chooses what to plan: a saved --plan holds its resources already"
    return ""


async def _reconcile(args: argparse.Namespace, terminal: Terminal) -> int:
    saved = None if args.plan is None else read_plan(args.plan)  # before any request
    runtime = Runtime(common.settings_of(args))
    try:
        for intent in runtime.unfinished_writes():
            print(
                f"warning: audit record {intent.get('id')} has no outcome: a write to "
                f"{intent.get('resource')} may or may not have happened; check it by hand",
                file=sys.stderr,
            )
        await runtime.reload(strict=True)  # an invalid tree raises: nothing is planned from it
        assert runtime.tree is not None
        if saved is not None:
            targets = [Placement(t.region, t.account) for t in runtime.fleet.targets]
            check_plan(
                args.plan,
                saved,
                version=package_version(),
                targets=targets,
                placement=runtime.fleet.placement,
            )
            applied = await runtime.reconciler.apply_plan(runtime.tree, saved.corrections)
            _show(args, applied, applying=True, extra={"plan_file": str(args.plan)})
            return saved_plan_exit_code(applied)
        asking = args.apply and not args.yes and terminal.interactive()
        if asking and args.output == "json":
            print(
                "fdi-drift reconcile: error: --output json cannot ask before sending: add --yes",
                file=sys.stderr,
            )
            return common.EXIT_ERROR
        # By hand, the command is the authorisation: it plans as `dry-run` and applies as
        # `auto`, while each resource's own policy and every rail still hold.
        sending = args.apply and not asking
        outcome = await runtime.cycle(
            mode=ReconcileMode.AUTO if sending else ReconcileMode.DRY_RUN,
            only=_targeted(args.target),
        )
        assert outcome is not None  # reload(strict=True) left a tree in force
        report, corrections = outcome
        unknown = any(s.status is Status.UNKNOWN for s in report.statuses)
        if asking:
            return await _confirmed(args, runtime, corrections, terminal, unknown)
    finally:
        await runtime.aclose()
    if args.out is not None:
        return _save(args, runtime, report, corrections, unknown)
    _show(args, corrections, applying=args.apply, report=report)
    return common.EXIT_ERROR if unknown else plan_exit_code(corrections)


def _save(
    args: argparse.Namespace,
    runtime: Runtime,
    report: CycleReport,
    corrections: list[Correction],
    unknown: bool,
) -> int:
    """Write the plan of what was planned; a check that could not read everything saves none."""
    _show(args, corrections, applying=False, report=report, hints=False)
    if unknown:
        print(
            f"error: the plan was not saved to {args.out}: some resources could not be read",
            file=sys.stderr,
        )
        return common.EXIT_ERROR
    targets = [Placement(t.region, t.account) for t in runtime.fleet.targets]
    plan = plan_of(corrections, version=package_version(), targets=targets, now=time.time())
    try:
        write_plan(args.out, plan)
    except OSError as error:
        print(f"error: cannot write the plan to {args.out}: {error.strerror}", file=sys.stderr)
        return common.EXIT_ERROR
    text = render_saved(corrections, plan=str(args.out), config=str(args.config))
    common.out(text, sys.stderr if args.output == "json" else None)
    return plan_exit_code(corrections)


async def _confirmed(
    args: argparse.Namespace,
    runtime: Runtime,
    corrections: list[Correction],
    terminal: Terminal,
    unknown: bool,
) -> int:
    """Show the plan, ask, and on `yes` send exactly that plan (stale: nothing of it)."""
    common.out(render_plan(corrections, applying=False, full=args.full, hints=False))
    plan = [c.saved for c in corrections if c.saved is not None]
    rest = [c for c in corrections if c.saved is None]
    if not plan:
        return common.EXIT_ERROR if unknown else plan_exit_code(corrections)
    try:
        answer = terminal.ask(f"Apply these {len(plan)} changes? Only 'yes' is accepted: ")
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        common.out("Apply cancelled: nothing was sent.\n")
        return common.EXIT_ERROR
    assert runtime.tree is not None
    applied = await runtime.reconciler.apply_plan(runtime.tree, plan)
    common.out(render_plan(applied, applying=True, full=args.full))
    if unknown or saved_plan_exit_code(applied):
        return common.EXIT_ERROR
    return plan_exit_code(rest)  # what was not in the plan: blocked, invalid, left out


def _show(
    args: argparse.Namespace,
    corrections: list[Correction],
    *,
    applying: bool,
    report: CycleReport | None = None,
    hints: bool = True,
    extra: dict[str, Any] | None = None,
) -> None:
    if args.output == "json":
        body = {
            **(common.report_json(report) if report is not None else {}),
            "corrections": plan_to_json(corrections),
            **(extra or {}),
        }
        common.out(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    else:
        common.out(render_plan(corrections, applying=applying, full=args.full, hints=hints))


def _targeted(selectors: list[Selector]) -> Callable[[ResourceStatus], bool] | None:
    """Whether `--target` selects a resource; None when every resource is a target."""
    if not selectors:
        return None

    def targeted(status: ResourceStatus) -> bool:
        key = status.key
        identity = (str(key.kind), key.project_id, key.instance_id, key.name)
        return common.selected(selectors, *identity, status.live_id or key.id)

    return targeted
