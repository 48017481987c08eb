"""The `fdi-drift` command line: a contract that scripts and CI depend on.

Exit statuses follow Terraform's -detailed-exitcode: 0 nothing to do, 2 drift, 1 error.
Reports go to stdout; logs go to stderr (`--log-format`: JSON lines, or plain text at a terminal).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from fdi_drift import logs
from fdi_drift.desired_state import DesiredStateLoader
from fdi_drift.drift.model import ReconcileMode, Status, UnknownReason
from fdi_drift.drift.report import exit_code, render_text, report_to_json
from fdi_drift.errors import DesiredStateError, FdiDriftError
from fdi_drift.exporter import export_in_processes
from fdi_drift.history import History
from fdi_drift.history_report import render_episodes
from fdi_drift.kinds import catalog
from fdi_drift.plan import plan_exit_code, plan_to_json, render_plan
from fdi_drift.prefill import cpus
from fdi_drift.selectors import Selector
from fdi_drift.service import Runtime, desired_loader, drivers_at, package_version, run_daemon
from fdi_drift.settings import Settings, load_settings
from fdi_drift.times import parse_duration

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
# Failures a wrong or missing credential would cause: worth saying which ones were in use.
_CREDENTIAL_CAUSES = frozenset({UnknownReason.LIST_FAILED, UnknownReason.READ_FAILED})


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="fdi-drift",
        description="Find and fix drift between ROMA Connect FDI tasks and a desired state in git.",
    )
    parser.add_argument("--version", action="version", version=f"fdi-drift {package_version()}")
    parser.add_argument(
        "--log-level", help="DEBUG, INFO, WARNING or ERROR (default: the config's, or WARNING)"
    )
    parser.add_argument(
        "--log-format",
        type=logs.LogFormat,
        choices=list(logs.LogFormat),
        default=logs.LogFormat.AUTO,
        help="logs on stderr as text or JSON lines; auto (default): JSON for `run` and when "
        "stderr is not a terminal, text otherwise",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check", help="run one cycle and print the drift report (exit 0 in sync, 2 drift, 1 error)"
    )
    _config_argument(check)
    check.add_argument("--output", choices=("text", "json"), default="text")
    check.add_argument("--show-in-sync", action="store_true", help="list in-sync resources too")

    export = commands.add_parser("export", help="write desired-state files from live resources")
    _config_argument(export)
    export.add_argument("--out", type=Path, required=True, help="directory to write into")
    export.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="PROJECT_ID[/INSTANCE_ID]",
        help="an FDI instance (its common and composite tasks) or a project (its DRS jobs, and "
        "the tasks of every instance in it); repeatable; default: every scope the desired "
        "state names",
    )
    export.add_argument("--force", action="store_true", help="replace files that exist")
    export.add_argument(
        "--jobs",
        type=_positive,
        default=None,
        metavar="N",
        help="processes that read resources and make files, sharing the request rate (default: "
        "the CPUs this process may use; one for fewer than 200 resources)",
    )

    history = commands.add_parser(
        "history",
        help="drift episodes from the history store, newest first (exit 0, 1 error)",
        description="Drift episodes the daemon and `reconcile` recorded in `history_db`, newest "
        "first: when each opened and closed, the fields, who changed it (from Cloud Trace "
        "Service) and how it ended. Exit codes: 0 listed (even none), 1 error.",
        epilog="example: fdi-drift history -c config.yaml 'FdiTask/orders*' --since 7d",
    )
    _config_argument(history)
    history.add_argument(
        "selector",
        nargs="?",
        type=_selector,
        help="NAME, ID, KIND/NAME or PROJECT/INSTANCE/NAME, globs allowed (default: all)",
    )
    history.add_argument(
        "--since",
        type=_duration,
        metavar="DURATION",
        help="only episodes open at some time in the last DURATION (30m, 2h, 7d)",
    )
    history.add_argument("--output", choices=("text", "json"), default="text")

    reconcile = commands.add_parser(
        "reconcile",
        help="plan corrections, or send them with --apply (exit 0 nothing to do or all applied, "
        "2 changes pending, 1 error)",
    )
    _config_argument(reconcile)
    reconcile.add_argument(
        "--apply", action="store_true", help="send the requests (default: only print them)"
    )
    reconcile.add_argument("--output", choices=("text", "json"), default="text")
    reconcile.add_argument(
        "--full", action="store_true", help="print long request bodies whole, not shortened"
    )

    validate = commands.add_parser(
        "validate", help="validate a desired-state tree offline (exit 0 valid, 1 invalid)"
    )
    validate.add_argument("directory", type=Path)

    run = commands.add_parser(
        "run",
        help="run the daemon until SIGTERM; with `shards: N` in the configuration, as one of N "
        "replicas, each checking and writing its share (check, reconcile and export are not "
        "sharded: they act on every resource)",
    )
    _config_argument(run)

    demo = commands.add_parser("demo", help="check a seeded emulator against desired_state/")
    demo.add_argument("--serve", action="store_true", help="keep the daemon and emulator running")
    demo.add_argument("--desired-state", type=Path, default=Path("desired_state"))
    demo.add_argument("--port", type=int, default=9108, help="daemon port with --serve")

    from fdi_drift.emulator import cli as emulator_cli

    emulator = commands.add_parser("emulator", help="serve the cloud API emulator alone")
    emulator_cli.add_arguments(emulator)
    return parser


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, required=True, help="daemon configuration")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except DesiredStateError as error:
        print(f"error: {error}", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_ERROR
    except FdiDriftError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        logs.configure(args.log_level or "WARNING", args.log_format)
        return _validate(args.directory)
    if args.command == "emulator":
        from fdi_drift.emulator import cli as emulator_cli

        logs.configure(args.log_level or "INFO", args.log_format)
        return emulator_cli.run(args)
    if args.command == "demo":
        from fdi_drift.demo import run_demo

        logs.configure(args.log_level or ("INFO" if args.serve else "ERROR"), args.log_format)
        return asyncio.run(run_demo(args.desired_state, serve_after=args.serve, port=args.port))
    # Only the daemon is sharded; one-shot commands act on every resource.
    settings = load_settings(args.config, sharded=args.command == "run")
    if args.command == "run":
        logs.configure(args.log_level or settings.log_level, args.log_format, daemon=True)
        asyncio.run(run_daemon(Runtime(settings)))
        return EXIT_OK
    logs.configure(args.log_level or "WARNING", args.log_format)
    if args.command == "check":
        return asyncio.run(_check(settings, args.output, args.show_in_sync))
    if args.command == "export":
        jobs = args.jobs or max(1, int(cpus()))
        return _export(settings, args.out, args.scope, args.force, jobs)
    if args.command == "history":
        return _history(settings, args.selector, args.since, args.output)
    if args.command == "reconcile":
        return asyncio.run(_reconcile(settings, args.apply, args.output, args.full))
    raise AssertionError(args.command)


def _validate(directory: Path) -> int:
    tree = DesiredStateLoader(directory).load()  # DesiredStateError lists every problem
    print(f"{directory}: valid, {len(tree.resources)} resources at revision {tree.revision}")
    return EXIT_OK


async def _check(settings: Settings, output: str, show_in_sync: bool) -> int:
    runtime = Runtime(settings, history=False)  # a check looks; it records nothing
    try:
        await runtime.reload(strict=True)
        report = await runtime.check()
    finally:
        await runtime.aclose()
    assert report is not None  # reload(strict=True) left a tree in force
    fleet = runtime.fleet
    if output == "json":
        targets = [
            {
                "account": target.account or None,
                "region": target.region,
                "projects": list(target.projects) or None,
                "credentials": fleet.describe(target),
            }
            for target in fleet.targets
        ]
        body = {**report_to_json(report), "targets": targets}
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print(render_text(report, show_in_sync=show_in_sync), end="")
        failing = [
            fleet.target_of(s.key.project_id)
            for s in report.statuses
            if s.cause in _CREDENTIAL_CAUSES
        ]
        for target in fleet.targets:  # in configuration order
            if any(target is other for other in failing):
                named = f" for {target.label}" if len(fleet.targets) > 1 else ""
                print(f"Credentials in use{named}: {fleet.describe(target)}.")
    return exit_code(report)


async def _reconcile(settings: Settings, apply: bool, output: str, full: bool) -> int:
    runtime = Runtime(settings)
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
        mode = ReconcileMode.AUTO if apply else ReconcileMode.DRY_RUN
        outcome = await runtime.cycle(mode=mode)
    finally:
        await runtime.aclose()
    assert outcome is not None  # reload(strict=True) left a tree in force
    report, corrections = outcome
    if output == "json":
        body = {**report_to_json(report), "corrections": plan_to_json(corrections)}
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print(render_plan(corrections, applying=apply, full=full), end="")
    unknown = any(s.status is Status.UNKNOWN for s in report.statuses)
    return EXIT_ERROR if unknown else plan_exit_code(corrections)


def _export(settings: Settings, out: Path, scopes: list[str], force: bool, jobs: int) -> int:
    if scopes:
        targets = [target for text in scopes for target in catalog.export_targets(text)]
    else:  # the scopes the desired state names, for the kinds that live in them
        declared = sorted({r.scope for r in desired_loader(settings).load().resources})
        targets = [(kind, scope) for scope in declared for kind in catalog.living_in(scope)]
    if not targets:
        print("error: the desired state names no scope; pass --scope", file=sys.stderr)
        return EXIT_ERROR
    written = export_in_processes(
        functools.partial(drivers_at, settings),
        catalog.specs(),
        targets,
        out,
        force=force,
        jobs=jobs,
        concurrency=settings.engine.concurrency,
    )
    for item in written:
        print(f"wrote {item.path}")
        for ref in item.secret_refs:
            print(f"  secret placeholder {{secretRef: {ref}}}: provide it before reconciling")
    print(f"{len(written)} files written to {out}")
    return EXIT_OK


def _history(
    settings: Settings, selector: Selector | None, since: float | None, output: str
) -> int:
    path = settings.history_db
    if path is None:
        print("error: no drift history: `history_db` is not configured", file=sys.stderr)
        return EXIT_ERROR
    if not path.exists():
        print(f"error: {path}: no drift history recorded yet", file=sys.stderr)
        return EXIT_ERROR
    store = History(path)
    try:
        start = None if since is None else time.time() - since
        episodes = [
            episode
            for episode in store.episodes(since=start, limit=100_000)
            if selector is None or selector.matches(*episode.identity())
        ]
        if not store.healthy:
            print(f"error: {store.error}", file=sys.stderr)
            return EXIT_ERROR
    finally:
        store.close()
    if output == "json":
        body = {"episodes": [episode.to_json() for episode in episodes]}
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print(render_episodes(episodes, now=time.time()), end="")
    return EXIT_OK


def _selector(text: str) -> Selector:
    try:
        return Selector.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return number


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
