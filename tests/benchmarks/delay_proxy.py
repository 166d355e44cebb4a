"""A TCP proxy that adds a fixed latency to every round trip, standing in for a database on
another machine (this machine's kernel has no `tc netem`):

    python tests/benchmarks/delay_proxy.py --target-port 5432 --delay-ms 20

or from Python, `with running(5432, 20) as port:` (a proxy process for the block's length).
Listens on a free loopback port (printed as `listening PORT` once ready) and forwards to the
target on 127.0.0.1. What the server sends is held back `--delay-ms` from the moment it
arrived, in order, without delaying later bytes further (a link's latency, not a
bandwidth limit); what the client sends is passed at once, so each request/answer round trip
takes `--delay-ms` longer.
"""
from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            at, data = await due.get()
            if not data:
                break
            wait = at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    delivering = asyncio.create_task(deliver()) if delay else None
    try:
        while data := await reader.read(65536):
            if delivering is None:
                writer.write(data)
                await writer.drain()
            else:
                due.put_nowait((loop.time() + delay, data))
    finally:
        if delivering is not None:
            due.put_nowait((0.0, b""))
            await asyncio.gather(delivering, return_exceptions=True)
        writer.close()


async def _serve(target_port: int, delay: float, sock: socket.socket) -> None:
    async def connect(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        client_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(_pump(client_reader, server_writer, 0.0),
                             _pump(server_reader, client_writer, delay), return_exceptions=True)

    server = await asyncio.start_server(connect, sock=sock)
    print(f"listening {sock.getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@contextmanager
def running(target_port: int, delay_ms: float) -> Iterator[int]:
    """The port to reach `target_port` through while the block runs: a delay proxy's, in a
    process of its own (or `target_port` itself when `delay_ms` is 0)."""
    if not delay_ms:
        yield target_port
        return
    proc = subprocess.Popen([sys.executable, __file__, "--target-port", str(target_port),
                             "--delay-ms", str(delay_ms)], stdout=subprocess.PIPE, text=True)
    try:
        yield int(proc.stdout.readline().split()[1])
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--target-port", type=int, required=True)
    p.add_argument("--delay-ms", type=float, default=20.0)
    args = p.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    asyncio.run(_serve(args.target_port, args.delay_ms / 1000, sock))


if __name__ == "__main__":
    main()
