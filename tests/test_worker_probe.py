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


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with running(ANTHROPIC) as server:
        server.add_key(CANARY_OLD)
        server.add_key(CANARY_NEW)
        yield server


@pytest.fixture
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


def keyturn_probe(config: Path, capsys, *argv: str) -> tuple[int, dict]:
    code = main(["--config", str(config), "probe", "vision", "--json", *argv])
    doc = json.loads(capsys.readouterr().out)
    (deployment,) = [t for t in doc["targets"] if t["role"] == "deployment"]
    return code, deployment


def test_the_readme_worker_in_the_workers_runtime(provider, workers, tmp_path, capsys,
                                                  monkeypatch) -> None:
    """One test, so that one miniflare start serves every step (xdist splits tests)."""
    urls = workers
    monkeypatch.setenv("KT_OLD", CANARY_OLD)
    monkeypatch.setenv("KT_NEW", CANARY_NEW)
    config = tmp_path / "k.toml"

    # keyturn itself sees the Worker serving the NEW key: the post-deploy check passes.
    config.write_text(
        f'[rotations.vision]\nprovider = "anthropic"\nbase_url = "{provider.url}"\n'
        'old = "env:KT_OLD"\nnew = "env:KT_NEW"\n'
        f'deployment = "{urls["whole"]}health/keyturn"\n'
        "[defaults]\ninterval = 4.0\ntimeout = 3.0\n")
    code, deployment = keyturn_probe(config, capsys, "--expect", "new")
    assert code == 0
    assert deployment["verdict"] == "live" and deployment["serving"] == "NEW"
    assert deployment["fingerprint"] == fingerprint(CANARY_NEW)

    with httpx.Client(timeout=10) as client:
        # Its own path only, GET only; samples within 5 s cost the provider nothing.
        before = models_calls(provider)
        first = client.get(urls["whole"] + "health/keyturn")
        again = client.get(urls["whole"] + "health/keyturn")
        assert first.json() == again.json() == {
            "ok": True, "status": 200, "fingerprint": fingerprint(CANARY_NEW)}
        assert first.headers["cache-control"] == "no-store"
        assert models_calls(provider) - before <= 1  # the cache answered the second sample
        sent = {r.headers.get("x-api-key") for r in provider.hits("models")[before:]}
        assert sent <= {CANARY_NEW}  # the Worker's own key, if the cache had expired
        posted = client.post(urls["whole"] + "health/keyturn")
        assert (posted.status_code, posted.headers["allow"]) == (405, "GET")
        assert client.get(urls["whole"]).status_code == 404
        assert client.get(urls["whole"] + "health/keyturn/x").status_code == 404

        # In an existing Worker, the app keeps every other path and method.
        app = client.get(urls["existing"] + "orders/42")
        assert (app.status_code, app.text) == (200, "your app\n")
        assert client.post(urls["existing"] + "orders").text == "your app\n"
        probe = client.get(urls["existing"] + "health/keyturn")
        assert probe.json()["fingerprint"] == fingerprint(CANARY_NEW)

        # A key the provider refuses: its status, and still the fingerprint.
        refused = client.get(urls["refused"] + "health/keyturn")
        assert refused.status_code == 503
        assert refused.json() == {"ok": False, "status": 401,
                                  "fingerprint": fingerprint(CANARY_OPENAI)}

        # A call that throws: ok false, no status, the fingerprint and why.
        offline = client.get(urls["offline"] + "health/keyturn")
    body = offline.json()
    assert offline.status_code == 503
    assert (body["ok"], body["status"], body["fingerprint"]) == (
        False, None, fingerprint(CANARY_NEW))
    assert body["error"].startswith("Anthropic not reached: ")
    # keyturn reads it as no evidence either way, and says why.
    config.write_text(
        '[rotations.vision]\nprovider = "anthropic"\nbase_url = "http://127.0.0.1:9"\n'
        f'old = "env:KT_OLD"\ndeployment = "{urls["offline"]}health/keyturn"\n'
        "[defaults]\ninterval = 4.0\ntimeout = 3.0\n")
    _, deployment = keyturn_probe(config, capsys)
    assert deployment["verdict"] == "unavailable"
    assert deployment["detail"].startswith("the deployment could not reach the provider: "
                                           "Anthropic not reached: ")
