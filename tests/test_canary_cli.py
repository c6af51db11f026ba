"""The secret canary through the command line.

Canary keys are the old, new and admin keys. Every command is driven through success,
the fault matrix, and forced crashes (in the CLI itself, inside a probe, inside the
admin call, an interrupt); after each run stdout, stderr and every file written under
the test's home and state dir are searched for the canaries and any 12+ character piece
of them. `Keyturn.run` (a subprocess) and `Keyturn.main` (tui.cli.main in this process)
do the search. Commands run in-process unless the test is about the process: its crash
output (a hook in a real interpreter), Ctrl-C, the real entry point.
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.provider_server import ANTHROPIC, ProviderServer
from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    CANARY_OPENAI,
)
from tests.support_cli import ONE_LOOK, Keyturn, Result, _main, ignores_sigint, in_process

pytest_plugins = ["tests.server_fixtures"]


@pytest.fixture
def kt(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> Keyturn:
    return Keyturn(isolated_home, capsys=capsys)


def rotation(server: ProviderServer, kt: Keyturn, *, serving: str | None = None) -> str:
    old = CANARY_OLD if server.flavour == ANTHROPIC else CANARY_OPENAI
    server.add_key(old)
    server.add_key(CANARY_NEW)
    server.admin_key = CANARY_ADMIN
    server.serving = serving or CANARY_NEW
    kt.write_config(server, old=old, new=CANARY_NEW, admin=CANARY_ADMIN)
    return old


# -- success, every command ---------------------------------------------------------------


def test_every_command_through_a_whole_rotation_leaks_nothing(
    server: ProviderServer, kt: Keyturn
) -> None:
    old = rotation(server, kt)

    def timing(**config: object) -> None:  # one look for `probe`, short ticks for the rest
        kt.write_config(server, old=old, new=CANARY_NEW, admin=CANARY_ADMIN, **config)

    timing(**ONE_LOOK)
    runs = [kt.main("probe", "svc"), kt.main("probe", "svc", "--json")]
    timing()
    runs += [kt.main("watch", "svc", "--headless", "--timeout", "10"),
             kt.main("revoke", "svc", "--yes", "--timeout", "15")]
    timing(**ONE_LOOK)
    runs += [
        kt.main("probe", "svc", "--json"),  # after: the old key is refused
        kt.main("status"),
        kt.main("status", "--json"),
        kt.main("log"),
        kt.main("log", "svc", "--json"),
        kt.main(),  # no command: the list of rotations
    ]
    assert [r.code for r in runs[:5]] == [0, 0, 0, 0, 0], [r.err for r in runs]
    assert all(r.code in (0, 1) for r in runs[5:]), [(r.code, r.err) for r in runs[5:]]
    assert json.loads(runs[4].out)["targets"][0]["verdict"] == "rejected"
    # The state dir holds the audit log (and whatever else was saved): all searched.
    assert (kt.state_dir / "audit.jsonl").exists()
    assert len(server.admin_writes()) == 1


# -- the fault matrix, through the command ---------------------------------------------------


FAULTS = [401, 403, 404, 429, 500, 502, 529, "reset_mid_body", "close", "html_200", "truncated_json",
          "huge_body", "trickle_headers", "slow", "redirect", "echo_key", "gzip"]


@pytest.mark.parametrize("fault", FAULTS, ids=[str(f) for f in FAULTS])
def test_probe_through_every_fault_leaks_nothing(
    anthropic_server: ProviderServer, kt: Keyturn, fault: int | str
) -> None:
    rotation(anthropic_server, kt)
    anthropic_server.slow_seconds = 1.0
    anthropic_server.trickle_every = 0.02
    anthropic_server.huge_size = 16 * 1024 * 1024
    anthropic_server.redirect_to = "http://127.0.0.1:9"
    anthropic_server.always("models", fault)
    anthropic_server.always("deployment", fault)
    result = kt.main("probe", "svc", "--json")
    assert result.code in (0, 1, 3), result.err
    doc = json.loads(result.out)
    assert len(doc["targets"]) == 3
    assert result.elapsed < 10


@pytest.mark.parametrize("fault", ["echo_key", 500, "trickle_headers"])
def test_revoke_with_a_misbehaving_admin_api_leaks_nothing(
    anthropic_server: ProviderServer, kt: Keyturn, fault: int | str
) -> None:
    rotation(anthropic_server, kt)
    anthropic_server.trickle_every = 0.02
    anthropic_server.always("admin", fault)
    result = kt.main("revoke", "svc", "--yes", "--timeout", "10")
    assert result.code == 1
    assert "revoke failed" in result.err
    assert anthropic_server.key_by_raw(CANARY_OLD).status == "active"


# -- forced crashes ----------------------------------------------------------------------------


def test_a_crash_in_the_cli_shows_only_the_error_type(
    server: ProviderServer, kt: Keyturn, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug with the key in its message and in its locals: exit 4, a type name, no key."""
    rotation(server, kt)
    import tui.engine.session

    real = tui.engine.session.load_keys

    def exploding_load_keys(rotation, prompt=None):
        keys = real(rotation, prompt)
        raw_old, raw_new = keys.old.reveal(), keys.new.reveal()
        raise RuntimeError(f"could not use {raw_old} then {raw_new}")

    import tui.cli.probe
    import tui.cli.revoke
    import tui.cli.watch

    for command_module in (tui.cli.probe, tui.cli.watch, tui.cli.revoke):
        monkeypatch.setattr(command_module, "load_keys", exploding_load_keys)
    for command in (["probe", "svc"], ["watch", "svc", "--headless", "--timeout", "2"],
                    ["revoke", "svc", "--yes"]):
        result = in_process(kt, capsys, *command)
        assert result.code == 4, (command, result.err)
        assert result.err.strip() == "keyturn: internal error (RuntimeError); no key material is shown"
        assert "Traceback" not in result.err
    assert server.admin_calls() == []


def test_a_crash_inside_a_probe_becomes_an_unexpected_result(
    server: ProviderServer, kt: Keyturn, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rotation(server, kt)
    from providers.base import Provider

    def exploding_probe(self, client, key, timeout):
        raise RuntimeError(f"probe blew up holding {key.reveal()}")

    monkeypatch.setattr(Provider, "probe", exploding_probe)
    result = in_process(kt, capsys, "watch", "svc", "--headless", "--timeout", "1.5")
    assert result.code == 1  # the gate cannot open on crashed probes; no crash of keyturn
    lines = [line for line in result.out.splitlines() if "unexpected" in line]
    assert lines and all("internal error in probe: RuntimeError" in line for line in lines)
    # The deployment probe (not a Provider.probe) kept its cadence.
    assert sum(" deployment " in line for line in result.out.splitlines()) >= 3
    # `probe` has no scheduler around it: the crash ends it with exit 4, still no key.
    result = in_process(kt, capsys, "probe", "svc", "--json")
    assert result.code == 4
    assert "RuntimeError" in result.err


HOOK = textwrap.dedent('''
    """Installed as sitecustomize: makes keyturn crash where the test asks, with keys in hand."""
    import os

    where = os.environ.get("KT_CRASH", "")
    if where == "send":
        import httpx

        async def send(self, request, **kwargs):
            secret = request.headers.get("x-api-key") or request.headers.get("authorization")
            raise ValueError(f"send exploded with {secret} in hand")

        httpx.AsyncClient.send = send
    elif where == "admin":
        from providers.anthropic import AnthropicProvider

        async def deactivate(self, client, admin, key_id, timeout):
            raise RuntimeError(f"admin call exploded with {admin.reveal()}")

        AnthropicProvider.deactivate = deactivate
    elif where == "listener":
        import tui.cli

        real = tui.cli.probe_line

        def probe_line(engine, role, result):
            if role.value == "new":
                raise KeyError(engine.keys.new.reveal())
            return real(engine, role, result)

        tui.cli.probe_line = probe_line
''')


def run_with_crash(kt: Keyturn, where: str, *args: str, timeout: float = 30) -> Result:
    hook = kt.home / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    env = kt.env()
    # The hook first; then whatever PYTHONPATH says where keyturn is (a checkout other
    # than the installed one).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")]))
    env["KT_CRASH"] = where
    result = kt.run(*args, env=env, timeout=timeout)
    return result


def test_a_crash_while_sending_in_a_subprocess(anthropic_server: ProviderServer, kt: Keyturn) -> None:
    rotation(anthropic_server, kt)
    result = run_with_crash(kt, "send", "probe", "svc", "--json")
    assert result.code == 4
    assert "internal error (ValueError)" in result.err
    result = run_with_crash(kt, "send", "watch", "svc", "--headless", "--timeout", "1")
    assert result.code == 1
    assert "internal error in probe: ValueError" in result.out
    assert anthropic_server.hits() == []  # the hook really stood in for the network


def test_a_crash_in_the_admin_call_in_a_subprocess(anthropic_server: ProviderServer, kt: Keyturn) -> None:
    rotation(anthropic_server, kt)
    result = run_with_crash(kt, "admin", "revoke", "svc", "--yes", "--timeout", "10")
    assert result.code == 4
    assert "internal error (RuntimeError)" in result.err
    assert anthropic_server.admin_writes() == []


def test_a_crash_in_an_output_listener_in_a_subprocess(
    anthropic_server: ProviderServer, kt: Keyturn
) -> None:
    rotation(anthropic_server, kt)
    result = run_with_crash(kt, "listener", "watch", "svc", "--headless", "--timeout", "3")
    assert result.code in (0, 1, 4), result.err
    assert "Traceback" not in result.err


@pytest.fixture(params=["sigint-default", "sigint-ignored"])
def runner_sigint(request: pytest.FixtureRequest) -> Iterator[str]:
    """pytest as started at a terminal, and as a background job, under nohup or by a CI
    runner: with SIGINT ignored, which every child it starts would inherit."""
    if request.param == "sigint-default":
        yield request.param
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield request.param
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupt_mid_watch_leaks_nothing(
    anthropic_server: ProviderServer, kt: Keyturn, runner_sigint: str
) -> None:
    rotation(anthropic_server, kt, serving=CANARY_OLD)
    proc = kt.popen("watch", "svc", "--headless", "--timeout", "30")
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # probing has started
        # A Ctrl-C at a terminal reaches a command that handles it; an ignored SIGINT
        # would leave this test waiting out the whole watch.
        assert ignores_sigint(proc.pid) in (False, None)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    result = Result(proc.returncode, first + out, err, 0.0)
    kt.check_no_canary(result)
    assert result.code == 130, result.err
    assert result.err.strip().endswith("interrupted")
    assert "Traceback" not in result.err


def test_a_raw_key_pasted_into_the_config_is_refused_without_echo(
    anthropic_server: ProviderServer, kt: Keyturn
) -> None:
    # One provider: the config is refused before any provider exists.
    server = anthropic_server
    rotation(server, kt)
    text = kt.config.read_text().replace('"env:KT_TEST_NEW"', f'"{CANARY_NEW}"')
    kt.config.write_text(text)
    result = kt.main("probe", "svc")
    assert result.code == 2
    assert "looks like a raw key" in result.err
    assert server.hits() == []



def test_secret_set_never_echoes_the_key(
    kt: Keyturn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    memory_keyring,
) -> None:
    """Piped into `secret set`: stored in the keychain, shown only masked."""
    import io

    kt.config.write_text('[rotations.svc]\nprovider = "anthropic"\n')
    monkeypatch.setattr("sys.stdin", io.StringIO(CANARY_NEW + "\n"))
    result = _main(kt, capsys, "secret", "set", "svc", "new")
    assert result.code == 0, result.err
    assert memory_keyring.get_password("keyturn", "svc/new") == CANARY_NEW
    assert "…" + CANARY_NEW[-4:] in result.out


def test_secret_set_without_a_keychain_says_so(kt: Keyturn) -> None:
    kt.config.write_text('[rotations.svc]\nprovider = "anthropic"\n')
    result = kt.main("secret", "set", "svc", "old", stdin=CANARY_OLD + "\n")
    assert result.code == 2
    assert "env:" in result.err and "PYTHON_KEYRING_BACKEND" in result.err
    assert "Traceback" not in result.err
