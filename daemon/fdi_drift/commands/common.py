"""What every sub-command shares: exit statuses, its help's shape, argument types, settings.

Exit statuses follow Terraform's `plan -detailed-exitcode`: 0 nothing to do (in sync), 2 drift
or changes pending, 1 every error, usage errors included.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TextIO

from fdi_drift import logs
from fdi_drift.drift.model import CycleReport
from fdi_drift.drift.report import report_to_json
from fdi_drift.selectors import Selector
from fdi_drift.settings import Settings, load_settings
from fdi_drift.times import parse_duration, rfc3339

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
# A process whose reader went away (`| head`) ends quietly with the status a shell gives a
# process ended by SIGPIPE.
EXIT_CLOSED_PIPE = 141

Run = Callable[[argparse.Namespace], int]


class SubParsers(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1, like every other error: 2 means drift."""

    def error(self, message: str) -> Any:  # argparse's own signature returns NoReturn
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def command(
    commands: SubParsers,
    name: str,
    *,
    summary: str,
    description: str,
    exits: dict[int, str],
    examples: list[str],
    run: Run,
) -> argparse.ArgumentParser:
    """A sub-command whose --help says what it does, its exit statuses and an example."""
    statuses = "\n".join(f"  {code}  {meaning}" for code, meaning in sorted(exits.items()))
    shown = "\n".join(f"  {example}" for example in examples)
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"exit status:\n{statuses}\n\nexample{'s' if len(examples) > 1 else ''}:\n{shown}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", type=Path, required=True, help="the daemon's configuration file"
    )


def selectors_argument(parser: argparse.ArgumentParser, what: str = "resources") -> None:
    parser.add_argument(
        "selectors",
        nargs="*",
        type=selector,
        metavar="SELECTOR",
        help=f"the {what} to act on: NAME, ID, KIND/NAME or PROJECT/INSTANCE/NAME, globs "
        "allowed (default: every one)",
    )


def allow_empty_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="a desired state that declares nothing is in sync, not an error",
    )


def selected(selectors: list[Selector], *identity: str) -> bool:
    """Whether a resource (kind, project, instance, name, id) is selected: any selector, or all."""
    return not selectors or any(s.matches(*identity) for s in selectors)


def settings_of(args: argparse.Namespace, *, sharded: bool = False) -> Settings:
    """The configuration given with -c; one-shot commands are never sharded."""
    path: Path = args.config
    return load_settings(path, sharded=sharded)


def configure_logs(args: argparse.Namespace, default: str, *, daemon: bool = False) -> None:
    logs.configure(args.log_level or default, args.log_format, daemon=daemon)


def selector(text: str) -> Selector:
    try:
        return Selector.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return number


def empty_tree_error(where: object) -> int:
    """The error of a tree that declares nothing: a wrong path must not pass as in sync."""
    print(
        f"error: {where}: the desired state declares no resource (a wrong path?); pass "
        "--allow-empty if that is intended",
        file=sys.stderr,
    )
    return EXIT_ERROR


def out(text: str, stream: TextIO | None = None) -> None:
    """Print `text` as it is (it ends with its own newline)."""
    print(text, end="", file=stream or sys.stdout)


def report_json(report: CycleReport) -> dict[str, Any]:
    """A report as the commands' JSON shows it: its times in RFC 3339."""
    body: dict[str, Any] = report_to_json(report)
    body["started_at"] = rfc3339(report.started_at)
    body["finished_at"] = rfc3339(report.finished_at)
    for resource, status in zip(body["resources"], report.statuses, strict=True):
        resource["drift_since"] = rfc3339(status.drift_since)
    return body
