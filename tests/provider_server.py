"""A loopback HTTP server that behaves like Anthropic or OpenAI, for integration tests.

It speaks HTTP/1.1 over raw sockets (one thread per connection, keep-alive) so that
faults can be made at the byte level: a reset mid-body, headers that trickle in, a
body of many megabytes, plain bytes where TLS was expected. It serves:

- the probe endpoint (`GET /v1/models`) with each provider's auth header, error
  bodies, request-id headers, `retry-after` on 429, Anthropic's 529 and its 404 for
  a disabled key;
- the admin endpoints (Anthropic: `GET /v1/organizations/api_keys?status=active`,
  `POST /v1/organizations/api_keys/{id}`; OpenAI: `GET/DELETE
  /v1/organization/projects/{project_id}/api_keys[/{id}]`), paginated;
- a deployment (`GET /health/probe`) implementing the deployment probe contract with
  whichever key it is told to serve;
- the usage reports (Anthropic: `GET /v1/organizations/usage_report/messages`, tokens;
  OpenAI: `GET /v1/organization/usage/completions`, requests and tokens), one-minute
  buckets grouped by key id, from a ledger a test fills (`count`), answered only up to
  `usage_to` (the report's lag), `usage_page` buckets a page.

Every request is recorded (route, headers, body, connection number, time) so a test
can assert, for example, that no admin call happened before the gate opened, and every
accepted TCP connection is counted. `script(route, ...)` queues answers or faults for
the next requests of a route; `always(route, ...)` sets one for every request.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Self
from urllib.parse import parse_qsl, urlsplit

ANTHROPIC = "anthropic"
OPENAI = "openai"
ANTHROPIC_ADMIN = "/v1/organizations/api_keys"
DEPLOYMENT_PATH = "/health/probe"
ANTHROPIC_USAGE = "/v1/organizations/usage_report/messages"
OPENAI_USAGE = "/v1/organization/usage/completions"

#: Named faults a script may use in place of a status code.
FAULTS = (
    "reset_mid_body",  # headers and part of the body, then a TCP reset
    "close",  # the connection closes without an answer
    "html_200",  # 200 with an HTML page (a captive portal, a misrouted proxy)
    "html_502",  # a load balancer's HTML error page
    "truncated_json",  # 200 whose JSON stops half way (content-length matches)
    "huge_body",  # 200 with a body of `huge_size` bytes
    "trickle_headers",  # the status line, then one header byte every `trickle_every`
    "slow",  # wait `slow_seconds`, then answer normally
    "redirect",  # 307 to `redirect_to` (another host) with the same path
    "echo_key",  # 401 whose message repeats the key it was sent (a careless gateway)
    "echo_key_coloured",  # echo_key with a colour escape every 6 characters of the key
    "gzip",  # answer normally, gzip-compressed whatever the client accepts
)


#: How often the accept loop checks for stop(): stop() waits up to this long, once per
#: server (a few hundred tests start one). 100 wake-ups a second cost nothing measurable.
POLL = 0.01


def fingerprint(raw: str) -> str:
    """The project's fingerprint, recomputed here so the server does not import keyturn."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


@dataclass
class Reply:
    """An ordinary answer: status, headers, body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it (header names lower-cased)."""

    conn: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float
    route: str  # models | admin | usage | deployment | other
    #: Every query parameter in order, repeated ones too (`api_key_ids[]`).
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def is_admin_write(self) -> bool:
        return self.route == "admin" and self.method in ("POST", "DELETE")


@dataclass
class ServerKey:
    raw: str
    id: str
    status: str = "active"  # active | inactive | archived | deleted
    name: str = ""
    #: How the admin list shows this key, when not the usual hint (a hostile list).
    shown_hint: str | None = None
    #: False: the key authenticates but the admin list leaves it out.
    listed: bool = True


Action = int | str | Reply | Callable[["Request"], "Reply | str | None"]


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query))

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    def values(self, name: str) -> list[str]:
        """Every value of a repeated parameter, sent as `name` or `name[]`."""
        return [v for k, v in self.pairs if k in (name, name + "[]")]


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, owner: ProviderServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        owner = self.server.owner
        sock: socket.socket = self.request
        conn = owner._connected(sock)
        try:
            if owner.plain_garbage:
                # Where the client expects a TLS handshake, plain bytes arrive.
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n")
                return
            if owner.tls is not None:
                try:
                    sock = owner.tls.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    owner.tls_failures += 1
                    return
                owner._replace(conn, sock)
            sock.settimeout(10)
            reader = sock.makefile("rb")
            while not owner._stopping.is_set():
                request = _read_request(reader)
                if request is None:
                    return
                try:
                    keep = owner._answer(conn, sock, request)
                finally:
                    owner._done_with_one()
                if not keep:
                    return
        except (OSError, ValueError):
            return
        finally:
            owner._disconnected(conn)
            with contextlib.suppress(OSError):
                sock.close()


def _read_request(reader) -> Request | None:
    line = reader.readline(65536)
    if not line:
        return None
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3:
        return None
    method, target, _ = parts
    headers: dict[str, str] = {}
    while True:
        raw = reader.readline(65536)
        if not raw or raw in (b"\r\n", b"\n"):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = reader.read(length) if length else b""
    return Request(method, target, headers, body)


class ProviderServer:
    """Anthropic or OpenAI on 127.0.0.1, with a deployment and the admin API."""

    def __init__(self, flavour: str = ANTHROPIC, tls: ssl.SSLContext | None = None) -> None:
        assert flavour in (ANTHROPIC, OPENAI)
        self.flavour = flavour
        self.tls = tls
        #: Answer every connection with plain HTTP bytes (a TLS handshake failure).
        self.plain_garbage = False
        self.keys: dict[str, ServerKey] = {}
        self.admin_key: str | None = None
        self.project_id = "proj_keyturn_test"
        #: The key the deployment uses; None: the deployment has no key (provider 401).
        self.serving: str | None = None
        self.deployment_reports_fingerprint = True
        self.retry_after: str | None = "1"
        self.slow_seconds = 2.0
        self.huge_size = 8 * 1024 * 1024
        self.trickle_every = 0.05
        self.trickle_for = 3.0
        self.redirect_to = ""
        self.page_size = 20
        #: The usage report's ledger: (minute start, raw key) -> (requests, tokens); it is
        #: answered up to `usage_to` (UTC seconds; None: up to now), `usage_page` buckets a page.
        self.usage: dict[tuple[int, str], tuple[int, int]] = {}
        self.usage_to: int | None = None
        self.usage_page = 10
        #: A key list that ignores `status=active` (lists inactive keys too).
        self.ignore_status_filter = False
        #: Route -> the request id header every answer of that route carries instead of the
        #: server's own (hostile ones: escape sequences, 15 KB; latin-1 characters = bytes).
        self.request_ids: dict[str, str] = {}
        self.compress = True  # gzip JSON when the client accepts it, like the real APIs
        self.requests: list[Recorded] = []
        self.connections = 0
        self.tls_failures = 0
        #: Bytes of body written by `huge_body` answers before the client went away.
        self.huge_bytes_sent = 0
        self._scripts: dict[str, deque[Action]] = {}
        self._always: dict[str, Action] = {}
        self._ids = 0
        self._rid = 0
        self._lock = threading.Lock()
        #: Requests the server is done with: answered, or given up on (a fault, a reset).
        self.finished = 0
        self._finished_changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._open: dict[int, socket.socket] = {}
        self._tcp = _TCPServer(self)
        self.port = self._tcp.server_address[1]
        self._thread = threading.Thread(
            target=self._tcp.serve_forever, kwargs={"poll_interval": POLL}, daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._tcp.shutdown()
        self._tcp.server_close()
        with self._lock:
            socks = list(self._open.values())
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"{'https' if self.tls or self.plain_garbage else 'http'}://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The provider's base_url in its SDK's convention (OpenAI's includes /v1)."""
        return self.url + ("/v1" if self.flavour == OPENAI else "")

    @property
    def deployment_url(self) -> str:
        return self.url + DEPLOYMENT_PATH

    # -- world ------------------------------------------------------------------------
    def add_key(self, raw: str, status: str = "active", name: str = "") -> ServerKey:
        with self._lock:
            self._ids += 1
            prefix = "apikey_01" if self.flavour == ANTHROPIC else "key_"
            key = ServerKey(raw, f"{prefix}{self._ids:06d}", status, name or f"key {self._ids}")
            self.keys[raw] = key
            return key

    def key_by_raw(self, raw: str) -> ServerKey | None:
        return self.keys.get(raw)

    def hint(self, raw: str) -> str:
        """How the admin API shows a key: Anthropic's partial_key_hint, OpenAI's redacted_value."""
        if self.flavour == ANTHROPIC:
            return raw[:16] + "..." + raw[-4:]  # sk-ant-api03-R2D...igAA
        # As OpenAI's reference shows a key (`sk-abc...def`): three characters of the key
        # itself each side of the dots, here after a project key's `sk-proj-`.
        kind = re.match(r"^sk-(?:ant-[a-z]+\d*-|proj-|svcacct-|admin-)?", raw)
        head = len(kind.group()) + 3 if kind else 6
        return raw[:head] + "..." + raw[-3:]

    def count(self, raw: str, minute: int, requests: int = 0, tokens: int = 0) -> None:
        """The provider counted `requests` and `tokens` on key `raw` in the minute `minute`."""
        with self._lock:
            self.usage[(minute - minute % 60, raw)] = (requests, tokens)

    def script(self, route: str, *actions: Action) -> None:
        """Answer the next requests of `route` with these actions, in order."""
        with self._lock:
            self._scripts.setdefault(route, deque()).extend(actions)

    def always(self, route: str, action: Action | None) -> None:
        """Answer every request of `route` with `action` (None: behave normally again)."""
        with self._lock:
            if action is None:
                self._always.pop(route, None)
            else:
                self._always[route] = action

    # -- what tests look at ------------------------------------------------------------
    def wait_finished(self, count: int, timeout: float = 10.0) -> bool:
        """Block until the server is done with `count` requests in all (answered, or given
        up on); False after `timeout` real seconds. From a test's event loop:
        `await asyncio.to_thread(server.wait_finished, n)`."""
        with self._finished_changed:
            return self._finished_changed.wait_for(lambda: self.finished >= count, timeout)

    def _done_with_one(self) -> None:
        with self._finished_changed:
            self.finished += 1
            self._finished_changed.notify_all()

    def hits(self, route: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if route is None or r.route == route]

    def admin_calls(self) -> list[Recorded]:
        return self.hits("admin")

    def admin_writes(self) -> list[Recorded]:
        return [r for r in self.admin_calls() if r.is_admin_write]

    def keys_seen(self) -> set[str]:
        """Every credential value that reached this server in an auth header."""
        seen: set[str] = set()
        for r in self.hits():
            if "x-api-key" in r.headers:
                seen.add(r.headers["x-api-key"])
            auth = r.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                seen.add(auth[7:])
        return seen

    # -- connection bookkeeping ---------------------------------------------------------
    def _connected(self, sock: socket.socket) -> int:
        with self._lock:
            self.connections += 1
            self._open[self.connections] = sock
            return self.connections

    def _replace(self, conn: int, sock: socket.socket) -> None:
        with self._lock:
            self._open[conn] = sock

    def _disconnected(self, conn: int) -> None:
        with self._lock:
            self._open.pop(conn, None)

    # -- answering ------------------------------------------------------------------
    def _route(self, request: Request) -> str:
        path = request.path
        if path == DEPLOYMENT_PATH:
            return "deployment"
        if path == (ANTHROPIC_USAGE if self.flavour == ANTHROPIC else OPENAI_USAGE):
            return "usage"
        if self.flavour == ANTHROPIC:
            if path == "/v1/models":
                return "models"
            if path == ANTHROPIC_ADMIN or path.startswith(ANTHROPIC_ADMIN + "/"):
                return "admin"
        else:
            if path == "/v1/models":
                return "models"
            if path.startswith("/v1/organization/"):
                return "admin"
        return "other"

    def _next_action(self, route: str) -> Action | None:
        with self._lock:
            queue = self._scripts.get(route)
            if queue:
                return queue.popleft()
            return self._always.get(route)

    def _request_id(self) -> str:
        with self._lock:
            self._rid += 1
            return f"req_{self.flavour[:3]}{self._rid:08d}"

    def _answer(self, conn: int, sock: socket.socket, request: Request) -> bool:
        """Answer one request; False when the connection must close afterwards."""
        route = self._route(request)
        with self._lock:
            self.requests.append(
                Recorded(conn, request.method, request.path, request.query, dict(request.headers),
                         request.body, time.monotonic(), route, tuple(request.pairs))
            )
        action = self._next_action(route)
        rid = self.request_ids.get(route) or self._request_id()
        if callable(action) and not isinstance(action, Reply):
            action = action(request)
        if action == "slow":
            if self._stopping.wait(self.slow_seconds):
                return False
            action = None
        if action == "apply_then_drop":
            # The provider makes the change, then the answer is lost (a timeout, a proxy).
            self._normal(route, request)
            return False
        reply: Reply | None = None
        if isinstance(action, Reply):
            reply = action
        elif isinstance(action, int):
            reply = self._error(action, request)
        elif isinstance(action, str):
            if action == "gzip":
                reply = self._normal(route, request)
                reply.body = gzip.compress(reply.body)
                reply.headers["content-encoding"] = "gzip"
                return self._send(sock, reply, rid, request, compress=False)
            return self._fault(action, sock, request, rid)
        if reply is None:
            reply = self._normal(route, request)
        return self._send(sock, reply, rid, request)

    def _send(
        self, sock: socket.socket, reply: Reply, rid: str, request: Request, compress: bool = True
    ) -> bool:
        headers = {"content-type": "application/json"}
        headers.update(reply.headers)
        headers.setdefault(self._rid_header, rid)  # a scripted Reply may bring its own
        body = reply.body
        if (
            compress and self.compress and body
            and "gzip" in request.headers.get("accept-encoding", "")
            and "content-encoding" not in headers
        ):
            body = gzip.compress(body)
            headers["content-encoding"] = "gzip"
        headers["content-length"] = str(len(body))
        close = request.headers.get("connection", "").lower() == "close"
        if close:
            headers["connection"] = "close"
        sock.sendall(_head(reply.status, headers) + body)
        return not close

    @property
    def _rid_header(self) -> str:
        return "request-id" if self.flavour == ANTHROPIC else "x-request-id"

    # -- faults -----------------------------------------------------------------------
    def _fault(self, name: str, sock: socket.socket, request: Request, rid: str) -> bool:
        if name == "close":
            return False
        if name == "reset_mid_body":
            body = json.dumps({"data": [{"id": "model-" + "x" * 40}] * 20}).encode()
            head = _head(200, {"content-type": "application/json",
                               "content-length": str(len(body)), self._rid_header: rid})
            sock.sendall(head + body[: len(body) // 3])
            # SO_LINGER 0: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if name == "html_200":
            return self._send(sock, Reply(200, {"content-type": "text/html"}, HTML_PORTAL), rid, request)
        if name == "html_502":
            return self._send(sock, Reply(502, {"content-type": "text/html"}, HTML_502), rid, request)
        if name == "truncated_json":
            whole = json.dumps(self._models_body()).encode()
            return self._send(sock, Reply(200, {}, whole[: len(whole) // 2]), rid, request,
                              compress=False)
        if name == "huge_body":
            head = _head(200, {"content-type": "application/json",
                               "content-length": str(self.huge_size), self._rid_header: rid})
            sock.sendall(head)
            chunk = b'{"data": [' + b" " * (64 * 1024 - 10)
            sent = 0
            try:
                while sent < self.huge_size and not self._stopping.is_set():
                    piece = chunk[: self.huge_size - sent]
                    sock.sendall(piece)
                    sent += len(piece)
                    with self._lock:
                        self.huge_bytes_sent = sent
            except OSError:
                pass
            return False
        if name == "trickle_headers":
            sock.sendall(b"HTTP/1.1 200 OK\r\n")
            header = f"{self._rid_header}: {rid}\r\n".encode() + b"x-trickle: " + b"z" * 10_000
            deadline = time.monotonic() + self.trickle_for
            for i in range(len(header)):
                if time.monotonic() > deadline or self._stopping.wait(self.trickle_every):
                    break
                sock.sendall(header[i : i + 1])
            return False
        if name == "redirect":
            target = self.redirect_to.rstrip("/") + request.target
            return self._send(sock, Reply(307, {"location": target}, b""), rid, request)
        if name == "echo_key":
            key = request.headers.get("x-api-key") or request.headers.get("authorization", "")[7:]
            body = self._error_body(401, f"key {key} is not valid here")
            return self._send(sock, Reply(401, {}, body), rid, request)
        if name == "echo_key_coloured":
            key = request.headers.get("x-api-key") or request.headers.get("authorization", "")[7:]
            coloured = "\x1b[1m".join(key[i : i + 6] for i in range(0, len(key), 6))
            body = self._error_body(401, f"key \x1b[31m{coloured}\x1b[0m is not valid here")
            return self._send(sock, Reply(401, {}, body), rid, request)
        raise ValueError(f"unknown fault {name!r}")

    # -- normal behaviour ----------------------------------------------------------------
    def _normal(self, route: str, request: Request) -> Reply:
        if route == "models":
            return self._models(request)
        if route == "deployment":
            return self._deployment()
        if route == "admin":
            return self._admin(request)
        if route == "usage":
            return self._usage(request)
        return self._error(404, request, "not found")

    def _key_from(self, request: Request) -> str | None:
        if self.flavour == ANTHROPIC:
            return request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None

    def key_status(self, raw: str | None) -> int:
        """The status code the provider gives this key on the probe endpoint now."""
        key = self.keys.get(raw or "")
        if key is None or key.status == "deleted":
            return 401
        if key.status in ("inactive", "archived"):
            return 404 if self.flavour == ANTHROPIC else 401
        return 200

    def _models_body(self) -> dict:
        models = [{"id": f"model-{i}", "type": "model", "display_name": f"Model {i}",
                   "created_at": "2025-01-01T00:00:00Z"} for i in range(3)]
        if self.flavour == ANTHROPIC:
            return {"data": models, "has_more": False, "first_id": "model-0", "last_id": "model-2"}
        return {"object": "list", "data": [{"id": m["id"], "object": "model", "created": 1,
                                            "owned_by": "system"} for m in models]}

    def _models(self, request: Request) -> Reply:
        if self.flavour == ANTHROPIC and "anthropic-version" not in request.headers:
            return self._error(400, request, "anthropic-version: header is required")
        raw = self._key_from(request)
        status = self.key_status(raw)
        if status == 200:
            return Reply(200, {}, json.dumps(self._models_body()).encode())
        return self._error(status, request)

    def _deployment(self) -> Reply:
        return self.deployment_reply(self.serving)

    def deployment_reply(self, raw: str | None) -> Reply:
        """The deployment's answer while it serves `raw` (for scripts mixing keys)."""
        status = self.key_status(raw)
        ok = status == 200
        doc: dict[str, object] = {"ok": ok, "status": status}
        if self.deployment_reports_fingerprint and raw:
            doc["fingerprint"] = fingerprint(raw)
        return Reply(200 if ok else 503, {}, json.dumps(doc).encode())

    def _admin(self, request: Request) -> Reply:
        raw = self._key_from(request)
        if not raw or raw != self.admin_key:
            return self._error(401, request, "invalid admin key")
        if self.flavour == ANTHROPIC:
            return self._anthropic_admin(request)
        return self._openai_admin(request)

    def _page(self, records: list[dict], request: Request, cursor: str) -> Reply:
        limit = min(int(request.query.get("limit") or self.page_size), self.page_size)
        after = request.query.get(cursor)
        if after:
            ids = [r["id"] for r in records]
            records = records[ids.index(after) + 1 :] if after in ids else []
        page, more = records[:limit], len(records) > limit
        doc: dict[str, object] = {
            "data": page, "has_more": more,
            "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None,
        }
        if self.flavour == OPENAI:
            doc["object"] = "list"
        return Reply(200, {}, json.dumps(doc).encode())

    def _anthropic_admin(self, request: Request) -> Reply:
        path = request.path
        if request.method == "GET" and path == ANTHROPIC_ADMIN:
            wanted = None if self.ignore_status_filter else request.query.get("status")
            records = [self._anthropic_record(k) for k in self.keys.values()
                       if k.status != "deleted" and k.listed
                       and (wanted is None or k.status == wanted)]
            return self._page(records, request, "after_id")
        if request.method == "POST" and path.startswith(ANTHROPIC_ADMIN + "/"):
            key_id = path.rsplit("/", 1)[-1]
            try:
                status = json.loads(request.body or b"{}").get("status")
            except ValueError:
                return self._error(400, request, "body is not JSON")
            if status not in ("active", "inactive", "archived"):
                return self._error(400, request, "status must be active, inactive or archived")
            for key in self.keys.values():
                if key.id == key_id:
                    key.status = status
                    return Reply(200, {}, json.dumps(self._anthropic_record(key)).encode())
            return self._error(404, request, "api key not found", disabled=False)
        return self._error(405, request, "method not allowed")

    def _anthropic_record(self, key: ServerKey) -> dict:
        return {"id": key.id, "type": "api_key", "name": key.name, "status": key.status,
                "partial_key_hint": key.shown_hint or self.hint(key.raw), "workspace_id": None,
                "created_at": "2025-01-01T00:00:00Z",
                "created_by": {"id": "user_01", "type": "user"}}

    def _openai_admin(self, request: Request) -> Reply:
        prefix = f"/v1/organization/projects/{self.project_id}/api_keys"
        path = request.path
        if not (path == prefix or path.startswith(prefix + "/")):
            return self._error(404, request, "No such project")
        if request.method == "GET" and path == prefix:
            records = [
                {"object": "organization.project.api_key",
                 "redacted_value": k.shown_hint or self.hint(k.raw),
                 "name": k.name, "created_at": 1711471533, "last_used_at": 1711471534,
                 "id": k.id, "owner": {"type": "user", "user": {"id": "user_abc"}}}
                for k in self.keys.values() if k.status != "deleted" and k.listed
            ]
            return self._page(records, request, "after")
        if request.method == "DELETE":
            key_id = path.rsplit("/", 1)[-1]
            for key in self.keys.values():
                if key.id == key_id and key.status != "deleted":
                    key.status = "deleted"
                    return Reply(200, {}, json.dumps({
                        "object": "organization.project.api_key.deleted", "id": key.id,
                        "deleted": True}).encode())
            return self._error(404, request, f"No API key found with id '{key_id}'")
        return self._error(405, request, "method not allowed")

    def _usage(self, request: Request) -> Reply:
        """The usage report from the ledger: minute buckets from the start asked for up to
        `usage_to`, one result per asked key id with a count (none: not in the results)."""
        if self._key_from(request) != self.admin_key or not self.admin_key:
            return self._error(401, request, "invalid admin key")
        if request.values("bucket_width") != ["1m"]:
            return self._error(400, request, "bucket_width: keyturn's test server serves 1m")
        try:
            if self.flavour == ANTHROPIC:
                start = int(datetime.fromisoformat(request.query["starting_at"]).timestamp())
            else:
                start = int(request.query["start_time"])
            offset = int(request.query.get("page", "page_0").removeprefix("page_"))
        except (KeyError, ValueError):
            return self._error(400, request, "starting_at / start_time or page is not valid")
        reached = self.usage_to if self.usage_to is not None else int(time.time())
        minutes = list(range(start - start % 60, reached - reached % 60, 60))[:1440]
        limit = min(int(request.query.get("limit") or self.usage_page), self.usage_page)
        by_id = {k.id: k.raw for k in self.keys.values()}
        grouped = "api_key_id" in request.values("group_by")
        data = []
        for minute in minutes[offset:offset + limit]:
            counts = [(key_id, self.usage.get((minute, by_id.get(key_id, "")), (0, 0)))
                      for key_id in request.values("api_key_ids")]
            results = [self._usage_result(key_id if grouped else None, n, t)
                       for key_id, (n, t) in counts if n or t]
            if self.flavour == ANTHROPIC:
                data.append({"starting_at": _rfc3339(minute), "ending_at": _rfc3339(minute + 60),
                             "results": results})
            else:
                data.append({"object": "bucket", "start_time": minute, "end_time": minute + 60,
                             "results": results})
        more = offset + limit < len(minutes)
        doc: dict[str, object] = {"data": data, "has_more": more,
                                  "next_page": f"page_{offset + limit}" if more else None}
        if self.flavour == OPENAI:
            doc = {"object": "page", **doc}
        return Reply(200, {}, json.dumps(doc).encode())

    def _usage_result(self, key_id: str | None, requests: int, tokens: int) -> dict:
        if self.flavour == ANTHROPIC:
            uncached, cached = tokens // 2, tokens // 5
            return {"api_key_id": key_id, "workspace_id": None, "model": None,
                    "service_tier": None, "context_window": None,
                    "uncached_input_tokens": uncached, "cache_read_input_tokens": cached,
                    "cache_creation": {"ephemeral_1h_input_tokens": 0,
                                       "ephemeral_5m_input_tokens": 0},
                    "output_tokens": tokens - uncached - cached,
                    "server_tool_use": {"web_search_requests": 0}}
        output = tokens // 3
        return {"object": "organization.usage.completions.result", "input_tokens": tokens - output,
                "input_cached_tokens": 0, "output_tokens": output, "input_audio_tokens": 0,
                "output_audio_tokens": 0, "num_model_requests": requests, "project_id": None,
                "user_id": None, "api_key_id": key_id, "model": None, "batch": None}

    # -- error answers -----------------------------------------------------------------
    def _error_body(self, status: int, message: str | None = None, disabled: bool = True) -> bytes:
        if self.flavour == ANTHROPIC:
            kind = {400: "invalid_request_error", 401: "authentication_error",
                    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                    429: "rate_limit_error", 529: "overloaded_error"}.get(
                status, "api_error" if status >= 500 else "invalid_request_error")
            text = message or {
                401: "invalid x-api-key",
                403: "Your API key does not have permission to use the specified resource.",
                404: "The API key has been disabled." if disabled else "Not found",
                429: "Number of requests has exceeded your rate limit.",
                529: "Overloaded",
            }.get(status, kind)
            return json.dumps({"type": "error", "error": {"type": kind, "message": text}}).encode()
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
        kind = {401: "invalid_request_error", 429: "requests",
                403: "invalid_request_error"}.get(status, "server_error" if status >= 500 else
                                                  "invalid_request_error")
        text = message or {
            401: "Incorrect API key provided. You can find your API key at "
                 "https://platform.openai.com/account/api-keys.",
            403: "You are not allowed to sample from this model",
            429: "Rate limit reached for requests",
        }.get(status, f"error {status}")
        return json.dumps({"error": {"message": text, "type": kind, "param": None,
                                     "code": code}}).encode()

    def _error(
        self, status: int, request: Request, message: str | None = None, disabled: bool = True
    ) -> Reply:
        headers: dict[str, str] = {}
        if status == 429:
            if self.retry_after is not None:
                headers["retry-after"] = self.retry_after
            if self.flavour == ANTHROPIC:
                headers["anthropic-ratelimit-requests-remaining"] = "0"
            else:
                headers["x-ratelimit-remaining-requests"] = "0"
        if status == 502:
            return Reply(502, {"content-type": "text/html"}, HTML_502)
        return Reply(status, headers, self._error_body(status, message, disabled))


def _rfc3339(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _head(status: int, headers: dict[str, str]) -> bytes:
    reason = REASONS.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


REASONS = {200: "OK", 307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 529: "Overloaded"}

HTML_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
            b"</body>\r\n</html>\r\n")
HTML_PORTAL = (b"<!DOCTYPE html><html><head><title>Sign in to the network</title></head>"
               b"<body><form>Accept the terms to continue</form></body></html>")


# -- TLS material, made at test time ------------------------------------------------


def self_signed_context(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1.

    Returns the context and the certificate's PEM path (a client may trust it explicitly).
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keyturn test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp / "server-cert.pem"
    key_path = tmp / "server-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx, cert_path


@contextlib.contextmanager
def running(flavour: str = ANTHROPIC, tls: ssl.SSLContext | None = None) -> Iterator[ProviderServer]:
    server = ProviderServer(flavour, tls).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where a connection is refused, for as long as the block lasts.

    It stays bound without listening: nothing else (another test running beside this one,
    under pytest-xdist) can take the port and answer on it.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
