"""`python -m demo`: a parameterised reload chain end to end, on free loopback ports and a
temporary folder, printed as a timeline. Exit 0 only when every step did what it should."""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from demo.stage import Stage, mosquitto_installed, parse_setting
from demo.story import STEPS, Http, Step, StepFailed, Timeline

NEXT = """Next: README.md, "Configuration" (point Valet at your Sense: Butler.configQRS, Butler.cert),
"The load-script library" (the subs the apps called), "The start-task command" (schedulers),
"MQTT task starts" and "Security" (API keys). The apps' scripts are in demo/apps/."""


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Valet without a Qlik Sense server: starts the simulated Sense repository, "
                    "Valet (with API keys and a start filter) and, when installed, Mosquitto, on "
                    "free loopback ports with a temporary folder, then runs a reload chain: an "
                    "upstream system starts a task with parameters, its app's script (run in the "
                    "emulator, through the generated butler_subs.qvs) reads them and starts the "
                    "next task, which stores a result; then other kinds of starts, start-and-wait, "
                    "MQTT and API keys. Exits 0 only when every step held; Ctrl-C stops everything.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show every HTTP request and response of the demo, the "
                             "start-task output, and Valet's and the repository's request logs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        type=_setting, dest="settings",
                        help="change Valet's config for this run, such as "
                             "Butler.restServerEndpointsEnable.senseStartTask=false (repeatable)")
    parser.add_argument("--no-mqtt", action="store_true", help="skip MQTT even with mosquitto")
    parser.add_argument("--version", action="version", version=f"Valet demo {version('valet')}")
    return parser.parse_args(argv)


def _setting(text: str):
    try:
        return parse_setting(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _no_mqtt(args: argparse.Namespace) -> str | None:
    """Why MQTT is left out, or None."""
    if args.no_mqtt:
        return "--no-mqtt"
    return None if mosquitto_installed() else ("mosquitto is not installed (Debian: apt-get "
                                               "install mosquitto)")


def _stop_on_sigterm() -> None:
    """SIGTERM ends the demo as Ctrl-C does: every process it started is stopped."""
    def interrupt(*_args) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    _stop_on_sigterm()
    t = Timeline(verbose=args.verbose)
    try:
        with tempfile.TemporaryDirectory(prefix="valet-demo-") as tmp:
            stage = Stage(Path(tmp), args.settings, no_mqtt=_no_mqtt(args))
            try:
                _start(t, stage)
                _story(t, stage)
            finally:
                stage.stop()
    except KeyboardInterrupt:
        print("\ninterrupted: every process the demo started is stopped", flush=True)
        return 130
    _summary(t)
    return 1 if t.failed else 0


def _start(t: Timeline, stage: Stage) -> None:
    t.line("demo", f"folder {stage.root}; library generated: python -m generator "
           f"--api-key-variable vValetApiKey")
    stage.start()
    t.line("demo", f"Sense repository https://127.0.0.1:{stage.sense.port} (seed demo/apps/"
           f"seed.yaml; scripts run in the emulator)")
    t.line("demo", f"Valet {stage.valet.url}: API keys upstream, sense-apps, dashboards; "
           f"start filter on" + (f"; MQTT via Mosquitto on port {stage.broker.port}"
                                 if stage.broker else ""))
    t.detail("processes: " + ", ".join(f"{name} {pid}" for name, pid in stage.pids().items()))


def _story(t: Timeline, stage: Stage) -> None:
    http = Http(t, stage)
    logs = _Logs(stage)
    for number, spec in enumerate(STEPS, 1):
        t.steps.append(Step(number, spec.summary))
        print(f"{number}. {spec.title}", flush=True)
        if spec.needs is not None and t.steps[spec.needs - 1].result != "held":
            t.check("demo", f"skipped: step {spec.needs} failed", False)
            continue
        try:
            spec.run(t, stage, http)
        except StepFailed:
            pass
        except Exception as e:  # noqa: BLE001 - report it as the step's failure, go on
            t.check("demo", f"{type(e).__name__}: {_one_line(e)}", False)
        logs.show(t)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:150]


class _Logs:
    """--verbose: the request lines Valet and the repository logged since the last step."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.valet_at = 0
        self.sense_at = 0

    def show(self, t: Timeline) -> None:
        if not t.verbose:
            return
        lines = self.stage.valet_log.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines[self.valet_at:]:
            if "valet.requests" in line or "valet.tasks" in line:
                t.detail(f"Valet log: {line.split(' ', 2)[-1]}")
        self.valet_at = len(lines)
        requests = self.stage.sense.requests()
        for r in requests[self.sense_at:]:
            t.detail(f"QRS log: {r['method']} {r['path']}"
                     + (f" {r['query'].get('filter')}" if r["query"].get("filter") else ""))
        self.sense_at = len(requests)


def _summary(t: Timeline) -> None:
    print("\nstep  checks  result  what", flush=True)
    for s in t.steps:
        print(f"{s.number:>4}  {s.held:>2}/{s.checks:<3}  {s.result:<7} {s.summary}"
              + (f" ({s.note})" if s.note else ""))
    total = time.monotonic() - t.t0
    failed = t.failed
    print(f"demo: {'every step held' if not failed else 'FAILED: step ' + ', '.join(str(s.number) for s in failed)}"
          f", {sum(s.held for s in t.steps)} of {sum(s.checks for s in t.steps)} checks held, "
          f"{total:.1f} s")
    print(NEXT)


if __name__ == "__main__":
    sys.exit(main())
