"""`keyturn config check`: validate the config and explain what each rotation will do.

For each rotation: its provider, where each key lives and whether it resolves (by its
fingerprint, never the key; a `prompt` is not asked), the deployment URL, what the admin
key enables (or what happens without one), and whether keyturn moves the keys after a
rotation. Exit 0 when nothing needs doing, 1 when something does (each line says what),
2 when the file itself is invalid (the loader's one line).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap

from tui.cli.common import EXIT_FAIL, EXIT_OK, out
from tui.cli.setup_text import GUIDES, WITHOUT_ADMIN
from tui.engine import config_file
from tui.engine.audit import AuditLog
from tui.engine.config import Rotation
from tui.engine.credentials import (
    CredentialError,
    KeychainUnavailable,
    Reference,
    Secret,
    keychain_get,
    resolve,
)
from tui.engine.key_shape import shape_problem

WIDTH = 11  # the label column


def width() -> int:
    return shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100


def line(label: str, text: str) -> None:
    """`  label       text`, the text wrapped at words under itself."""
    indent = " " * (WIDTH + 3)
    out(textwrap.fill(text, max(width(), 60), initial_indent=f"  {label:<{WIDTH}} ",
                      subsequent_indent=indent, break_long_words=False, break_on_hyphens=False))


def resolved(rotation: Rotation, slot: str) -> tuple[Secret | None, str]:
    """The key behind a slot (or None) and what to say about it; never prompts."""
    ref = getattr(rotation, slot)
    reference = Reference.parse(ref)
    if reference.kind == "prompt":
        return None, "asked for at a hidden prompt when needed (not checked here)"
    if reference.kind == "keyring":
        try:
            keychain_get(reference.service, reference.name)
        except KeychainUnavailable as exc:
            return None, f"cannot be read: {exc}"
    try:
        secret = resolve(ref, f"{rotation.name} {slot} key", required=False)
    except CredentialError as exc:
        return None, f"cannot be read: {exc}"
    if secret is None:
        return None, "not set" if ref.startswith("env:") else "not stored"
    return secret, f"resolves (fingerprint {secret.fingerprint})"


def check_rotation(rotation: Rotation) -> list[str]:
    """Explain one rotation; return what needs doing."""
    todo: list[str] = []
    guide = GUIDES.get(rotation.provider)
    where = rotation.base_url or ("the provider's API" if guide is None else "its public API")
    out(f"{rotation.name} ({rotation.provider}, {where})")
    keys: dict[str, Secret | None] = {}
    for slot in ("old", "new", "admin"):
        secret, said = resolved(rotation, slot)
        keys[slot] = secret
        ref = getattr(rotation, slot)
        if secret is not None:
            problem = shape_problem(rotation.provider, slot, secret.reveal(), rotation.name)
            if problem:
                said += f"; {problem}"
                todo.append(f"{rotation.name}: replace the {slot} key ({ref})")
        elif slot == "old" and "asked" not in said:
            todo.append(f"{rotation.name}: the old key ({ref}) is {said.split(':')[0]}")
            if said == "not stored":
                said += f": `keyturn secret set {rotation.name} old`"
        elif slot == "new" and "asked" not in said:
            said += " (not rotating yet; store the new key when you make one)"
        elif slot == "admin" and "asked" not in said:
            if rotation.admin_explicit:
                said += " (the config names it, so commands that need it stop)"
                todo.append(f"{rotation.name}: the admin key ({ref}) is not available")
            else:
                said += " (optional)"
        line(f"{slot} key", f"{ref}: {said}")
    if keys["old"] is not None and keys["old"] == keys["new"]:
        todo.append(f"{rotation.name}: old and new hold the same key")
        line("", "old and new hold the same key: store the new one in new")
    if rotation.deployment:
        line("deployment", f"{rotation.deployment} (GET; answers {{ok, status, fingerprint}}; "
                           "Revoke waits until it serves NEW)")
    else:
        line("deployment", "none: Revoke opens on the new key alone, without knowing that your "
                           "app serves it; add `deployment = \"https://…\"`")
    if guide is not None:
        if keys["admin"] is not None:
            line("admin", f"keyturn will {guide.admin_does}")
        else:
            line("admin", f"{WITHOUT_ADMIN}. An admin key is made at {guide.admin_at} by "
                          f"{guide.admin_who}; keyturn would {guide.admin_does}")
        if rotation.provider == "openai" and rotation.project_id:
            line("project", rotation.project_id)
    if rotation.uses_default_slots():
        line("key slots", "keyturn's own: after a rotation it moves NEW into OLD and empties NEW")
    else:
        line("key slots", f"after a rotation update them yourself: `old` ({rotation.old}) "
                          f"must then hold the new key, `new` ({rotation.new}) can be emptied")
    if rotation.rotate_every:
        line("policy", f"rotate every {rotation.rotate_every} (`keyturn status` exits 1 when due)")
    line("probes", f"every {rotation.interval:g}s, timeout {rotation.timeout:g}s, "
                   f"streak {rotation.streak}, indeterminate answers: {rotation.indeterminate}")
    return todo


def run(args: argparse.Namespace) -> int:
    cfg = config_file.load(args.config)  # invalid: one line naming file, key, problem; exit 2
    exists = cfg.path.exists()
    out(f"config {cfg.path}" + ("" if exists else " (no file: nothing configured)")
        + f"; audit log {AuditLog(cfg.state_dir).path}")
    if not cfg.rotations:
        out("no rotations: `keyturn init` writes a first one (or try `keyturn demo`)")
        return EXIT_FAIL
    todo: list[str] = []
    for name in sorted(cfg.rotations):
        out("")
        todo += check_rotation(cfg.rotations[name])
    out("")
    if todo:
        out("to do:")
        for item in todo:
            out(f"  - {item}")
        return EXIT_FAIL
    out("ok: every rotation's keys resolve")
    return EXIT_OK
