"""`fdi-drift validate`: a desired-state tree checked offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fdi_drift.commands import common
from fdi_drift.desired_state import DesiredStateLoader
from fdi_drift.errors import DesiredStateError


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "validate",
        summary="validate a desired-state tree offline",
        description="Read and validate every file of a desired-state tree with the rules the "
        "daemon uses, without any cloud access; every problem is listed with its file, line "
        "and pointer.",
        exits={0: "valid", 1: "invalid (every problem listed), empty, or an error"},
        examples=[
            "fdi-drift validate desired_state",
            "fdi-drift validate desired_state --output json",
        ],
        run=run,
    )
    parser.add_argument("directory", type=Path, help="the root of the desired-state tree")
    parser.add_argument(
        "--output",
        choices=("text", "json"),
        default="text",
        help="text, or JSON: the resources found, or every problem",
    )
    common.allow_empty_argument(parser)


def run(args: argparse.Namespace) -> int:
    common.configure_logs(args, "WARNING")
    directory: Path = args.directory
    try:
        tree = DesiredStateLoader(directory).load()
    except DesiredStateError as error:
        if args.output != "json":
            raise  # main prints it with every problem
        body = {"valid": False, "error": str(error), "problems": list(error.problems)}
        common.out(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        return common.EXIT_ERROR
    if not tree.resources and not args.allow_empty:
        return common.empty_tree_error(directory)
    if args.output == "json":
        body = {
            "valid": True,
            "revision": tree.revision,
            "resources": [{**r.key.fields(), "source": r.source} for r in tree.resources],
            "problems": [],
        }
        common.out(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    else:
        print(f"{directory}: valid, {len(tree.resources)} resources at revision {tree.revision}")
    return common.EXIT_OK
