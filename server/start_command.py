"""`python -m server start-task (TASK_ID | --name NAME) [--wait] [--interval S] [--timeout S]
[--retries N] [--config FILE]` (also `valet start-task`): start a reload task through the
configured repository, as the SMA PowerShell script does, and with `--wait` follow it to its
end with exit codes a scheduler understands. The start goes through server.tasks, so the
start filter and the audit table apply as for REST."""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import datetime, timezone
from typing import Callable, TextIO

from sqlalchemy.exc import SQLAlchemyError

from server import config as config_module, db, runs, tasks
from server.audit import Caller
from server.qrs import QrsClient
from server.runs import RunStatus, WaitOutcome

EXIT_SUCCESS = 0
EXIT_USAGE = 2  # bad arguments or configuration: nothing was asked of the repository
EXIT_NOT_SUBMITTED = 100  # the SMA script's "Task is not submitted"
# 100 + Qlik's TaskExecutionStatus code, one per failed end
EXIT_BY_STATUS = {6: 106, 8: 108, 9: 109, 11: 111, 12: 112}
EXIT_OTHER_END = 120  # ended in a status that is neither success nor one of the failures above
EXIT_TIMEOUT = 124  # as GNU timeout: --timeout passed, the task keeps running in Sense
EXIT_LOST = 125  # the repository could not be read, after --retries retries, while waiting

EXIT_CODES_HELP = f"""exit codes:
  {EXIT_SUCCESS}    FinishedSuccess (without --wait: the task was started)
  {EXIT_NOT_SUBMITTED}  not submitted: unknown or ambiguous task, not a GUID, disabled, refused by
       Butler.startTaskFilter, repository unreachable or refusing; nothing runs
  {EXIT_BY_STATUS[6]}  Aborted        {EXIT_BY_STATUS[8]}  FinishedFail    {EXIT_BY_STATUS[9]}  Skipped
  {EXIT_BY_STATUS[11]}  Error          {EXIT_BY_STATUS[12]}  Reset          (100 + Qlik's status code)
  {EXIT_OTHER_END}  ended in another status (e.g. NeverStarted)
  {EXIT_TIMEOUT}  --timeout passed; the task keeps running in Sense
  {EXIT_LOST}  lost the repository while waiting (after --retries failed reads)
  {EXIT_USAGE}    bad arguments or configuration
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "start-task", help="start a reload task; with --wait, follow it to its end",
        description="Start a reload task through the configured repository; with --wait, "
                    "follow it to its end, printing each status change, as the SMA PowerShell "
                    "script does. The start filter and the audit table apply as for REST.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("task_id", nargs="?", metavar="TASK_ID", help="the task's ID (a GUID)")
    which.add_argument("--name", help="the task's exact name instead of its ID")
    p.add_argument("--wait", action="store_true", help="poll until the run ends; print each "
                   "status change; exit with the run's code")
    p.add_argument("--interval", type=_positive, default=5.0, metavar="S",
                   help="seconds between polls (default %(default)g)")
    p.add_argument("--timeout", type=_positive, metavar="S",
                   help="stop waiting after S seconds (the task keeps running)")
    p.add_argument("--retries", type=int, default=5, metavar="N",
                   help="failed reads of the repository tolerated in a row while waiting "
                        "(default %(default)s)")
    p.add_argument("--config", metavar="FILE", help="YAML config file (default: $VALET_CONFIG)")
    p.set_defaults(run=run)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {text!r}")
    return value


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


class Printer:
    """Timestamped lines, as the SMA script logs each status change."""

    def __init__(self, out: TextIO = sys.stdout, clock: Callable[[], str] = now_iso) -> None:
        self.out, self.clock = out, clock

    def __call__(self, text: str) -> None:
        print(f"{self.clock()} {text}", file=self.out, flush=True)


def run(args: argparse.Namespace, say: Callable[[str], None] | None = None) -> int:
    say = say or Printer()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # its retries are reported by the wait
    try:
        config = config_module.load(args.config)
        starter = tasks.make_starter(config, _audit_database(config), None,
                                     "start-task needs the repository")
    except config_module.ConfigError as e:
        print(f"valet: configuration error: {e}", file=sys.stderr)
        return EXIT_USAGE
    target = tasks.ByName(args.name) if args.name is not None else tasks.ById(args.task_id)
    answer = _start(starter, target, say)
    if answer is None or not answer.started:
        return EXIT_NOT_SUBMITTED
    say(f"{_label(answer.to_json())}: {answer.message}; execution session {answer.session_id}")
    if not args.wait:
        return EXIT_SUCCESS
    with QrsClient(starter.settings) as client:
        outcome = runs.wait_for_run(
            client, answer.session_id, interval=args.interval, timeout=args.timeout,
            retries=args.retries, on_status=lambda status: say(_status_line(status)),
            on_error=lambda message, n: say(f"cannot read the run (attempt {n} of "
                                            f"{args.retries + 1}): {message}"))
    return _finish(outcome, args, answer.session_id, say)


def _audit_database(config: config_module.Config) -> db.Database:
    """The database the start is audited in. A scheduler may run the command in any folder
    (Windows Task Scheduler: System32), so a relative Valet.dataDir that cannot be used is a
    configuration error, not a crash."""
    try:
        return db.open_database(config.database_url, config["Valet.fsyncEachCommit"], pool_size=2)
    except (OSError, SQLAlchemyError, db.DatabaseUnavailable) as e:
        raise config_module.ConfigError(
            f"cannot open the database the start is audited in ({config.database_url}): "
            f"{str(e).splitlines()[0][:200]}; set Valet.dataDir (or VALET_DATA_DIR) to an "
            "absolute, writable folder") from None


def _start(starter: tasks.TaskStarter, target: tasks.ById | tasks.ByName,
           say: Callable[[str], None]) -> tasks.SyncStart | None:
    asked = target.name if isinstance(target, tasks.ByName) else target.task_id
    request = tasks.SyncStartRequest(target, caller=Caller(f"cli:{_user()}"), entry_point="cli")
    try:
        answer = starter.start_synchronous(request)
    except (tasks.RepositoryUnavailable, tasks.InvalidStartRequest) as e:
        say(f"not submitted: {asked!r}: {getattr(e, 'message', e)}")
        return None
    if not answer.started:
        say(f"not submitted ({answer.outcome}): {asked!r}: {answer.message}")
    return answer


def _finish(outcome: WaitOutcome, args: argparse.Namespace, session_id: str,
            say: Callable[[str], None]) -> int:
    last = outcome.last
    if outcome.final is not None:
        return exit_code(outcome.final)
    where = f"last status {last.status}" if last else "no status read yet"
    if outcome.timed_out:
        say(f"timed out after {args.timeout:g} s waiting ({where}); the task keeps running in "
            f"Sense: follow execution session {session_id}")
        return EXIT_TIMEOUT
    say(f"lost the repository while waiting, after {args.retries} retries ({where}): "
        f"{outcome.error}; the task may still be running in Sense (execution session {session_id})")
    return EXIT_LOST


def exit_code(final: RunStatus) -> int:
    if final.succeeded:
        return EXIT_SUCCESS
    return EXIT_BY_STATUS.get(final.status_code, EXIT_OTHER_END)


def _status_line(status: RunStatus) -> str:
    text = f"{_label(status.to_json())}: {status.status} (status {status.status_code})"
    if status.finished:
        text += f", finished after {status.duration_ms / 1000:g} s"
        if status.tries > 1:
            text += f" and {status.tries} tries"
        if status.message and not status.succeeded:
            text += f": {status.message}"
    return text


def _label(flat: dict) -> str:
    return f"task {flat['taskName']!r} ({flat['taskId']})" if flat.get("taskName") else f"task {flat['taskId']}"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment (a service account, a container)
        return "unknown"
