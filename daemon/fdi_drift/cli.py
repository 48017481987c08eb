"""The `fdi-drift` command line: a contract that scripts and CI depend on.

Exit statuses follow Terraform's `plan -detailed-exitcode` (every command's --help lists its own):

     0  nothing to do: in sync, valid, listed, applied
     2  drift, or changes pending
     1  every error, usage errors included (a typo must not read as drift)
   141  the reader went away (`| head`): the command ended quietly

Reports go to stdout; logs go to stderr (`--log-format`: JSON lines, or plain text at a terminal).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from fdi_drift import logs
from fdi_drift.commands import (
    adopt,
    check,
    common,
    completion,
    daemon,
    demo,
    emulator,
    export,
    history,
    reconcile,
    validate,
    version,
)
from fdi_drift.errors import DesiredStateError, FdiDriftError
from fdi_drift.service import package_version

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = common.EXIT_OK, common.EXIT_ERROR, common.EXIT_CHANGES
# In the order --help lists them (completion adds itself last: it needs the whole parser).
_COMMANDS = (check, reconcile, adopt, export, history, validate, daemon, demo, emulator, version)
_EXIT_STATUSES = """\
exit status:
    0  nothing to do: in sync, valid, listed, applied
    2  drift, or changes pending (as terraform plan -detailed-exitcode)
    1  every error, usage errors included
  141  the reader of the output went away (| head)

Run `fdi-drift COMMAND --help` for a command's options, exit statuses and an example."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with every sub-command."""
    parser = common.Parser(
        prog="fdi-drift",
        description="Find and fix drift between ROMA Connect FDI tasks, DRS jobs and a desired "
        "state in git.",
        epilog=_EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument(
        "--no-color",
        action="store_true",
        help="no colour, even on a terminal (NO_COLOR in the environment does the same)",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=common.Parser
    )
    for module in _COMMANDS:
        module.add(commands)
    completion.add(commands, build_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whatever is still buffered goes nowhere, quietly: the reader has all it wanted.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return common.EXIT_CLOSED_PIPE
    except DesiredStateError as error:
        print(f"error: {error}", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_ERROR
    except FdiDriftError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
