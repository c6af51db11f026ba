"""Helpers for the lifecycle tests: configs, back-dated audit events, a loopback provider.

The loopback provider is a real HTTP server on 127.0.0.1 whose answers come from a
SimulatedWorld (Anthropic's models, admin API and a deployment probe), so a keyturn
subprocess can be killed mid-rotation and restarted against the same provider.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from providers.simulated import SimulatedWorld
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD
from tui.engine import config, config_file


def make_config(tmp: Path, rotations: dict[str, dict[str, Any]], **top: Any) -> config.Config:
    """A validated Config whose audit log lives under `tmp/state`."""
    data: dict[str, Any] = {"state_dir": str(tmp / "state"), "rotations": rotations, **top}
    return config_file.validate(data, tmp / "keyturn.toml")


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_event(state_dir: Path, when: datetime, rotation: str, event: str, **fields: Any) -> None:
    """An audit line dated `when` (the real log only writes the current time)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    record = {"time": stamp(when), "rotation": rotation, "event": event, **fields}
    with open(state_dir / "audit.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def hostile_log(path: Path) -> None:
    """An audit log as an old keyturn (or a hand edit) could have left it: escape
    sequences in keys and values, nested too, a lone surrogate, a line 100,000 levels
    deep, a line that is one huge JSON string, a huge value, and bytes that are not UTF-8."""
    lines = [
        json.dumps({"time": "2026-01-02T03:04:05.000Z", "rotation": "prod",
                    "event": "revoke_confirmed", "key_id": "apikey_\x1b]0;pwned\x07\x1b[2J01",
                    "request_id": "req_\x9b31m" + "r" * 15_000,
                    "detail\x1b[1m": {"nested": ["\x1b]8;;https://evil.example\x1b\\x"]}}),
        "[" * 100_000,
        json.dumps({"time": "2026-01-02T03:04:06.000Z", "rotation": "prod",
                    "event": "failure", "detail": "id \ud800 refused"}),
        json.dumps("s" * 3_000_000),
        json.dumps({"time": "2026-01-02T03:04:07.000Z", "rotation": "prod",
                    "event": "done", "detail": "d" * 600_000}),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\x80 not utf-8 at all\n")


def canary_world(**kwargs: Any) -> SimulatedWorld:
    """A simulated Anthropic whose old, new and admin keys are the canaries."""
    world = SimulatedWorld(old=CANARY_OLD, new=CANARY_NEW, admin_key=CANARY_ADMIN,
                           new_live_from=0.0, **kwargs)
    return world


# -- a loopback provider ---------------------------------------------------------------


class LoopbackProvider:
    """A SimulatedWorld served over real HTTP on 127.0.0.1 (threaded)."""

    def __init__(self, world: SimulatedWorld) -> None:
        self.world = world
        self.lock = threading.Lock()
        #: When set, a POST to the admin API is applied, then its answer held until released.
        self.hold_admin_post = False
        self.admin_post_seen = threading.Event()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # A killed keyturn resets its connections: expected here, not worth a traceback.
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        # Polled often: shutdown() waits for the next poll (the default, 0.5 s, per test).
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def posts(self) -> list[str]:
        """The admin calls that changed a key's status (`inactive`, `active`)."""
        with self.lock:
            return [str(c.status) for c in self.world.revoke_calls()]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                return

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = httpx.Request(
                    self.command, "http://loopback" + self.path,
                    headers=dict(self.headers.items()), content=body,
                )
                with outer.lock:
                    response = outer.world.handle(request)
                if self.command == "POST" and outer.hold_admin_post:
                    outer.admin_post_seen.set()
                    outer.release.wait(30)
                data = response.content
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        return Handler


@contextmanager
def loopback_provider(world: SimulatedWorld) -> Iterator[LoopbackProvider]:
    server = LoopbackProvider(world)
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.server.shutdown()
        server.server.server_close()
