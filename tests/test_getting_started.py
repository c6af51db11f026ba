"""The first minutes with no README at hand: `keyturn` points at `keyturn init`, init
writes a commented config (asking on a terminal, from flags otherwise), and `keyturn
config check` explains it and says what is missing, never showing a key."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest

from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tui.cli import main
from tui.engine import config_file
from tui.engine.config import ConfigError
from tui.engine.credentials import Secret


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert_no_canary(out, err)
    return code, out, err


@pytest.fixture
def config(isolated_home: Path) -> Path:
    return isolated_home / ".config" / "keyturn" / "keyturn.toml"


def test_keyturn_with_no_config_points_at_init(capsys, config: Path) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    assert out.strip() == f"no config at {config}: `keyturn init` writes a first rotation " \
                          "(or try `keyturn demo`)"


def test_init_without_a_terminal_names_the_flags_it_needs(capsys, config: Path) -> None:
    code, _, err = run(capsys, "init")
    assert code == 2
    assert "keyturn init needs --provider and --name when not run on a terminal" in err
    assert not config.exists()


def test_init_writes_a_commented_config_that_check_then_explains(
    capsys, config: Path, monkeypatch, memory_keyring
) -> None:
    code, out, _ = run(capsys, "init", "--provider", "anthropic", "--name", "vision",
                       "--deployment", "https://vision.example/health/keyturn")
    assert code == 0
    assert f"wrote {config}" in out and "keyturn secret set vision old" in out
    text = config.read_text()
    assert "# After a rotation keyturn moves NEW into the OLD slot" in text
    assert "console.anthropic.com/settings/admin-keys" in text
    rotation = config_file.load(config).rotation("vision")
    assert rotation.deployment == "https://vision.example/health/keyturn"
    assert rotation.uses_default_slots() and not rotation.admin_explicit

    code, out, _ = run(capsys, "config", "check")
    assert code == 1
    assert "old key     keyring:keyturn/vision/old: not stored: `keyturn secret set vision old`" in out
    assert "- vision: the old key (keyring:keyturn/vision/old) is not stored" in out
    assert "deployment  https://vision.example/health/keyturn" in out
    flat = " ".join(out.split())  # lines wrap at the terminal's width
    assert "without an admin key keyturn does everything but the revoke call" in flat
    assert "organization members with the admin role" in flat

    for slot, raw in (("old", CANARY_OLD), ("new", CANARY_NEW), ("admin", CANARY_ADMIN)):
        monkeypatch.setattr("sys.stdin", io.StringIO(raw + "\n"))
        assert run(capsys, "secret", "set", "vision", slot)[0] == 0
    code, out, _ = run(capsys, "config", "check")
    assert code == 0, out
    assert f"resolves (fingerprint {Secret(CANARY_OLD).fingerprint})" in out
    assert "keyturn will find the old key by its hint, deactivate it" in " ".join(out.split())
    assert out.rstrip().endswith("ok: every rotation's keys resolve")


def test_init_never_overwrites_without_force(capsys, config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text("# mine\n")
    code, _, err = run(capsys, "init", "--provider", "openai", "--name", "billing")
    assert code == 2 and "does not overwrite it (pass --force" in err
    assert config.read_text() == "# mine\n"
    assert run(capsys, "init", "--provider", "openai", "--name", "billing", "--force")[0] == 0
    assert "[rotations.billing]" in config.read_text()


def test_init_asks_on_a_terminal_for_what_the_flags_left_out(capsys, config: Path,
                                                             monkeypatch) -> None:
    monkeypatch.setattr("tui.cli.init.interactive", lambda: True)
    answers = ["openai", "bad name!", "billing", "env", "https://billing.example/probe", "env",
               "proj_abc"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(answers) + "\n"))
    code, _, err = run(capsys, "init")
    assert code == 0, err
    assert "letters, digits" in err  # the bad name was asked again, on stderr
    rotation = config_file.load(config).rotation("billing")
    assert (rotation.provider, rotation.old, rotation.admin, rotation.project_id) == (
        "openai", "env:OPENAI_API_KEY_OLD", "env:OPENAI_ADMIN_KEY", "proj_abc")
    assert rotation.deployment == "https://billing.example/probe"


def test_init_refuses_a_deployment_that_is_not_a_url_and_writes_nothing(capsys, config) -> None:
    code, _, err = run(capsys, "init", "--provider", "anthropic", "--name", "x",
                       "--deployment", 'ftp://"quoted"')
    assert code == 2 and "rotations.x.deployment: must be an http:// or https:// URL" in err
    assert not config.exists()


def test_check_with_env_references_says_the_user_moves_the_keys(capsys, tmp_path, monkeypatch):
    path = tmp_path / "k.toml"
    path.write_text('[rotations.app]\nprovider = "anthropic"\nold = "env:APP_OLD"\n'
                    'new = "env:APP_NEW"\n', encoding="utf-8")
    monkeypatch.setenv("APP_OLD", CANARY_OLD)
    monkeypatch.setenv("APP_NEW", CANARY_ADMIN)  # an admin key where the NEW key goes
    code, out, _ = run(capsys, "config", "check", "--config", str(path))
    assert code == 1
    flat = " ".join(out.split())
    assert "after a rotation update them yourself: `old` (env:APP_OLD) must then hold" in flat
    assert "this key looks like an Anthropic admin key" in flat
    assert "- app: replace the new key (env:APP_NEW)" in out
    assert "deployment none: Revoke opens on the new key alone" in flat


def test_project_id_on_an_anthropic_rotation_is_refused(tmp_path) -> None:
    path = tmp_path / "k.toml"
    path.write_text('[rotations.a]\nprovider = "anthropic"\nproject_id = "proj_1"\n')
    with pytest.raises(ConfigError, match="rotations.a.project_id: only OpenAI rotations take"):
        config_file.load(path)


def test_the_config_init_writes_is_plain_toml_for_every_choice(capsys, tmp_path) -> None:
    for provider in ("anthropic", "openai"):
        for keys in ("keyring", "env"):
            for admin in ("none", "keyring", "env"):
                path = tmp_path / f"{provider}-{keys}-{admin}.toml"
                code, _, err = run(capsys, "init", "--config", str(path), "--provider", provider,
                                   "--name", "app", "--keys", keys, "--admin", admin,
                                   "--project-id", "proj_1")
                assert code == 0, err
                tomllib.loads(path.read_text())
                rotation = config_file.load(path).rotation("app")
                assert rotation.admin_explicit is (admin != "none")
                assert max(len(line) for line in path.read_text().splitlines()) <= 100


def test_the_readme_config_sample_is_a_valid_config(tmp_path) -> None:
    """What a reader copies must load: no project_id on an Anthropic rotation, no typo."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (sample,) = [b for b in re.findall(r"```toml\n(.*?)```", readme, flags=re.DOTALL)
                 if "[defaults]" in b and "[rotations." in b]
    path = tmp_path / "sample.toml"
    path.write_text(sample, encoding="utf-8")
    cfg = config_file.load(path)
    assert cfg.rotation("cybersygn-vision").uses_default_slots()
    assert cfg.rotation("cybersygn-vision").rotate_every_seconds == 90 * 86400


def test_every_package_is_installed_by_pip_and_pipx() -> None:
    """An editable install finds every module; a real one only the packages pyproject
    lists: `tui.cli` missing meant `keyturn` could not start after `pipx install`."""
    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    on_disk = {".".join(init.parent.relative_to(root).parts)
               for top in ("providers", "tui") for init in (root / top).rglob("__init__.py")}
    assert on_disk <= listed, f"not installed: {sorted(on_disk - listed)}"
