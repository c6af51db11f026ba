"""`keyturn probe ROTATION [--json]` and `keyturn watch ROTATION --headless`, through
`tui.cli.main` in the test's process (the command's code; the process itself, its signals
and exit codes, is tested in test_canary_cli.py and test_shell_conventions.py).

The config names env: references and points base_url and the deployment at the loopback
server; exit codes and the JSON shape are what a deploy pipeline reads. Every run is
also searched for the canary keys (tests/support_cli.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.provider_server import ANTHROPIC, ProviderServer, Reply, fingerprint
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, CANARY_OPENAI
from tests.support_cli import ONE_LOOK, Keyturn, in_process

pytest_plugins = ["tests.server_fixtures"]

TARGET_FIELDS = {"role", "verdict", "status", "latency_ms", "fingerprint", "request_id", "detail"}


@pytest.fixture
def kt(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> Keyturn:
    return Keyturn(isolated_home, capsys=capsys)


def old_key(server: ProviderServer) -> str:
    return CANARY_OLD if server.flavour == ANTHROPIC else CANARY_OPENAI


def healthy(server: ProviderServer, kt: Keyturn, **config: object) -> None:
    server.add_key(old_key(server))
    server.add_key(CANARY_NEW)
    server.serving = CANARY_NEW
    kt.write_config(server, old=old_key(server), new=CANARY_NEW, **config)


def targets(doc: dict) -> dict[str, dict]:
    return {t["role"]: t for t in doc["targets"]}


def test_probe_json_all_live_exits_0(server: ProviderServer, kt: Keyturn) -> None:
    healthy(server, kt, **ONE_LOOK)
    result = kt.main("probe", "svc", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["rotation"] == "svc"
    assert set(doc) >= {"rotation", "targets", "gate"}
    by_role = targets(doc)
    assert set(by_role) == {"old", "new", "deployment"}
    for target in doc["targets"]:
        assert set(target) >= TARGET_FIELDS
        assert target["verdict"] == "live"
        assert target["status"] == 200
        assert isinstance(target["latency_ms"], (int, float)) and target["latency_ms"] >= 0
    assert by_role["old"]["fingerprint"] == fingerprint(old_key(server))
    assert by_role["new"]["fingerprint"] == fingerprint(CANARY_NEW)
    assert by_role["deployment"]["fingerprint"] == fingerprint(CANARY_NEW)
    assert by_role["new"]["request_id"].startswith("req_")
    assert isinstance(doc["gate"]["open"], bool)
    # One probe per target; no admin call from a probe.
    assert len(server.hits("models")) == 2 and len(server.hits("deployment")) == 1
    assert server.admin_calls() == []
    assert result.err == ""


def test_probe_table_names_every_target(server: ProviderServer, kt: Keyturn) -> None:
    healthy(server, kt, **ONE_LOOK)
    result = kt.main("probe", "svc")
    assert result.code == 0, result.err
    rows = result.out.splitlines()
    for role in ("old", "new", "deployment"):
        assert any(row.startswith(role) and "live" in row for row in rows), result.out
    assert fingerprint(CANARY_NEW) in result.out


@pytest.mark.parametrize(
    "setup, role, verdict",
    [
        ("new_unknown", "new", "rejected"),
        ("new_403", "new", "unexpected"),
        ("deployment_html", "deployment", "unexpected"),
        ("deployment_rejected", "deployment", "rejected"),
    ],
)
def test_probe_exits_1_when_the_active_key_or_deployment_fails(
    server: ProviderServer, kt: Keyturn, setup: str, role: str, verdict: str
) -> None:
    healthy(server, kt, **ONE_LOOK)
    if setup == "new_unknown":
        server.keys.pop(CANARY_NEW)
    elif setup == "new_403":
        server.always("models", lambda req: 403 if CANARY_NEW in str(req.headers) else None)
    elif setup == "deployment_html":
        server.always("deployment", "html_200")
    else:
        server.serving = "sk-ant-api03-someone-else-entirely-0000000000000000"
    result = kt.main("probe", "svc", "--json")
    assert result.code == 1, result.out + result.err
    assert targets(json.loads(result.out))[role]["verdict"] == verdict


@pytest.mark.parametrize(
    "setup, role, verdict",
    [
        ("new_429", "new", "throttled"),
        ("new_529", "new", "unavailable"),
        ("deployment_503", "deployment", "unavailable"),
        ("new_slow", "new", "unreachable"),
    ],
)
def test_probe_exits_3_when_the_only_problems_are_indeterminate(
    server: ProviderServer, kt: Keyturn, setup: str, role: str, verdict: str
) -> None:
    healthy(server, kt)
    server.slow_seconds = 1.0
    action = {"new_429": 429, "new_529": 529, "new_slow": "slow"}.get(setup)
    if action is not None:
        server.always("models", lambda req: action if CANARY_NEW in str(req.headers) else None)
    else:
        server.always("deployment", Reply(503, {}, b'{"ok": false, "status": 500}'))
    result = kt.main("probe", "svc", "--json")
    assert result.code == 3, result.out + result.err
    doc = targets(json.loads(result.out))
    assert doc[role]["verdict"] == verdict
    # An indeterminate answer never reads as a refusal.
    assert "rejected" not in {t["verdict"] for t in doc.values()}


def test_probe_judges_the_new_key_not_the_old_one(server: ProviderServer, kt: Keyturn) -> None:
    healthy(server, kt, **ONE_LOOK)
    server.keys[old_key(server)].status = "deleted"  # revoked already: fine for a probe
    result = kt.main("probe", "svc", "--json")
    assert result.code == 0, result.err
    assert targets(json.loads(result.out))["old"]["verdict"] == "rejected"


def test_probe_with_only_an_old_key_and_no_keychain(server: ProviderServer, kt: Keyturn) -> None:
    """Not rotating yet: new and admin unset (their keychain slots), and no keychain here."""
    server.add_key(old_key(server))
    kt.write_config(server, old=old_key(server), deployment=False, **ONE_LOOK)
    result = kt.main("probe", "svc", "--json")
    assert result.code == 0, result.err
    assert set(targets(json.loads(result.out))) == {"old"}


def test_probe_of_an_unknown_rotation_exits_2_on_one_line(
    anthropic_server: ProviderServer, kt: Keyturn
) -> None:
    # One provider: the rotation is looked up in the config before any provider exists.
    healthy(anthropic_server, kt)
    result = kt.main("probe", "nope", "--json")
    assert result.code == 2
    assert len(result.err_lines) == 1
    assert str(kt.config) in result.err and "nope" in result.err
    assert anthropic_server.hits() == []


# -- watch --headless -----------------------------------------------------------------


def test_watch_headless_exits_0_when_the_gate_opens(server: ProviderServer, kt: Keyturn) -> None:
    healthy(server, kt, admin=CANARY_ADMIN)
    result = kt.main("watch", "svc", "--headless", "--timeout", "10")
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert any("gate open" in line for line in lines)
    probe_lines = [line for line in lines if "streak" in line]
    assert probe_lines and all(" ms " in line for line in probe_lines)
    assert any("deployment" in line and "serving NEW" in line for line in probe_lines)
    assert result.elapsed < 8
    assert server.admin_writes() == []  # watching never revokes (it reads the usage report)


def test_watch_headless_exits_1_on_timeout(anthropic_server: ProviderServer, kt: Keyturn) -> None:
    # One provider: the timeout and the gate's reason are the same code for both (each
    # provider's probes and the gate over its answers are tested on both elsewhere).
    server = anthropic_server
    healthy(server, kt)
    server.serving = old_key(server)  # the deployment never switches
    result = kt.main("watch", "svc", "--headless", "--timeout", "1.5")
    assert result.code == 1
    assert "timed out" in result.out
    assert "deployment still serving OLD" in result.out
    assert 1.4 < result.elapsed < 8


def test_watch_headless_with_a_wrong_base_url_never_opens(
    kt: Keyturn, anthropic_server: ProviderServer
) -> None:
    # One provider: an HTML answer is classified by both (test_faults, test_http_verdicts);
    # what this adds, the command printing the reason and exiting 1, is provider-independent.
    server = anthropic_server
    healthy(server, kt)
    server.always("models", "html_200")  # a captive portal instead of the API
    result = kt.main("watch", "svc", "--headless", "--timeout", "1")
    assert result.code == 1
    assert "unexpected" in result.out
    assert "HTML" in result.out  # the reason is shown, not just the verdict


def test_a_prompt_reference_in_a_pipeline(anthropic_server: ProviderServer, kt: Keyturn) -> None:
    """`old = "prompt"` with no terminal: the key piped on stdin, or one clear line (exit 2)."""
    anthropic_server.add_key(CANARY_OLD)
    kt.write_config(anthropic_server, deployment=False)
    with kt.config.open("a") as fh:
        fh.write('old = "prompt"\n')
    result = kt.main("probe", "svc")  # stdin is /dev/null
    assert result.code == 2
    assert len(result.err_lines) == 1 and "needs a terminal" in result.err
    result = kt.main("probe", "svc", "--json", stdin=CANARY_OLD + "\n")
    assert result.code == 0, result.err
    assert result.err == ""  # no "password may be echoed" warning
    assert targets(json.loads(result.out))["old"]["verdict"] == "live"


def test_probe_samples_the_deployment_and_reports_the_bound(
    anthropic_server: ProviderServer, kt: Keyturn, capsys: pytest.CaptureFixture[str]
) -> None:
    """One tick of samples, as the engine takes them: the JSON and the table carry the
    count, the mix and the bound on the OLD share, and the gate says what is missing."""
    server = anthropic_server
    healthy(server, kt, samples=12, max_old_share=0.01, interval=3.0, timeout=2.0)
    result = in_process(kt, capsys, "probe", "svc", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    ev = doc["evidence"]
    assert ev["samples_sent"] == 12 == len(server.hits("deployment"))
    assert ev["mix"] == {"old": 0, "new": 12, "other": 0}
    assert ev["samples_since_old"] == 12 and ev["samples_needed"] > 12
    assert 0.01 < ev["old_share_bound"] < 1
    assert not doc["gate"]["open"]
    assert any(r.startswith("OLD may still carry up to") for r in doc["gate"]["reasons"])
    # Half the samples land on an instance still holding OLD: the count starts over.
    server.serving = None
    answers = iter([CANARY_NEW, old_key(server)] * 6)
    server.always("deployment", lambda request: server.deployment_reply(next(answers)))
    table = in_process(kt, capsys, "probe", "svc")
    assert "OLD 6 · NEW 6" in table.out and "after 0 NEW samples" in table.out


def test_headless_watch_lines_carry_the_samples_and_the_bound(
    anthropic_server: ProviderServer, kt: Keyturn, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy(anthropic_server, kt, samples=4, max_old_share=0.01, interval=0.5, timeout=0.45)
    result = in_process(kt, capsys, "watch", "svc", "--headless", "--timeout", "1")
    assert result.code == 1  # 4 samples a tick cannot bound the OLD share in a second
    lines = [line for line in result.out.splitlines() if "  deployment  " in line]
    assert lines and all("samples 4" in line and "OLD share <" in line for line in lines)
    assert "OLD may still carry up to" in result.out
