"""What the standard library already reads, read by it: Retry-After as an HTTP-date,
DNS failures by their exception type (naming the host), and compound durations.

Each probe goes through the real request path against the loopback server (or, for
DNS, with the resolver failing as the operating system's would), as a user meets it.
"""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import pytest

from providers import provider_by_name
from providers.results import Verdict
from providers.transport import parse_retry_after
from tests.provider_server import ANTHROPIC, OPENAI, ProviderServer
from tests.support_canary import CANARY_NEW, CANARY_OPENAI
from tui.engine import config_file
from tui.engine.config import ConfigError
from tui.engine.credentials import Secret
from tui.engine.session import open_client

pytest_plugins = ["tests.server_fixtures"]  # the server fixtures

KEY = {ANTHROPIC: CANARY_NEW, OPENAI: CANARY_OPENAI}


async def probe_at(flavour: str, base_url: str, raw: str, timeout: float = 2.0):
    provider = provider_by_name(flavour, base_url)
    async with open_client(provider) as client:
        return await provider.probe(client, Secret(raw), timeout)


async def test_a_retry_after_http_date_is_honoured(server: ProviderServer) -> None:
    server.add_key(KEY[server.flavour])
    server.retry_after = formatdate(time.time() + 40, usegmt=True)  # "Wed, 21 Oct ... GMT"
    server.script("models", 429)
    result = await probe_at(server.flavour, server.base_url, KEY[server.flavour])
    assert result.verdict is Verdict.THROTTLED
    assert result.retry_after is not None and 35 <= result.retry_after <= 41


def test_retry_after_dates_in_the_past_mean_now_and_garbage_means_nothing() -> None:
    assert parse_retry_after(formatdate(time.time() - 600, usegmt=True)) == 0.0
    assert parse_retry_after("Wed, 99 Foo 2026 25:61:00 GMT") is None
    assert parse_retry_after(formatdate(time.time() + 86400 * 7, usegmt=True)) == 3600.0


@pytest.mark.parametrize("flavour", [ANTHROPIC, OPENAI])
async def test_dns_failure_is_recognised_by_type_and_names_the_host(
    flavour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resolver fails with a message no text match knew: the type says it is DNS."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "api.keyturn-offline.example":
            raise socket.gaierror(socket.EAI_NODATA, "No address associated with hostname")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    root = "https://api.keyturn-offline.example" + ("/v1" if flavour == OPENAI else "")
    result = await probe_at(flavour, root, KEY[flavour])
    assert result.verdict is Verdict.UNREACHABLE
    assert result.detail == "DNS: api.keyturn-offline.example does not resolve"


def config_with(tmp_path, every: str):
    path = tmp_path / "keyturn.toml"
    path.write_text(f'[rotations.svc]\nprovider = "anthropic"\nrotate_every = "{every}"\n')
    return config_file.load(path)


@pytest.mark.parametrize("every, days", [("1w2d", 9), ("36h", 1.5), ("2w 3d 12h", 17.5),
                                         ("90d", 90)])
def test_rotate_every_takes_compound_durations(tmp_path, every: str, days: float) -> None:
    assert config_with(tmp_path, every).rotation("svc").rotate_every_seconds == days * 86400


@pytest.mark.parametrize("every", ["90 days", "1w2x", "0d", "d", "1.5d"])
def test_rotate_every_still_refuses_what_it_cannot_read(tmp_path, every: str) -> None:
    with pytest.raises(ConfigError, match="rotate_every: must be a positive duration like 90d, 36h"):
        config_with(tmp_path, every)
