"""What `keyturn init` writes and `keyturn config check` explains, in one place: a user
who installed with pipx has no README on disk, so the config and these two commands
carry what a first rotation needs to know."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


#: Per provider: its name in words, where API keys and admin keys are made, who may make
#: an admin key, and the environment variable names init suggests.
@dataclass(frozen=True)
class ProviderGuide:
    word: str
    keys_at: str
    admin_at: str
    admin_who: str
    env_prefix: str
    admin_does: str


GUIDES = {
    "anthropic": ProviderGuide(
        word="Anthropic",
        keys_at="console.anthropic.com → Settings → API keys",
        admin_at="console.anthropic.com/settings/admin-keys",
        admin_who="organization members with the admin role; an organization account "
                  "(the Admin API is not available to individual accounts)",
        env_prefix="ANTHROPIC",
        admin_does="find the old key by its hint, deactivate it, reactivate it after an "
                   "alarm (rollback), and read usage",
    ),
    "openai": ProviderGuide(
        word="OpenAI",
        keys_at="platform.openai.com → your project → API keys",
        admin_at="platform.openai.com/settings/organization/admin-keys",
        admin_who="organization owners",
        env_prefix="OPENAI",
        admin_does="find the old key in the project (project_id) by its redacted value, "
                   "delete it (OpenAI cannot undo this), and read usage",
    ),
}

WITHOUT_ADMIN = ("without an admin key keyturn does everything but the revoke call: it "
                 "probes, unlocks Revoke, then tells you which key to revoke in the console "
                 "and proves it is dead")


def comment(text: str) -> list[str]:
    """A paragraph as TOML comment lines a person reads in an 88-column editor."""
    return textwrap.wrap(text, 88, initial_indent="# ", subsequent_indent="# ")


def q(value: str) -> str:
    """A TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def template(*, provider: str, name: str, keys: str, deployment: str | None, admin: str,
             project_id: str | None) -> str:
    """A commented config for one rotation (TOML); every line says what it does."""
    guide = GUIDES[provider]
    env = guide.env_prefix
    lines = [
        "# keyturn config, written by `keyturn init`. `keyturn config check` explains it;",
        "# every command has --help.",
        "",
        "[defaults]",
        "interval = 2.0          # seconds between two probes of one target",
        "timeout = 1.5           # seconds one probe may take (below interval)",
        "streak = 5              # healthy answers in a row before Revoke unlocks",
        'indeterminate = "reset" # a throttled/unreachable answer breaks a streak ("hold": not)',
        "",
        f"# {name}: the {guide.word} API key your app uses, rotated with zero downtime.",
        f"[rotations.{name}]",
        f'provider = "{provider}"',
    ]
    if keys == "env":
        lines += [
            "# The keys are read from environment variables (never written here):",
            f'old = "env:{env}_API_KEY_OLD"   # the key in service now',
            f'new = "env:{env}_API_KEY_NEW"   # the key you rotate to (unset: not rotating)',
            f"# After a rotation put the new key in {env}_API_KEY_OLD and unset",
            f"# {env}_API_KEY_NEW yourself: keyturn only moves keys in its own keychain slots.",
        ]
    else:
        lines += [
            "# The keys live in the OS keychain under keyturn's own names",
            f"# (keyring:keyturn/{name}/old and keyring:keyturn/{name}/new). Store them with",
            f"#   keyturn secret set {name} old    # the key in service now",
            f"#   keyturn secret set {name} new    # the key you rotate to",
            "# After a rotation keyturn moves NEW into the OLD slot and empties NEW for you.",
            f"# Create API keys at {guide.keys_at}.",
        ]
    lines.append("")
    if deployment:
        lines += [
            "# Your app's probe: GET answers {\"ok\", \"status\", \"fingerprint\"} (the README's",
            "# Worker code, or a route that calls the provider with the key it serves and",
            "# reports the first 12 hex characters of its SHA-256). Revoke waits until it",
            "# reports the NEW key.",
            f"deployment = {q(deployment)}",
        ]
    else:
        lines += [
            "# Your app's probe (recommended): with it Revoke waits until the app serves the",
            "# NEW key; it answers GET with {\"ok\", \"status\", \"fingerprint\"}.",
            '# deployment = "https://your-app.example/health/keyturn"',
        ]
    lines.append("")
    lines += comment(f"The admin key is made at {guide.admin_at} by {guide.admin_who}. "
                     f"keyturn uses it to {guide.admin_does}; {WITHOUT_ADMIN}.")
    if admin == "env":
        lines.append(f'admin = "env:{env}_ADMIN_KEY"')
    elif admin == "keyring":
        lines += [f"# Store it with: keyturn secret set {name} admin",
                  f'admin = "keyring:keyturn/{name}/admin"']
    else:
        lines += [f'# admin = "env:{env}_ADMIN_KEY"   # or: keyturn secret set {name} admin']
    if provider == "openai":
        if admin != "none":
            lines.append(f"project_id = {q(project_id or '')}   # the project the keys belong to")
        else:
            lines.append('# project_id = "proj_..."   # needed with an OpenAI admin key')
    lines += [
        "",
        '# rotate_every = "90d"   # a policy: `keyturn status` exits 1 once a rotation is due',
        "#                        # (h, d, w, and sums of them: 1w2d, 36h)",
        "",
    ]
    return "\n".join(lines)
