"""`keyturn probe`'s two faces: a table for people and one JSON object for pipelines."""

from __future__ import annotations

import json

from tui.cli.usage_output import usage_json, usage_line
from tui.engine.check import Check
from tui.engine.gate import Role, serving


def as_json(check: Check, code: int) -> str:
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
        "usage": usage_json(check.usage) if check.usage else None,
        "exit_code": code,
    }
    return json.dumps(doc, indent=2)


def as_table(check: Check) -> list[str]:
    old_fp, new_fp = check.old_fingerprint, check.new_fingerprint
    lines = [
        f"rotation {check.rotation.name} ({check.rotation.provider})",
        f"{'role':<10}  {'verdict':<11}  {'status':>6}  {'latency':>8}  {'fingerprint':<12}  "
        f"{'request id':<24}  detail",
    ]
    for role, r in check.results.items():
        fp = check.fingerprint_of(role) or "-"
        status = r.status if r.status is not None else "-"
        lines.append(
            f"{role.value:<10}  {r.verdict.value:<11}  {status:>6}  "
            f"{r.latency_ms:6.0f}ms  {fp:<12}  {(r.request_id or '-')[:24]:<24}  "
            + (f"serving {serving(r, old_fp, new_fp)}; " if role is Role.DEPLOYMENT else "")
            + r.detail
        )
    lines.append("gate: " + ("open (one probe each; Revoke needs a full streak)"
                             if check.gate.open else check.gate.summary))
    if check.usage is not None:
        lines.append(usage_line(check.usage))
    return lines
