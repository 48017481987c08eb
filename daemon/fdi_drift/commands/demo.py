"""`fdi-drift demo`: the whole loop on the built-in emulator."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from fdi_drift.commands import common
from fdi_drift.demo import run_demo


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "demo",
        summary="check a seeded emulator against the sample desired state",
        description="Start the cloud emulator with sample tasks and a DRS job, edit three of "
        "them as a person would, and report the drift with the plan that would correct it. "
        "The sample desired state ships with fdi-drift (./desired_state is used where there is "
        "one). With --serve, the daemon and the emulator keep running, and a configuration "
        "file for trying every other command against them is written and its path printed.",
        exits={0: "it ran (the drift it shows is expected)", 1: "an error"},
        examples=["fdi-drift demo", "fdi-drift demo --serve --port 9108"],
        run=run,
    )
    parser.add_argument(
        "--serve", action="store_true", help="keep the daemon and emulator running until Ctrl-C"
    )
    parser.add_argument(
        "--desired-state",
        type=Path,
        default=None,
        help="the desired-state tree (default: ./desired_state, else the shipped sample)",
    )
    parser.add_argument("--port", type=int, default=9108, help="the daemon's port with --serve")


def run(args: argparse.Namespace) -> int:
    common.configure_logs(args, "INFO" if args.serve else "ERROR")
    return asyncio.run(run_demo(args.desired_state, serve_after=args.serve, port=args.port))
