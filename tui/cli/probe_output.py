"""`keyturn probe`'s two faces: a table for people and one JSON object for pipelines."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from tui.cli.table import render
from tui.cli.usage_output import usage_json, usage_line
from tui.engine.check import Check
from tui.engine.gate import Role, serving


def as_json(check: Check, code: int, expect: dict | None = None) -> str:
    old_fp, new_fp = check.old_fingerprint, check.new_fingerprint
    doc = {
        "rotation": check.rotation.name,
        "provider": check.rotation.provider,
        "targets": [
            {
                "role": role.value,
                "verdict": r.verdict.value,
                "status": r.status,
                "latency_ms": round(r.latency_ms, 1),
                "fingerprint": check.fingerprint_of(role),
                "request_id": r.request_id,
                "detail": r.detail,
                **({"serving": serving(r, old_fp, new_fp)} if role is Role.DEPLOYMENT else {}),
            }
            for role, r in check.results.items()
        ],
        "gate": {"open": check.gate.open, "reasons": list(check.gate.reasons)},
        **({"evidence": evidence_json(check)} if check.evidence is not None else {}),
        **({"expect": expect} if expect is not None else {}),
        "usage": usage_json(check.usage) if check.usage else None,
        "exit_code": code,
    }
    return json.dumps(doc, indent=2)


def as_table(check: Check, expectation: str | None = None,
             width: int | None = None) -> list[str]:
    """The table (rich: columns that never wrap) and its notes (details, request ids, the
    gate and the --expect verdict, wrapped at words to the terminal)."""
    old_fp, new_fp = check.old_fingerprint, check.new_fingerprint
    rows, notes = [], []
    for role, r in check.results.items():
        where = serving(r, old_fp, new_fp) if role is Role.DEPLOYMENT else ""
        rows.append((role.value, r.verdict.value, str(r.status) if r.status is not None else "-",
                     f"{r.latency_ms:.0f} ms", check.fingerprint_of(role) or "-", where))
        said = [r.detail] if r.detail and r.verdict.value != "live" else []
        if role is Role.DEPLOYMENT and check.rotation.deployment:
            said.insert(0, shown_url(check.rotation.deployment))
        if r.request_id:
            said.append(f"request id {r.request_id}")
        notes.append((role.value, "; ".join(said)))
    if check.evidence is not None:
        ev = check.evidence
        old, new, other = ev.mix
        notes.append(("samples", f"{ev.requests} sent, {ev.samples} named a key (OLD {old} · "
                      f"NEW {new}" + (f" · other {other}" if other else "") + "); "
                      f"{ev.bound_text()} after {ev.n} NEW samples, {ev.needed} needed"))
    notes.append(("gate", "open (one tick each; Revoke needs a full streak)"
                  if check.gate.open else check.gate.summary))
    if check.usage is not None:
        notes.append(("usage", usage_line(check.usage).removeprefix("usage  ")))
    if expectation:
        notes.append(("expect", expectation))
    lines = [f"rotation {check.rotation.name} ({check.rotation.provider})"]
    return lines + render(("role", "verdict", "status", "latency", "fingerprint", "serving"),
                          rows, notes, width=width)


def shown_url(url: str) -> str:
    """Host and path only: a query string may carry a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def evidence_json(check: Check) -> dict[str, object]:
    """The deployment's samples and the bound on the OLD share they give."""
    ev = check.evidence
    assert ev is not None
    old, new, other = ev.mix
    return {
        "samples_sent": ev.requests,
        "samples_named_a_key": ev.samples,
        "mix": {"old": old, "new": new, "other": other},
        "samples_since_old": ev.n,
        "samples_needed": ev.needed,
        "old_share_bound": round(ev.bound, 6),
        "max_old_share": ev.max_old_share,
        "old_seen": ev.old_last_seen_at is not None,
    }
