"""`fdi-drift adopt --commit`: the files adopt changed, in one git commit for a pull request.

The commit is made on a new branch if asked, and holds only those files. It refuses a file that
held changes git did not have before adopt changed it: someone's uncommitted edits are never
committed. git runs without hooks, signing, prompts or background work, under a deadline.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from fdi_drift.adopt import AdoptedFile, AdoptError, AdoptResult, GitError, write_files

GIT_TIMEOUT_SECONDS = 60
# Whatever the user's configuration says: no hooks, no signing prompt, no fsmonitor daemon, no
# background maintenance. A commit made here must finish without anyone at the terminal.
_GIT_OPTIONS = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "gc.auto=0",
    "-c",
    "maintenance.auto=false",
)


def commit(result: AdoptResult, repo_root: Path, *, branch: str | None, message: str | None) -> str:
    """Commit the changed files of `result` in one commit; its id.

    `repo_root` is any folder of the desired-state repository (the desired-state root will
    do): git finds the repository's top. With `branch`, the commit is made on that new branch
    (refused if it exists), which is then checked out. Each file must hold in git (the last
    commit and the index) exactly the text adopt started from: someone's uncommitted edits are
    never committed. Files not yet written are written here, after those checks.
    """
    changed = result.changed
    if not changed:
        raise AdoptError("nothing to commit: adopt changed no file")
    top = Path(_git(repo_root, "rev-parse", "--show-toplevel").strip())
    relatives = [_inside(top, file.path) for file in changed]
    unwritten = [
        file
        for file, rel in zip(changed, relatives, strict=True)
        if _state(top, file, rel) == "unwritten"
    ]
    if branch is not None:
        _git(top, "check-ref-format", "--branch", branch)
        if _git(top, "show-ref", "--verify", f"refs/heads/{branch}", check=False):
            raise GitError(f"branch {branch!r} exists already; name a new one")
    back: list[str] = []  # how to return to where HEAD was, should the commit fail
    if branch is not None:
        named = _git(top, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
        back = [named] if named else ["--detach", _git(top, "rev-parse", "HEAD").strip()]
        _git(top, "switch", "--create", branch)
    try:
        write_files(unwritten)
        _git(top, "commit", "--quiet", "-m", message or default_message(result), "--", *relatives)
    except AdoptError:
        if branch is not None:  # the new branch goes again; the files stay as adopt made them
            _git(top, "switch", *back, check=False)
            _git(top, "branch", "-D", branch, check=False)
        raise
    return _git(top, "rev-parse", "HEAD").strip()


def default_message(result: AdoptResult) -> str:
    """A commit message naming each resource and field adopted, ready for a pull request."""
    changed = result.changed
    # The fields themselves when they fit on a subject line, else how many of each resource.
    subject = "Adopt live changes: " + "; ".join(
        f"{f.key.kind} {f.key.name} {', '.join(f.adopted)}" for f in changed
    )
    if len(subject) > _SUBJECT:
        subject = "Adopt live changes: " + "; ".join(
            f"{f.key.kind} {f.key.name} ({_count(len(f.adopted), 'field')})" for f in changed
        )
    if len(subject) > _SUBJECT:
        fields = _count(sum(len(f.adopted) for f in changed), "field")
        subject = f"Adopt live changes: {_count(len(changed), 'resource')}, {fields}"
    body = ["Written by `fdi-drift adopt` from the live resources:", ""]
    for file in changed:
        body.append(f"- {file.key.kind} {file.key.name} (id {file.live_id}), {file.relative}:")
        body.extend(f"  - {pointer}" for pointer in file.adopted)
    secrets = [(file, s) for file in changed for s in file.secrets]
    if secrets:
        body += ["", "Secrets are not in this commit; update them in the secret store:"]
        body.extend(
            f"- {s.reference} ({file.relative} {s.pointer}: {s.reason})" for file, s in secrets
        )
    return subject + "\n\n" + "\n".join(body) + "\n"


_SUBJECT = 100  # characters in a commit's subject line, at most


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _inside(top: Path, path: Path) -> str:
    relative = os.path.relpath(path.resolve(), top.resolve())
    if relative.startswith(os.pardir):
        raise GitError(f"{path} is not inside the git repository at {top}")
    return relative


def _state(top: Path, file: AdoptedFile, relative: str) -> str:
    """'written' or 'unwritten', once git is known to hold the file's old text unchanged."""
    committed = _git(top, "rev-parse", "--quiet", "--verify", f"HEAD:{relative}", check=False)
    if not committed:
        raise GitError(f"{relative}: not committed in git; commit it first, then adopt")
    old = _git(top, "hash-object", f"--path={relative}", "--stdin", text=file.old_text)
    staged = _git(top, "ls-files", "--stage", "--", relative).split()
    if old.strip() != committed.strip() or staged[1:2] != [committed.strip()]:
        raise GitError(
            f"{relative}: held changes that are not committed before adopt; commit or "
            "discard them, then adopt again"
        )
    current = file.path.read_text(encoding="utf-8")
    if current == file.new_text:
        return "written"
    if current == file.old_text:
        return "unwritten"
    raise GitError(f"{relative}: changed since adopt wrote it")


def _git(cwd: Path, *args: str, check: bool = True, text: str | None = None) -> str:
    """git's output; GitError naming the command and git's message when it fails (`check`),
    or "" for a command that fails unchecked."""
    shown = "git " + " ".join(
        "MESSAGE" if before == "-m" else arg for before, arg in zip(("", *args), args, strict=False)
    )
    try:
        done = subprocess.run(
            ["git", *_GIT_OPTIONS, *args],
            cwd=cwd,
            input=text,
            stdin=None if text is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            # A session of its own has no terminal, so a prompt (what GIT_TERMINAL_PROMPT=0
            # would stop, without this process reading the environment) fails at once.
            start_new_session=True,
        )
    except FileNotFoundError:
        raise GitError(f"{shown}: git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"{shown}: no answer within {GIT_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        if not check:
            return ""
        said = " ".join((done.stderr or done.stdout).split()) or f"exit status {done.returncode}"
        raise GitError(f"{shown} failed: {said}")
    return done.stdout
