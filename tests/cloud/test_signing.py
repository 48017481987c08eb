"""AK/SK signing, cross-checked against the official SDK's signer on a table of requests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from fdi_drift.cloud.signing import AkSkAuth, FileKeys, KeyPair, RefusedKeys, StaticKeys
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.app import KeyPair as EmulatorKeyPair
from fdi_drift.errors import AuthError

KEYS = KeyPair("QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc")
NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC).timestamp()
PROJECT = "c53626012ba84727b938ca8bf03108ef"
TASKS = f"/v2/{PROJECT}/fdi/instances/fae7ff6c-8e07-4cf8-9e67-589cab2f017c/tasks"

TABLE: list[tuple[str, str, dict[str, list[str]] | None, object]] = [
    ("GET", f"{TASKS}/9496207a5d6b44b486d79005b5815bd4", None, None),
    ("GET", TASKS, {"offset": ["0"], "limit": ["500"]}, None),
    (
        "PUT",
        f"{TASKS}/9496207a5d6b44b486d79005b5815bd4",
        None,
        {"task": {"task_name": "t"}, "task_detail": "{}"},
    ),
    ("GET", TASKS, {"name": ["orders to mysql"], "task_tag": ["é+/~*"]}, None),
    ("GET", TASKS, {"status": ["1", "0"], "a": ["z", "y"]}, None),
    ("GET", f"/v5/{PROJECT}/jobs/b84f2d6a-1c3e", {"type": ["detail"]}, None),
    ("POST", f"/v2/{PROJECT}/fdi/instances/i-1/multi-tasks/init", None, {"auto_mapping": True}),
    ("GET", "/v2/p/fdi/instances/i/tasks/t%20x", {"q": ["a=b&c"]}, None),
]


def sign_with_httpx(
    method: str, path: str, query: dict[str, list[str]] | None, body: object
) -> httpx.Request:
    """Build the request as our client does, and run our auth flow over it."""
    params = [(k, v) for k, values in (query or {}).items() for v in values]
    request = httpx.Request(
        method, f"https://roma.cn-north-4.myhuaweicloud.com{path}", params=params, json=body
    )
    flow = AkSkAuth(StaticKeys(KEYS, "test"), clock=lambda: NOW).async_auth_flow(request)
    return asyncio.run(anext(flow))  # the first request the flow sends, signed


def sign_with_sdk(request: httpx.Request) -> str:
    """The official signer's Authorization for the same method, path, query, headers and body."""
    split = urlsplit(str(request.url))
    signed_names = (
        request.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    )
    headers = {name: request.headers[name] for name in signed_names}
    sdk_request = SdkRequest(
        method=request.method,
        schema="https",
        host=split.netloc,
        resource_path=split.path,
        query_params=list(request.url.params.multi_items()),
        header_params=headers,
        body=request.content or "",
    )
    Signer(BasicCredentials(KEYS.access_key, KEYS.secret_key)).sign(sdk_request)
    return str(sdk_request.header_params["Authorization"])


@pytest.mark.parametrize(("method", "path", "query", "body"), TABLE)
def test_signature_equals_the_official_sdk(
    method: str, path: str, query: dict[str, list[str]] | None, body: object
) -> None:
    """Our Authorization header is the SDK's, byte for byte, for every request in the table."""
    request = sign_with_httpx(method, path, query, body)
    assert request.headers["X-Sdk-Date"] == "20261123T120000Z"
    assert request.headers["Authorization"] == sign_with_sdk(request)
    assert request.headers["Authorization"].startswith(
        f"SDK-HMAC-SHA256 Access={KEYS.access_key}, "
    )
    if path.startswith(("/v2/", "/v5/")):
        assert request.headers["X-Project-Id"] == path.split("/")[2]


def test_signed_headers_cover_host_date_project_and_body_type() -> None:
    """host, x-sdk-date, x-project-id and (with a body) content-type are signed."""
    get = sign_with_httpx("GET", f"{TASKS}/t", None, None)
    put = sign_with_httpx("PUT", f"{TASKS}/t", None, {"a": 1})
    assert "SignedHeaders=host;x-project-id;x-sdk-date," in get.headers["Authorization"]
    assert (
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date," in put.headers["Authorization"]
    )


def test_the_secret_never_shows() -> None:
    """Neither the key pair's repr nor the signed request carries the secret key."""
    request = sign_with_httpx("GET", f"{TASKS}/t", None, None)
    assert KEYS.secret_key not in repr(KEYS)
    assert KEYS.secret_key not in str(request.headers)


def respond(status: int, date: float | None = None) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = (
            {}
            if date is None
            else {"Date": format_datetime(datetime.fromtimestamp(date, UTC), usegmt=True)}
        )
        return httpx.Response(
            status, headers=headers, json={"error_code": "APIG.0301", "error_msg": "x"}
        )

    return handler


async def test_a_401_is_not_retried_with_the_same_keys(tmp_path: Path) -> None:
    """A rejected signature is sent once; after the key files change, once more with new keys."""
    (tmp_path / "ak").write_text("AK1\n")
    (tmp_path / "sk").write_text("SK1\n")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"].split(",")[0])
        if len(seen) == 1:
            (tmp_path / "ak").write_text("AK2\n")  # rotated while the first request was out
        return httpx.Response(401, json={"error_code": "APIG.0301", "error_msg": "x"})

    auth = AkSkAuth(FileKeys(tmp_path / "ak", tmp_path / "sk"), clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
        await client.get(f"https://x{TASKS}")
        with pytest.raises(
            AuthError, match=r"refused this key pair 0s ago \(HTTP 401\); not sent again"
        ):
            await client.get(f"https://x{TASKS}")
    assert seen == ["SDK-HMAC-SHA256 Access=AK1", "SDK-HMAC-SHA256 Access=AK2"]


async def test_refused_keys_are_held_for_every_client_until_they_change(tmp_path: Path) -> None:
    """After a 401 no client sends the same keys for a minute; new keys, or time, lift it."""
    (tmp_path / "ak").write_text("AK1\n")
    (tmp_path / "sk").write_text("SK1\n")
    now = [NOW]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"].split(",")[0].rsplit("=", 1)[1])
        return httpx.Response(200 if seen[-1] == "AK2" else 401, json={})

    keys, refused = FileKeys(tmp_path / "ak", tmp_path / "sk"), RefusedKeys(hold_seconds=60)
    transport = httpx.MockTransport(handler)
    clients = [
        httpx.AsyncClient(
            transport=transport, auth=AkSkAuth(keys, clock=lambda: now[0], refused=refused)
        )
        for _ in range(2)
    ]
    assert (await clients[0].get(f"https://x{TASKS}")).status_code == 401
    for client in clients:  # the other client (another service's) holds back too
        with pytest.raises(AuthError, match="not sent again for 60s"):
            await client.get(f"https://x{TASKS}")
    now[0] += 61
    assert (await clients[1].get(f"https://x{TASKS}")).status_code == 401  # one more try
    (tmp_path / "ak").write_text("AK2\n")
    assert (await clients[0].get(f"https://x{TASKS}")).status_code == 200
    assert seen == ["AK1", "AK1", "AK2"]
    for client in clients:
        await client.aclose()


async def test_clock_skew_is_named_plainly() -> None:
    """A 401 from a server whose Date is 20 minutes away says the clock is off."""
    auth = AkSkAuth(StaticKeys(KEYS, "test"), clock=lambda: NOW)
    transport = httpx.MockTransport(respond(401, NOW - 20 * 60))
    async with httpx.AsyncClient(transport=transport, auth=auth) as client:
        with pytest.raises(AuthError, match="clock is 20 minutes ahead of the server's"):
            await client.get(f"https://x{TASKS}")


async def test_unreadable_key_file_names_the_file_not_a_key(tmp_path: Path) -> None:
    """A missing key file is an AuthError naming it."""
    keys = FileKeys(tmp_path / "ak", tmp_path / "sk")
    with pytest.raises(AuthError, match=r"cannot read .*/ak"):
        await keys.get()


def test_bodies_are_hashed_exactly() -> None:
    """Changing one byte of the body changes the signature."""
    one = sign_with_httpx("PUT", f"{TASKS}/t", None, {"a": 1})
    two = sign_with_httpx("PUT", f"{TASKS}/t", None, {"a": 2})
    assert json.loads(one.content) != json.loads(two.content)
    assert one.headers["Authorization"] != two.headers["Authorization"]


def test_the_query_is_sent_exactly_as_signed() -> None:
    """A space travels as %20 (not httpx's +) and pairs in signing order, as the SDKs send them."""
    request = sign_with_httpx("GET", TASKS, {"name": ["orders to mysql"], "a": ["x"]}, None)
    assert request.url.query == b"a=x&name=orders%20to%20mysql"


async def test_the_emulator_accepts_what_we_sign() -> None:
    """The independently written verifier in the emulator accepts every request of the table."""
    emulator = Emulator(
        EmulatorConfig(key_pairs=(EmulatorKeyPair(KEYS.access_key, KEYS.secret_key),))
    )
    auth = AkSkAuth(StaticKeys(KEYS, "test"), clock=time.time)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="https://roma.test", auth=auth
    ) as client:
        for method, path, query, body in TABLE:
            params = [(k, v) for k, values in (query or {}).items() for v in values]
            answer = await client.request(method, path, params=params, json=body)
            assert answer.status_code != 401, (path, answer.text)
    assert emulator.credentials.failures(KEYS.access_key) == 0
