"""A loopback stand-in for Cloudflare's Workers API, answering as Cloudflare documents.

One Worker script on 127.0.0.1 (http.server, a thread per request): `PUT …/secrets`
creates a version holding the secret and deploys it at 100 % (as a secret change does),
`GET …/deployments` lists deployments newest first (the first one serves traffic), and
`GET …/versions/{id}` gives a version's `metadata.created_on`. Every answer is in the
envelope `{"success", "errors": [{"code", "message"}], "messages", "result"}` with a
`cf-ray` and a `date` header. `fail(route, …)` queues the failures the tests need: an
auth error, a script that does not exist, a 429, a 5xx, a proxy's HTML page and an
envelope with `success: false`. Every request is recorded.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "0123456789abcdef0123456789abcdef"
SCRIPT = "cybersygn-vision"
SECRET = "ANTHROPIC_API_KEY"
TOKEN = "cf-test-token-CANARYcf7Hq2Lm9Vb4Nc8Tw1KjH6"

#: Failures a test can queue for a route, each as Cloudflare (or a proxy) answers it.
FAILURES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "auth": (403, {}, (b'{"success":false,"errors":[{"code":10000,"message":"Authentication '
                       b'error"}],"messages":[],"result":null}')),
    "no_script": (404, {}, (b'{"success":false,"errors":[{"code":10007,"message":"This Worker '
                            b'does not exist on your account."}],"messages":[],"result":null}')),
    "rate_limited": (429, {"retry-after": "30"}, (b'{"success":false,"errors":[{"code":10429,'
                                                  b'"message":"Too many requests"}],'
                                                  b'"messages":[],"result":null}')),
    "unavailable": (503, {}, (b'{"success":false,"errors":[{"code":10013,"message":"An unknown '
                              b'error has occurred"}],"messages":[],"result":null}')),
    "html": (502, {"content-type": "text/html"},
             (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
              b"<body><h1>Bad Gateway</h1><p>corporate proxy</p></body></html>")),
    "refused": (200, {}, (b'{"success":false,"errors":[{"code":10215,"message":"Secret edit '
                          b'failed. The latest version of your Worker isn\'t currently deployed."'
                          b'}],"messages":[],"result":null}')),
    "redirect": (307, {"location": "http://127.0.0.1:9/elsewhere"}, b""),
    # "echo" (built per request): a careless gateway quoting the token and body it got,
    # between colour escapes.
}


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    route: str  # secrets | deployments | version | other


@dataclass
class Version:
    id: str
    created_on: datetime
    secret: str


@dataclass
class CloudflareServer:
    """Cloudflare's Workers API for one account and one script."""

    account: str = ACCOUNT
    script: str = SCRIPT
    token: str = TOKEN
    #: The platform's clock: starts here, and moves one second per request.
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    versions: list[Version] = field(default_factory=list)
    #: Newest first: (created, trigger, [(version id, percentage)]).
    deployments: list[tuple[datetime, str, list[tuple[str, float]]]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    queued: dict[str, deque[str]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        first = self.add_version("the old key", self.now - timedelta(days=2))
        self.deployments.append((first.created_on, "upload", [(first.id, 100.0)]))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add_version(self, secret: str, created: datetime) -> Version:
        n = next(self._ids)
        version = Version(f"{n:08x}-aaaa-4bbb-8ccc-{n:012x}", created, secret)
        self.versions.append(version)
        return version

    def gradual(self, new_share: float = 10.0) -> None:
        """A gradual deployment in progress: a newer version on `new_share` %."""
        older = self.deployments[0][2][0][0]
        newer = self.add_version("the old key", self.now - timedelta(minutes=5))
        self.deployments.insert(0, (self.now - timedelta(minutes=4), "deployment",
                                    [(newer.id, new_share), (older, 100.0 - new_share)]))

    def rollback(self) -> None:
        """Someone rolls the Worker back to its first version (from before any write)."""
        self.deployments.insert(0, (self.now, "rollback", [(self.versions[0].id, 100.0)]))

    def fail(self, route: str, *failures: str) -> None:
        """Answer the next requests of `route` with these failures (see FAILURES)."""
        self.queued.setdefault(route, deque()).extend(failures)

    def requests(self, route: str | None = None) -> list[Hit]:
        return [h for h in self.hits if route is None or h.route == route]

    @property
    def secret(self) -> str | None:
        """The secret the serving deployment's (first) version holds."""
        serving = self.deployments[0][2][0][0]
        return next(v.secret for v in self.versions if v.id == serving)

    # -- answers --------------------------------------------------------------------------
    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes):
        with self.lock:
            self.now += timedelta(seconds=1)
            base = f"/client/v4/accounts/{self.account}/workers/scripts/{self.script}/"
            rest = path[len(base):] if path.startswith(base) else None
            route = ("secrets" if rest == "secrets" else "deployments" if rest == "deployments"
                     else "version" if rest and rest.startswith("versions/") else "other")
            self.hits.append(Hit(method, path, headers, body, route))
            queue = self.queued.get(route)
            if queue:
                failure = queue.popleft()
                if failure == "echo":
                    said = (f"\x1b[31mbad request from {headers.get('authorization')} with "
                            f"{body.decode()}\x1b[0m\x1b]0;pwned\x07")
                    return 400, {}, json.dumps({"success": False, "errors": [
                        {"code": 10001, "message": said}], "messages": [], "result": None}).encode()
                return FAILURES[failure]
            if headers.get("authorization") != f"Bearer {self.token}":
                return FAILURES["auth"]
            if rest is None:
                return FAILURES["no_script"]
            if route == "secrets" and method == "PUT":
                sent = json.loads(body)
                version = self.add_version(sent["text"], self.now)
                self.deployments.insert(0, (self.now, "secret", [(version.id, 100.0)]))
                return self.ok({"name": sent["name"], "type": sent["type"]})
            if route == "deployments" and method == "GET":
                return self.ok({"deployments": [
                    {"id": f"dep-{i}", "created_on": stamp(created), "source": "api",
                     "strategy": "percentage", "author_email": "ops@example.com",
                     "annotations": {"workers/triggered_by": trigger},
                     "versions": [{"version_id": v, "percentage": p} for v, p in shares]}
                    for i, (created, trigger, shares) in enumerate(self.deployments)]})
            if route == "version" and method == "GET":
                version = next((v for v in self.versions if v.id == rest[9:]), None)
                if version is None:
                    return 404, {}, (b'{"success":false,"errors":[{"code":10235,'
                                     b'"message":"no such version"}]}')
                return self.ok({"id": version.id, "number": self.versions.index(version) + 1,
                                "metadata": {"created_on": stamp(version.created_on),
                                             "source": "wrangler"}})
            return 405, {}, b'{"success":false,"errors":[{"code":10405,"message":"not allowed"}]}'

    @staticmethod
    def ok(result: object) -> tuple[int, dict[str, str], bytes]:
        body = {"success": True, "errors": [], "messages": [], "result": result}
        return 200, {}, json.dumps(body).encode()


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _handler(server: CloudflareServer):
    rays = itertools.count(0x8f3a000000000000)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, raw = server.answer(self.command, self.path, headers, body)
            self.send_response(status)
            self.send_header("content-type", extra.get("content-type", "application/json"))
            self.send_header("content-length", str(len(raw)))
            self.send_header("cf-ray", f"{next(rays):016x}-SJC")
            for name, value in extra.items():
                if name != "content-type":
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def date_time_string(self, timestamp=None) -> str:  # the platform's clock
            return format_datetime(server.now, usegmt=True)

        do_GET = do_PUT = do_POST = _any

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def cloudflare() -> Iterator[CloudflareServer]:
    server = CloudflareServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
