"""The `keyturn` command: the dashboard, and the headless commands for pipelines.

Exit codes (every command): 0 success; 1 unhealthy, refused or timed out;
2 usage, config or credential error; 3 only indeterminate results (probe);
4 internal error (the message names the error type only); 130 interrupted;
141 the reader of stdout went away (e.g. `| head`).

This module builds the parser (argparse only) and loads the one command module it
dispatches to by name (`tui/cli/<command>.py`): `keyturn --help` loads nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: typing.TYPE_CHECKING without importing typing, ~10 ms of every start (benchmarks).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from tui.engine.scheduler import Clock

EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 4, 130

DESCRIPTION = """\
Rotate a live API key with zero downtime. keyturn probes the OLD key, the NEW key
and the deployed app side by side, unlocks Revoke only after the new key (and the
deployment, serving it) answered healthy for a streak, revokes the old key and
proves the revocation took effect.

With no command it lists the configured rotations and opens the one you choose."""

EPILOG = """\
exit codes: 0 ok; 1 unhealthy, refused or timed out; 2 usage, config or
credential error; 3 only indeterminate probe results; 4 internal error.
config: --config PATH (anywhere on the line), else $KEYTURN_CONFIG, else the user
config dir's keyturn/keyturn.toml. No config yet? `keyturn init` writes one."""


class UsageError(Exception):
    """A command line argparse refused: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (exit 2) instead of the usage block."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _seconds(text: str) -> float:
    """A --timeout value: a positive, finite number of seconds (not nan, not -5)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 10**9:  # also false for nan
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive number of seconds")
    return value


def _usage_line(message: str, argv: list[str] | None) -> str:
    """The one line for a usage error; a missing rotation names the config and its rotations."""
    from tui.engine.credentials import redact_keylike

    line = redact_keylike(message)  # a key pasted as an argument is not echoed
    if "arguments are required: rotation" not in message:
        return line
    from tui.engine import config, config_file

    pre = _Parser(add_help=False)
    pre.add_argument("--config")
    try:
        explicit = pre.parse_known_args(sys.argv[1:] if argv is None else argv)[0].config
    except UsageError:
        explicit = None
    path = config.config_path(explicit)
    try:
        names = ", ".join(sorted(config_file.load(explicit).rotations)) or "none configured"
    except config.ConfigError:
        names = "the config cannot be read"
    return f"{path}: rotation: no rotation named on the command line (known: {names}); {line}"


def _global_options() -> argparse.ArgumentParser:
    """Options every command takes anywhere on the line, as gh's do: `keyturn probe x
    --config f` is `keyturn --config f probe x`. SUPPRESS keeps a value given before the
    command when none is given after it."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                         help="config file (TOML) to use")
    return options


def build_parser() -> argparse.ArgumentParser:
    common = _global_options()
    parser = _Parser(
        prog="keyturn",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="PATH", help="config file (TOML) to use")
    parser.add_argument("--version", action="version", version="keyturn 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help, description=description, epilog=EPILOG, parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command(
        "probe", "probe every target of a rotation once",
        "Probe the old key, the new key and the deployment once each and print the\n"
        "verdicts. Exit 0 when the active key (new if configured, else old) and the\n"
        "deployment are live; 1 when one is rejected or unexpected; 3 when the only\n"
        "problems are indeterminate (throttled, unavailable, unreachable).\n\n"
        "After a deploy (CI): --expect new exits 0 only when the deployment answers live\n"
        "serving the NEW key, 1 otherwise (--expect old: the OLD key).",
    )
    p.add_argument("rotation", help="rotation name from the config")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--expect", choices=("new", "old"),
                   help="exit 1 unless the deployment serves this key (a post-deploy check)")
    p.set_defaults(command_name="probe")

    p = command(
        "watch", "watch a rotation (dashboard, or lines with --headless)",
        "Watch a rotation while the new key propagates. Opens the dashboard; with\n"
        "--headless prints one line per probe and exits 0 the moment the gate opens\n"
        "(1 on timeout).",
    )
    p.add_argument("rotation", help="rotation name from the config")
    p.add_argument("--headless", action="store_true", help="print lines instead of the dashboard")
    p.add_argument("--json", action="store_true",
                   help="with --headless: one JSON object per line (probe, phase, notice, end)")
    p.add_argument("--timeout", type=_seconds, default=600.0, metavar="S",
                   help="give up after S seconds (headless; default 600)")
    p.set_defaults(command_name="watch")

    p = command(
        "revoke", "wait for the gate, revoke the old key, prove it is dead",
        "Probe until the gate opens (exit 1 without touching the admin API if it does\n"
        "not open in time), ask for confirmation unless --yes, revoke the old key\n"
        "through the provider's admin API (or print what to revoke in the console and\n"
        "wait for you), then probe until the old key is rejected for a full streak\n"
        "while the deployment stays live on the new key. Exit 0 only then.",
    )
    p.add_argument("rotation", help="rotation name from the config")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--timeout", type=_seconds, default=600.0, metavar="S",
                   help="seconds to wait for the gate, and again for the revocation (default 600)")
    p.add_argument("--rollback", action="store_true",
                   help="on an alarm after the revoke, reactivate the old key at once (Anthropic)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line (probe, phase, notice, message, end)")
    p.add_argument("--ignore-usage", action="store_true",
                   help="set aside the provider's usage report (OLD still counted after the "
                        "switch, drain): recorded in the audit log")
    p.set_defaults(command_name="revoke")

    p = command(
        "push", "write the new key where the app reads it (its destinations)",
        "Write the NEW key to every destination configured for the rotation (a Cloudflare\n"
        "Worker secret, a dotenv file, a command such as `wrangler secret put`), after\n"
        "listing them and asking (refused without a terminal unless --yes). --slot old\n"
        "writes the OLD key back: the undo before Revoke, refused after it. Each write is\n"
        "in the audit log. Exit 0 when every destination was written; 1 when one failed\n"
        "or was skipped (a Worker in a gradual deployment is left alone unless you agree).",
    )
    p.add_argument("rotation", help="rotation name from the config")
    p.add_argument("--slot", choices=("new", "old"), default="new",
                   help="which key to write (default new; old is the undo before Revoke)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(command_name="push")

    p = command(
        "reactivate", "roll back: set the revoked old key active again",
        "Set the OLD key that keyturn revoked through the admin API active again (Anthropic\n"
        "can; OpenAI deletes keys, which cannot be undone). Asks first unless --yes.\n"
        "Exit 0 when the provider confirmed it; 1 when there is nothing to reactivate or\n"
        "the provider refused.",
    )
    p.add_argument("rotation", help="rotation name from the config")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(command_name="reactivate")

    p = command(
        "demo", "the whole rotation against a built-in simulated provider",
        "Run a whole rotation against the simulated provider and deployment: no keys,\n"
        "no network. Opens the dashboard; --headless prints it as lines (under a minute).",
    )
    p.add_argument("--headless", action="store_true", help="print lines instead of the dashboard")
    p.add_argument("--state-dir", metavar="DIR",
                   help="with --headless: keep the demo's audit log and report in DIR "
                        "(by default the demo records nothing)")
    p.set_defaults(command_name="demo")

    p = command(
        "status", "every rotation's keys, last rotation and due date",
        "List every configured rotation: provider, fingerprints of the OLD and NEW keys,\n"
        "when keyturn last finished rotating it (from the audit log), the key's age and\n"
        "when the next rotation is due (rotate_every). A rotation that stopped halfway\n"
        "shows the phase it stopped in. Exit 1 when any rotation is overdue, so a\n"
        "scheduled job can run it as a check; 0 otherwise; 2 on a config error.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(command_name="status")

    p = command(
        "log", "print the audit log (every rotation, or one)",
        "Print the audit log's events, oldest first: UTC time, rotation, event and its\n"
        "details (fingerprints, request ids; never a key). A torn last line left by a\n"
        "crash is skipped with a warning. Reports of finished rotations are saved\n"
        "beside the log.",
    )
    p.add_argument("rotation", nargs="?", help="only this rotation's events")
    p.add_argument("--json", action="store_true", help="print the events as JSON lines")
    p.set_defaults(command_name="log")

    p = command(
        "secret", "store a key in the OS keychain",
        "Store keys for a rotation in the OS keychain. The key is read from a hidden\n"
        "prompt, or from stdin when piped; it is never echoed.",
    )
    secret_sub = p.add_subparsers(dest="secret_command", metavar="ACTION", required=True)
    s = secret_sub.add_parser(
        "set", help="store a key for a rotation's slot", parents=[common],
        description="Store the key for slot old, new or admin of ROTATION at the slot's\n"
        "keyring: reference (by default keyring:keyturn/ROTATION/SLOT), read it back,\n"
        "and say which keyring backend holds it. The key must have the shape of the\n"
        "rotation's provider and slot (an API key for old/new, an admin key for admin).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("rotation", help="rotation name from the config")
    s.add_argument("slot", choices=("old", "new", "admin"), help="which key")
    s.add_argument("--allow-plaintext", action="store_true",
                   help="store even in a keyring backend that writes keys unencrypted to disk")
    s.add_argument("--any-shape", action="store_true",
                   help="skip the check that the key looks like the provider's key for this slot")
    s.set_defaults(command_name="secret")

    _setup_commands(command, common)
    return parser


def _setup_commands(command, common: argparse.ArgumentParser) -> None:
    """`init`, `config check` and `completion`: getting started, with no README at hand."""
    p = command(
        "init", "write a commented config for a first rotation",
        "Write a config for one rotation: the provider, its name, where its keys live,\n"
        "the deployment's probe URL and whether there is an admin key. Asks for what the\n"
        "flags do not give when run on a terminal; without one, the flags are all there\n"
        "is. Refuses to overwrite an existing config unless --force. Then: store the keys\n"
        "(`keyturn secret set`) and check it all (`keyturn config check`).",
    )
    p.add_argument("--provider", choices=("anthropic", "openai"), help="whose keys these are")
    p.add_argument("--name", metavar="NAME", help="the rotation's name (e.g. the app's)")
    p.add_argument("--keys", choices=("keyring", "env"),
                   help="keys in the OS keychain (keyturn's slots) or in environment variables")
    p.add_argument("--deployment", metavar="URL",
                   help="your app's keyturn probe URL (GET; see the config's comments)")
    p.add_argument("--admin", choices=("none", "keyring", "env"),
                   help="an admin key lets keyturn revoke the old key itself")
    p.add_argument("--project-id", metavar="ID", help="OpenAI with an admin key: the key's project")
    p.add_argument("--force", action="store_true", help="overwrite an existing config")
    p.set_defaults(command_name="init")

    p = command(
        "config", "check the config and explain what it does",
        "Inspect the config. `keyturn config check` validates it and explains each\n"
        "rotation: its provider, where each key lives and whether it resolves (never\n"
        "showing a key), the deployment URL and what the admin key enables.",
    )
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    c = config_sub.add_parser(
        "check", help="validate the config and explain each rotation", parents=[common],
        description="Validate the config and explain each rotation. Exit 0 when every\n"
        "rotation's keys resolve; 1 when something needs doing (each says what); 2 when\n"
        "the file is invalid.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.set_defaults(command_name="config")

    p = command(
        "completion", "print a shell completion script",
        "Print the completion script for bash, zsh or fish. Load it with:\n"
        "  bash: source <(keyturn completion bash)      (or save it in\n"
        "        ~/.local/share/bash-completion/completions/keyturn)\n"
        "  zsh:  keyturn completion zsh > \"${fpath[1]}/_keyturn\"\n"
        "  fish: keyturn completion fish > ~/.config/fish/completions/keyturn.fish",
    )
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="which shell")
    # What the scripts call to complete a rotation name (quiet: nothing on any error).
    p.add_argument("--rotations", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(command_name="completion")


def main(argv: list[str] | None = None, *, clock: Clock | None = None) -> int:
    """Run one command line; `clock` replaces real time for the engine (tests)."""
    try:
        # Inside the try: a Ctrl-C while the parser is built is `interrupted`, not a traceback.
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except UsageError as exc:
        _err(_usage_line(str(exc), argv))
        return EXIT_USAGE
    args.clock = clock
    name = getattr(args, "command_name", None) or "home"
    try:
        command = importlib.import_module(f"tui.cli.{name}")
        from tui.cli.audit_read import audit_warnings_as_lines

        with audit_warnings_as_lines():  # every reader of the audit log, one line each
            return int(command.run(args) or 0)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        from tui.cli.common import reader_left

        reader_left()
    except Exception as exc:  # last line of defence: a type name, never a message with a key
        from tui.cli.common import Fail
        from tui.engine.config import ConfigError
        from tui.engine.credentials import CredentialError

        if isinstance(exc, Fail):
            _err(str(exc))
            return exc.code
        from tui.engine.lock import RotationBusy

        if isinstance(exc, RotationBusy):
            _err(str(exc))
            return 1
        from tui.engine.audit import AuditWriteError
        from tui.engine.state_dir import StateDirError

        # A state dir keyturn will not use (a symlink in it, an unreadable log) is the
        # config's problem to fix, like a bad state_dir: one line, exit 2.
        if isinstance(exc, (ConfigError, CredentialError, StateDirError, AuditWriteError)):
            _err(str(exc))
            return EXIT_USAGE
        _err(f"internal error ({type(exc).__name__}); no key material is shown")
        return EXIT_INTERNAL
    return EXIT_INTERNAL


def _err(message: str) -> None:
    from tui.cli.common import err

    err(message)
