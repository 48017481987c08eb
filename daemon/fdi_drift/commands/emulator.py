"""`fdi-drift emulator`: the cloud API emulator alone."""

from __future__ import annotations

import argparse

from fdi_drift.commands import common


def add(commands: common.SubParsers) -> None:
    from fdi_drift.emulator import cli as emulator_cli

    parser = common.command(
        commands,
        "emulator",
        summary="serve the cloud API emulator alone",
        description="Serve the emulated FDI, DRS, IAM and CTS APIs on 127.0.0.1 from a seed "
        "directory, for trying fdi-drift without a cloud account.",
        exits={0: "stopped", 1: "a seed or an option is unusable"},
        examples=["fdi-drift emulator --port 8080 --seed seeds --token t0k"],
        run=run,
    )
    emulator_cli.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from fdi_drift.emulator import cli as emulator_cli

    common.configure_logs(args, "INFO")
    return emulator_cli.run(args)
