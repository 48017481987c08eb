"""`fdi-drift version`."""

from __future__ import annotations

import argparse
import json
import platform

from fdi_drift.commands import common
from fdi_drift.service import package_version


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "version",
        summary="print the version of fdi-drift (and of Python, with --output json)",
        description="Print the installed version of fdi-drift.",
        exits={0: "printed"},
        examples=["fdi-drift version", "fdi-drift version --output json"],
        run=run,
    )
    parser.add_argument(
        "--output", choices=("text", "json"), default="text", help="text, or JSON with Python's"
    )


def run(args: argparse.Namespace) -> int:
    if args.output == "json":
        body = {"version": package_version(), "python": platform.python_version()}
        common.out(json.dumps(body) + "\n")
    else:
        print(f"fdi-drift {package_version()}")
    return common.EXIT_OK
