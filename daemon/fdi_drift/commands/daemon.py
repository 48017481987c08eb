"""`fdi-drift run`: the daemon."""

from __future__ import annotations

import argparse
import asyncio

from fdi_drift.commands import common
from fdi_drift.service import Runtime, run_daemon


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "run",
        summary="run the daemon until SIGTERM",
        description="Check on a schedule, serve /metrics, /healthz, /readyz and the status pages, "
        "and reconcile what policy allows. With `shards: N` in the configuration, one of N "
        "replicas, each checking and writing its share (the other commands are not sharded).",
        exits={
            0: "stopped by SIGTERM or SIGINT",
            1: "the configuration or a start-up check failed",
        },
        examples=["fdi-drift run -c /etc/fdi-drift/config.yaml"],
        run=run,
    )
    common.config_argument(parser)


def run(args: argparse.Namespace) -> int:
    settings = common.settings_of(args, sharded=True)
    common.configure_logs(args, settings.log_level, daemon=True)
    asyncio.run(run_daemon(Runtime(settings)))
    return common.EXIT_OK
