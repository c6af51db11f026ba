"""The README's Cloudflare Worker code, read from the README's fenced blocks, run in the
real Workers runtime (workerd, through miniflare from npm) against the loopback Anthropic,
and probed by keyturn itself.

One miniflare start serves four Workers: the probe module alone (`whole`), an existing
Worker with the probe in front (`existing`), a Worker holding a key Anthropic refuses
(`refused`) and one whose calls to Anthropic cannot connect (`offline`). CI installs node
and the pinned miniflare (.ci/run); elsewhere the test installs miniflare into the user's
cache on first use, and skips only where node and npm are missing or the install fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.provider_server import ANTHROPIC, ProviderServer, closed_port, fingerprint, running
from tests.support_canary import CANARY_NEW, CANARY_OLD, CANARY_OPENAI
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "worker"
VERSION = json.loads((HERE / "package.json").read_text())["dependencies"]["miniflare"]
#: The user's cache, read at import: each test's HOME is a temporary one (conftest).
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def readme_block(first_line: str) -> str:
    """The README's ```js block whose first line is `first_line`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```js\n(.*?)```", text, flags=re.DOTALL):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"README.md has no ```js block starting {first_line!r}")


def miniflare_dir() -> Path:
    """Where miniflare is installed: $KEYTURN_MINIFLARE_DIR (.ci/run), else the user's
    cache, installing it there on first use; a skip only where that cannot be done."""
    given = os.environ.get("KEYTURN_MINIFLARE_DIR")
    where = Path(given) if given else USER_CACHE / "keyturn-ci" / f"miniflare-{VERSION}"
    if (where / "node_modules" / "miniflare" / "package.json").exists():
        return where
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    why = None
    if missing:
        why = f"{' and '.join(missing)} not installed (.ci/run installs them)"
    else:
        where.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "package.json", where / "package.json")
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"],
                              cwd=where, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            why = f"npm install miniflare@{VERSION} failed: {done.stderr.strip()[-300:]}"
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Worker test: {why}")
        pytest.skip(why)
    return where


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderServer]:
    with running(ANTHROPIC) as server:
        server.add_key(CANARY_OLD)
        server.add_key(CANARY_NEW)
        yield server


@pytest.fixture(scope="module")
def workers(provider: ProviderServer, tmp_path_factory) -> Iterator[dict[str, str]]:
    """The four Workers' base URLs, from one miniflare start."""
    where = miniflare_dir()
    modules = tmp_path_factory.mktemp("worker")
    (modules / "keyturn-probe.js").write_text(readme_block("// keyturn-probe.js"))
    (modules / "worker.js").write_text(readme_block("// worker.js"))
    env = dict(os.environ, KT_KEY_SERVING=CANARY_NEW, KT_KEY_UNKNOWN=CANARY_OPENAI,
               KT_CLOSED_ADDRESS=f"127.0.0.1:{closed_port()}")
    proc = subprocess.Popen(
        ["node", str(HERE / "harness.mjs"), str(where / "node_modules" / "miniflare"),
         str(modules), f"127.0.0.1:{provider.port}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            raise AssertionError(f"miniflare did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield json.loads(line)
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def models_calls(provider: ProviderServer) -> int:
    return len(provider.hits("models"))


def test_keyturn_probe_sees_the_worker_serving_the_new_key(workers, provider, tmp_path, capsys,
                                                           monkeypatch) -> None:
    config = tmp_path / "k.toml"
    config.write_text(
        f'[rotations.vision]\nprovider = "anthropic"\nbase_url = "{provider.url}"\n'
        'old = "env:KT_OLD"\nnew = "env:KT_NEW"\n'
        f'deployment = "{workers["whole"]}health/keyturn"\n'
        "[defaults]\ninterval = 4.0\ntimeout = 3.0\n")
    monkeypatch.setenv("KT_OLD", CANARY_OLD)
    monkeypatch.setenv("KT_NEW", CANARY_NEW)
    assert main(["--config", str(config), "probe", "vision", "--expect", "new", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (deployment,) = [t for t in doc["targets"] if t["role"] == "deployment"]
    assert deployment["verdict"] == "live" and deployment["serving"] == "NEW"
    assert deployment["fingerprint"] == fingerprint(CANARY_NEW)


def test_only_its_own_path_only_get_and_one_upstream_call_per_5_seconds(workers, provider):
    with httpx.Client(timeout=10) as client:
        before = models_calls(provider)
        first = client.get(workers["whole"] + "health/keyturn")
        again = client.get(workers["whole"] + "health/keyturn")
        assert first.json() == again.json() == {
            "ok": True, "status": 200, "fingerprint": fingerprint(CANARY_NEW)}
        assert first.headers["cache-control"] == "no-store"
        assert models_calls(provider) - before <= 1  # the cache answered the second sample
        posted = client.post(workers["whole"] + "health/keyturn")
        assert (posted.status_code, posted.headers["allow"]) == (405, "GET")
        assert client.get(workers["whole"] + "").status_code == 404
        assert client.get(workers["whole"] + "health/keyturn/x").status_code == 404
        sent = {r.headers.get("x-api-key") for r in provider.hits("models")[before:]}
        assert sent <= {CANARY_NEW}  # the Worker's own key, if the cache had expired


def test_in_an_existing_worker_the_app_keeps_every_other_path(workers):
    with httpx.Client(timeout=10) as client:
        app = client.get(workers["existing"] + "orders/42")
        assert (app.status_code, app.text) == (200, "your app\n")
        probe = client.get(workers["existing"] + "health/keyturn")
        assert probe.json()["fingerprint"] == fingerprint(CANARY_NEW)
        assert client.post(workers["existing"] + "orders").text == "your app\n"


def test_a_refused_key_reports_the_provider_status_and_its_fingerprint(workers):
    with httpx.Client(timeout=10) as client:
        refused = client.get(workers["refused"] + "health/keyturn")
    assert refused.status_code == 503
    assert refused.json() == {"ok": False, "status": 401, "fingerprint": fingerprint(CANARY_OPENAI)}


def test_a_call_that_throws_still_reports_the_fingerprint_and_why(workers, tmp_path, capsys,
                                                                   monkeypatch):
    with httpx.Client(timeout=10) as client:
        offline = client.get(workers["offline"] + "health/keyturn")
    body = offline.json()
    assert offline.status_code == 503
    assert (body["ok"], body["status"], body["fingerprint"]) == (
        False, None, fingerprint(CANARY_NEW))
    assert body["error"].startswith("Anthropic not reached: ")
    # keyturn reads it as no evidence either way, saying why.
    config = tmp_path / "k.toml"
    config.write_text(
        '[rotations.vision]\nprovider = "anthropic"\nbase_url = "http://127.0.0.1:9"\n'
        f'old = "env:KT_OLD"\ndeployment = "{workers["offline"]}health/keyturn"\n'
        "[defaults]\ninterval = 4.0\ntimeout = 3.0\n")
    monkeypatch.setenv("KT_OLD", CANARY_OLD)
    main(["--config", str(config), "probe", "vision", "--json"])
    doc = json.loads(capsys.readouterr().out)
    (deployment,) = [t for t in doc["targets"] if t["role"] == "deployment"]
    assert deployment["verdict"] == "unavailable"
    assert deployment["detail"].startswith("the deployment could not reach the provider: "
                                           "Anthropic not reached: ")
