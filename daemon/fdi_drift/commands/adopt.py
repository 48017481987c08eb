"""`fdi-drift adopt`: keep live changes by writing them into the desired-state files."""

from __future__ import annotations

import argparse
import asyncio
import sys

from fdi_drift.adopt import adopt
from fdi_drift.adopt_commit import commit
from fdi_drift.commands import common
from fdi_drift.service import Runtime


def add(commands: common.SubParsers) -> None:
    parser = common.command(
        commands,
        "adopt",
        summary="keep live changes: write them into the desired-state files",
        description="For each selected drifted resource, write live's values of its drifted "
        "declared fields into its desired file, changing only those values: comments, key "
        "order, quoting and every other line stay as they were. Secrets are never written: a "
        "field declared {secretRef} is left and reported, and a secret-looking live value "
        "becomes a {secretRef} placeholder to fill in the secret store. The diff is printed; "
        "--commit makes one git commit of the changed files, ready for a pull request.",
        exits={0: "adopted, or nothing to adopt", 1: "an error; nothing was written"},
        examples=[
            "fdi-drift adopt -c config.yaml FdiTask/orders-mysql-to-mysql",
            "fdi-drift adopt -c config.yaml 'orders*' --field /task/description "
            "--commit --branch adopt-orders",
        ],
        run=run,
    )
    common.config_argument(parser)
    parser.add_argument(
        "selectors",
        nargs="+",
        type=common.selector,
        metavar="SELECTOR",
        help="the resources whose live changes to keep: NAME, ID, KIND/NAME or "
        "PROJECT/INSTANCE/NAME, globs allowed",
    )
    parser.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="POINTER",
        help="only this drifted field (and those below it), as the drift report names it, "
        "e.g. /task/description; repeatable",
    )
    parser.add_argument(
        "--commit",
        action="store_true",
        help="commit the changed files in the desired-state repository (one commit)",
    )
    parser.add_argument("--branch", metavar="NAME", help="with --commit: on this new branch")
    parser.add_argument(
        "--message", metavar="TEXT", help="with --commit: the message (default: the fields)"
    )


def run(args: argparse.Namespace) -> int:
    if (args.branch or args.message) and not args.commit:
        print("fdi-drift adopt: error: --branch and --message go with --commit", file=sys.stderr)
        return common.EXIT_ERROR
    common.configure_logs(args, "WARNING")
    return asyncio.run(_adopt(args))


async def _adopt(args: argparse.Namespace) -> int:
    runtime = Runtime(common.settings_of(args), history=False)  # adopting records nothing
    try:
        result = await adopt(runtime, args.selectors, args.field, write=not args.commit)
    finally:
        await runtime.aclose()
    common.out(result.diff())
    common.out(result.summary())
    if args.commit and result.changed:
        root = runtime.settings.desired_state
        made = commit(result, root, branch=args.branch, message=args.message)
        where = f" on branch {args.branch}" if args.branch else ""
        print(f"Committed {made}{where}.")
    return common.EXIT_OK
