"""`python -m server`: serve the API (see the README for every option)."""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

from server import config as config_module, logs
from server.serve import serve_gunicorn, serve_waitress

VERSION = version("valet")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m server",
                                description="Valet: key-value store and task starts for Qlik Sense")
    p.add_argument("--version", action="version", version=f"Valet {VERSION}")
    p.add_argument("--config", metavar="FILE", help="YAML config file (default: $VALET_CONFIG)")
    p.add_argument("--host", help="address to listen on (Butler.restServerConfig.serverHost)")
    p.add_argument("--port", type=int, help="port to listen on (Butler.restServerConfig.serverPort)")
    p.add_argument("--log-level", metavar="LEVEL",
                   help="error, warn, info, verbose or debug (Butler.logLevel, $VALET_LOG_LEVEL)")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="Linux only: N gunicorn worker processes instead of one waitress process")
    return p


def _configure_logging(config: config_module.Config) -> None:
    try:
        logs.configure(config["Butler.logLevel"], config.log_directory)
    except OSError as e:
        raise config_module.ConfigError(
            f"Butler.logDirectory: cannot write log files in {config.log_directory}: "
            f"{e.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {k: v for k, v in (("Butler.restServerConfig.serverHost", args.host),
                                   ("Butler.restServerConfig.serverPort", args.port),
                                   ("Butler.logLevel", args.log_level)) if v is not None}
    try:
        config = config_module.load(args.config).with_overrides(overrides)
        _configure_logging(config)
        config_module.log_report(config)
        if args.workers > 0:
            serve_gunicorn(config, args.workers)
        else:
            serve_waitress(config)
    except config_module.ConfigError as e:  # also raised while building the app's services
        logs.stop()  # start-up lines first, then the error
        print(f"valet: configuration error: {e}", file=sys.stderr)
        return 2
    return 0
