"""Pytest fixtures for the loopback provider server (loaded with `pytest_plugins`).

Test modules name this module in `pytest_plugins` instead of importing the fixtures,
so pytest owns the import and rewrites its asserts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.provider_server import ANTHROPIC, OPENAI, ProviderServer, running


@pytest.fixture
def anthropic_server() -> Iterator[ProviderServer]:
    with running(ANTHROPIC) as server:
        yield server


@pytest.fixture
def openai_server() -> Iterator[ProviderServer]:
    with running(OPENAI) as server:
        yield server


@pytest.fixture(params=[ANTHROPIC, OPENAI])
def server(request: pytest.FixtureRequest) -> Iterator[ProviderServer]:
    """The loopback server, once as Anthropic and once as OpenAI."""
    with running(request.param) as srv:
        yield srv
