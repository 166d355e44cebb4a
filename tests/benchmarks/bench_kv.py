"""Key-value store throughput and memory against a real Valet process, load from wrk.

    python tests/benchmarks/bench_kv.py [--duration 10] [--modes waitress,gunicorn2]

GET of an existing key and POST of a key rotating among 500, at 1 and 32 concurrent
connections; requests/s, p50, p99; the fill of 100,000 new keys into 100 namespaces (new keys/s); RSS idle and after it.
Needs wrk (Debian package `wrk`; installed with apt-get when missing and run as root).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from demo.processes import Valet  # noqa: E402

POST_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local i = 0
request = function()
  i = (i + 1) % 500
  return wrk.format(nil, nil, nil, '{"key":"k' .. i .. '","value":"value ' .. i .. '","ttl":""}')
end
"""

# 100,000 keys in 100 namespaces, split between wrk's two threads; then pings.
LOAD_SCRIPT = """
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init(args) n = 0 end
function request()
  n = n + 1
  if n > 50000 then return wrk.format("GET", "/v4/butlerping") end
  local i = (id - 1) * 50000 + n
  return wrk.format("POST", "/v4/keyvalues/ns" .. (i % 100),
    {["Content-Type"] = "application/json"}, '{"key":"key' .. i .. '","value":"value ' .. i .. '"}')
end
"""


def need_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    print("wrk not found; installing Debian's package (needs root)…", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                   stdout=subprocess.DEVNULL)
    path = shutil.which("wrk")
    if not path:
        sys.exit("wrk is needed: apt-get install wrk")
    return path


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, connections: int, seconds: int, script: Path | None) -> dict:
    args = [wrk, f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        args[1:1] = ["-s", str(script)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
            "p99": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
            "errors": int(errors.group(1)) if errors else 0}


def rss_mb(pid: int) -> list[float]:
    """RSS of a process and its children (gunicorn workers), in MB each."""
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    sizes = []
    for p in pids:
        status = Path(f"/proc/{p}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
    return sizes


def fill_missing_keys(url: str, total: int, namespaces: int = 100) -> None:
    """Post whatever keys the wrk run did not get to (the same keys as LOAD_SCRIPT)."""
    with requests.Session() as s:
        for n in range(namespaces):
            have = {k["key"] for k in s.get(f"{url}/v4/keylist/ns{n}").json()["keys"]}
            for i in range(n or namespaces, total + 1, namespaces):
                if f"key{i}" not in have:
                    s.post(f"{url}/v4/keyvalues/ns{n}", json={"key": f"key{i}", "value": f"value {i}"})


def _last_keys_stored(s: requests.Session, url: str, total: int) -> bool:
    # Each wrk thread posts its keys in order: when both last ones exist, the fill is done.
    last = (total // 2, total)
    return all(s.get(f"{url}/v4/keyvalues/ns{i % 100}/keyexists", params={"key": f"key{i}"}).json()
               .get("keyExists") for i in last)


def load_keys(wrk: str, url: str, tmp: Path, total: int = 100_000) -> float:
    """Store 100,000 new keys in 100 namespaces through the API with wrk (32 connections);
    returns the seconds until the last one was stored."""
    script = tmp / "load.lua"
    script.write_text(LOAD_SCRIPT)
    t = time.perf_counter()
    wrk_run = subprocess.Popen([wrk, "-t2", "-c32", "-d3600s", "-s", str(script), url],
                               stdout=subprocess.DEVNULL)
    try:
        with requests.Session() as s:
            while not _last_keys_stored(s, url, total) and wrk_run.poll() is None:
                time.sleep(0.2)
        seconds = time.perf_counter() - t
    finally:
        wrk_run.terminate()
        wrk_run.wait()
    fill_missing_keys(url, total)
    return seconds


def bench_mode(wrk: str, mode: str, seconds: int, tmp: Path) -> list[tuple]:
    workers = int(mode.removeprefix("gunicorn") or 0) if mode.startswith("gunicorn") else 0
    valet = Valet(tmp / mode, butler={"keyValueStore": {"maxKeysPerNamespace": 100_000}},
                  valet={"sweepIntervalSeconds": 3600}, workers=workers).start()
    rows = []
    try:
        time.sleep(1)
        idle = rss_mb(valet.proc.pid)
        with requests.Session() as s:
            for i in range(500):
                s.post(f"{valet.url}/v4/keyvalues/bench", json={"key": f"k{i}", "value": f"value {i}"})
        script = tmp / "post.lua"
        script.write_text(POST_SCRIPT)
        for name, url, lua in (("GET", f"{valet.url}/v4/keyvalues/bench?key=k42", None),
                               ("POST", f"{valet.url}/v4/keyvalues/bench", script)):
            for connections in (1, 32):
                r = run_wrk(wrk, url, connections, seconds, lua)
                rows.append((mode, name, connections, r["rps"], r["p50"], r["p99"], r["errors"]))
                print(f"  {mode} {name} c={connections}: {r['rps']:.0f}/s", flush=True)
        load_s = load_keys(wrk, valet.url, tmp)
        rows.append((mode, "fill: 100,000 new keys into 100 namespaces", 32, 100_000 / load_s,
                     None, None, None))
        loaded = rss_mb(valet.proc.pid)
        rows.append((mode, "RSS MB idle / 100k keys", "", idle, loaded, load_s, None))
    finally:
        valet.stop()
    return rows


def cpu_reference_seconds() -> float:
    """Seconds for a 3M-iteration Python loop: how fast this machine is right now."""
    started = time.perf_counter()
    for _ in range(3_000_000):
        pass
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--modes", default="waitress,gunicorn2",
                   help="comma-separated: waitress, gunicornN (N workers)")
    args = p.parse_args()
    wrk = need_wrk()
    print(f"CPU reference: a 3M-iteration Python loop takes {cpu_reference_seconds():.2f} s")
    rows = []
    with tempfile.TemporaryDirectory(prefix="valet-bench-") as tmp:
        for mode in args.modes.split(","):
            rows += bench_mode(wrk, mode.strip(), args.duration, Path(tmp))
    print("\n| mode | call | clients | requests/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|---|---|")
    for mode, call, c, rps, p50, p99, errors in rows:
        if call.startswith("RSS"):
            print(f"| {mode} | RSS MB idle → with 100k keys in 100 namespaces (per process) | | "
                  f"{' + '.join(f'{x:.0f}' for x in rps)} → {' + '.join(f'{x:.0f}' for x in p50)} "
                  f"| loaded in {p99:.0f} s | | |")
        elif p50 is None:
            print(f"| {mode} | {call} | {c} | {rps:,.0f} new keys/s | | | |")
        else:
            print(f"| {mode} | {call} | {c} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} |")


if __name__ == "__main__":
    main()
