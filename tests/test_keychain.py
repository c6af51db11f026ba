"""`keyturn secret set` → `keyturn probe` through a real Secret Service keychain.

.ci/run starts dbus and an unlocked gnome-keyring-daemon, so under CI this test runs;
on a machine without a keychain it skips (and under CI a missing keychain fails it).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support_canary import assert_no_canary

pytestmark = pytest.mark.keychain

KEYTURN = [sys.executable, "-m", "tui.cli"]
ROOT = Path(__file__).resolve().parents[1]


class OnlyThisKey(BaseHTTPRequestHandler):
    """Answers /v1/models like Anthropic: 200 for the one accepted key, 401 otherwise."""

    accepted = ""

    def do_GET(self) -> None:
        ok = self.path == "/v1/models" and self.headers.get("x-api-key") == self.accepted
        body = {"data": [], "has_more": False} if ok else {
            "type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
        data = json.dumps(body).encode()
        self.send_response(200 if ok else 401)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", "req_keychain01")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def run(args: list[str], stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        KEYTURN + args, input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT,
        env=env,
    )


def test_secret_set_then_probe_round_trips_through_the_real_keychain(tmp_path):
    rotation = "kc-" + secrets.token_hex(4)
    key = "sk-ant-api03-KEYCHAINcanary" + secrets.token_urlsafe(40) + "AA"
    OnlyThisKey.accepted = key
    server = ThreadingHTTPServer(("127.0.0.1", 0), OnlyThisKey)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "keyturn.toml"
        config.write_text(
            f'[rotations.{rotation}]\nprovider = "anthropic"\n'
            f'base_url = "http://127.0.0.1:{server.server_address[1]}"\n'
            f"[defaults]\ninterval = 1.0\ntimeout = 0.5\n"
        )
        env = dict(os.environ)
        stored = run(["--config", str(config), "secret", "set", rotation, "old"], key + "\n", env)
        if stored.returncode == 2 and "no usable keyring backend" in stored.stderr:
            if os.environ.get("CI"):
                pytest.fail("CI must provide a Secret Service keychain: " + stored.stderr)
            pytest.skip("no Secret Service keychain on this machine (.ci/run provides one)")
        assert stored.returncode == 0, stored.stderr
        probed = run(["--config", str(config), "probe", rotation, "--json"], env=env)
        assert probed.returncode == 0, probed.stderr
        doc = json.loads(probed.stdout)
        (old,) = [t for t in doc["targets"] if t["role"] == "old"]
        assert old["verdict"] == "live" and old["request_id"] == "req_keychain01"
        assert_no_canary(stored.stdout, stored.stderr, probed.stdout, probed.stderr,
                         paths=[tmp_path], canaries=[key])
    finally:
        server.shutdown()
        # Leave the developer's keychain as it was (best effort: it may hold nothing).
        subprocess.run(
            [sys.executable, "-c",
             f"import keyring; keyring.delete_password('keyturn', '{rotation}/old')"],
            capture_output=True, timeout=30,
        )
