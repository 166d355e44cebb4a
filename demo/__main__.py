"""`python -m demo`: the whole demo on free ports and a temporary data directory.
Exit 0 only when every step did what it should."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from demo.processes import Valet
from demo.story import Timeline, key_value_story


def main() -> int:
    t = Timeline()
    with tempfile.TemporaryDirectory(prefix="valet-demo-") as tmp:
        with (Path(tmp) / "valet.log").open("w") as log:
            valet = Valet(Path(tmp), log=log)
            try:
                valet.start()
                key_value_story(t, valet)
            except Exception as e:  # report, don't hide: the demo fails
                t.check(f"unexpected error: {type(e).__name__}: {e}", False)
            finally:
                valet.stop()
    print(f"demo: {'all steps held' if not t.failures else f'{t.failures} step(s) failed'}")
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
