"""The emulated cloud as one ASGI app: FDI task routes, DRS job routes, CTS traces, IAM login,
control API.

A request to a cloud API route goes through, in order: the configured latency, a planned fault
(faults.py; a `processed` one lets everything after it run first and replaces only the answer,
which it may also delay, drip or cut), a random fault, authentication (a request whose
Authorization header names `SDK-HMAC-SHA256` is checked as signed by credentials.py, any other
needs an `X-Auth-Token` that iam.py accepts), the path id check (1-64 characters, else 400
naming the id, with an FDI or DRS error code) and the route itself (fdi.py for
common and composite tasks, composite.py for `multi-tasks`, drs.py for `/v5/.../jobs`,
instances.py for the ROMA instance list `/v2/{project_id}/instances`, cts.py for
`/v3/{project_id}/traces`). Authentication names the caller: the IAM user who logged in, the
static token's user or the key pair's owner. Every write route (task update, run, terminate,
composite create, init and modify, DRS job update) that answers 2xx records a CTS trace
attributed to the caller, with the request id the answer went out with, even when a
`processed` fault then hides the answer; failed writes and reads record nothing. IAM
login gets the latency and planned faults only; `/_emulator/` control routes get none of it
and are not recorded. Any other method and path answers 404 `APIG.0101` as the API gateway does.
Every answer carries a `Date` header from the emulator's clock and a new `X-Request-Id`
(replies.py); the request log records each answer's request id.

`serve()` runs an Emulator under uvicorn in the caller's event loop; see its docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

import orjson
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fdi_drift.emulator.composite import CompositeApi
from fdi_drift.emulator.control import PREFIX, ControlApi
from fdi_drift.emulator.credentials import KeyPair, KeyPairAuthority, check_distinct
from fdi_drift.emulator.cts import (
    CREATE_TASK,
    MODIFY_JOB,
    OPERATE_TASK,
    UPDATE_TASK,
    CtsApi,
    Operation,
    TraceStore,
    Write,
    invalid_project,
)
from fdi_drift.emulator.drs import DrsApi
from fdi_drift.emulator.drs_store import DrsStore
from fdi_drift.emulator.faults import Fault, FaultInjector, RandomFaults
from fdi_drift.emulator.fdi import FdiApi
from fdi_drift.emulator.iam import Caller, IamUser, TokenAuthority
from fdi_drift.emulator.instances import InstanceApi
from fdi_drift.emulator.recording import RecordedRequest, safe_body
from fdi_drift.emulator.replies import (
    REQUEST_ID_HEADER,
    Reply,
    dated,
    drs_invalid_parameter,
    header,
    invalid_parameter,
    no_such_api,
    stamped,
    with_request_id,
)
from fdi_drift.emulator.signing import is_signed
from fdi_drift.emulator.store import TaskStatus, TaskStore
from fdi_drift.emulator.validation import FieldError, check_id

__all__ = [
    "Caller",
    "Emulator",
    "EmulatorConfig",
    "IamUser",
    "KeyPair",
    "RecordedRequest",
    "serve",
]

IAM_LOGIN = "/v3/auth/tokens"
_INSTANCE = r"/v2/(?P<project_id>[^/]*)/fdi/instances/(?P<instance_id>[^/]*)"
_TASKS = _INSTANCE + "/tasks"
_TASK = _TASKS + r"/(?P<task_id>[^/]*)"
_MULTI_TASKS = _INSTANCE + "/multi-tasks"
_ROMA_INSTANCES = r"/v2/(?P<project_id>[^/]*)/instances"
_JOBS = r"/v5/(?P<project_id>[^/]*)/jobs"
_JOB = _JOBS + r"/(?P<job_id>[^/]*)"
_TRACES = r"/v3/(?P<project_id>[^/]*)/traces"
_ROUTES = (
    ("GET", re.compile(_TASKS), "list"),
    ("GET", re.compile(_TASK), "get"),
    ("PUT", re.compile(_TASK), "update"),
    ("POST", re.compile(_TASK + "/run"), "run"),
    ("POST", re.compile(_TASK + "/terminate"), "terminate"),
    ("POST", re.compile(_MULTI_TASKS), "create_composite"),
    ("POST", re.compile(_MULTI_TASKS + "/init"), "init_composite"),
    ("PUT", re.compile(_MULTI_TASKS + r"/(?P<task_id>[^/]*)"), "update_composite"),
    ("GET", re.compile(_ROMA_INSTANCES), "list_instances"),
    ("GET", re.compile(_JOBS), "list_jobs"),
    ("GET", re.compile(_JOB), "get_job"),
    ("PUT", re.compile(_JOB), "update_job"),
    ("GET", re.compile(_TRACES), "list_traces"),
)
_DRS_ROUTES = frozenset({"list_jobs", "get_job", "update_job"})
# The write routes and what CTS records each as (cts.py).
_WRITES: dict[str, Operation] = {
    "update": UPDATE_TASK,
    "run": OPERATE_TASK,
    "terminate": OPERATE_TASK,
    "create_composite": CREATE_TASK,
    "init_composite": UPDATE_TASK,
    "update_composite": UPDATE_TASK,
    "update_job": MODIFY_JOB,
}


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How the emulated cloud behaves; rates are shares of API requests, 0 to 1."""

    seed_dir: pathlib.Path | None = None
    # static tokens accepted as X-Auth-Token, any project
    tokens: frozenset[str] = field(default=frozenset(), repr=False)
    # who a static token acts as in CTS traces, where not iam.TOKEN_USER; each must be in tokens
    token_users: tuple[tuple[str, Caller], ...] = field(default=(), repr=False)
    users: tuple[IamUser, ...] = ()  # accounts for IAM password login
    key_pairs: tuple[KeyPair, ...] = ()  # AK/SK pairs for signed requests, any project
    token_ttl_seconds: float = 86400.0
    latency_ms: int = 0  # added to every answer except the control API's
    fail_rate: float = 0.0  # share of API requests answered 500 (random)
    throttle_rate: float = 0.0  # share answered 429 with Retry-After
    random_seed: int | None = None  # makes the random faults repeatable
    retry_after_seconds: int = 1  # what a random 429 asks for
    fighting: bool = False  # another writer undoes every update (store.py)
    cts_delay_seconds: float = 0.0  # a trace is listed this long after its write (cts.py)

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if self.token_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds must be positive")
        if self.cts_delay_seconds < 0:
            raise ValueError("cts_delay_seconds must not be negative")
        if any(token not in self.tokens for token, _ in self.token_users):
            raise ValueError("a token given a user must be one of the static tokens")
        check_distinct(self.key_pairs)


class Emulator:
    """The emulated cloud: an ASGI app plus handles tests use to look inside.

    `store` holds the FDI tasks of both kinds (and so the ROMA instances they live in), `drs`
    the DRS jobs; both obey `store.fighting`.
    `credentials` holds the AK/SK key pairs (`set_key_pairs` rotates them) and the lockout state.
    `traces` holds the CTS traces of successful writes.
    Building one loads `config.seed_dir` (common tasks, then composite tasks, then DRS jobs)
    and raises SeedError (naming the file and field) when a seed is unusable, and ValueError
    for impossible rates (EmulatorConfig refuses an access key given twice the same way).
    """

    def __init__(self, config: EmulatorConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self.credentials = KeyPairAuthority(config.key_pairs, clock)
        self.requests: list[RecordedRequest] = []
        self.faults = FaultInjector()
        self.store = TaskStore(clock)
        self.drs = DrsStore(clock, fighting=lambda: self.store.fighting)
        self.traces = TraceStore(clock, delay_seconds=config.cts_delay_seconds)
        if config.seed_dir is not None:
            self.store.load_seed_dir(config.seed_dir)
            self.store.load_composite_seed_dir(config.seed_dir)
            self.drs.load_seed_dir(config.seed_dir)
        # Public so that a test can start throttling once its set-up is done.
        self.random_faults = RandomFaults(
            config.fail_rate, config.throttle_rate, config.random_seed, config.retry_after_seconds
        )
        self._iam = TokenAuthority(
            users=config.users,
            static_tokens=config.tokens,
            ttl_seconds=config.token_ttl_seconds,
            clock=clock,
            token_users=dict(config.token_users),
        )
        self._fdi = FdiApi(self.store)
        self._composite = CompositeApi(self.store, clock)
        self._drs = DrsApi(self.drs, clock)
        self._instances = InstanceApi(self.store)
        self._cts = CtsApi(self.traces)
        self._control = ControlApi(
            self.requests, self.faults, self.store, credentials=self.credentials, traces=self.traces
        )
        self.store.fighting = config.fighting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        path: str = scope["path"]
        fault: Fault | None = None
        write: Write | None = None
        control = path.startswith(PREFIX)
        if control:
            reply = self._control.handle(request.method, path, body)
        else:
            reply, fault, write = await self._answer(request, path, body)
        reply = stamped(dated(reply, self._clock()), uuid.uuid4().hex)
        if not control:
            query = scope["query_string"].decode("latin-1")
            request_id = header(reply, REQUEST_ID_HEADER) or ""
            self.requests.append(
                RecordedRequest(
                    request.method, path, query, safe_body(body), reply.status, request_id
                )
            )
            if write is not None:
                self.traces.record(write, request_id)
        if fault is None:
            await _send_whole(reply, scope, receive, send)
        else:
            await _unless_gone(_deliver(fault, reply, scope, receive, send), receive)

    async def _answer(
        self, request: Request, path: str, body: bytes
    ) -> tuple[Reply, Fault | None, Write | None]:
        """The answer, the fault behind it if any, and the write to trace if the route wrote."""
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        fault = self.faults.take(request.method, path)
        if fault is not None and not fault.processed:
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault.reply is not None:
                return fault.reply, fault, None
        answer, write = self._route(request, path, body)
        # A processed fault lets the route change state, then hides its answer.
        return (answer if fault is None or fault.reply is None else fault.reply), fault, write

    def _route(self, request: Request, path: str, body: bytes) -> tuple[Reply, Write | None]:
        if request.method == "POST" and path == IAM_LOGIN:
            return self._iam.login(body), None
        for method, pattern, name in _ROUTES:
            matched = pattern.fullmatch(path)
            if matched and method == request.method:
                return self._api(request, name, matched.groupdict(), body)
        return no_such_api(), None

    def _api(
        self, request: Request, name: str, ids: dict[str, str], body: bytes
    ) -> tuple[Reply, Write | None]:
        drawn = self.random_faults.draw()
        if drawn is not None:
            return drawn, None
        caller = self._authenticate(request, ids["project_id"], body)
        if isinstance(caller, Reply):
            return caller, None
        try:
            for key, value in ids.items():
                check_id(key, value)
        except FieldError as exc:
            return _refused_id(name, exc), None
        answer = self._dispatch(request, name, ids, body)
        operation = _WRITES.get(name)
        if operation is None or not 200 <= answer.status < 300:
            return answer, None
        return answer, self._write(request, operation, ids, answer, caller)

    def _dispatch(self, request: Request, name: str, ids: dict[str, str], body: bytes) -> Reply:
        if name == "list_traces":
            return self._cts.list_traces(ids["project_id"], request.query_params)
        if name in _DRS_ROUTES:
            return self._drs_api(name, ids, request.query_params, body)
        if name == "list_instances":
            return self._instances.list_instances(ids["project_id"], request.query_params)
        instance = (ids["project_id"], ids["instance_id"])
        if name == "list":
            return self._fdi.list_tasks(*instance, request.query_params)
        if name == "create_composite":
            return self._composite.create(*instance, body)
        if name == "init_composite":
            return self._composite.init(*instance, body)
        scope = (*instance, ids["task_id"])
        if name == "update_composite":
            return self._composite.update(*scope, body)
        if name == "get":
            return self._fdi.get_task(*scope)
        if name == "update":
            return self._fdi.update_task(*scope, body)
        status = TaskStatus.RUNNING if name == "run" else TaskStatus.STOP
        return self._fdi.set_status(*scope, status)

    def _write(
        self,
        request: Request,
        operation: Operation,
        ids: dict[str, str],
        answer: Reply,
        caller: Caller,
    ) -> Write:
        """What CTS records of a successful write: which resource, by whom, from where."""
        project_id = ids["project_id"]
        if "job_id" in ids:
            resource_id = ids["job_id"]
            job = self.drs.get(project_id, resource_id)
            resource_name = "" if job is None else job.name
            resource_url = f"/v5/{project_id}/jobs/{resource_id}"
        else:
            instance_id = ids["instance_id"]
            resource_id = ids.get("task_id") or _answered_task_id(answer.body)
            task = self.store.lookup(project_id, instance_id, resource_id)
            resource_name = "" if task is None else task.task_name
            resource_url = f"/v2/{project_id}/fdi/instances/{instance_id}/tasks/{resource_id}"
        client = request.client
        return Write(
            operation=operation,
            project_id=project_id,
            resource_id=resource_id,
            resource_name=resource_name,
            resource_url=resource_url,
            caller=caller,
            source_ip=client.host if client is not None else "",
            endpoint=f"{request.url.scheme}://{request.url.netloc}",
            code=answer.status,
        )

    def _authenticate(self, request: Request, project_id: str, body: bytes) -> Caller | Reply:
        if is_signed(request.headers.get("authorization")):
            return self.credentials.check(
                method=request.method,
                path=request.scope["path"],
                query_string=request.scope["query_string"],
                headers=request.headers,
                body=body,
            )
        return self._iam.authorize(request.headers.get("x-auth-token"), project_id)

    def _drs_api(
        self, name: str, ids: dict[str, str], query: Mapping[str, str], body: bytes
    ) -> Reply:
        if name == "list_jobs":
            return self._drs.list_jobs(ids["project_id"], query)
        if name == "get_job":
            return self._drs.get_job(ids["project_id"], ids["job_id"], query)
        return self._drs.update_job(ids["project_id"], ids["job_id"], body)


def _refused_id(name: str, exc: FieldError) -> Reply:
    """The answer to a path id the check refused, in the route's service's error shape."""
    if name in _DRS_ROUTES:
        return drs_invalid_parameter(exc.field, exc.problem)
    if name == "list_traces":
        return invalid_project()
    refused = invalid_parameter(exc.field, exc.problem)
    return with_request_id(refused) if name == "list_instances" else refused


def _answered_task_id(body: bytes) -> str:
    """The task id a composite create (`{"task_id"}`) or init (`[{"task_id"}]`) answered."""
    answer = orjson.loads(body)
    if isinstance(answer, list) and answer:
        answer = answer[0]
    task_id = answer.get("task_id") if isinstance(answer, dict) else None
    return task_id if isinstance(task_id, str) else ""


async def serve(
    emulator: Emulator,
    host: str,
    port: int,
    ready: Callable[[str], None],
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve `emulator` under uvicorn until `stop` is set, then shut down gracefully.

    `ready(url)` is called once the socket listens, with the real port when `port` is 0
    (e.g. `http://127.0.0.1:41234`). Signals are left to the caller. Cancelling the task also
    ends it, but without waiting for requests in flight. Raises OSError if it cannot listen.
    """
    config = uvicorn.Config(
        emulator,
        host=host,
        port=port,
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        date_header=False,  # the emulator dates its answers by its own clock
        timeout_graceful_shutdown=5,
    )
    server = _Server(config, lambda real_port: ready(_url(host, real_port)))
    watcher = asyncio.create_task(_exit_on(stop, server)) if stop is not None else None
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits the process when it cannot bind
        raise OSError(f"cannot listen on {host}:{port}") from exc
    except asyncio.CancelledError:
        for listener in getattr(server, "servers", []):
            listener.close()
        raise
    finally:
        if watcher is not None:
            watcher.cancel()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_listening: Callable[[int], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would take SIGINT/SIGTERM and re-raise them after shutting down; the caller
        # decides what a signal means instead.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            listening = self.servers[0].sockets[0].getsockname()
            self._on_listening(int(listening[1]))


async def _exit_on(stop: asyncio.Event, server: uvicorn.Server) -> None:
    await stop.wait()
    server.should_exit = True


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _send_whole(reply: Reply, scope: Scope, receive: Receive, send: Send) -> None:
    """Send `reply` in one piece, as every answer without a fault goes out."""
    response = Response(reply.body, status_code=reply.status, headers=dict(reply.headers))
    await response(scope, receive, send)


async def _deliver(fault: Fault, reply: Reply, scope: Scope, receive: Receive, send: Send) -> None:
    """Send the answer to a faulted request: late if the route ran first, dripped or cut."""
    if fault.processed and fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault.streamed:
        await _stream(reply, fault, send)
    else:
        await _send_whole(reply, scope, receive, send)


async def _stream(reply: Reply, fault: Fault, send: Send) -> None:
    """Send the headers at once, then the body byte by byte (`drip_ms`) and maybe cut short."""
    body = reply.body
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers]
    if all(name != b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    sent = body if fault.cut_after is None else body[: fault.cut_after]
    pieces = [sent[at : at + 1] for at in range(len(sent))] if fault.drip_ms else [sent]
    for index, piece in enumerate(pieces):
        if index:
            await asyncio.sleep(fault.drip_ms / 1000)
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    if len(sent) == len(body):
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    # Otherwise return with the body unfinished: uvicorn then closes the connection, which is
    # the only way an ASGI app can drop one.


async def _unless_gone(delivery: Awaitable[None], receive: Receive) -> None:
    """Run `delivery` until done or until the client disconnects, whichever comes first.

    uvicorn's `send` silently drops what is sent to a client that has gone, so without this a
    slow drip would keep the server busy (and its shutdown waiting) for nobody.
    """
    sending = asyncio.ensure_future(delivery)
    watching = asyncio.ensure_future(_disconnect(receive))
    try:
        await asyncio.wait((sending, watching), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sending.cancel()
        watching.cancel()
        await asyncio.gather(sending, watching, return_exceptions=True)
    if not sending.cancelled():
        sending.result()


async def _disconnect(receive: Receive) -> None:
    """Return once the client has gone (or the answer is complete); the body is already read."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
