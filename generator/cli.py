"""``python -m generator [-o FILE] [--connection-get NAME] [--connection-post NAME]
[--host-variable NAME] [--port-variable NAME] [--api-key-variable NAME]`` (SPEC §6, §9)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from generator.render import COMMITTED_FILE, Options, render


def main(argv: list[str] | None = None) -> int:
    args = _arguments().parse_args(argv)
    options = Options(args.connection_get, args.connection_post, args.host_variable,
                      args.port_variable, args.api_key_variable)
    problems = options.problems()
    if problems:
        for problem in problems:
            print(f"generator: {problem}", file=sys.stderr)
        return 2
    out = Path(args.output)
    try:
        out.write_text(render(options), encoding="utf-8", newline="\n")
    except OSError as e:
        print(f"generator: cannot write {out}: {e}", file=sys.stderr)
        return 1
    return 0


def _arguments() -> argparse.ArgumentParser:
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m generator",
        description="Write the load-script library butler_subs.qvs from qvs/templates/.")
    parser.add_argument("-o", "--output", default=str(COMMITTED_FILE),
                        help="file to write (default: the committed qvs/butler_subs.qvs)")
    parser.add_argument("--connection-get", default=defaults.connection_get, metavar="NAME",
                        help="REST connection used for GET requests (default %(default)s)")
    parser.add_argument("--connection-post", default=defaults.connection_post, metavar="NAME",
                        help="REST connection used for POST requests (default %(default)s)")
    parser.add_argument("--host-variable", default=defaults.host_variable, metavar="NAME",
                        help="variable holding Valet's scheme and host (default %(default)s)")
    parser.add_argument("--port-variable", default=defaults.port_variable, metavar="NAME",
                        help="variable holding Valet's port (default %(default)s)")
    parser.add_argument("--api-key-variable", metavar="NAME",
                        help="variable holding an API key, sent as X-API-Key on every request "
                        "(default: no key is sent)")
    return parser
