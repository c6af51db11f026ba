"""A loopback server that answers like Anthropic's `/v1/models` and a deployment probe.

It runs in its own process (so the client under measurement has the event loop to
itself) and counts what the benchmarks need: accepted TCP connections and requests.

Paths:
- `/v1/models` with `x-api-key`: 200 and a model list for a key starting `sk-ant-`
  (401 with Anthropic's error body when the key contains `dead` or is missing).
- `/health/probe?fp=<12 hex>`: the deployment contract, serving fingerprint `fp`.
- any path prefixed `/lat/<lo>-<hi>` (milliseconds): the answer waits a random time
  in [lo, hi] first, e.g. base_url `http://127.0.0.1:PORT/lat/0-300`.
- `/_stats`: `{"connections": N, "requests": M}`; a connection is counted when it
  serves its first request that is not `/_stats`, so asking does not change the count.

Run: `python -m tests.benchmarks.server [--port 0]`; prints `PORT <n>` when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys

LATENCY = re.compile(r"^/lat/(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)(/.*)$")

MODELS = json.dumps(
    {"data": [{"id": "claude-bench", "type": "model", "display_name": "Bench"}],
     "has_more": False, "first_id": "claude-bench", "last_id": "claude-bench"}
).encode()
REJECTED = json.dumps(
    {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
).encode()


class Counters:
    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.rng = random.Random(1)


def answer(status: int, body: bytes, rid: int, extra: str = "") -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "OK")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"request-id: req_bench{rid:08d}\r\n{extra}\r\n"
    )
    return head.encode() + body


async def serve_connection(
    counters: Counters, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    counted = False
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if length:
                await reader.readexactly(length)
            path, _, query = target.partition("?")
            if path != "/_stats":
                counters.requests += 1
                if not counted:
                    counted = True
                    counters.connections += 1
            match = LATENCY.match(path)
            if match:
                low, high = float(match.group(1)), float(match.group(2))
                path = match.group(3)
                await asyncio.sleep(counters.rng.uniform(low, high) / 1000)
            rid = counters.requests
            if path == "/v1/models" and method == "GET":
                key = headers.get("x-api-key", "")
                if key.startswith("sk-ant-") and "dead" not in key:
                    writer.write(answer(200, MODELS, rid))
                else:
                    writer.write(answer(401, REJECTED, rid))
            elif path == "/health/probe":
                params = dict(p.partition("=")[::2] for p in query.split("&") if p)
                body = json.dumps(
                    {"ok": True, "status": 200, "fingerprint": params.get("fp", "")}
                ).encode()
                writer.write(answer(200, body, rid))
            elif path == "/_stats":
                body = json.dumps(
                    {"connections": counters.connections, "requests": counters.requests}
                ).encode()
                writer.write(answer(200, body, rid))
            else:
                writer.write(answer(404, REJECTED, rid))
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    finally:
        writer.close()


async def main_async(port: int) -> None:
    counters = Counters()
    server = await asyncio.start_server(
        lambda r, w: serve_connection(counters, r, w), "127.0.0.1", port, backlog=512
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(main_async(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
