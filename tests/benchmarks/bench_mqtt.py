"""Benchmark of MQTT task starts: a real Mosquitto, Valet, and the simulated repository with
`--latency-ms 20`. Single-ID messages (Butler's form), one task each:

- one at a time: publish, wait for the result, publish the next (--single N messages);
- a burst of 1,000 published as fast as the publisher can (QoS 1), once per `Valet.mqtt.maxBatch`
  given (1 = no batching, the before; 1000 = the default), and once with a persistent session
  (acknowledged once handled: the broker's in-flight window bounds each batch).

Per case: messages/s from the first publish to the last start, and the latency from each
message's publish to its start (p50, p99). "Start" is the time the repository logged the
`task/start/many` that carried the task (its --log, same clock); every message's result is
waited for and each task is checked to be started exactly once.

    python tests/benchmarks/bench_mqtt.py [--single 200] [--batches 1,100,1000] [--latency-ms 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from demo.processes import Valet  # noqa: E402
from demo.sense.process import SenseProcess  # noqa: E402
from mqtt.mqtt_support import (FLOOD, FLOOD_TASKS, START_TOPIC, Client, Mosquitto,  # noqa: E402
                               valet_config, wait_for_state)


def start_times(sense: SenseProcess, before: int) -> tuple[dict[str, float], int, int]:
    """task -> epoch seconds of its first start/many since log line `before`; start/many calls;
    starts counted over all calls (to check exactly once)."""
    first: dict[str, float] = {}
    calls = starts = 0
    for line in sense.requests()[before:]:
        if line["method"] == "POST" and line["path"].endswith("/start/many"):
            calls += 1
            starts += len(line["body"])
            at = datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
            for task in line["body"]:
                first.setdefault(task, at)
    return first, calls, starts


def run_case(valet_root: Path, sense: SenseProcess, broker: Mosquitto, tasks: list[str],
             one_at_a_time: bool, mqtt: dict) -> tuple:
    butler, valet_section = valet_config(sense, broker, **mqtt)
    valet = Valet(valet_root, butler, valet_section).start()
    try:
        wait_for_state(valet, "connected")
        client = Client(broker)
        client.publish(tasks[0])  # warm-up: first TLS connection, imports
        client.results(1)
        client.received.clear()
        before = len(sense.requests())
        published: dict[str, float] = {}
        for n, task in enumerate(tasks, start=1):
            published[task] = time.time()
            if one_at_a_time:
                client.publish(task)
                client.results(n, timeout=30)
            else:
                client.client.publish(START_TOPIC, task, qos=1)
        results = client.results(len(tasks), timeout=300)
        client.close()
    finally:
        valet.stop()
    started, calls, starts = start_times(sense, before)
    latencies = sorted((started[t] - published[t]) * 1000 for t in tasks if t in started)
    span = max(started.values()) - min(published.values())
    ok = len(results) == len(tasks) and len(latencies) == len(tasks) and starts == len(tasks)
    return (len(tasks) / span, statistics.median(latencies),
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], calls, ok)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--single", type=int, default=200, help="messages published one at a time")
    p.add_argument("--batches", default="1,100,1000", help="Valet.mqtt.maxBatch values for the burst")
    p.add_argument("--latency-ms", type=int, default=20)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        tmp = Path(tmp)
        with SenseProcess(tmp / "sense", extra_tasks=FLOOD_TASKS, latency_ms=args.latency_ms) as sense, \
                Mosquitto(tmp / "broker") as broker:
            cases = [("one at a time", FLOOD[:args.single], True, {})]
            cases += [(f"burst of 1,000, maxBatch {b}", FLOOD, False, {"maxBatch": int(b)})
                      for b in args.batches.split(",")]
            cases.append(("burst of 1,000, persistent session", FLOOD, False,
                          {"clientId": "valet-bench", "sessionExpirySeconds": 60}))
            for n, (name, tasks, single, mqtt) in enumerate(cases):
                rate, p50, p99, calls, ok = run_case(tmp / f"valet{n}", sense, broker, tasks,
                                                     single, mqtt)
                rows.append((name, str(len(tasks)), f"{rate:,.0f}", f"{p50:.0f}", f"{p99:.0f}",
                             str(calls), "ok" if ok else "LOST OR REPEATED"))
    header = ("case", "messages", "messages/s", "p50 ms", "p99 ms", "start/many calls",
              "each once")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print(f"MQTT start benchmark: simulated repository with --latency-ms {args.latency_ms}; "
          "latency from publish to the repository's start")
    for row in [header] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    return 0 if all(r[-1] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
