"""The bad config matrix: every broken config or command line gets ONE stderr line
naming the file and the key, exit 2, and nothing is written or sent.

Every case runs in-process through `tui.cli.main` (fast); a representative subset also
runs through the real `keyturn` command. A key pasted where a reference belongs (or as
a key name, a rotation name, a command-line word) is refused without being echoed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support_canary import CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_cli import Keyturn
from tui.cli import main

GOOD_ROTATION = '''[rotations.svc]
provider = "anthropic"
old = "env:KT_OLD"
new = "env:KT_NEW"
base_url = "http://127.0.0.1:9"
'''

# (case id, config text, text the one line must contain to name the key)
CONFIGS: list[tuple[str, str, str]] = [
    ("toml-syntax", "[defaults\ninterval = 2\n", "line 1"),
    ("toml-unclosed-string", 'state_dir = "abc\n' + GOOD_ROTATION, "line 1"),
    ("toml-duplicate-key", GOOD_ROTATION + 'provider = "openai"\n', "line 6"),
    ("unknown-top-level-key", 'colour = "red"\n' + GOOD_ROTATION, "colour: unknown key"),
    ("unknown-defaults-key", "[defaults]\nintervall = 2.0\n" + GOOD_ROTATION,
     "defaults.intervall: unknown key"),
    ("unknown-rotation-key", GOOD_ROTATION + 'deploy = "https://x.example/h"\n',
     "rotations.svc.deploy: unknown key"),
    ("interval-not-a-number", '[defaults]\ninterval = "fast"\n' + GOOD_ROTATION, "defaults.interval"),
    ("interval-nan", "[defaults]\ninterval = nan\n" + GOOD_ROTATION, "defaults.interval"),
    ("interval-inf", "[defaults]\ninterval = inf\n" + GOOD_ROTATION, "defaults.interval"),
    ("streak-float", "[defaults]\nstreak = 2.5\n" + GOOD_ROTATION, "defaults.streak"),
    ("streak-zero", "[defaults]\nstreak = 0\n" + GOOD_ROTATION, "defaults.streak"),
    ("streak-negative", GOOD_ROTATION + "streak = -3\n", "rotations.svc.streak"),
    ("streak-string", GOOD_ROTATION + 'streak = "5"\n', "rotations.svc.streak"),
    ("timeout-zero", "[defaults]\ntimeout = 0\n" + GOOD_ROTATION, "defaults.timeout"),
    ("timeout-negative", GOOD_ROTATION + "timeout = -1.0\n", "rotations.svc.timeout"),
    ("timeout-equals-interval", "[defaults]\ninterval = 2.0\ntimeout = 2.0\n" + GOOD_ROTATION,
     "defaults.timeout"),
    ("timeout-above-interval", GOOD_ROTATION + "interval = 1.0\ntimeout = 3.0\n",
     "rotations.svc.timeout"),
    ("unknown-provider", GOOD_ROTATION.replace('"anthropic"', '"antropic"'), "rotations.svc.provider"),
    ("provider-missing", GOOD_ROTATION.replace('provider = "anthropic"\n', ""),
     "rotations.svc.provider"),
    ("reference-empty-keyring", GOOD_ROTATION.replace('"env:KT_OLD"', '"keyring:"'), "rotations.svc.old"),
    ("reference-bad-env-name", GOOD_ROTATION.replace('"env:KT_NEW"', '"env:1BAD"'), "rotations.svc.new"),
    ("reference-unknown-scheme", GOOD_ROTATION.replace('"env:KT_NEW"', '"vault:kv/new"'),
     "rotations.svc.new"),
    ("reference-not-a-string", GOOD_ROTATION.replace('"env:KT_OLD"', "42"), "rotations.svc.old"),
    ("raw-key-pasted-as-new", GOOD_ROTATION.replace('"env:KT_NEW"', f'"{CANARY_NEW}"'),
     "rotations.svc.new"),
    ("raw-key-pasted-as-admin", GOOD_ROTATION + f'admin = "{CANARY_OLD}"\n', "rotations.svc.admin"),
    ("raw-key-pasted-as-key-name", GOOD_ROTATION + f'{CANARY_NEW} = "env:X"\n',
     "unknown key"),
    ("raw-key-as-rotation-name", GOOD_ROTATION.replace("[rotations.svc]", f'[rotations."{CANARY_OLD}"]'),
     "rotations"),
    ("deployment-ftp", GOOD_ROTATION + 'deployment = "ftp://app.example/health"\n',
     "rotations.svc.deployment"),
    ("deployment-no-scheme", GOOD_ROTATION + 'deployment = "app.example/health"\n',
     "rotations.svc.deployment"),
    ("deployment-bad-port", GOOD_ROTATION + 'deployment = "https://app.example:99999/h"\n',
     "rotations.svc.deployment"),
    ("deployment-control-character", GOOD_ROTATION + 'deployment = "https://app.example/h\\u0000"\n',
     "rotations.svc.deployment"),
    ("base-url-javascript", GOOD_ROTATION.replace('"http://127.0.0.1:9"', '"javascript:alert(1)"'),
     "rotations.svc.base_url"),
    ("base-url-plain-http", GOOD_ROTATION.replace('"http://127.0.0.1:9"', '"http://api.anthropic.com"'),
     "rotations.svc.base_url"),
    ("base-url-with-query", GOOD_ROTATION.replace('"http://127.0.0.1:9"', '"https://api.example?x=1"'),
     "rotations.svc.base_url"),
    ("anthropic-base-url-with-v1", GOOD_ROTATION.replace('"http://127.0.0.1:9"',
                                                         '"https://api.anthropic.com/v1"'),
     "rotations.svc.base_url"),
    ("rotate-every-words", GOOD_ROTATION + 'rotate_every = "90 days"\n', "rotations.svc.rotate_every"),
    ("indeterminate-unknown", GOOD_ROTATION + 'indeterminate = "ignore"\n',
     "rotations.svc.indeterminate"),
    ("rotations-not-a-table", "rotations = 3\n", "rotations"),
    ("rotation-name-with-space", GOOD_ROTATION.replace("[rotations.svc]", '[rotations."my svc"]'),
     "rotations"),
    ("openai-admin-without-project", GOOD_ROTATION.replace('"anthropic"', '"openai"')
     + 'admin = "env:KT_ADMIN"\n', "rotations.svc.project_id"),
    ("defaults-not-a-table", 'defaults = "fast"\n' + GOOD_ROTATION, "defaults"),
    ("samples-zero", "[defaults]\nsamples = 0\n" + GOOD_ROTATION, "defaults.samples"),
    ("samples-over-100", GOOD_ROTATION + "samples = 101\n", "rotations.svc.samples"),
    ("samples-float", GOOD_ROTATION + "samples = 2.5\n", "rotations.svc.samples"),
    ("samples-string", "[defaults]\nsamples = \"40\"\n" + GOOD_ROTATION, "defaults.samples"),
    ("max-old-share-zero", "[defaults]\nmax_old_share = 0\n" + GOOD_ROTATION,
     "defaults.max_old_share: must be a share above 0 and at most 1"),
    # 5 meant as 5 %: refused, where 1 (meant as 1 %) could only be explained in the README.
    ("max-old-share-as-percent", GOOD_ROTATION + "max_old_share = 5\n",
     "rotations.svc.max_old_share: must be a share above 0 and at most 1 (0.01 is 1 %"),
    ("max-old-share-negative", GOOD_ROTATION + "max_old_share = -0.01\n",
     "rotations.svc.max_old_share"),
    ("max-old-share-string", GOOD_ROTATION + 'max_old_share = "1%"\n',
     "rotations.svc.max_old_share"),
    ("max-old-share-nan", "[defaults]\nmax_old_share = nan\n" + GOOD_ROTATION,
     "defaults.max_old_share"),
    # Rotation names become file names (lock, reports) and keychain names.
    ("rotation-name-newline", GOOD_ROTATION.replace("[rotations.svc]", '[rotations."svc\\n"]'),
     "rotation name 'svc\\n' must be"),
    ("rotation-name-slash", GOOD_ROTATION.replace("[rotations.svc]", '[rotations."../x"]'),
     "rotation name '../x' must be"),
    ("rotation-name-dot-dot", GOOD_ROTATION.replace("[rotations.svc]", '[rotations.".."]'),
     "rotation name '..' must be"),
    ("rotation-name-200-characters",
     GOOD_ROTATION.replace("[rotations.svc]", '[rotations."' + "a." * 100 + '"]'),
     "must be 1 to 64 letters"),
    ("raw-key-as-rotation-name-with-a-bad-table",
     f'[rotations."{CANARY_OLD}"]\nprovider = "antropic"\n', "rotation name looks like a raw key"),
    ("raw-key-inside-a-rotation-name",
     GOOD_ROTATION.replace("[rotations.svc]", f'[rotations."svc {CANARY_NEW}"]'), "rotation name"),
    # Bounds: a probe flood, a timeout no answer can beat, a due date no date can hold.
    ("interval-a-microsecond", "[defaults]\ninterval = 1e-6\ntimeout = 1e-7\n" + GOOD_ROTATION,
     "defaults.interval: Input should be greater than or equal to 0.2"),
    ("interval-below-bound", GOOD_ROTATION + "interval = 0.1\ntimeout = 0.05\n",
     "rotations.svc.interval"),
    ("timeout-below-bound", GOOD_ROTATION + "timeout = 0.01\n",
     "rotations.svc.timeout: Input should be greater than or equal to 0.1"),
    ("rotate-every-overflows", GOOD_ROTATION + 'rotate_every = "99999999w"\n',
     "rotations.svc.rotate_every: must be at most 3650d"),
    ("rotate-every-thousands-of-digits", GOOD_ROTATION + f'rotate_every = "{"9" * 5000}d"\n',
     "rotations.svc.rotate_every: must be a positive duration"),
    # tomllib recurses per level of nesting: the stack runs out long before 100,000.
    ("toml-arrays-nested-100000-deep", "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
     "nested too deeply"),
    ("toml-inline-tables-nested-500-deep", GOOD_ROTATION + "deployment = " + "{a=" * 500 + "1"
     + "}" * 500 + "\n", "nested too deeply"),
]

#: Cases also run through the real `keyturn` command: a parse error, a key pasted into the
#: config, and nesting deep enough to exhaust a real interpreter's stack. Every case's one
#: line, its prefix and the files left behind are checked in-process, the same code.
SUBPROCESS = {"toml-syntax", "raw-key-pasted-as-new", "toml-arrays-nested-100000-deep"}


def written_files(home: Path, config: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file() and p != config)


def one_line_of(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    return lines[0]


@pytest.fixture
def env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KT_OLD", CANARY_OLD)
    monkeypatch.setenv("KT_NEW", CANARY_NEW)


@pytest.mark.parametrize("case, text, names", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_bad_config_in_process(
    case: str, text: str, names: str, isolated_home: Path, capsys: pytest.CaptureFixture[str],
    env_keys: None,
) -> None:
    config = isolated_home / "keyturn.toml"
    config.write_text(text, encoding="utf-8")
    code = main(["--config", str(config), "probe", "svc"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    line = one_line_of(err)
    assert line.startswith("keyturn: ") and str(config) in line
    assert names in line, line
    assert "Traceback" not in err
    assert written_files(isolated_home, config) == []
    assert_no_canary(out, err)


@pytest.mark.parametrize("case, text, names", [c for c in CONFIGS if c[0] in SUBPROCESS],
                         ids=[c[0] for c in CONFIGS if c[0] in SUBPROCESS])
def test_bad_config_through_the_command(case: str, text: str, names: str, isolated_home: Path) -> None:
    kt = Keyturn(isolated_home, {"KT_OLD": CANARY_OLD, "KT_NEW": CANARY_NEW})
    kt.config.write_text(text, encoding="utf-8")
    result = kt.run("probe", "svc", "--json")  # searches everything for the canary
    assert result.code == 2
    assert result.out == ""
    line = one_line_of(result.err)
    assert line.startswith("keyturn: ") and str(kt.config) in line and names in line, line
    assert kt.written() == []


def test_the_config_is_never_changed(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = isolated_home / "keyturn.toml"
    text = GOOD_ROTATION.replace('"env:KT_NEW"', f'"{CANARY_NEW}"')
    config.write_text(text, encoding="utf-8")
    before = config.stat().st_mtime_ns
    for command in (["probe", "svc"], ["watch", "svc", "--headless"], ["revoke", "svc", "--yes"],
                    ["status"], ["log"]):
        assert main(["--config", str(config), *command]) == 2, command
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 5
    assert config.read_text(encoding="utf-8") == text and config.stat().st_mtime_ns == before
    assert_no_canary(err)


# -- the command line ---------------------------------------------------------------------


@pytest.fixture
def good(isolated_home: Path, env_keys: None) -> Path:
    config = isolated_home / "keyturn.toml"
    config.write_text(GOOD_ROTATION, encoding="utf-8")
    return config


@pytest.mark.parametrize("command", [["probe"], ["watch", "--headless"], ["revoke", "--yes"]])
def test_a_missing_rotation_name_names_the_file_and_the_rotations(
    command: list[str], good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(good), *command])
    err = capsys.readouterr().err
    assert code == 2
    line = one_line_of(err)
    assert str(good) in line and "svc" in line  # where, and what could have been named
    assert "rotation" in line


def test_a_rotation_not_in_the_config(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(good), "probe", "nope"]) == 2
    line = one_line_of(capsys.readouterr().err)
    assert str(good) in line and "'nope'" in line and "known: svc" in line


@pytest.mark.parametrize(
    "argv, names",
    [
        (["probe", CANARY_NEW], "no rotation named"),  # a key pasted as the rotation
        (["secret", "set", "svc", CANARY_NEW], "slot"),  # a key pasted as the slot
        (["log", CANARY_OLD], "no rotation named 'sk-ant-…igAA'"),
        (["secret", "set", CANARY_OLD, "old"], "rotation name looks like a raw key"),
        (["secret", "set", "svc\n", "new"], "rotation name 'svc\\n' must be"),
        (["secret", "set", "../svc", "new"], "rotation name '../svc' must be"),
        (["--config", CANARY_NEW, "status"], "sk-ant-…xQBB: file not found"),
        (["demo", "--headless", "--state-dir", CANARY_OLD], "looks like a raw key"),
        (["probe", "svc", "--jsn"], "--jsn"),
        (["watch", "svc", "--headless", "--timeout", "soon"], "--timeout"),
        (["watch", "svc", "--headless", "--timeout", "nan"], "positive number of seconds"),
        (["revoke", "svc", "--timeout", "-5"], "positive number of seconds"),
        (["revoke", "svc", "--timeout", "0"], "positive number of seconds"),
        (["nonsense"], "nonsense"),
        (["--config"], "--config"),
    ],
)
def test_bad_command_lines_get_one_line_and_exit_2(
    argv: list[str], names: str, good: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(good.parent)  # where a relative path made of a key would be created
    full = argv if argv == ["--config"] else ["--config", str(good), *argv]
    try:
        code = main(full)
    except SystemExit as exc:  # argparse's own exit, if it still has one
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    line = one_line_of(err)
    assert names in line, line
    assert_no_canary(out, err)
    assert not any(good.parent.glob("sk-*"))  # no file or directory named after a key


def test_missing_config_file_is_named(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = isolated_home / "nowhere" / "keyturn.toml"
    assert main(["--config", str(missing), "probe", "svc"]) == 2
    line = one_line_of(capsys.readouterr().err)
    assert str(missing) in line and "not found" in line
    assert not missing.parent.exists()


def test_config_that_is_not_text(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = isolated_home / "keyturn.toml"
    config.write_bytes(b"\xff\xfe\x00binary\x00")
    assert main(["--config", str(config), "probe", "svc"]) == 2
    line = one_line_of(capsys.readouterr().err)
    assert str(config) in line


def test_config_that_is_a_directory(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = isolated_home / "conf.d"
    config.mkdir()
    assert main(["--config", str(config), "probe", "svc"]) == 2
    line = one_line_of(capsys.readouterr().err)
    assert str(config) in line


def test_keyturn_config_env_points_at_a_missing_file(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = isolated_home / "gone.toml"
    monkeypatch.setenv("KEYTURN_CONFIG", str(missing))
    assert main(["probe", "svc"]) == 2
    assert str(missing) in one_line_of(capsys.readouterr().err)


def test_a_key_typed_as_the_rotation_of_secret_set_is_not_stored_nor_echoed(
    good: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    memory_keyring,
) -> None:
    """`keyturn secret set <KEY> old` with the key also piped in: nothing is read, nothing
    lands in the keychain under a name made of the key, and the key is not printed."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(CANARY_NEW + "\n"))
    assert main(["--config", str(good), "secret", "set", CANARY_OLD, "old"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "never from the command line" in one_line_of(err)
    assert memory_keyring.store == {}
    assert_no_canary(out, err)


def test_a_rotation_named_after_a_key_shows_in_no_command(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], env_keys: None
) -> None:
    """A table named after a key is refused by every command before anything is shown or
    written: `status`, `status --json`, `log`, `probe`."""
    config = isolated_home / "keyturn.toml"
    config.write_text(GOOD_ROTATION + GOOD_ROTATION.replace("[rotations.svc]",
                                                            f"[rotations.{CANARY_OLD}]"))
    for command in (["status"], ["status", "--json"], ["log"], ["probe", "svc"]):
        assert main(["--config", str(config), *command]) == 2, command
        out, err = capsys.readouterr()
        assert out == "" and "looks like a raw key" in one_line_of(err)
        assert_no_canary(out, err)
    assert written_files(isolated_home, config) == []
