"""Command-line glue for `fdi-drift emulator` (also `python -m fdi_drift.emulator`).

`run()` prints `emulator listening on http://HOST:PORT` (flushed) once it listens, serves until
SIGINT or SIGTERM, and returns 0. It returns 1, with the reason on stderr, when a seed file or
the credentials file is unusable, an access key is given twice, or the address cannot be bound.
Signals are only handled when it runs in the main thread.

Credentials come from `--token T[=DOMAIN/NAME]`, `--user`, `--key-pair AK:SK[:DOMAIN/NAME]`
(all repeatable; test credentials only, as a command line is visible to every local user) and
from `--credentials FILE`, whose entries are added to them. The file is JSON (name ending
`.json`) or YAML, every key optional, unknown keys refused:

    tokens: [static-test-token]
    users:
      - {domain: acme, name: ops, password: s3cret}
    key_pairs:
      - {access_key: EMULATORAK0001, secret_key: emulator-secret-key, owner: acme/deployer}

DOMAIN/NAME is the user CTS traces name for writes made with that token or key pair; without
it a token acts as `emulator/token-user`, a key pair as a user named after its access key in
domain `emulator`. It is only read as such when the text after the last `=` (token) or `:`
(key pair) holds a `/`: a token or secret key that itself ends so must come from the file.
`--cts-delay-seconds S` delays the listing of every CTS trace by S seconds, as CTS delivers
traces about a minute after the operation.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import signal
import sys
import threading
from collections.abc import Sequence

from fdi_drift.emulator.app import Emulator, EmulatorConfig, serve
from fdi_drift.emulator.credentials import KeyPair
from fdi_drift.emulator.credentials_file import Credentials, CredentialsFileError, load_credentials
from fdi_drift.emulator.iam import Caller, IamUser
from fdi_drift.emulator.seeds import SeedError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--seed",
        type=pathlib.Path,
        required=True,
        metavar="DIR",
        help=(
            "seed directory: DIR/<project_id>/<instance_id>/<task_id>.json (common tasks), "
            "DIR/<project_id>/<instance_id>/multi-tasks/<task_id>.json (composite tasks), "
            "DIR/drs/<project_id>/<job_id>.json (DRS jobs)"
        ),
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="T[=DOMAIN/NAME]",
        help=(
            "a static X-Auth-Token accepted for every project, and the user CTS traces name "
            "for it (default emulator/token-user; repeatable)"
        ),
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        type=_user,
        metavar="DOMAIN/NAME:PASSWORD",
        help="an IAM account that may log in (repeatable; test credentials only)",
    )
    parser.add_argument(
        "--key-pair",
        action="append",
        default=[],
        type=_key_pair,
        metavar="AK:SK[:DOMAIN/NAME]",
        help=(
            "an access key and secret key for signed requests, and their owner in CTS traces "
            "(default emulator/AK; repeatable; test credentials only)"
        ),
    )
    parser.add_argument(
        "--credentials",
        type=pathlib.Path,
        default=None,
        metavar="FILE",
        help="a JSON or YAML file of tokens, users and key_pairs, added to the options above",
    )
    parser.add_argument(
        "--token-ttl", type=float, default=86400.0, metavar="S", help="IAM token lifetime"
    )
    parser.add_argument("--latency-ms", type=int, default=0, metavar="N", help="added latency")
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, metavar="X", help="share of API calls answered 500"
    )
    parser.add_argument(
        "--throttle-rate",
        type=float,
        default=0.0,
        metavar="X",
        help="share of API calls answered 429",
    )
    parser.add_argument(
        "--random-seed", type=int, default=None, metavar="N", help="repeatable random faults"
    )
    parser.add_argument(
        "--fighting",
        action="store_true",
        help="another writer undoes every update when the instance (or DRS project) is next listed",
    )
    parser.add_argument(
        "--cts-delay-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="list a CTS trace only S seconds after its write (default 0)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the emulator described by parsed arguments until SIGINT or SIGTERM."""
    try:
        emulator = Emulator(config_of(args))
    except (SeedError, CredentialsFileError, ValueError) as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve_until_signalled(emulator, args.host, args.port))
    except OSError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 1
    return 0


def config_of(args: argparse.Namespace) -> EmulatorConfig:
    """The configuration parsed arguments describe, the credentials file read and added.

    Raises CredentialsFileError for an unusable file and ValueError for an impossible setting.
    """
    extra = Credentials() if args.credentials is None else load_credentials(args.credentials)
    token_users = [_token_user(text) for text in args.token]
    return EmulatorConfig(
        seed_dir=args.seed,
        tokens=frozenset(token for token, _ in token_users) | extra.tokens,
        token_users=tuple((token, user) for token, user in token_users if user is not None),
        users=(*args.user, *extra.users),
        key_pairs=(*args.key_pair, *extra.key_pairs),
        token_ttl_seconds=args.token_ttl,
        latency_ms=args.latency_ms,
        fail_rate=args.fail_rate,
        throttle_rate=args.throttle_rate,
        random_seed=args.random_seed,
        fighting=args.fighting,
        cts_delay_seconds=args.cts_delay_seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m fdi_drift.emulator ...`: the same options as `fdi-drift emulator`."""
    parser = argparse.ArgumentParser(prog="fdi-drift emulator", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


async def _serve_until_signalled(emulator: Emulator, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = (signal.SIGINT, signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        for signum in handled:
            loop.add_signal_handler(signum, stop.set)
    try:
        await serve(emulator, host, port, _announce, stop=stop)
    finally:
        if in_main_thread:
            for signum in handled:
                loop.remove_signal_handler(signum)


def _announce(url: str) -> None:
    print(f"emulator listening on {url}", flush=True)


def _key_pair(text: str) -> KeyPair:
    access_key, colon, secret_key = text.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError("expected AK:SK[:DOMAIN/NAME]")
    secret_key, owner = _owned(secret_key, ":")
    try:
        return KeyPair(access_key=access_key, secret_key=secret_key, owner=owner)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _token_user(text: str) -> tuple[str, Caller | None]:
    """`--token T[=DOMAIN/NAME]` as the token and the user it acts as, if given."""
    return _owned(text, "=")


def _owned(text: str, separator: str) -> tuple[str, Caller | None]:
    """`text` split at its last `separator` when what follows is a DOMAIN/NAME."""
    head, found, tail = text.rpartition(separator)
    if not found or "/" not in tail:
        return text, None
    try:
        return head, Caller.parse(tail)
    except ValueError:
        return text, None


def _user(text: str) -> IamUser:
    domain, slash, rest = text.partition("/")
    name, colon, password = rest.partition(":")
    if not (slash and colon and domain and name and password):
        raise argparse.ArgumentTypeError("expected DOMAIN/NAME:PASSWORD")
    return IamUser(domain=domain, name=name, password=password)
