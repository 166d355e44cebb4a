"""Key-value throughput on PostgreSQL: 1 and 3 Valet instances on one database, the database
reached directly and through a proxy adding latency to each round trip; SQLite (one
instance, the default) beside them in the same run. Load from wrk.

    python tests/benchmarks/bench_pg.py [--duration 10] [--latency-ms 0,20] [--instances 1,3]

GET of an existing key, POST of a key rotating among 500 (one namespace), and POST of a new
key each time (one namespace, so every one takes its lock), 32 connections in all, spread evenly over the instances (one wrk process per instance, run together);
requests/s summed, p50/p99 of all requests pooled from each wrk's 1,000 quantiles. Needs
Debian's postgresql (a throwaway cluster, tests/pg.py) and wrk; run as root or as a user
that may run initdb.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent), str(HERE)]
from bench_kv import POST_SCRIPT, cpu_reference_seconds, need_wrk  # noqa: E402
from demo.processes import Valet  # noqa: E402
import delay_proxy  # noqa: E402
import pg  # noqa: E402

CONNECTIONS = 32
NEW_KEY_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local prefix, i = "", 0
function init(args) prefix = args[1] end
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, '{"key":"' .. prefix .. "-" .. i .. '","value":"new"}')
end
"""
# Each wrk prints its requests, non-2xx answers, timeouts (no answer within wrk's 2 s, left
# out of its latencies) and 1,000 latency quantiles (µs) when done.
QUANTILES_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("R %d %d %d %d\\n", summary.requests, summary.errors.status,
                         summary.errors.timeout, summary.duration))
  for i = 0, 999 do io.write(string.format("Q %d\\n", latency:percentile((i + 0.5) / 10))) end
end
"""


def run_wrk_together(wrk: str, urls: list[str], seconds: int, script: Path) -> dict:
    """One wrk per URL at once, CONNECTIONS split among them; the totals and pooled latency."""
    shares = [CONNECTIONS // len(urls) + (i < CONNECTIONS % len(urls)) for i in range(len(urls))]
    procs = [subprocess.Popen([wrk, "-t1", f"-c{c}", f"-d{seconds}s", "-s", str(script), url,
                               "--", f"w{n}"], stdout=subprocess.PIPE, text=True)
             for n, (url, c) in enumerate(zip(urls, shares))]
    outs = [p.communicate()[0] for p in procs]
    requests_total, errors, timeouts, rps, pooled = 0, 0, 0, 0.0, []
    for out in outs:
        n, status_errors, timed_out, duration_us = map(
            int, re.search(r"^R (\d+) (\d+) (\d+) (\d+)$", out, re.M).groups())
        quantiles = [int(q) for q in re.findall(r"^Q (\d+)$", out, re.M)]
        requests_total += n
        errors += status_errors
        timeouts += timed_out
        rps += n / (duration_us / 1e6)
        pooled += [(q, n / len(quantiles)) for q in quantiles]  # each quantile stands for n/1000 requests
    return {"rps": rps, "p50": _pooled_quantile(pooled, 0.50) / 1000,
            "p99": _pooled_quantile(pooled, 0.99) / 1000, "errors": errors, "timeouts": timeouts}


def _pooled_quantile(points: list[tuple[int, float]], q: float) -> float:
    points = sorted(points)
    target = q * sum(weight for _v, weight in points)
    seen = 0.0
    for value, weight in points:
        seen += weight
        if seen >= target:
            return value
    return points[-1][0]


def bench_case(wrk: str, tmp: Path, label: str, instances: int, database_url: str | None,
               seconds: int, threads: int) -> list[tuple]:
    valet = {"sweepIntervalSeconds": 3600, "threads": threads,
             **({"databaseUrl": database_url} if database_url else {})}
    with ExitStack() as stack:
        valets = []
        for i in range(instances):
            v = Valet(tmp / f"{label}-{instances}-{i}".replace(" ", "_"), valet=valet,
                      butler={"keyValueStore": {"maxKeysPerNamespace": 10**7}}).start()
            stack.callback(v.stop)
            valets.append(v)
        with requests.Session() as s:
            for i in range(500):
                s.post(f"{valets[0].url}/v4/keyvalues/bench", json={"key": f"k{i}", "value": f"value {i}"})
        rows = []
        for call, path, lua in (("GET", "/v4/keyvalues/bench?key=k42", ""),
                                ("POST", "/v4/keyvalues/bench", POST_SCRIPT),
                                ("POST new key", "/v4/keyvalues/fresh", NEW_KEY_SCRIPT)):
            script = tmp / "call.lua"
            script.write_text(lua + QUANTILES_SCRIPT)
            r = run_wrk_together(wrk, [v.url + path for v in valets], seconds, script)
            rows.append((label, instances, call, r["rps"], r["p50"], r["p99"], r["errors"], r["timeouts"]))
            print(f"  {label}, {instances} instance(s), {call}: {r['rps']:.0f}/s "
                  f"p50 {r['p50']:.1f} p99 {r['p99']:.1f} ms; load {os.getloadavg()[0]:.1f}", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--latency-ms", default="0,20", help="comma-separated added latencies")
    p.add_argument("--instances", default="1,3", help="comma-separated instance counts")
    p.add_argument("--threads", type=int, default=8, help="Valet.threads of each instance")
    p.add_argument("--no-sqlite", action="store_true", help="skip the SQLite row")
    args = p.parse_args()
    wrk = need_wrk()
    bindir = pg.binaries()
    if bindir is None:
        sys.exit("PostgreSQL server binaries missing: apt-get install -y postgresql")
    print(f"CPU reference: a 3M-iteration Python loop takes {cpu_reference_seconds():.2f} s; "
          f"load average {os.getloadavg()}", flush=True)
    rows = []
    root = Path(tempfile.mkdtemp(prefix="valet-bench-pg-"))
    os.chmod(root, 0o755)  # the postgres user reaches its directories inside
    cluster = pg.Cluster(bindir, root)
    try:
        cluster.create()
        cluster.start()
        if not args.no_sqlite:
            rows += bench_case(wrk, root, "SQLite", 1, None, args.duration, args.threads)
        for delay_ms in map(int, args.latency_ms.split(",")):
            with delay_proxy.running(cluster.port, delay_ms) as port:
                for instances in map(int, args.instances.split(",")):
                    name = f"bench_{delay_ms}_{instances}"
                    url = cluster.new_database(name).replace(f":{cluster.port}/", f":{port}/")
                    rows += bench_case(wrk, root, f"PostgreSQL +{delay_ms} ms", instances, url,
                                       args.duration, args.threads)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nload average at the end: {os.getloadavg()}; Valet.threads {args.threads}")
    print("\n| store | instances | call | requests/s | p50 ms | p99 ms | non-2xx | timeouts |")
    print("|---|---|---|---|---|---|---|---|")
    for label, instances, call, rps, p50, p99, errors, timeouts in rows:
        print(f"| {label} | {instances} | {call} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {errors} | {timeouts} |")


if __name__ == "__main__":
    main()
