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
config: --config PATH, else $KEYTURN_CONFIG, else the user config dir's keyturn/keyturn.toml."""


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


def build_parser() -> argparse.ArgumentParser:
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
            name, help=help, description=description, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command(
        "probe", "probe every target of a rotation once",
        "Probe the old key, the new key and the deployment once each and print the\n"
        "verdicts. Exit 0 when the active key (new if configured, else old) and the\n"
        "deployment are live; 1 when one is rejected or unexpected; 3 when the only\n"
        "problems are indeterminate (throttled, unavailable, unreachable).",
    )
    p.add_argument("rotation", help="rotation name from the config")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(command_name="probe")

    p = command(
        "watch", "watch a rotation (dashboard, or lines with --headless)",
        "Watch a rotation while the new key propagates. Opens the dashboard; with\n"
        "--headless prints one line per probe and exits 0 the moment the gate opens\n"
        "(1 on timeout).",
    )
    p.add_argument("rotation", help="rotation name from the config")
    p.add_argument("--headless", action="store_true", help="print lines instead of the dashboard")
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
    p.add_argument("--ignore-usage", action="store_true",
                   help="set aside the provider's usage report (OLD still counted after the "
                        "switch, drain): recorded in the audit log")
    p.set_defaults(command_name="revoke")

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
        "set", help="store a key for a rotation's slot",
        description="Store the key for slot old, new or admin of ROTATION at the slot's\n"
        "keyring: reference (by default keyring:keyturn/ROTATION/SLOT).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("rotation", help="rotation name")
    s.add_argument("slot", choices=("old", "new", "admin"), help="which key")
    s.set_defaults(command_name="secret")
    return parser


def main(argv: list[str] | None = None, *, clock: Clock | None = None) -> int:
    """Run one command line; `clock` replaces real time for the engine (tests)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        _err(_usage_line(str(exc), argv))
        return EXIT_USAGE
    args.clock = clock
    name = getattr(args, "command_name", None) or "home"
    try:
        command = importlib.import_module(f"tui.cli.{name}")
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
        if isinstance(exc, (ConfigError, CredentialError)):
            _err(str(exc))
            return EXIT_USAGE
        _err(f"internal error ({type(exc).__name__}); no key material is shown")
        return EXIT_INTERNAL
    return EXIT_INTERNAL


def _err(message: str) -> None:
    from tui.cli.common import err

    err(message)
