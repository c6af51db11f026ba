"""The `keyturn` command: the dashboard, and the headless commands for pipelines.

Exit codes (every command): 0 success; 1 unhealthy, refused or timed out;
2 usage, config or credential error; 3 only indeterminate results (probe);
4 internal error (the message names the error type only); 130 interrupted;
141 the reader of stdout went away (e.g. `| head`).

Imports are lazy: `keyturn --help` loads argparse and nothing else.
"""

from __future__ import annotations

import argparse
import sys

#: typing.TYPE_CHECKING without importing typing, ~10 ms of every start (benchmarks).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from providers.base import ProbeResult
    from tui.engine.rotation import RotationEngine

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INDETERMINATE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_PIPE = 141

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


class Fail(Exception):
    """A handled failure: a message for stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


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
    p.set_defaults(func=cmd_probe)

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
    p.set_defaults(func=cmd_watch)

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
    p.set_defaults(func=cmd_revoke)

    p = command(
        "demo", "the whole rotation against a built-in simulated provider",
        "Run a whole rotation against the simulated provider and deployment: no keys,\n"
        "no network. Opens the dashboard; --headless prints it as lines (under a minute).",
    )
    p.add_argument("--headless", action="store_true", help="print lines instead of the dashboard")
    p.add_argument("--state-dir", metavar="DIR",
                   help="with --headless: keep the demo's audit log and report in DIR "
                        "(by default the demo records nothing)")
    p.set_defaults(func=cmd_demo)

    p = command(
        "status", "every rotation's keys, last rotation and due date",
        "List every configured rotation: provider, fingerprints of the OLD and NEW keys,\n"
        "when keyturn last finished rotating it (from the audit log), the key's age and\n"
        "when the next rotation is due (rotate_every). A rotation that stopped halfway\n"
        "shows the phase it stopped in. Exit 1 when any rotation is overdue, so a\n"
        "scheduled job can run it as a check; 0 otherwise; 2 on a config error.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_status)

    p = command(
        "log", "print the audit log (every rotation, or one)",
        "Print the audit log's events, oldest first: UTC time, rotation, event and its\n"
        "details (fingerprints, request ids; never a key). A torn last line left by a\n"
        "crash is skipped with a warning. Reports of finished rotations are saved\n"
        "beside the log.",
    )
    p.add_argument("rotation", nargs="?", help="only this rotation's events")
    p.add_argument("--json", action="store_true", help="print the events as JSON lines")
    p.set_defaults(func=cmd_log)

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
    s.set_defaults(func=cmd_secret_set)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        _err(_usage_line(str(exc), argv))
        return EXIT_USAGE
    if getattr(args, "func", None) is None:
        args.func = cmd_home
    try:
        return int(args.func(args) or 0)
    except Fail as exc:
        _err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _reader_left()
    except Exception as exc:  # last line of defence: a type name, never a message with a key
        from tui.engine.config import ConfigError
        from tui.engine.credentials import CredentialError

        if isinstance(exc, (ConfigError, CredentialError)):
            _err(str(exc))
            return EXIT_USAGE
        _err(f"internal error ({type(exc).__name__}); no key material is shown")
        return EXIT_INTERNAL


def _err(message: str) -> None:
    from tui.engine.credentials import redact

    print(f"keyturn: {redact(message)}", file=sys.stderr)


def _out(line: str) -> None:
    from tui.engine.credentials import redact

    try:
        print(redact(line), flush=True)
    except BrokenPipeError:
        _reader_left()


def _reader_left() -> None:
    """`keyturn log | head`: the reader left. End as a shell tool killed by SIGPIPE would
    (exit 141), quietly; the audit log is already on disk (every line fsynced)."""
    import os

    os._exit(EXIT_PIPE)


# -- shared pieces ------------------------------------------------------------------


def _load_rotation(args: argparse.Namespace):
    from tui.engine import config_file

    cfg = config_file.load(args.config)
    return cfg, cfg.rotation(args.rotation)


def _provider_for(rotation):
    from providers import provider_by_name

    return provider_by_name(rotation.provider, rotation.base_url, project_id=rotation.project_id) \
        if rotation.provider == "openai" else provider_by_name(rotation.provider, rotation.base_url)


def _clock_text() -> str:
    import time

    return time.strftime("%H:%M:%S")


def probe_line(engine: RotationEngine, role: Any, result: ProbeResult) -> str:
    track = engine.tracks[role]
    status = str(result.status) if result.status is not None else "-"
    extra = ""
    if role.value == "deployment":
        from tui.engine.gate import serving

        extra = f"  serving {serving(result, *engine.fingerprints)}"
    detail = f"  {result.detail}" if result.verdict.value != "live" else ""
    return (
        f"{_clock_text()}  {role.value:<10}  {result.verdict.value:<11}  {status:>3}  "
        f"{result.latency_ms:6.0f} ms  streak {min(track.streak, track.need)}/{track.need}{extra}{detail}"
    )


async def _wait_for(engine: RotationEngine, done, timeout: float) -> bool:
    """Wait until `done()` is true (checked on every engine event) or the timeout passes."""
    return await engine.wait_until(done, timeout)


def _print_events(engine: RotationEngine) -> None:
    from tui.engine.rotation import Notice, PhaseChanged, Probed

    def show(event: object) -> None:
        if isinstance(event, Probed):
            _out(probe_line(engine, event.role, event.result))
        elif isinstance(event, PhaseChanged):
            _out(f"{_clock_text()}  phase: {event.phase.value}  ({event.reason})")
        elif isinstance(event, Notice) and event.text not in ("probing paused", "probing resumed"):
            _out(f"{_clock_text()}  {event.text}")

    engine.listeners.append(show)


def _audit_for(cfg):
    """The audit log of a run that may act; refused (exit 2) when it cannot be written.

    Every step of a rotation is recorded: a run that could not record what it did (the
    state dir is a file, a read-only mount) stops before probing, not mid-revoke.
    """
    import os

    from tui.engine.audit import AuditLog

    audit = AuditLog(cfg.state_dir)
    try:
        audit.dir.mkdir(parents=True, exist_ok=True)
        os.close(os.open(audit.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        raise Fail(f"{cfg.path}: state_dir: cannot write the audit log {audit.path} "
                   f"({type(exc).__name__}); set state_dir or KEYTURN_STATE_DIR", EXIT_USAGE) from None
    return audit


# -- commands -----------------------------------------------------------------------


def cmd_probe(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from tui.engine.gate import Role, Track, evaluate, qualifies, serving
    from tui.engine.rotation import load_keys, open_client

    _, rotation = _load_rotation(args)
    keys = load_keys(rotation)
    provider = _provider_for(rotation)

    async def run() -> dict[Role, ProbeResult]:
        from providers.deployment import DeploymentTarget

        async with open_client(provider) as client:
            jobs: dict[Role, Any] = {Role.OLD: provider.probe(client, keys.old, rotation.timeout)}
            if keys.new is not None:
                jobs[Role.NEW] = provider.probe(client, keys.new, rotation.timeout)
            if rotation.deployment:
                target = DeploymentTarget(rotation.deployment, provider)
                jobs[Role.DEPLOYMENT] = target.probe(client, None, rotation.timeout)
            results = await asyncio.gather(*jobs.values())
            return dict(zip(jobs, results, strict=True))

    results = asyncio.run(run())
    old_fp = keys.old.fingerprint
    new_fp = keys.new.fingerprint if keys.new else None
    tracks = {role: Track(role, rotation.streak, rotation.indeterminate) for role in results}
    for role, result in results.items():
        tracks[role].record(result, qualifies(role, result, new_fp))
    gate = evaluate(tracks.get(Role.NEW), tracks.get(Role.DEPLOYMENT), old_fp, new_fp)

    def fp_of(role: Role, result: ProbeResult) -> str | None:
        if role is Role.DEPLOYMENT:
            return result.served_fingerprint
        return old_fp if role is Role.OLD else new_fp

    active = Role.NEW if keys.new is not None else Role.OLD
    judged = [results[active]] + ([results[Role.DEPLOYMENT]] if Role.DEPLOYMENT in results else [])
    if any(r.verdict.value in ("rejected", "unexpected") for r in judged):
        code = EXIT_FAIL
    elif all(r.verdict.value == "live" for r in judged):
        code = EXIT_OK
    else:
        code = EXIT_INDETERMINATE
    if args.json:
        doc = {
            "rotation": rotation.name,
            "provider": rotation.provider,
            "targets": [
                {
                    "role": role.value,
                    "verdict": r.verdict.value,
                    "status": r.status,
                    "latency_ms": round(r.latency_ms, 1),
                    "fingerprint": fp_of(role, r),
                    "request_id": r.request_id,
                    "detail": r.detail,
                    **({"serving": serving(r, old_fp, new_fp)} if role is Role.DEPLOYMENT else {}),
                }
                for role, r in results.items()
            ],
            "gate": {"open": gate.open, "reasons": list(gate.reasons)},
            "exit_code": code,
        }
        _out(json.dumps(doc, indent=2))
        return code
    _out(f"rotation {rotation.name} ({rotation.provider})")
    _out(f"{'role':<10}  {'verdict':<11}  {'status':>6}  {'latency':>8}  {'fingerprint':<12}  "
         f"{'request id':<24}  detail")
    for role, r in results.items():
        fp = fp_of(role, r) or "-"
        if role is Role.DEPLOYMENT:
            fp = f"{fp}"
        _out(
            f"{role.value:<10}  {r.verdict.value:<11}  {r.status if r.status is not None else '-':>6}  "
            f"{r.latency_ms:6.0f}ms  {fp:<12}  {(r.request_id or '-')[:24]:<24}  "
            + (f"serving {serving(r, old_fp, new_fp)}; " if role is Role.DEPLOYMENT else "")
            + r.detail
        )
    _out("gate: " + ("open (one probe each; Revoke needs a full streak)" if gate.open else gate.summary))
    return code


def _run_engine(rotation, provider, keys, audit, body) -> int:
    """Run `body(engine)` with a started engine and one shared client; always stops it."""
    import asyncio

    from tui.engine.rotation import RotationEngine, open_client

    async def run() -> int:
        async with open_client(provider) as client:
            engine = RotationEngine(rotation, provider, keys, client, audit=audit)
            try:
                return await body(engine)
            finally:
                await engine.stop()

    return asyncio.run(run())


def cmd_watch(args: argparse.Namespace) -> int:
    from tui.engine.rotation import load_keys

    cfg, rotation = _load_rotation(args)
    if not args.headless:
        from tui.app import run_dashboard

        return run_dashboard(cfg, rotation.name)
    keys = load_keys(rotation)
    if keys.new is None:
        _out(f"{rotation.name}: no new key yet; watching the old key (the gate cannot open)")

    audit = _audit_for(cfg)

    async def body(engine: RotationEngine) -> int:
        from tui.engine import lifecycle

        _print_events(engine)
        point = lifecycle.resume(engine, audit)
        if point is not None:
            # The old key's revoke is past (audit log): watch the verification, not the gate.
            _out(f"{rotation.name}: revoke of old key {point.old_fingerprint} was requested at "
                 f"{point.since}; now {point.phase}. `keyturn revoke {rotation.name}` finishes it.")
            if point.phase == "done":
                return EXIT_OK
            engine.start()
            code = await _verify(engine, args.timeout)
            _finish(cfg, engine)
            return code
        engine.start()
        if await _wait_for(engine, lambda: engine.gate.open, args.timeout):
            _out(f"{_clock_text()}  gate open: Revoke unlocked")
            return EXIT_OK
        _out(f"{_clock_text()}  timed out after {args.timeout:g}s: {engine.gate.summary}")
        return EXIT_FAIL

    return _run_engine(rotation, _provider_for(rotation), keys, audit, body)


async def _confirm(question: str) -> bool:
    import asyncio

    answer = await asyncio.to_thread(input, question)
    return answer.strip().lower() in ("y", "yes")


async def revoke_flow(engine: RotationEngine, *, yes: bool, timeout: float, interactive: bool) -> int:
    """Gate → confirmation → revoke → verify; shared by `revoke` and the headless demo."""
    from providers.base import AdminError
    from tui.engine.rotation import PRE_REVOKE, GateLocked

    async def console_revocation() -> None:
        _out(engine.console_steps())
        if not yes and (
            not interactive or not await _confirm("Revoked it in the console? [y/N] ")
        ):
            raise Fail("console revocation not confirmed")
        engine.confirm_console()

    engine.start()
    if engine.phase not in PRE_REVOKE:  # resumed from the audit log: never revoke again
        if engine.awaiting_console:
            await console_revocation()
        return await _verify(engine, timeout)
    if not await _wait_for(engine, lambda: engine.can_revoke, timeout):
        raise Fail(f"gate did not open within {timeout:g}s ({engine.gate.summary}); "
                   "the admin API was not called")
    old = engine.keys.old
    _out(f"{_clock_text()}  gate open: ready to revoke OLD key {old.masked} ({old.fingerprint})")
    if not yes:
        if not interactive:
            raise Fail("refusing to revoke without confirmation: stdin is not a terminal "
                       "(pass --yes)", EXIT_USAGE)
        if not await _confirm(f"Revoke OLD key {old.masked} ({old.fingerprint})? [y/N] "):
            _out("not revoked")
            return EXIT_FAIL
    # Time passed while asking: the gate must still be open at this very moment.
    while True:
        if not await _wait_for(engine, lambda: engine.can_revoke, timeout):
            raise Fail(f"gate closed and did not reopen within {timeout:g}s ({engine.gate.summary})")
        try:
            receipt = await engine.revoke()
            break
        except GateLocked:
            continue
        except AdminError as exc:
            raise Fail(f"revoke failed: {exc}") from None
    if receipt is None:  # no admin credential: the user revokes in the console
        await console_revocation()
    return await _verify(engine, timeout)


async def _verify(engine: RotationEngine, timeout: float) -> int:
    """Wait until the old key is proved dead (0) or the deployment raises an alarm (1)."""
    from tui.engine.rotation import Phase

    finished = await _wait_for(engine, lambda: engine.phase in (Phase.DONE, Phase.FAILED), timeout)
    if engine.phase is Phase.DONE:
        _out(f"{_clock_text()}  done: old key refused {engine.rotation.streak} times in a row, "
             "deployment live on NEW")
        return EXIT_OK
    if engine.phase is Phase.FAILED:
        hint = " Reactivate the old key from the dashboard (a)." if engine.can_reactivate else ""
        raise Fail(f"ALARM: {engine.alarm}.{hint}")
    from tui.engine.gate import Role

    assert not finished
    old_track = engine.tracks[Role.OLD]
    raise Fail(f"revocation not confirmed within {timeout:g}s "
               f"(old key refused {old_track.streak}/{old_track.need} in a row)")


def cmd_revoke(args: argparse.Namespace) -> int:
    from tui.engine.lifecycle import finish_interrupted_promotion
    from tui.engine.rotation import load_keys

    cfg, rotation = _load_rotation(args)
    audit = _audit_for(cfg)
    repaired = finish_interrupted_promotion(rotation, audit)
    if repaired is not None:
        _out(repaired.message)
    keys = load_keys(rotation)
    if keys.new is None:
        raise Fail(f"{rotation.name}: no new key configured; nothing to rotate to", EXIT_USAGE)
    interactive = sys.stdin is not None and sys.stdin.isatty()

    async def body(engine: RotationEngine) -> int:
        from tui.engine import lifecycle
        from tui.engine.rotation import Phase

        _print_events(engine)
        point = lifecycle.resume(engine, audit)
        old = engine.keys.old
        if point is not None and point.phase == "done":
            _out(f"{rotation.name}: old key {old.masked} ({old.fingerprint}) was already revoked "
                 "and confirmed dead (audit log); nothing to do")
            _out(lifecycle.promote_slots(rotation, engine.keys, audit).message)
            return EXIT_OK
        if point is not None:
            _out(f"{_clock_text()}  resuming from the audit log: revoke of old key "
                 f"{old.fingerprint} was requested at {point.since}; not requesting it again")
        elif not args.yes and not interactive:
            # Refuse at once, not after waiting (up to --timeout) for the gate to open.
            raise Fail("refusing to revoke without confirmation: stdin is not a terminal "
                       "(pass --yes)", EXIT_USAGE)
        code = await revoke_flow(engine, yes=args.yes, timeout=args.timeout, interactive=interactive)
        if engine.phase is Phase.DONE:
            _finish(cfg, engine)
        return code

    return _run_engine(rotation, _provider_for(rotation), keys, audit, body)


def _finish(cfg_or_state_dir: Any, engine: RotationEngine) -> None:
    """The rotation is done: save the report, promote the key slots, say where things are."""
    from tui.engine import lifecycle

    try:
        finished = lifecycle.finish(cfg_or_state_dir, engine)
    except OSError as exc:
        _err(f"could not save the report: {exc.strerror or type(exc).__name__}")
        return
    _out(f"report: {finished.report}")
    _out(finished.promotion.message)


def cmd_demo(args: argparse.Namespace) -> int:
    if not args.headless:
        from tui.app import run_demo

        return run_demo()
    from tui.engine.demo import build_demo

    demo = build_demo()
    _out("keyturn demo: simulated provider, old and new keys, a deployment switching over "
         f"{demo.world.window:g}s, streak {demo.rotation.streak}")

    audit = None
    if args.state_dir:
        from pathlib import Path

        from tui.engine.audit import AuditLog

        audit = AuditLog(Path(args.state_dir))

    async def body(engine: RotationEngine) -> int:
        from tui.engine.rotation import Phase

        _print_events(engine)
        code = await revoke_flow(engine, yes=True, timeout=60, interactive=False)
        if audit is not None and engine.phase is Phase.DONE:
            from tui.engine.lifecycle import write_report

            _out(f"report: {write_report(audit.dir, engine.rotation.name, engine)}")
        return code

    return _run_engine(demo.rotation, demo.provider, demo.keys, audit, body)


def cmd_secret_set(args: argparse.Namespace) -> int:
    import getpass

    from tui.engine import config_file
    from tui.engine.credentials import Reference, default_reference, store

    cfg = config_file.load(args.config)
    rotation = cfg.rotations.get(args.rotation)
    ref = getattr(rotation, args.slot) if rotation else default_reference(args.rotation, args.slot)
    if Reference.parse(ref).kind != "keyring":
        raise Fail(f"{args.rotation}.{args.slot} is {ref}: only keyring: references are stored "
                   "by keyturn (set that yourself)", EXIT_USAGE)
    if sys.stdin is not None and sys.stdin.isatty():
        raw = getpass.getpass(f"{args.slot} key for {args.rotation} (hidden): ")
    else:
        raw = sys.stdin.readline() if sys.stdin is not None else ""
    if not raw.strip():
        raise Fail("no key given", EXIT_USAGE)
    secret = store(ref, raw)
    _out(f"stored {args.slot} key {secret.masked} ({secret.fingerprint}) at {ref}")
    return EXIT_OK


class _TornLineWarnings:
    """Show the audit log's torn-line warnings as `keyturn: warning: ...` lines."""

    def __enter__(self) -> None:
        import warnings

        from tui.engine.audit import TornLine

        self._catcher = warnings.catch_warnings(record=True)
        self._caught = self._catcher.__enter__()
        warnings.simplefilter("always", TornLine)

    def __exit__(self, *exc: object) -> None:
        self._catcher.__exit__(*exc)
        for warning in self._caught:
            _err(f"warning: {warning.message}")


def _when(when: Any) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if when is not None else "-"


def cmd_status(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from tui.engine import config_file, lifecycle
    from tui.engine.audit import AuditLog

    cfg = config_file.load(args.config)
    now = datetime.now(UTC)
    with _TornLineWarnings():
        rows = lifecycle.status_rows(cfg, now=now)
    code = EXIT_FAIL if any(row.overdue for row in rows) else EXIT_OK
    if args.json:
        _out(json.dumps({
            "config": str(cfg.path),
            "audit_log": str(AuditLog(cfg.state_dir).path),
            "rotations": [row.to_json() for row in rows],
            "overdue": [row.name for row in rows if row.overdue],
            "exit_code": code,
        }, indent=2))
        return code
    if not rows:
        _out(f"no rotations configured in {cfg.path}")
        return code
    header = ("rotation", "provider", "old key", "new key", "last rotated (UTC)", "age", "every",
              "due (UTC)", "state")
    table = [header]
    for row in rows:
        due = "-"
        if row.due is not None:
            left = row.due - now
            due = f"{_when(row.due)} ({'in ' + lifecycle.human_duration(left) if left.total_seconds() > 0 else lifecycle.human_duration(-left) + ' ago'})"
        state = row.state + (f", stopped while {row.in_progress}" if row.in_progress else "")
        table.append((row.name, row.provider, row.old_fingerprint or "unknown",
                      row.new_fingerprint or "-", _when(row.last_rotated),
                      lifecycle.human_duration(row.age), row.rotate_every or "-", due, state))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        _out("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    overdue = [row.name for row in rows if row.overdue]
    if overdue:
        _out(f"overdue: {', '.join(overdue)}")
    return code


LOG_FIELDS = ("old", "new", "method", "key_id", "request_id", "status", "phase", "probes", "detail")


def cmd_log(args: argparse.Namespace) -> int:
    import json

    from tui.engine import config_file
    from tui.engine.audit import AuditLog

    cfg = config_file.load(args.config)
    audit = AuditLog(cfg.state_dir)
    with _TornLineWarnings():
        events = list(audit.events(args.rotation))
    if args.rotation and not events and args.rotation not in cfg.rotations:
        known = ", ".join(sorted(cfg.rotations)) or "none configured"
        raise Fail(f"no rotation named {args.rotation!r} in {cfg.path} nor in {audit.path} "
                   f"(known: {known})", EXIT_USAGE)
    if args.json:
        for record in events:
            _out(json.dumps(record))
        return EXIT_OK
    if not events:
        _out(f"no events{' for ' + args.rotation if args.rotation else ''} in {audit.path}")
        return EXIT_OK
    width = max(len(str(r.get("rotation", ""))) for r in events)
    for record in events:
        known = [f"{k}={record[k]}" for k in LOG_FIELDS if record.get(k) is not None]
        extra = [f"{k}={v}" for k, v in record.items()
                 if k not in LOG_FIELDS and k not in ("time", "rotation", "event")]
        rotation, event = str(record.get("rotation", "?")), str(record.get("event", "?"))
        _out(f"{record.get('time', '?')}  {rotation:<{width}}  {event:<16}  "
             f"{' '.join(known + extra)}".rstrip())
    return EXIT_OK


def cmd_home(args: argparse.Namespace) -> int:
    """No command: the list of rotations (the dashboard's chooser on a terminal)."""
    from tui.engine import config_file

    cfg = config_file.load(args.config)
    if sys.stdout.isatty() and sys.stdin is not None and sys.stdin.isatty():
        from tui.app import run_dashboard

        return run_dashboard(cfg, None)
    if not cfg.rotations:
        _out(f"no rotations configured in {cfg.path}")
        return EXIT_OK
    for name, r in sorted(cfg.rotations.items()):
        _out(f"{name:<24} {r.provider:<10} deployment={'yes' if r.deployment else 'no'}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
