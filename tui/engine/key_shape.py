"""Whether a key has the shape of the provider's key for a slot: an API key for `old` and
`new`, an admin key for `admin`.

Providers print a fixed prefix on every key they issue (Anthropic `sk-ant-api…` and
`sk-ant-admin…`; OpenAI `sk-…`, `sk-proj-…` and `sk-admin-…`), so an admin key pasted as
the NEW key, or an OpenAI key stored for an Anthropic rotation, is caught when it is
stored, not minutes later as a probe that fails for a reason that seems unrelated. No
message repeats the key: only which kind of key it looks like.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """One kind of key: what it is called and the prefixes it starts with."""

    label: str
    prefixes: tuple[str, ...]

    def fits(self, raw: str) -> bool:
        return raw.startswith(self.prefixes)

    @property
    def expected(self) -> str:
        # At most 10 characters of a prefix are shown: a 12-character piece of a key is
        # what redact() stars out (and what the canary tests look for), and a shown
        # `sk-ant-admin` would be one of an admin key.
        return f"{self.label} (starting {' or '.join(p[:10] + '…' for p in self.prefixes)})"


ANTHROPIC_API = Shape("an Anthropic API key", ("sk-ant-api",))
ANTHROPIC_ADMIN = Shape("an Anthropic admin key", ("sk-ant-admin",))
OPENAI_ADMIN = Shape("an OpenAI admin key", ("sk-admin-",))
OPENAI_API = Shape("an OpenAI API key", ("sk-proj-", "sk-"))

#: provider → (the API key's shape, the admin key's shape). Unlisted providers (the
#: simulated one) take any key.
SHAPES: dict[str, tuple[Shape, Shape]] = {
    "anthropic": (ANTHROPIC_API, ANTHROPIC_ADMIN),
    "openai": (OPENAI_API, OPENAI_ADMIN),
}

#: Most specific first: an Anthropic admin key also starts with `sk-`.
KNOWN = (ANTHROPIC_ADMIN, ANTHROPIC_API, OPENAI_ADMIN, OPENAI_API)


PROVIDER_WORD = {"anthropic": "Anthropic", "openai": "OpenAI"}


def recognise(raw: str) -> Shape | None:
    """Which kind of key `raw` looks like, or None (an `sk-ant-` key of no known kind is
    not taken for an OpenAI key because it also starts with `sk-`)."""
    shape = next((shape for shape in KNOWN if shape.fits(raw)), None)
    if shape is OPENAI_API and raw.startswith("sk-ant-"):
        return None
    return shape


def expected_shape(provider: str, slot: str) -> Shape | None:
    shapes = SHAPES.get(provider)
    if shapes is None:
        return None
    return shapes[1] if slot == "admin" else shapes[0]


def shape_problem(provider: str, slot: str, raw: str, rotation: str = "ROTATION") -> str | None:
    """Why `raw` does not fit `slot` of a `provider` rotation, or None when it fits."""
    want = expected_shape(provider, slot)
    if want is None:
        return None
    looks = recognise(raw.strip())
    if looks is want:
        return None
    what = f"looks like {looks.label}" if looks is not None else "does not look like a key we know"
    hint = ""
    if looks is not None and looks.label.endswith("admin key") and slot != "admin":
        hint = f" An admin key goes in the admin slot: `keyturn secret set {rotation} admin`."
    elif looks is not None and slot == "admin":
        hint = (" The admin slot takes an admin key, made in the organization's admin "
                "settings (see `keyturn config check`).")
    word = PROVIDER_WORD.get(provider, provider)
    return (f"the {slot} key of {rotation} ({word}) should be {want.expected}, "
            f"but this key {what}.{hint}")
