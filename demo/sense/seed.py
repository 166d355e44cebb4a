"""The simulated repository's content: tasks, tags and custom properties from a YAML seed.

Seed format (SPEC §4, a contract)::

    tasks:
      - id: <guid>
        name: Reload task of App1
        app: {id: <guid>, name: App1}            # optional
        enabled: true                             # default true
        tags: [startTask1]
        customProperties: {taskGroup: [tasks1]}
        run: {seconds: 1, status: FinishedSuccess}   # status: a name or number (facts §5)
        # optional in run: retries: K (K failed tries first; the task's maxRetries),
        # message: the repository's message when the run fails
        script: apps/app1.qvs                     # optional; run in the emulator with --valet

IDs of tags, custom-property definitions and values, and of apps not given are derived from
their names with uuid5, so they are the same on every start.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SEED = Path(__file__).with_name("seed.yaml")
# libyaml's safe loader and dumper where PyYAML has them: a seed of 50,000 tasks loads in 8 s
# instead of 31 (benchmarks seed that many).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_NAMESPACE = uuid.UUID("5c1d0a3e-0f57-4a7b-9d43-2b7a1c0e9f11")

# TaskExecutionStatus, from /qrs/about/api/enums (qlik-facts §5).
STATUSES = ["NeverStarted", "Triggered", "Started", "Queued", "AbortInitiated", "Aborting",
            "Aborted", "FinishedSuccess", "FinishedFail", "Skipped", "Retry", "Error", "Reset",
            "DistributionQueue", "DistributionRunning"]


class SeedError(ValueError):
    """A seed file that does not follow the format; the message names the task and key."""


@functools.lru_cache(maxsize=1 << 16)
def derived_id(kind: str, name: str) -> str:
    """Cached: a lookup answering 1,000 tasks derives several IDs for each (uuid5 is slow)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


def status_code(value: Any) -> int:
    """A TaskExecutionStatus given by name (case-insensitive) or number."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(STATUSES):
        return value
    if isinstance(value, str):
        for code, name in enumerate(STATUSES):
            if name.lower() == value.strip().lower():
                return code
    raise ValueError(f"unknown status {value!r}; expected one of {', '.join(STATUSES)}")


@dataclass(frozen=True)
class SeedTask:
    id: str
    name: str
    app_id: str
    app_name: str
    enabled: bool = True
    tags: tuple[str, ...] = ()
    custom_properties: dict[str, tuple[str, ...]] = field(default_factory=dict)
    run_seconds: float = 1.0
    run_status: int = 7
    run_retries: int = 0
    run_message: str = ""
    script: Path | None = None


def load_seed(path: Path | None = None) -> list[SeedTask]:
    path = Path(path or DEFAULT_SEED)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SeedError(f"cannot read seed {path}: {e}") from e
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list):
        raise SeedError(f"{path}: expected a mapping with a 'tasks' list")
    parsed = [_task(raw, i, path.parent) for i, raw in enumerate(tasks)]
    ids = [t.id for t in parsed]
    if len(set(ids)) != len(ids):
        raise SeedError(f"{path}: task IDs must be unique")
    return parsed


def _task(raw: Any, index: int, base: Path) -> SeedTask:
    where = f"tasks[{index}]"
    if not isinstance(raw, dict):
        raise SeedError(f"{where}: expected a mapping")
    try:
        task_id = _guid(raw["id"], "id")
        name = _text(raw["name"], "name")
        app = raw.get("app") or {}
        run = raw.get("run") or {}
        script = raw.get("script")
        return SeedTask(
            id=task_id,
            name=name,
            app_id=_guid(app["id"], "app.id") if "id" in app else derived_id("app", task_id),
            app_name=_text(app.get("name", name), "app.name"),
            enabled=_bool(raw.get("enabled", True), "enabled"),
            tags=tuple(_text(t, "tags") for t in raw.get("tags") or []),
            custom_properties={_text(k, "customProperties"): tuple(_text(v, k) for v in _list(vals))
                               for k, vals in (raw.get("customProperties") or {}).items()},
            run_seconds=float(run.get("seconds", 1.0)),
            run_status=status_code(run.get("status", "FinishedSuccess")),
            run_retries=_count(run.get("retries", 0), "run.retries"),
            run_message=str(run.get("message", "")),
            script=(base / script) if script else None,
        )
    except KeyError as e:
        raise SeedError(f"{where}: missing key {e}") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise SeedError(f"{where}: {e}") from None


def _guid(value: Any, key: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{key}: expected a GUID, got {value!r}") from None


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    return value


def _count(value: Any, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key}: expected a whole number >= 0, got {value!r}")
    return value


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [value]
