"""The config file's `[[rotations.NAME.destinations]]` tables, validated with pydantic.

A discriminated union on `kind`; each table becomes the plain dataclass the engine runs
(destinations.py). Like every value a user can get wrong, a problem is named without
repeating a value that may be a pasted key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from providers.cloudflare import DEFAULT_API
from tui.engine.credentials import Reference, check_reference, looks_like_key
from tui.engine.destinations import (
    COMMAND_TIMEOUT,
    KEY_FIELD,
    VARIABLE,
    Command,
    DotenvFile,
    WorkerSecret,
)

Variable = Annotated[str, Field(pattern=VARIABLE.pattern)]
#: A Cloudflare account id: 32 hex characters (the dashboard's URL shows it).
AccountId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
#: A Worker's name as it appears in API paths.
Script = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")]
CommandSeconds = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkerConfig(_Strict):
    kind: Literal["cloudflare-worker"]
    account_id: AccountId
    script: Script
    secret: Variable
    token: str
    api: str = DEFAULT_API

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        problem = check_reference(value)
        if problem:
            raise ValueError(problem)
        if Reference.parse(value).kind == "prompt":
            # A write from the dashboard cannot stop to prompt on the terminal under it.
            raise ValueError("must be an env: or keyring: reference (not prompt)")
        return value

    @field_validator("api")
    @classmethod
    def _api(cls, value: str) -> str:
        from tui.engine.config_schema import _check_url

        checked = _check_url(value, root=True)
        assert checked is not None
        return checked

    def spec(self) -> WorkerSecret:
        return WorkerSecret(self.account_id, self.script, self.secret, self.token, self.api)


class DotenvConfig(_Strict):
    kind: Literal["dotenv"]
    path: Annotated[str, Field(min_length=1, max_length=4096)]
    variable: Variable

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if "\x00" in value or not value.strip():
            raise ValueError("must be a file path")
        return value

    def spec(self) -> DotenvFile:
        return DotenvFile(self.path, self.variable)


class CommandConfig(_Strict):
    kind: Literal["command"]
    argv: Annotated[list[str], Field(min_length=1, max_length=64)]
    timeout: CommandSeconds = COMMAND_TIMEOUT
    stdin: str = KEY_FIELD
    cwd: str | None = None

    @field_validator("argv")
    @classmethod
    def _argv(cls, value: list[str]) -> list[str]:
        for word in value:
            if not word or "\x00" in word:
                raise ValueError("every word must be non-empty text")
            if KEY_FIELD in word:
                raise ValueError("the key goes on standard input (`stdin`), never in argv")
            if looks_like_key(word):
                raise ValueError("a word looks like a raw key: the key goes on standard input")
        return value

    @field_validator("stdin")
    @classmethod
    def _stdin(cls, value: str) -> str:
        if value.count(KEY_FIELD) != 1:
            raise ValueError("must hold {key} exactly once (where the key goes)")
        if looks_like_key(value.replace(KEY_FIELD, "")):
            raise ValueError("looks like a raw key; write {key} where the key goes")
        return value

    def spec(self) -> Command:
        return Command(tuple(self.argv), self.timeout, self.stdin, self.cwd)


DestinationConfig = Annotated[WorkerConfig | DotenvConfig | CommandConfig,
                              Field(discriminator="kind")]
