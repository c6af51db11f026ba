"""The config file's schema, validated with pydantic (imported only to validate a file).

Unknown keys are errors; values a user can get wrong carry a message that names the
problem without repeating a value that may be a pasted key.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from providers import PROVIDER_NAMES
from tui.engine.config import NAME, parse_drain, parse_duration
from tui.engine.credentials import check_reference, looks_like_key

Seconds = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]
Streak = Annotated[int, Field(ge=1, le=1000, strict=True)]
Policy = Literal["reset", "hold"]
#: The provider names providers/__init__.py knows, and no others.
ProviderName = Literal[PROVIDER_NAMES]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    interval: Seconds = 2.0
    timeout: Seconds = 1.5
    streak: Streak = 5
    #: What an indeterminate result does to a streak: break it (reset) or leave it (hold).
    indeterminate: Policy = "reset"


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _check_url(value: str | None, *, root: bool = False) -> str | None:
    """An http(s) URL with a host and a valid port; a `root` (base_url) has no query."""
    if value is None:
        return None
    problem = "must be an http:// or https:// URL"
    if value != value.strip() or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(problem + " (no spaces or control characters)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        raise ValueError(problem + " with a valid host and port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(problem)
    if root and (parts.query or parts.fragment):
        raise ValueError("must not have a query or fragment (paths are appended to it)")
    if root and parts.scheme == "http" and parts.hostname not in LOOPBACK:
        # base_url receives the keys: over plain http anyone on the path reads them
        # (even a provider that redirects to https has seen the key by then).
        raise ValueError("must be https:// (keys are sent to it); http:// only for localhost")
    return value


class RotationConfig(_Strict):
    provider: ProviderName
    old: str | None = None
    new: str | None = None
    admin: str | None = None
    deployment: str | None = None
    base_url: str | None = None
    project_id: str | None = None
    rotate_every: str | None = None
    interval: Seconds | None = None
    timeout: Seconds | None = None
    streak: Streak | None = None
    indeterminate: Policy | None = None
    #: Wait until the provider's usage report has counted this long after the switch.
    drain: str | None = None

    @field_validator("old", "new", "admin")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = check_reference(value)
        if problem:
            # The value itself may be a pasted key: the message never repeats it.
            raise ValueError(problem)
        return value

    @field_validator("deployment")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value)

    @field_validator("base_url")
    @classmethod
    def _root(cls, value: str | None) -> str | None:
        return _check_url(value, root=True)

    @field_validator("rotate_every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("drain")
    @classmethod
    def _drain(cls, value: str | None) -> str | None:
        if value is not None:
            parse_drain(value)
        return value


class FileConfig(_Strict):
    defaults: Defaults = Defaults()
    rotations: dict[str, RotationConfig] = {}
    #: Where the audit log and reports go (default: the user state dir).
    state_dir: str | None = None

    @field_validator("rotations")
    @classmethod
    def _names(cls, rotations: dict[str, RotationConfig]) -> dict[str, RotationConfig]:
        for name in rotations:
            if looks_like_key(name):
                # A key pasted as a table name: refused, and never repeated.
                raise ValueError("a rotation name looks like a raw key; name it after the service")
            if not NAME.match(name):
                raise ValueError(f"rotation name {name!r} must be letters, digits, '-', '_' or '.'")
        return rotations
