"""`fdi-drift history`: drift episodes from the history store, newest first."""

from __future__ import annotations

import argparse
import json
import sys
import time

from fdi_drift.commands import common
from fdi_drift.history import History
from fdi_drift.history_report import render_episodes


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "history",
        summary="drift episodes from the history store, newest first",
        description="Drift episodes the daemon and `reconcile` recorded in `history_db`, newest "
        "first: when each opened and closed, the fields, who changed it (from Cloud Trace "
        "Service) and how it ended. Reading never creates the store.",
        exits={0: "listed (even none)", 1: "an error: no history_db, or the store unusable"},
        examples=["fdi-drift history -c config.yaml 'FdiTask/orders*' --since 7d"],
        run=run,
    )
    common.config_argument(parser)
    common.selectors_argument(parser)
    parser.add_argument(
        "--since",
        type=common.duration,
        metavar="DURATION",
        help="only episodes open at some time in the last DURATION (30m, 2h, 7d)",
    )
    parser.add_argument(
        "--output", choices=("text", "json"), default="text", help="text for people, or JSON"
    )


def run(args: argparse.Namespace) -> int:
    common.configure_logs(args, "WARNING")
    path = common.settings_of(args).history_db
    if path is None:
        print("error: no drift history: `history_db` is not configured", file=sys.stderr)
        return common.EXIT_ERROR
    if not path.exists():
        print(f"error: {path}: no drift history recorded yet", file=sys.stderr)
        return common.EXIT_ERROR
    store = History(path)
    try:
        start = None if args.since is None else time.time() - args.since
        episodes = [
            episode
            for episode in store.episodes(since=start, limit=100_000)
            if common.selected(args.selectors, *episode.identity())
        ]
        if not store.healthy:
            print(f"error: {store.error}", file=sys.stderr)
            return common.EXIT_ERROR
    finally:
        store.close()
    if args.output == "json":
        body = {"episodes": [episode.to_json() for episode in episodes]}
        common.out(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    else:
        common.out(render_episodes(episodes, now=time.time()))
    return common.EXIT_OK
