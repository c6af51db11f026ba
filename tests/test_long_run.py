"""A simulated day of probes (time compressed): memory stays flat, nothing leaks."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from providers.anthropic import AnthropicProvider
from providers.simulated import make_key
from tests.support_engine import make_rig
from tests.support_server import HttpFakeClock, advance_engine
from tui.engine.config import Rotation
from tui.engine.credentials import Secret
from tui.engine.rotation import RotationEngine
from tui.engine.session import Keys, open_client

HOUR = 3_600.0
DAY = 24 * HOUR


async def test_a_simulated_day_keeps_memory_flat_and_leaves_no_task():
    # One probe every two minutes per target: 720 a day each, six times the history kept
    # (and the usage report read every four minutes: 360 reads, six times the hour kept).
    # The first 8 hours fill every history, the report's hour and the bounded caches
    # (urllib's, re's); over the 16 hours after them the interpreter's count of allocated
    # memory blocks must stay where it was. Counting blocks costs nothing while the day
    # runs (tracemalloc tripled its time) and a kept block shows however it was made: an
    # unbounded answer history grows it by ~1600 blocks every 4 hours, a flat run by
    # under 100 in 16 hours.
    interval = 120.0
    rig = make_rig(record_events=False, interval=interval, timeout=5.0, streak=5)
    rig.engine.start()
    await rig.run(8 * HOUR)
    gc.collect()
    before = sys.getallocatedblocks()
    probes_before = rig.engine.scheduler.stats.probes
    await rig.run(DAY - 8 * HOUR)
    gc.collect()
    growth = sys.getallocatedblocks() - before
    probes = rig.engine.scheduler.stats.probes - probes_before
    assert probes >= 3 * (DAY - 8 * HOUR) / interval - 3  # every target probed all day long
    assert rig.engine.scheduler.stats.overlaps == 0
    assert growth < probes / 4, f"memory grew by {growth} blocks over {probes} probes"
    await rig.close()
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("keyturn-probe")] == []


class Counting(ThreadingHTTPServer):
    connections = 0

    def get_request(self):
        Counting.connections += 1
        return super().get_request()


class Models(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API does

    def do_GET(self) -> None:
        data = json.dumps({"data": [], "has_more": False}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


async def test_one_shared_client_reuses_connections_for_every_probe():
    Counting.connections = 0
    server = Counting(("127.0.0.1", 0), Models)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        provider = AnthropicProvider(base_url=f"http://127.0.0.1:{server.server_address[1]}")
        rotation = Rotation(
            name="conn", provider="anthropic", old="prompt", new="prompt", admin="prompt",
            admin_explicit=False, deployment=None, base_url=provider.base_url, project_id=None,
            rotate_every=None, interval=0.3, timeout=0.25, streak=3, indeterminate="reset",
        )
        keys = Keys(Secret(make_key()), Secret(make_key()))
        async with open_client(provider) as client:
            # Real HTTP, the probes' cadence on a fake clock: 15 ticks of 0.3 s take no
            # more than their round trips (the keep-alive expiry is 60 s either way).
            clock = HttpFakeClock()
            engine = RotationEngine(rotation, provider, keys, client, clock=clock)
            engine.start()
            await clock.until_sleeping(2)
            assert await advance_engine(engine, 30.0,
                                        until=lambda: engine.scheduler.stats.probes >= 30)
            await engine.stop()
        assert Counting.connections <= 2, f"{Counting.connections} TCP connections for 30 probes"
    finally:
        server.shutdown()
