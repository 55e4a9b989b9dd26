"""What the issue-15 hardening costs: bounded upload reads, and deadlines in `sensate serve`.

    python bench/hardening.py [--rows 300000] [--requests 2000] [--repeat 7]

1. Reading a CSV through importers.uploads (regular-file check, bounded reader) against a
   plain ``open()``, both through csv.reader as the importers do: seconds per pass (p50,
   p99 over ``--repeat`` passes) and the ratio.
2. Requests on one kept-alive connection to a tiny ASGI app under uvicorn's httptools
   protocol, plain and with directory.serving's deadlines: latency p50/p99 and the ratio.
Never asserts on time: figures to read and quote.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory.serving import protocol_with_deadlines
from importers import uploads


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_reads(rows: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            for n in range(rows):
                writer.writerow([n, f"Name{n}", "Minneapolis", "MN", "55414", "106H00000X"])
        size_mb = path.stat().st_size / uploads.MB

        def plain() -> int:
            with open(path, encoding="utf-8-sig", newline="") as stream:
                return sum(1 for _ in csv.reader(stream))

        def bounded() -> int:
            with uploads.open_text(
                path, max_bytes=uploads.DEFAULT_MAX_FILE_BYTES, encoding="utf-8-sig", newline=""
            ) as stream:
                return sum(1 for _ in csv.reader(stream))

        timings: dict[str, list[float]] = {"plain open()": [], "importers.uploads": []}
        for _ in range(repeat):
            for label, read in (("plain open()", plain), ("importers.uploads", bounded)):
                started = time.perf_counter()
                assert read() == rows
                timings[label].append(time.perf_counter() - started)
    print(f"reading {rows:,} CSV rows ({size_mb:.1f} MB), {repeat} passes")
    for label, values in timings.items():
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(f"  {label:18} p50 {p50:.3f} s  p99 {p99:.3f} s")
    ratio = statistics.median(timings["importers.uploads"]) / statistics.median(
        timings["plain open()"]
    )
    print(f"  ratio uploads/plain (p50): {ratio:.2f}")


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def serve(http: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(tiny_app, http=http, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, sock.getsockname()[1]


def bench_requests(count: int) -> None:
    request = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"
    results: dict[str, list[float]] = {}
    for label, http in (
        ("httptools", "httptools"),
        ("with deadlines", protocol_with_deadlines(10.0, 30.0)),
    ):
        server, thread, port = serve(http)
        latencies = []
        with socket.create_connection(("127.0.0.1", port)) as conn:
            for _ in range(count):
                started = time.perf_counter()
                conn.sendall(request)
                answer = b""
                while not answer.endswith(b"ok"):
                    answer += conn.recv(4096)
                latencies.append(time.perf_counter() - started)
        server.should_exit = True
        thread.join()
        results[label] = latencies
    print(f"{count:,} keep-alive requests per protocol")
    for label, values in results.items():
        p50, p99 = percentile(values, 0.5) * 1e6, percentile(values, 0.99) * 1e6
        print(f"  {label:15} p50 {p50:7.0f} µs  p99 {p99:7.0f} µs")
    ratio = statistics.median(results["with deadlines"]) / statistics.median(results["httptools"])
    print(f"  ratio deadlines/plain (p50): {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    bench_reads(args.rows, args.repeat)
    asyncio.set_event_loop(asyncio.new_event_loop())
    bench_requests(args.requests)


if __name__ == "__main__":
    main()
