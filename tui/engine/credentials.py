"""Credentials: the Secret type, references (`keyring:`, `env:`, `prompt`) and the keychain.

A raw key lives only inside a Secret. `str`/`repr` show a mask, `fingerprint` is safe
to log, and `reveal()` is called only where a provider builds an HTTP header. Every
revealed value is remembered so that `redact()` can scrub it from any text that is
about to leave the process (error messages, crash reports).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from providers.keys import fingerprint as fingerprint_of
from providers.text import scrub

SERVICE = "keyturn"
SLOTS = ("old", "new", "admin")

_known_raw: set[str] = set()


class CredentialError(Exception):
    """A reference could not be resolved; the message names the reference, never a key."""


class KeychainUnavailable(CredentialError):
    """No usable keyring backend on this machine."""


class KeychainUnsafe(KeychainUnavailable):
    """The keyring backend would keep the key unencrypted on disk, or not at all."""


def mask(raw: str) -> str:
    """`sk-ant-…igAA`: the provider prefix and the last four characters."""
    if len(raw) < 12:
        return "…" + "*" * 4
    m = re.match(r"^((?:sk-ant-|sk-proj-|sk-)?)", raw)
    prefix = m.group(1) if m else ""
    return f"{prefix}…{raw[-4:]}"


class Secret:
    """A credential whose printed forms are masked."""

    __slots__ = ("_raw", "fingerprint", "masked", "source")

    def __init__(self, raw: str, source: str = "") -> None:
        raw = raw.strip()
        if not raw:
            raise CredentialError(f"{source or 'credential'} is empty")
        problem = unusable(raw)
        if problem:
            raise CredentialError(f"{source or 'credential'} {problem}")
        self._raw = raw
        self.fingerprint = fingerprint_of(raw)
        self.masked = mask(raw)
        self.source = source
        remember(raw)

    def reveal(self) -> str:
        return self._raw

    def __repr__(self) -> str:
        return f"Secret({self.masked} {self.fingerprint})"

    def __str__(self) -> str:
        return self.masked

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __reduce__(self):  # never pickled with its value
        raise TypeError("a Secret cannot be pickled")


def unusable(raw: str) -> str | None:
    """Why `raw` cannot be one key sent in an HTTP header (never quoting it), or None.

    Caught here, a pasted pair of keys, a masked key copied from the screen or a stray
    escape sequence is one clear message, not a probe that fails for a misleading reason.
    """
    if any(c.isspace() for c in raw):
        return "has spaces or line breaks inside: one key is one word"
    if raw.isascii() and not raw.isprintable():
        return "has control characters (a terminal escape?): paste only the key"
    if not raw.isascii():
        return ("has non-ASCII characters no key has (the … of a masked key?): "
                "paste the whole key")
    return None


def remember(raw: str) -> None:
    """Register a raw value so redact() scrubs it (and every 12+ char piece of it)."""
    if raw and len(raw) >= 8:
        _known_raw.add(raw)


def redact(text: str) -> str:
    """`text` with any key this process has revealed shown as its mask, and any
    12-character piece of one starred out (providers.text.scrub, the one key scrub)."""
    return scrub(text, _known_raw, mask)


# -- references ---------------------------------------------------------------

REFERENCE = re.compile(r"^(keyring:(?P<service>[^/\s]+)/(?P<name>\S+)|env:(?P<var>[A-Za-z_][A-Za-z0-9_]*)|prompt)$")
RAW_KEY = re.compile(r"^(sk-|sk_|xox|ghp_|AKIA)|^[A-Za-z0-9_\-]{32,}$")


def looks_like_key(text: str) -> bool:
    """Whether a word is probably a raw key (provider prefix, or a long random token)."""
    return bool(RAW_KEY.search(text.strip()))


KEYLIKE_WORD = re.compile(r"[A-Za-z0-9_\-]{16,}")


def redact_keylike(text: str) -> str:
    """Mask every word that looks like a raw key, known to this process or not.

    `redact()` scrubs keys keyturn has loaded; this catches a key typed or pasted where
    it does not belong (a command-line word, a config key name) before it is echoed.
    """
    return KEYLIKE_WORD.sub(
        lambda m: mask(m.group()) if looks_like_key(m.group()) else m.group(), text
    )


def default_reference(rotation: str, slot: str) -> str:
    """A slot with no reference lives in the keychain under keyturn's name."""
    return f"keyring:{SERVICE}/{rotation}/{slot}"


def check_reference(ref: str) -> str | None:
    """None when `ref` is a valid reference, else a problem to report (never echoing it)."""
    if REFERENCE.match(ref):
        return None
    if RAW_KEY.search(ref) or len(ref) > 40:
        return "looks like a raw key; store it with `keyturn secret set` and reference it instead"
    return "is not a reference (use keyring:SERVICE/NAME, env:VAR or prompt)"


@dataclass(frozen=True)
class Reference:
    """A parsed credential reference."""

    kind: str  # keyring | env | prompt
    service: str = ""
    name: str = ""
    var: str = ""

    @classmethod
    def parse(cls, ref: str) -> Reference:
        m = REFERENCE.match(ref)
        if not m:
            raise CredentialError(f"not a credential reference: {ref[:16]!r}…")
        if m.group("service"):
            return cls("keyring", service=m.group("service"), name=m.group("name"))
        if m.group("var"):
            return cls("env", var=m.group("var"))
        return cls("prompt")

    def __str__(self) -> str:
        if self.kind == "keyring":
            return f"keyring:{self.service}/{self.name}"
        if self.kind == "env":
            return f"env:{self.var}"
        return "prompt"


_prompted: dict[str, Secret] = {}


def resolve(ref: str, label: str, *, required: bool = True, prompt=None) -> Secret | None:
    """The Secret a reference points to; None when it is empty and not `required`."""
    reference = Reference.parse(ref)
    if reference.kind == "env":
        raw = os.environ.get(reference.var, "")
        if not raw.strip():
            if required:
                raise CredentialError(f"{label}: environment variable {reference.var} is not set")
            return None
        return Secret(raw, str(reference))
    if reference.kind == "keyring":
        try:
            raw = keychain_get(reference.service, reference.name)
        except KeychainUnavailable:
            # An optional slot under keyturn's own keychain name (a rotation that leaves
            # `admin` or `new` unset) is empty when there is no keychain: a rotation run on
            # env: keys on a headless machine must not need a keyring backend.
            if not required and reference.service == SERVICE:
                return None
            raise
        if not raw:
            if required:
                raise CredentialError(
                    f"{label}: nothing stored at {reference} "
                    f"(store it with `keyturn secret set`)"
                )
            return None
        return Secret(raw, str(reference))
    # prompt: asked once per process, held in memory only
    if label in _prompted:
        return _prompted[label]
    raw = (prompt or ask_hidden)(f"{label}: ")
    if not raw or not raw.strip():
        if required:
            raise CredentialError(
                f"{label}: nothing entered (a `prompt` reference needs a terminal, "
                "or the key piped on stdin)"
            )
        return None
    secret = Secret(raw, "prompt")
    _prompted[label] = secret
    return secret


def ask_hidden(question: str) -> str:
    """A hidden prompt on a terminal; one line of stdin when piped; "" when there is none.

    getpass on a pipe warns that input "may be echoed" and raises EOFError on an empty
    stdin; a pipeline gets neither: it pipes the key, or is told what is missing.
    """
    import sys

    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return ""
    if stdin.isatty():
        import getpass

        try:
            return getpass.getpass(question)
        except EOFError:
            return ""
    return stdin.readline()


# -- keychain -----------------------------------------------------------------

NO_BACKEND = (
    "no usable keyring backend on this machine ({why}). Use env:VAR references in the "
    "config instead (e.g. old = \"env:ANTHROPIC_OLD_KEY\"), or choose a backend with "
    "PYTHON_KEYRING_BACKEND."
)


def _keyring():
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        raise KeychainUnavailable(NO_BACKEND.format(why="keyring found none"))
    return keyring


def keychain_get(service: str, name: str) -> str | None:
    try:
        kr = _keyring()
        return kr.get_password(service, name)
    except KeychainUnavailable:
        raise
    except Exception as exc:  # keyring backends raise many kinds; none may carry a key
        raise KeychainUnavailable(NO_BACKEND.format(why=type(exc).__name__)) from None


def keychain_set(service: str, name: str, raw: str) -> None:
    try:
        _keyring().set_password(service, name, raw)
    except KeychainUnavailable:
        raise
    except Exception as exc:
        raise KeychainUnavailable(NO_BACKEND.format(why=type(exc).__name__)) from None


def keychain_delete(service: str, name: str) -> None:
    try:
        _keyring().delete_password(service, name)
    except KeychainUnavailable:
        raise
    except Exception as exc:
        import keyring.errors

        if isinstance(exc, keyring.errors.PasswordDeleteError):
            return
        raise KeychainUnavailable(NO_BACKEND.format(why=type(exc).__name__)) from None


def backend_name() -> str:
    """The keyring backend a key is written to, as PYTHON_KEYRING_BACKEND names it
    (`keyring.backends.SecretService.Keyring`); for a chain of backends, the first one
    (the chain writes there)."""
    import keyring

    backend = keyring.get_keyring()
    chained = getattr(backend, "backends", None)
    if isinstance(chained, list) and chained:
        backend = chained[0]
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def is_plaintext(name: str) -> bool:
    """Backends that write keys to disk unencrypted (keyrings.alt's PlaintextKeyring and
    its kind name themselves so)."""
    return "plaintext" in name.lower()


def store(ref: str, raw: str, *, allow_plaintext: bool = False) -> Secret:
    """Store a key at a keyring reference (env and prompt references cannot be written),
    then read it back: a backend that keeps nothing (the null keyring) or keeps the key in
    plain text on disk (unless `allow_plaintext`) is refused, saying which backend it is."""
    reference = Reference.parse(ref)
    secret = Secret(raw, str(reference))
    if reference.kind != "keyring":
        raise CredentialError(
            f"cannot store into {reference}: only keyring: references are writable "
            f"(set the environment variable yourself)"
        )
    _keyring()  # no backend at all: NO_BACKEND
    name = backend_name()
    if is_plaintext(name) and not allow_plaintext:
        raise KeychainUnsafe(
            f"not stored: the keyring backend {name} writes keys unencrypted to disk. "
            "Choose an encrypted backend with PYTHON_KEYRING_BACKEND, use env: references, "
            "or pass --allow-plaintext to store it there anyway"
        )
    keychain_set(reference.service, reference.name, secret.reveal())
    back = keychain_get(reference.service, reference.name)
    if back is None or back.strip() != secret.reveal():
        raise KeychainUnsafe(
            f"not stored: the keyring backend {name} accepted the key but does not give it "
            f"back from {reference} (a backend that keeps nothing?). Use env:VAR references "
            "in the config instead, or choose a backend with PYTHON_KEYRING_BACKEND."
        )
    return secret
