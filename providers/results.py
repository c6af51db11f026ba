"""What providers answer with: verdicts, probe results, admin key records and receipts.

Plain data, safe to show and log: no key material, and every text in it cleaned
(providers/text.py) before it is put here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.lazy import httpx


class Verdict(StrEnum):
    """The class of a probe's result: the key works (live), is refused (rejected), or
    there is no evidence either way (throttled, unavailable, unreachable); `unexpected`
    is an answer the provider does not give (a misconfigured URL, a proxy's page)."""

    LIVE = "live"
    REJECTED = "rejected"
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    UNREACHABLE = "unreachable"
    UNEXPECTED = "unexpected"

    @property
    def indeterminate(self) -> bool:
        """No evidence either way: never proof that a key is live or dead."""
        return self in INDETERMINATE


INDETERMINATE = frozenset({Verdict.THROTTLED, Verdict.UNAVAILABLE, Verdict.UNREACHABLE})


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe's outcome, safe to show and log (no key material)."""

    verdict: Verdict
    status: int | None = None
    latency_ms: float = 0.0
    request_id: str | None = None
    detail: str = ""
    retry_after: float | None = None
    #: Deployment probes: the fingerprint of the key the deployment says it serves.
    served_fingerprint: str | None = None
    #: Monotonic time the probe finished (set by the probe loop).
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Classified:
    """What a classifier decides from a response, before timing is added."""

    verdict: Verdict
    detail: str = ""
    served_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class AdminKey:
    """A key record from a provider's admin API (never the raw key), its texts cleaned."""

    id: str
    hint: str
    status: str = "active"
    name: str = ""
    #: False when the provider's id needed cleaning (escape sequences, a lone surrogate,
    #: a flood): the cleaned id is shown, but never sent back in an admin call.
    plain: bool = True


@dataclass(frozen=True, slots=True)
class AdminReceipt:
    """Proof of an admin call: what was changed and the provider's request id."""

    key_id: str
    action: str
    status: int
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AdminResponse:
    """An admin API answer with its body read (capped): what admin calls look at."""

    status_code: int
    headers: httpx.Headers
    content: bytes
