"""Revoking through the provider's admin API: only the old key, only once, intent first.

Every step is written to the audit log before it is taken — `key_lookup` before the key
list is read, `deactivating` (with the key id) before the call goes out — and the
provider's answer after it: `revoke_confirmed`, `revoke_failed` (the provider refused,
nothing changed) or `revoke_unknown` (no answer: it may or may not have happened). A run
that stops anywhere in between is picked up by asking the provider for the key's real
status, never by sending the call again:

- the key is inactive (or gone): the revoke took effect → verifying;
- the key is active and the call was never sent: it may be sent once, after the gate
  and a person agree again;
- the key is active although the call may have gone out, or its status cannot be read:
  keyturn stops sending and asks the person to check the console (the console path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.errors import AdminError, AdminKeyInactive, AdminOutcomeUnknown
from providers.results import AdminReceipt

if TYPE_CHECKING:
    from tui.engine.history import ResumePoint
    from tui.engine.rotation import RotationEngine

#: What the provider may say of a key that no longer authenticates.
REVOKED = frozenset({"inactive", "archived", "gone"})


async def deactivate_old_key(engine: RotationEngine) -> AdminReceipt | None:
    """Look the OLD key up, record the intent, deactivate it. The receipt, or None when
    the outcome is unknown and the person must check the console. AdminError (nothing
    changed at the provider) goes up to the caller."""
    assert engine.keys.admin is not None
    old, admin, client = engine.keys.old, engine.keys.admin, engine.http()
    deadline = engine.rotation.timeout * 4
    engine.record("key_lookup", old=old.fingerprint)
    try:
        found = await engine.provider.find_admin_key(client, admin, old, deadline, engine.keys.new)
    except AdminKeyInactive as exc:
        # A list that ignores `status=active`, or a run that did this already: no call.
        confirm(engine, exc.key_id, None, reconciled=f"already {exc}")
        return None
    except AdminError as exc:
        engine.record("revoke_failed", old=old.fingerprint, detail=str(exc), sent=False)
        raise
    engine.record("deactivating", old=old.fingerprint, key_id=found.id)
    try:
        receipt = await engine.provider.deactivate(client, admin, found.id, deadline)
    except AdminOutcomeUnknown as exc:
        engine.record("revoke_unknown", old=old.fingerprint, key_id=found.id, detail=str(exc))
        await reconcile(engine, found.id, sent="maybe", why=str(exc))
        return None
    except AdminError as exc:
        engine.record("revoke_failed", old=old.fingerprint, key_id=found.id, detail=str(exc),
                      sent=True)
        raise
    confirm(engine, found.id, receipt)
    return receipt


def confirm(engine: RotationEngine, key_id: str, receipt: AdminReceipt | None, *,
            reconciled: str | None = None) -> None:
    """The provider shows the old key revoked: record it and start verifying."""
    engine.admin_key_id = key_id
    if receipt is not None:
        engine.receipts.append(receipt)
    engine.record("revoke_confirmed", old=engine.keys.old.fingerprint, key_id=key_id,
                  request_id=receipt.request_id if receipt else None,
                  status=receipt.status if receipt else None, reconciled=reconciled)
    engine.notice(f"provider confirmed: key {key_id} "
                  + (receipt.action if receipt else f"revoked ({reconciled})")
                  + (f" (request id {receipt.request_id})" if receipt and receipt.request_id else ""))
    engine.begin_verifying()


async def reconcile(engine: RotationEngine, key_id: str | None, *, sent: str, why: str) -> str:
    """Ask the provider what became of the old key and carry on from the truth.

    Returns `verifying` (revoked), `not-sent` (still active, never sent: the gate decides
    again) or `check` (unknown: the console path, nothing is sent again)."""
    old = engine.keys.old
    try:
        assert engine.keys.admin is not None
        status = await engine.provider.admin_key_status(
            engine.http(), engine.keys.admin, old, key_id, engine.rotation.timeout * 4)
    except AdminError as exc:
        status, read_error = None, str(exc)
    else:
        read_error = None
    if status in REVOKED:
        confirm(engine, key_id or "?", None, reconciled=f"the provider lists it {status}")
        return "verifying"
    if status == "active" and sent == "no":
        engine.record("revoke_failed", old=old.fingerprint, key_id=key_id, sent=False,
                      detail="stopped before the deactivation call; the provider lists the key "
                             "active")
        engine.revoked.discard(old.fingerprint)
        engine.back_to_watching("the deactivation was never sent and the old key is still "
                                "active: the gate decides again, and you confirm again")
        return "not-sent"
    seen = (f"the provider lists key {key_id or old.fingerprint} {status}" if status
            else f"its status could not be read ({read_error})")
    engine.await_console(
        f"keyturn cannot tell whether its deactivation of the old key took effect ({why}); "
        f"{seen}. It will not send the call again: check the key in the console and revoke "
        "it there if it is still active.")
    return "check"


async def resume_unanswered(engine: RotationEngine, point: ResumePoint) -> str:
    """A run stopped around the admin call (audit log): ask the provider, carry on."""
    old = engine.keys.old
    engine.revoked.add(old.fingerprint)
    engine.resumed_from = "revoking"
    engine.record("resumed", old=old.fingerprint, new=engine.fingerprints[1], phase="checking",
                  key_id=point.key_id, sent=point.sent)
    if engine.keys.admin is None:
        engine.await_console("the admin key is not available to ask the provider what "
                             "became of the old key")
        return "check"
    return await reconcile(engine, point.key_id, sent=point.sent,
                           why="the run that sent it stopped before the provider's answer "
                               "was recorded")
