"""`fdi-drift export`: desired-state files from live resources."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from fdi_drift.commands import common
from fdi_drift.commands.terminal import Progress
from fdi_drift.exporter import export_in_processes
from fdi_drift.kinds import catalog
from fdi_drift.prefill import cpus
from fdi_drift.service import desired_loader, drivers_at


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "export",
        summary="write desired-state files from live resources",
        description="Read live resources and write one desired-state file each, every writable "
        "field declared, so that a check right after is in sync. Secrets become {secretRef: "
        "NAME/KEY} placeholders. Existing files are refused, before anything is read, unless "
        "--force; files are moved into place only once every one was made and validated.",
        exits={0: "written (or nothing to write)", 1: "an error; nothing was written"},
        examples=[
            "fdi-drift export -c config.yaml --out desired_state --scope PROJECT/INSTANCE",
            "fdi-drift export -c config.yaml --out desired_state FdiTask/orders-mysql-to-mysql",
        ],
        run=run,
    )
    common.config_argument(parser)
    common.selectors_argument(parser, "live resources (in the scopes)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="PROJECT_ID[/INSTANCE_ID]",
        help="an FDI instance (its common and composite tasks) or a project (its DRS jobs, and "
        "the tasks of every instance in it); repeatable; default: every scope the desired "
        "state names",
    )
    parser.add_argument("--force", action="store_true", help="replace files that exist")
    parser.add_argument(
        "--jobs",
        type=common.positive,
        default=None,
        metavar="N",
        help="processes that read resources and make files, sharing the request rate (default: "
        "the CPUs this process may use; one for fewer than 200 resources)",
    )


def run(args: argparse.Namespace) -> int:
    common.configure_logs(args, "WARNING")
    settings = common.settings_of(args)
    if args.scope:
        targets = [target for text in args.scope for target in catalog.export_targets(text)]
    else:  # the scopes the desired state names, for the kinds that live in them
        declared = sorted({r.scope for r in desired_loader(settings).load().resources})
        targets = [(kind, scope) for scope in declared for kind in catalog.living_in(scope)]
    if not targets:
        print("error: the desired state names no scope; pass --scope", file=sys.stderr)
        return common.EXIT_ERROR
    selectors = args.selectors
    progress = Progress("exported")
    try:
        written = export_in_processes(
            functools.partial(drivers_at, settings),
            catalog.specs(),
            targets,
            args.out,
            force=args.force,
            jobs=args.jobs or max(1, int(cpus())),
            concurrency=settings.engine.concurrency,
            only=None
            if not selectors
            else lambda kind, scope, entry: common.selected(
                selectors, str(kind), scope.project_id, scope.instance_id, entry.name, entry.id
            ),
            progress=progress.update,
        )
    finally:
        progress.done()
    if selectors and not written:
        print("error: no live resource in the scopes matches the selectors", file=sys.stderr)
        return common.EXIT_ERROR
    for item in written:
        print(f"wrote {item.path}")
        for ref in item.secret_refs:
            print(f"  secret placeholder {{secretRef: {ref}}}: provide it before reconciling")
    print(f"{len(written)} files written to {args.out}")
    return common.EXIT_OK
