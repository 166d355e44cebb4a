"""`python -m demo.sense --port P --certs DIR [--seed FILE] [--latency-ms N] [--log FILE]
[--valet URL [--connections FILE] [--script-var NAME=VALUE]...] ...`: the simulated Qlik Sense
repository alone (SPEC §9). Runs until SIGTERM or Ctrl-C."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from demo.sense.app import Options, run_forever
from demo.sense.faults import Faults, Rule, rule_from
from demo.sense.runs import MAX_CONCURRENT
from demo.sense.seed import SeedError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m demo.sense",
                                description="The simulated Qlik Sense repository (QRS API over HTTPS).")
    p.add_argument("--port", type=int, required=True, help="repository port (Qlik's 4242)")
    p.add_argument("--certs", type=Path, required=True,
                   help="folder of root.pem, client.pem, client_key.pem, server.pem, server_key.pem "
                        "(created if missing)")
    p.add_argument("--seed", type=Path, help="YAML seed of tasks (default: the reference document's)")
    p.add_argument("--latency-ms", type=int, default=0, help="delay before every /qrs answer")
    p.add_argument("--log", type=Path, help="append every request here as a JSON line")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--idle-timeout", type=float, default=300,
                   help="close a keep-alive connection idle this many seconds (default 300)")
    p.add_argument("--allow-missing-user", action="store_true",
                   help="accept requests without a well-formed X-Qlik-User header")
    p.add_argument("--sync-reply", choices=["value", "bare"], default="value",
                   help='start/synchronous answer: {"value": guid} (default) or a bare "guid"')
    p.add_argument("--max-concurrent", type=int, default=MAX_CONCURRENT,
                   help="runs Started at once; later ones wait Queued (default %(default)s)")
    g = p.add_argument_group("virtual proxy (header authentication)")
    g.add_argument("--proxy-port", type=int, help="serve /PREFIX/qrs/... on this port")
    g.add_argument("--proxy-prefix", default="hdr", help="virtual proxy prefix (default hdr)")
    g.add_argument("--proxy-header", default="hdr-usr",
                   help="header naming the user (default hdr-usr)")
    g.add_argument("--proxy-plain", action="store_true", help="plain HTTP instead of TLS")
    s = p.add_argument_group("reload scripts (run a task's seed script: in the emulator when the task runs)")
    s.add_argument("--valet", metavar="URL",
                   help="Valet's base URL; turns script runs on and presets vButlerHost and "
                        "vButlerPort, the variables of qvs/butler_subs.qvs")
    s.add_argument("--connections", type=Path, metavar="FILE",
                   help="the scripts' REST connections and lib:// folders (python -m emulator's "
                        "--connections YAML)")
    s.add_argument("--script-var", action="append", default=[], metavar="NAME=VALUE",
                   help="preset a variable in every script, such as an API key (repeatable)")
    f = p.add_argument_group("faults (also switchable at run time: PUT /faults on --admin-port)")
    f.add_argument("--admin-port", type=int, help="plain-HTTP admin endpoint (faults, runs)")
    f.add_argument("--refuse", action="store_true", help="start with the repository port closed")
    f.add_argument("--fail-status", type=int, help="answer every /qrs request with this status")
    f.add_argument("--slow-ms", type=int, help="add this delay to every /qrs answer")
    f.add_argument("--drop", action="store_true", help="close every connection without answering")
    f.add_argument("--faults", type=json.loads, help='rules as JSON, e.g. \'[{"action": "status", '
                   '"status": 500, "path": "start/many", "times": 1}]\'')
    return p


def options_from(args: argparse.Namespace) -> Options:
    rules = [rule_from(r) for r in args.faults or []]
    if args.fail_status:
        rules.append(Rule("status", status=args.fail_status))
    if args.slow_ms:
        rules.append(Rule("slow", ms=args.slow_ms))
    if args.drop:
        rules.append(Rule("drop"))
    return Options(port=args.port, certs=args.certs, seed=args.seed, latency_ms=args.latency_ms,
                   log=args.log, host=args.host, require_user=not args.allow_missing_user,
                   sync_reply=args.sync_reply, max_concurrent=args.max_concurrent,
                   proxy_port=args.proxy_port,
                   proxy_prefix=args.proxy_prefix, proxy_header=args.proxy_header,
                   proxy_tls=not args.proxy_plain, admin_port=args.admin_port,
                   faults=Faults(refuse=args.refuse, rules=rules), idle_timeout=args.idle_timeout,
                   scripts=_scripts(args))


def _scripts(args: argparse.Namespace):
    if args.valet is None:
        if args.connections or args.script_var:
            raise ValueError("--connections and --script-var need --valet URL")
        return None
    from demo.sense.scripts import settings_from  # noqa: PLC0415 (imports the emulator)

    return settings_from(args.valet, args.connections, args.script_var)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        options = options_from(args)
    except ValueError as e:
        parser().error(str(e))
    try:
        run_forever(options, lambda msg: print(msg, flush=True))
    except SeedError as e:
        print(f"demo.sense: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
