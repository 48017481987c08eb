"""The official DRS SDK against an emulator process: the process, clients, and a loss check.

`lost_fields` walks a raw JSON answer beside what the SDK made of it, guided by the SDK model's
declared types: a key the model declares must hold the JSON type the model names and come
through the SDK as that type; a key it does not declare must be listed as known, with a reason.
The SDK converts silently (`str(32)`, `bool("false")`), so both sides are checked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkdrs.v5 import DrsClient
from huaweicloudsdkdrs.v5 import model as drs_model

from fdi_drift.demo import SAMPLES
from tests.emulator.signer import sign

PROJECT = "c53626012ba84727b938ca8bf03108ef"
JOB = "b84f2d6a-1c3e-4a5b-9d7f-0e2c4a6b8jb01"
ACCESS_KEY = "CONFORMANCEAK0001"
SECRET_KEY = "conformance-secret-key-0001"
DEADLINE_SECONDS = 30.0

# JSON types each primitive the SDK models name must have in the answer, and in the SDK's object.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "float": (int, float),
}
_SDK_TYPES: dict[str, tuple[type, ...]] = {
    **_JSON_TYPES,
    "float": (float,),
    "date": (dt.date,),
    "datetime": (dt.datetime,),
}
_DICT = re.compile(r"dict\(str, (.+)\)")
_INDEX = re.compile(r"\[[^\]]*\]")


@contextlib.contextmanager
def emulator_process() -> Iterator[str]:
    """`fdi-drift emulator` on 127.0.0.1 with the samples and one key pair; its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fdi_drift.cli",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--seed",
            str(SAMPLES),
            "--key-pair",
            f"{ACCESS_KEY}:{SECRET_KEY}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline()
    try:
        assert "emulator listening on" in line, line + process.stderr.read()
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE_SECONDS)
        process.stdout.close()
        process.stderr.close()


def sdk_client(url: str, secret_key: str = SECRET_KEY) -> DrsClient:
    """The official DrsClient on the emulator, signing with AK/SK for PROJECT."""
    credentials = BasicCredentials(ACCESS_KEY, secret_key, PROJECT)
    return DrsClient.new_builder().with_credentials(credentials).with_endpoints([url]).build()


def raw_json(
    url: str, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None
) -> Any:
    """The answer's JSON, fetched apart from the SDK, signed by the tests' own signer."""
    with httpx.Client(base_url=url, timeout=DEADLINE_SECONDS) as http:
        request = http.build_request(
            method, path, params=params, json=body, headers={"X-Project-Id": PROJECT}
        )
        signed = ("host", "x-project-id", "x-sdk-date")  # the body is signed by its hash
        answer = http.send(sign(request, ACCESS_KEY, SECRET_KEY, at=time.time(), signed=signed))
    assert answer.status_code == 200, answer.text
    return answer.json()


def lost_fields(raw: Any, sdk: Any, type_name: str, known: Mapping[str, str]) -> list[str]:
    """What of `raw` did not come through `sdk` (typed `type_name`); `known` keys excepted.

    `known` maps a path (`job.db_object`; list items and map entries written `[]`) to the
    reason the model lacks it.
    """
    found: list[str] = []
    _walk(raw, sdk, type_name, "", known, found)
    return found


def _walk(
    raw: Any, sdk: Any, type_name: str, where: str, known: Mapping[str, str], found: list[str]
) -> None:
    if raw is None:
        return
    if type_name.startswith("list["):
        if not isinstance(raw, list) or not isinstance(sdk, list) or len(sdk) != len(raw):
            found.append(f"{where}: {_shape(raw)} answered, {_shape(sdk)} from the SDK")
            return
        for index, (item, made) in enumerate(zip(raw, sdk, strict=True)):
            _walk(item, made, type_name[5:-1], f"{where}[{index}]", known, found)
        return
    mapped = _DICT.fullmatch(type_name)
    if mapped:
        if not isinstance(raw, dict) or not isinstance(sdk, dict) or set(sdk) != set(raw):
            found.append(f"{where}: {_shape(raw)} answered, {_shape(sdk)} from the SDK")
            return
        for key, item in raw.items():
            _walk(item, sdk[key], mapped.group(1), f"{where}[{key!r}]", known, found)
        return
    if type_name == "object":
        if sdk != raw:
            found.append(f"{where}: the SDK changed the value")
        return
    if type_name in _SDK_TYPES:
        if not _has_type(raw, _JSON_TYPES.get(type_name, (str,))):  # dates are answered as text
            found.append(f"{where}: {_shape(raw)} answered where the model says {type_name}")
        elif not _has_type(sdk, _SDK_TYPES[type_name]):
            found.append(f"{where}: the SDK made {_shape(sdk)} of it, not {type_name}")
        return
    model = getattr(drs_model, type_name)
    if not isinstance(raw, dict) or not isinstance(sdk, model):
        found.append(f"{where}: {_shape(raw)} answered, {_shape(sdk)} from the SDK")
        return
    attributes = {key: name for name, key in model.attribute_map.items()}
    for key, item in raw.items():
        path = f"{where}.{key}" if where else key
        name = attributes.get(key)
        if name is None:
            if _INDEX.sub("[]", path) not in known:
                found.append(f"{path}: not declared by {type_name}")
            continue
        if item is not None and getattr(sdk, name) is None:
            found.append(f"{path}: answered, but None from the SDK")
            continue
        _walk(item, getattr(sdk, name), model.openapi_types[name], path, known, found)


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    """isinstance, except that a boolean is no number."""
    return isinstance(value, types) and (not isinstance(value, bool) or bool in types)


def _shape(value: Any) -> str:
    return "null" if value is None else type(value).__name__
