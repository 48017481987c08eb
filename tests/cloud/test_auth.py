"""Token sources and the X-Auth-Token flow: refresh after 401, file rotation, no leaks."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx
import pytest

from fdi_drift.cloud.auth import FileToken, StaticToken, TokenAuth
from fdi_drift.errors import AuthError
from tests.cloud.fakes import FakeTime, Script, json_response, make_api

SECRET = "MIIT-secret-token-value-0123456789"
OK = json_response(200, {"ok": True})
DENIED = json_response(401, {"error_code": "APIG.1002", "error_msg": "Incorrect token"})


class RotatingSource:
    """A token source that hands out a new token after each invalidation."""

    def __init__(self) -> None:
        self.generation = 1
        self.invalidated: list[str] = []

    async def get(self) -> str:
        return f"{SECRET}-{self.generation}"

    async def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        self.generation += 1

    def describe(self) -> str:
        return "rotating test source"


def answer_only(token: str) -> Script:
    """A script-like handler: 200 for `token`, 401 for anything else."""

    class ByToken(Script):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            self.record(request)
            return OK if request.headers.get("X-Auth-Token") == token else DENIED

    return ByToken(OK)


async def test_token_is_sent_in_x_auth_token() -> None:
    """Every request carries the source's token in X-Auth-Token."""
    script = Script(OK)
    api = make_api(script, FakeTime(), auth=TokenAuth(StaticToken(SECRET, "env FDI_TOKEN")))
    await api.request("GET", "/x")
    assert script.seen[0].headers["X-Auth-Token"] == SECRET


async def test_401_retries_once_with_the_refreshed_token() -> None:
    """A 401 invalidates the token and the request is sent again with the new one."""
    source = RotatingSource()
    script = answer_only(f"{SECRET}-2")
    api = make_api(script, FakeTime(), auth=TokenAuth(source))
    assert await api.request("GET", "/x") == {"ok": True}
    assert [r.headers["X-Auth-Token"] for r in script.seen] == [f"{SECRET}-1", f"{SECRET}-2"]
    assert source.invalidated == [f"{SECRET}-1"]


async def test_second_401_is_not_retried_again() -> None:
    """If the refreshed token is refused too, the caller gets AuthError after two requests."""
    source = RotatingSource()
    script = Script(DENIED)
    api = make_api(script, FakeTime(), auth=TokenAuth(source))
    with pytest.raises(AuthError, match=r"APIG\.1002"):
        await api.request("GET", "/x")
    assert len(script.seen) == 2


async def test_401_with_no_other_token_is_not_retried() -> None:
    """A static token cannot change, so a 401 is final after one request."""
    script = Script(DENIED)
    api = make_api(script, FakeTime(), auth=TokenAuth(StaticToken(SECRET, "env FDI_TOKEN")))
    with pytest.raises(AuthError):
        await api.request("GET", "/x")
    assert len(script.seen) == 1


async def test_retried_put_resends_its_body() -> None:
    """The request sent again after a 401 carries the same body."""
    script = answer_only(f"{SECRET}-2")
    api = make_api(script, FakeTime(), auth=TokenAuth(RotatingSource()))
    await api.request("PUT", "/x", json={"task_detail": "{}"})
    assert [r.content for r in script.seen] == [b'{"task_detail":"{}"}'] * 2


@pytest.mark.parametrize("bad", ["two words", "line\nbreak", "tab\there", "caf\u00e9"])
async def test_token_a_header_cannot_carry_is_refused_before_sending(bad: str) -> None:
    """A token with spaces, control or non-ASCII characters is AuthError, never a request."""
    script = Script(OK)
    api = make_api(script, FakeTime(), auth=TokenAuth(StaticToken(bad, "env FDI_TOKEN")))
    with pytest.raises(AuthError, match="env FDI_TOKEN") as caught:
        await api.request("GET", "/x")
    assert bad not in str(caught.value)
    assert script.seen == []


def test_sync_clients_are_refused_clearly() -> None:
    """Using TokenAuth with a sync client raises a RuntimeError that says why."""
    with (
        httpx.Client(
            transport=httpx.MockTransport(Script(OK)), auth=TokenAuth(RotatingSource())
        ) as client,
        pytest.raises(RuntimeError, match="AsyncClient"),
    ):
        client.get("https://x.test/")


async def test_static_token_that_is_empty_is_auth_error() -> None:
    """An empty static token is AuthError naming where it came from."""
    with pytest.raises(AuthError, match="env FDI_TOKEN"):
        await StaticToken("  \n", "env FDI_TOKEN").get()


async def test_file_token_strips_the_trailing_newline(tmp_path: Path) -> None:
    """A secret file's trailing newline is not part of the token."""
    path = tmp_path / "token"
    path.write_text(f"{SECRET}\n")
    assert await FileToken(path).get() == SECRET


async def test_file_token_picks_up_a_rewritten_file(tmp_path: Path) -> None:
    """Writing a new token into the file is seen on the next get."""
    path = tmp_path / "token"
    path.write_text("first-token\n")
    source = FileToken(path)
    assert await source.get() == "first-token"
    path.write_text("second-token-longer\n")
    assert await source.get() == "second-token-longer"


async def test_file_token_follows_a_rotated_kubernetes_secret(tmp_path: Path) -> None:
    """A secret rotated by swapping the symlink target (same size, new inode) is seen."""
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    (tmp_path / "v1" / "token").write_text("token-aaaa\n")
    (tmp_path / "v2" / "token").write_text("token-bbbb\n")
    (tmp_path / "..data").symlink_to("v1")
    path = tmp_path / "token"
    path.symlink_to("..data/token")
    source = FileToken(path)
    assert await source.get() == "token-aaaa"
    (tmp_path / "..data_tmp").symlink_to("v2")
    (tmp_path / "..data_tmp").replace(tmp_path / "..data")
    assert await source.get() == "token-bbbb"


async def test_file_token_is_cached_until_the_file_changes_or_is_invalidated(
    tmp_path: Path,
) -> None:
    """An unchanged file is not re-read; after invalidate it is, even if it looks the same."""
    path = tmp_path / "token"
    path.write_text("token-aaaa")
    before = path.stat()
    source = FileToken(path)
    assert await source.get() == "token-aaaa"
    path.write_text("token-bbbb")  # same size; put the old mtime back so it looks unchanged
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert await source.get() == "token-aaaa"
    await source.invalidate("some-other-token")
    assert await source.get() == "token-aaaa"
    await source.invalidate("token-aaaa")
    assert await source.get() == "token-bbbb"


async def test_file_token_rotation_ends_a_401(tmp_path: Path) -> None:
    """After a 401 the file is read again, and a token rotated meanwhile is retried."""
    path = tmp_path / "token"
    path.write_text("token-aaaa")
    before = path.stat()
    source = FileToken(path)
    await source.get()
    path.write_text("token-bbbb")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    script = answer_only("token-bbbb")
    api = make_api(script, FakeTime(), auth=TokenAuth(source))
    assert await api.request("GET", "/x") == {"ok": True}
    assert len(script.seen) == 2


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty"), (b" \n\n", "empty"), (b"\xff\xfe" + SECRET.encode(), "UTF-8")],
)
async def test_unusable_token_file_is_auth_error_naming_the_path(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    """An empty or non-text file is AuthError naming the path and never the content."""
    path = tmp_path / "token"
    path.write_bytes(content)
    with pytest.raises(AuthError, match=problem) as caught:
        await FileToken(path).get()
    assert str(path) in str(caught.value)
    assert SECRET not in str(caught.value) and caught.value.__cause__ is None


async def test_missing_token_file_is_auth_error_naming_the_path(tmp_path: Path) -> None:
    """A token file that is not there is AuthError naming the path."""
    path = tmp_path / "absent"
    with pytest.raises(AuthError, match="cannot read") as caught:
        await FileToken(path).get()
    assert str(path) in str(caught.value)


async def test_no_token_appears_in_reprs_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The token is absent from every repr, error text, cause and log line of a failing flow."""
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "token"
    path.write_text(SECRET)
    file_source = FileToken(path)
    static = StaticToken(SECRET, "env FDI_TOKEN")
    texts = [repr(file_source), repr(static), str(static), repr(TokenAuth(file_source))]
    texts += [file_source.describe(), static.describe()]
    for source in (file_source, static):
        script = Script(json_response(500, {}), DENIED)
        api = make_api(script, FakeTime(), auth=TokenAuth(source))
        with pytest.raises(AuthError) as caught:
            await api.request("GET", "/x")
        assert script.seen[0].headers["X-Auth-Token"] == SECRET
        error: BaseException | None = caught.value
        while error is not None:
            texts += [str(error), repr(error)]
            error = error.__cause__ or error.__context__
    texts += [record.getMessage() for record in caplog.records]
    assert all(SECRET not in text for text in texts)
