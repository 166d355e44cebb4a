"""`python -m demo`: the whole demo on free ports and a temporary data directory.
Exit 0 only when every step did what it should."""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
import tempfile
from pathlib import Path

from demo.processes import Valet
from demo.sense.process import SenseProcess
from demo.story import Timeline, key_value_story, reload_app_story, task_start_story


def repository_config(sense: SenseProcess) -> dict:
    """Butler's configQRS and cert keys, pointing at the simulated repository."""
    return {"configQRS": {"authentication": "certificates", "host": "127.0.0.1",
                          "port": sense.port, "useSSL": True, "rejectUnauthorized": True,
                          "headers": {"static": [{"name": "X-Qlik-User",
                                                  "value": "UserDirectory=Internal;UserId=sa_repository"}]}},
            "cert": {"clientCert": str(sense.certs.client), "clientCertKey": str(sense.certs.client_key),
                     "clientCertCA": str(sense.certs.root)}}


def _parse_args(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="The whole Valet demo on free loopback ports and a temporary data directory: "
                    "the simulated Sense repository and Valet start, then the key-value story, a "
                    "task start with a parameter and a reloading app in the emulator run, printed "
                    "as a timeline. Exits 0 only when every step held.")
    parser.add_argument("--version", action="version", version=f"Valet demo {version('valet')}")
    parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    _parse_args(argv)
    t = Timeline()
    with tempfile.TemporaryDirectory(prefix="valet-demo-") as tmp:
        sense = SenseProcess(Path(tmp) / "sense")
        with (Path(tmp) / "valet.log").open("w") as log:
            valet = Valet(Path(tmp), butler=repository_config(sense), log=log)
            try:
                sense.start()
                valet.start()
                key_value_story(t, valet)
                task_start_story(t, valet, sense)
                reload_app_story(t, valet, Path(tmp))
            except Exception as e:  # report, don't hide: the demo fails
                t.check(f"unexpected error: {type(e).__name__}: {e}", False)
            finally:
                valet.stop()
                sense.stop()
    print(f"demo: {'all steps held' if not t.failures else f'{t.failures} step(s) failed'}")
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
