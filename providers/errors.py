"""Admin call failures; their messages are safe to show (cleaned, no key material)."""


class AdminError(Exception):
    """An admin call could not be made or was refused; the message is safe to show."""


class AdminUnsupported(AdminError):
    """The provider has no admin call for this action (e.g. OpenAI cannot reactivate)."""
