"""Admin call failures; their messages are safe to show (cleaned, no key material)."""


class AdminError(Exception):
    """An admin call could not be made or was refused; the message is safe to show."""

    #: The provider's HTTP status when it refused (None: no answer), and the seconds its
    #: `retry-after` asked for: a reader that polls (the usage report) waits that long.
    status: int | None = None
    retry_after: float | None = None


class AdminUnsupported(AdminError):
    """The provider has no admin call for this action (e.g. OpenAI cannot reactivate)."""


class AdminOutcomeUnknown(AdminError):
    """A change was sent and no answer came back (a timeout, a reset): the provider may or
    may not have made it. Never send it again blindly; read the key's status instead."""


class AdminKeyInactive(AdminError):
    """The key that fits is listed, but not active: it was deactivated already."""

    def __init__(self, message: str, key_id: str) -> None:
        super().__init__(message)
        self.key_id = key_id
