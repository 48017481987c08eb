"""`fdi-drift completion SHELL`: a completion script for bash, zsh or tcsh (from shtab)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import shtab

from fdi_drift.commands import common


def add(commands: common.SubParsers, parser_of: Callable[[], argparse.ArgumentParser]) -> None:
    parser = common.command(
        commands,
        "completion",
        summary="print a shell completion script",
        description="Print a completion script for the shell. bash: add "
        '`eval "$(fdi-drift completion bash)"` to ~/.bashrc; zsh: write it as _fdi-drift in a '
        "folder of $fpath.",
        exits={0: "printed", 1: "an unknown shell"},
        examples=["fdi-drift completion bash > /etc/bash_completion.d/fdi-drift"],
        run=lambda args: run(args, parser_of),
    )
    parser.add_argument("shell", choices=("bash", "zsh", "tcsh"), help="the shell to complete in")


def run(args: argparse.Namespace, parser_of: Callable[[], argparse.ArgumentParser]) -> int:
    common.out(shtab.complete(parser_of(), shell=args.shell) + "\n")
    return common.EXIT_OK
