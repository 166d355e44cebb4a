"""Starting Sense tasks: the rules of SPEC §2 "Starting tasks" in one place, for every entry
point (REST now; MQTT and the CLI call the same `TaskStarter.start`).

A call, in order:
1. `parse_items` checks the whole request first (a malformed one changes nothing);
2. key-value items are stored (when the KV store is enabled), before anything else can fail;
3. each ID/tag/custom-property item is judged against the start filter, per item as Butler
   does (an ID: not a GUID -> invalid; not allowed -> denied; not in Sense -> invalid);
4. one repository lookup for all allowed items together (IDs, tags and custom properties ORed
   in one filter, split only where a URL would pass 8 KB); each item's tasks are then picked
   from the answer locally, so a tag or value can never widen the match;
5. `allTaskIdsMustExist`: one invalid ID moves every ID match to `denied`;
6. every matched task is started once, in one `task/start/many`; disabled tasks are not sent
   and are reported in `failed`;
7. the result lists each match under its item (as Butler), `started`/`tasksTag`/`tasksCP`
   holding only tasks the repository accepted; one audit row and one log line per call.

When `task/start/many` itself fails, Sense answers for the whole batch, so every task of the
batch is reported in `failed` with the repository's error as the reason, and the call still
answers 200 with that result (the lookups worked; nothing is retried: a start is never blindly
repeated). When the lookups fail, the call fails with `RepositoryUnavailable` (502/503/504).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Union

from sqlalchemy import bindparam, insert

from server import db, kv
from server.config import Config, ConfigError
from server.models import TaskStartAudit
from server.qrs import (QrsClient, QrsConfigError, QrsError, QrsHttpError, QrsSettings,
                        custom_property_term, has_custom_property, has_tag, id_term, is_guid,
                        tag_term)

log = logging.getLogger("valet.tasks")

MAGIC_NO_TASK_ID = "-"
TYPE_ID, TYPE_TAG, TYPE_CP, TYPE_KV = ("starttaskid", "starttasktag", "starttaskcustomproperty",
                                       "keyvaluestore")
ITEM_TYPES = (TYPE_ID, TYPE_TAG, TYPE_CP, TYPE_KV)


class InvalidStartRequest(ValueError):
    """The request is malformed (HTTP 400); nothing was stored or started."""


class RepositoryUnavailable(Exception):
    """The repository could not be queried for the tasks to start; nothing was started."""

    def __init__(self, error: QrsError, message: str) -> None:
        super().__init__(message)
        self.http_status = error.http_status
        self.message = message


# -- request items ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ById:
    task_id: str


@dataclass(frozen=True)
class ByTag:
    tag: str


@dataclass(frozen=True)
class ByCustomProperty:
    name: str
    value: str


@dataclass(frozen=True)
class KeyValueItem:
    namespace: str
    key: str
    value: str
    ttl: int


Item = Union[ById, ByTag, ByCustomProperty, KeyValueItem]


def _text(payload: dict, name: str, where: str, allow_empty: bool = False) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        got = "nothing" if name not in payload else f"{type(value).__name__} {value!r}"
        raise InvalidStartRequest(f"{where}: payload.{name} must be a string, got {got}")
    if not value and not allow_empty:
        raise InvalidStartRequest(f"{where}: payload.{name} must not be empty")
    return value


_ANY_LENGTH = 1 << 30  # lengths are checked by the store, against its configured limits


def _kv_item(payload: dict, where: str) -> KeyValueItem:
    for name in ("namespace", "key", "value"):
        if name not in payload:
            raise InvalidStartRequest(f"{where}: payload.{name} is missing")
    try:
        return KeyValueItem(kv.check_name("namespace", payload["namespace"], _ANY_LENGTH),
                            kv.check_name("key", payload["key"], _ANY_LENGTH),
                            kv.normalize_value(payload["value"]), kv.parse_ttl(payload.get("ttl")))
    except kv.KvError as e:
        raise InvalidStartRequest(f"{where}: {e.message}") from None


def parse_item(raw: Any, where: str) -> Item:
    """One `{"type", "payload"}` object of a start request."""
    if not isinstance(raw, dict):
        raise InvalidStartRequest(f"{where} must be an object {{\"type\", \"payload\"}}, got {raw!r:.80}")
    kind, payload = raw.get("type"), raw.get("payload")
    if kind not in ITEM_TYPES:
        raise InvalidStartRequest(f"{where}: type must be one of {', '.join(ITEM_TYPES)}; got {kind!r:.80}")
    if not isinstance(payload, dict):
        raise InvalidStartRequest(f"{where}: payload must be an object, got {payload!r:.80}")
    where = f"{where} ({kind})"
    if kind == TYPE_ID:
        return ById(_text(payload, "taskId", where, allow_empty=True))
    if kind == TYPE_TAG:
        return ByTag(_text(payload, "tag", where))
    if kind == TYPE_CP:
        return ByCustomProperty(_text(payload, "customPropertyName", where),
                                _text(payload, "customPropertyValue", where))
    return _kv_item(payload, where)


def parse_items(url_task_id: str | None, body: Any) -> list[Item]:
    """The URL's task ID (unless `-` or absent) followed by the body's items, checked whole."""
    if not isinstance(body, list):
        raise InvalidStartRequest("the body must be a JSON array of items {\"type\", \"payload\"} "
                                  f"(send [] when there are none); got {type(body).__name__}")
    items: list[Item] = []
    if url_task_id not in (None, MAGIC_NO_TASK_ID):
        items.append(ById(url_task_id))
    items += [parse_item(raw, f"item {n}") for n, raw in enumerate(body, start=1)]
    return items


@dataclass(frozen=True)
class StartRequest:
    items: list[Item]
    all_ids_must_exist: bool = False
    caller: str = "unknown"
    entry_point: str = "rest"


# -- the start filter -------------------------------------------------------------------------
def _fold(text: str) -> str:
    return text.casefold()


@dataclass(frozen=True)
class StartFilter:
    """Butler.startTaskFilter: each item is judged against its own allow list. Tags and
    custom properties compare case-insensitively, as Sense matches them (so an allowed tag
    selects exactly what its other spellings would); IDs compare as GUIDs."""

    enabled: bool = False
    task_ids: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    custom_properties: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_config(cls, config: Config) -> "StartFilter":
        prefix = "Butler.startTaskFilter.allowTask."
        return cls(enabled=config["Butler.startTaskFilter.enable"],
                   task_ids=frozenset(i.lower() for i in config[prefix + "taskId"]),
                   tags=frozenset(_fold(t) for t in config[prefix + "tag"]),
                   custom_properties=frozenset((_fold(cp["name"]), _fold(cp["value"]))
                                               for cp in config[prefix + "customProperty"]))

    def allows(self, item: Item) -> bool:
        if not self.enabled:
            return True
        if isinstance(item, ById):
            return item.task_id.lower() in self.task_ids
        if isinstance(item, ByTag):
            return _fold(item.tag) in self.tags
        if isinstance(item, ByCustomProperty):
            return (_fold(item.name), _fold(item.value)) in self.custom_properties
        return True


# -- the result -------------------------------------------------------------------------------
def _ref(task: dict) -> dict:
    return {"taskId": task["id"], "taskName": task.get("name", "")}


@dataclass
class StartResult:
    """Butler's response shape plus `failed`. Lists of task dicts from the repository."""

    started: list[dict] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    by_tag: list[dict] = field(default_factory=list)
    tags_denied: list[str] = field(default_factory=list)
    by_cp: list[dict] = field(default_factory=list)
    cps_denied: list[ByCustomProperty] = field(default_factory=list)
    failed: list[tuple[dict, str]] = field(default_factory=list)
    repository_requests: int = 0

    @property
    def refused_any(self) -> bool:
        """Whether anything asked was invalid, denied or not started."""
        return bool(self.failed or self.invalid or self.denied or self.tags_denied or self.cps_denied)

    def to_json(self) -> dict:
        return {
            "tasksId": {"started": [_ref(t) for t in self.started],
                        "invalid": [{"taskId": i} for i in self.invalid],
                        "denied": [{"taskId": i} for i in self.denied]},
            "tasksTag": [_ref(t) for t in self.by_tag],
            "tasksTagDenied": [{"tag": t} for t in self.tags_denied],
            "tasksCP": [_ref(t) for t in self.by_cp],
            "tasksCPDenied": [{"name": cp.name, "value": cp.value} for cp in self.cps_denied],
            "failed": [{**_ref(t), "reason": reason} for t, reason in self.failed],
        }


# -- judging and matching ---------------------------------------------------------------------
@dataclass
class _Matches:
    """What each item matched: (item, tasks) in request order; IDs refused up front."""

    by_id: list[tuple[ById, dict]] = field(default_factory=list)
    by_tag: list[tuple[ByTag, list[dict]]] = field(default_factory=list)
    by_cp: list[tuple[ByCustomProperty, list[dict]]] = field(default_factory=list)


def lookup_terms(items: Iterable[Item]) -> list[str]:
    """The filter terms for the allowed, well-formed items (one ORed lookup)."""
    terms = []
    for item in items:
        if isinstance(item, ById) and is_guid(item.task_id):
            terms.append(id_term(item.task_id))
        elif isinstance(item, ByTag):
            terms.append(tag_term(item.tag))
        elif isinstance(item, ByCustomProperty):
            terms.append(custom_property_term(item.name, item.value))
    return terms


def _judge(items: list[Item], start_filter: StartFilter, result: StartResult) -> list[Item]:
    """Refused items go to the result; the allowed, well-formed ones are returned."""
    allowed = []
    for item in items:
        if isinstance(item, KeyValueItem):
            continue
        if isinstance(item, ById) and not is_guid(item.task_id):
            result.invalid.append(item.task_id)
        elif not start_filter.allows(item):
            _deny(item, result)
        else:
            allowed.append(item)
    return allowed


def _deny(item: Item, result: StartResult) -> None:
    if isinstance(item, ById):
        result.denied.append(item.task_id)
    elif isinstance(item, ByTag):
        result.tags_denied.append(item.tag)
    else:
        result.cps_denied.append(item)


def _match(items: list[Item], tasks: list[dict], result: StartResult) -> _Matches:
    by_id = {t["id"].lower(): t for t in tasks}
    matches = _Matches()
    for item in items:
        if isinstance(item, ById):
            task = by_id.get(item.task_id.lower())
            if task is None:
                result.invalid.append(item.task_id)
            else:
                matches.by_id.append((item, task))
        elif isinstance(item, ByTag):
            matches.by_tag.append((item, [t for t in tasks if has_tag(t, item.tag)]))
        else:
            matches.by_cp.append((item, [t for t in tasks if has_custom_property(t, item.name, item.value)]))
    return matches


def _look_up(client: QrsClient, allowed: list[Item]) -> list[dict]:
    if not allowed:
        return []
    try:
        return client.find_tasks(lookup_terms(allowed))
    except ValueError as e:  # a tag or value too long to fit any URL
        raise InvalidStartRequest(str(e)) from None


def _unique(tasks: Iterable[dict]) -> list[dict]:
    return list({t["id"]: t for t in tasks}.values())


# -- the starter ------------------------------------------------------------------------------
class TaskStarter:
    def __init__(self, settings: QrsSettings, start_filter: StartFilter, database: db.Database,
                 store: kv.KeyValueStore | None, clock: Callable[[], int] = kv.now_ms) -> None:
        self.settings = settings
        self.filter = start_filter
        self.database = database
        self.audit_insert = db.Prepared(database.engine, insert(TaskStartAudit).values(
            {c: bindparam(c) for c in ("at_ms", "caller", "entry_point", "request", "outcome")}))
        self.store = store
        self.clock = clock

    def start(self, request: StartRequest) -> StartResult:
        began = time.perf_counter()
        try:
            stored = self._store_parameters(request)
        except kv.KvError as e:  # nothing was stored
            self._record_refusal(request, began, e.message)
            raise
        result = StartResult()
        allowed = _judge(request.items, self.filter, result)
        try:
            self._look_up_and_start(allowed, request.all_ids_must_exist, result)
        except QrsError as e:
            failure = RepositoryUnavailable(e, _lookup_failure(e, stored))
            self._record(request, began, {"status": failure.http_status, "error": failure.message},
                         f"failed with {failure.http_status}: {failure.message}")
            raise failure from None
        except InvalidStartRequest as e:
            self._record_refusal(request, began, str(e))
            raise
        self._record(request, began, {"status": 200, "result": result.to_json(),
                                      "repositoryRequests": result.repository_requests},
                     _summary_of_outcome(result), ok=not result.refused_any)
        return result

    def refuse(self, caller: str, entry_point: str, reason: str) -> None:
        """Audit a request refused before its items could be read (a malformed body)."""
        self._record_refusal(StartRequest([], caller=caller, entry_point=entry_point),
                             time.perf_counter(), reason)

    def _record_refusal(self, request: StartRequest, began: float, reason: str) -> None:
        self._record(request, began, {"refused": reason}, f"refused: {reason}")

    def _look_up_and_start(self, allowed: list[Item], all_ids_must_exist: bool,
                           result: StartResult) -> None:
        """One client, so one TLS connection, for the lookup and the start."""
        with QrsClient(self.settings) as client:
            try:
                matches = _match(allowed, _look_up(client, allowed), result)
                self._start_matches(client, matches, all_ids_must_exist, result)
            finally:
                result.repository_requests = client.requests_sent

    def _store_parameters(self, request: StartRequest) -> int:
        """Store the key-value items; how many were stored."""
        items = [i for i in request.items if isinstance(i, KeyValueItem)]
        if items and self.store is None:
            log.warning("start-task from %s: %d key-value item(s) not stored: the KV store is "
                        "disabled (Butler.restServerEndpointsEnable.keyValueStore)",
                        request.caller, len(items))
            return 0
        self.store.set_many([(i.namespace, i.key, i.value, i.ttl) for i in items])
        return len(items)

    def _start_matches(self, client: QrsClient, matches: _Matches, all_ids_must_exist: bool,
                       result: StartResult) -> None:
        if all_ids_must_exist and result.invalid:
            result.denied += [item.task_id for item, _task in matches.by_id]
            matches.by_id = []
        wanted = _unique([t for _i, t in matches.by_id]
                         + [t for _i, ts in matches.by_tag for t in ts]
                         + [t for _i, ts in matches.by_cp for t in ts])
        enabled = [t for t in wanted if t.get("enabled", True)]
        result.failed += [(t, "the task is disabled in Sense; enable it in the QMC to start it")
                          for t in wanted if not t.get("enabled", True)]
        accepted = self._start_many(client, enabled, result)
        result.started = [t for _i, t in matches.by_id if t["id"] in accepted]
        result.by_tag = [t for _i, ts in matches.by_tag for t in ts if t["id"] in accepted]
        result.by_cp = [t for _i, ts in matches.by_cp for t in ts if t["id"] in accepted]

    @staticmethod
    def _start_many(client: QrsClient, tasks: list[dict], result: StartResult) -> set[str]:
        """IDs the repository accepted: all of them, or none when the batch call failed."""
        try:
            client.start_many([t["id"] for t in tasks])
        except QrsError as e:
            reason = (f"task/start/many for the batch of {len(tasks)} task(s) failed, so none of "
                      f"them is reported started ({e.kind}: {e.message})"
                      + ("; the repository may still have started it and Valet did not repeat "
                         "the request" if e.request_sent else ""))
            result.failed += [(t, reason) for t in tasks]
            return set()
        return {t["id"] for t in tasks}

    # -- audit ------------------------------------------------------------------------------
    def _record(self, request: StartRequest, began: float, outcome: dict, summary: str,
                ok: bool = False) -> None:
        """One audit row and one log line (a warning unless everything asked was started)."""
        ms = (time.perf_counter() - began) * 1000
        row = {"at_ms": self.clock(), "caller": request.caller[:255],
               "entry_point": request.entry_point,
               "request": json.dumps(_describe_request(request)), "outcome": json.dumps(outcome)}
        self.database.write(lambda cursor: self.audit_insert.run(cursor, row))
        log.log(logging.INFO if ok else logging.WARNING,
                "start-task from %s via %s: asked %s; %s (%.0f ms)", request.caller,
                request.entry_point, _summary_of_request(request), summary, ms)


def _lookup_failure(e: QrsError, stored: int) -> str:
    hint = ""
    if isinstance(e, QrsHttpError) and e.status in (401, 403):
        hint = ("; check X-Qlik-User in Butler.configQRS.headers.static and that nothing between "
                "Valet and the repository strips the xrfkey query parameter")
    return (f"the Qlik Sense repository could not be queried for the tasks to start "
            f"({e.kind}: {e.message}){hint}; no task was started"
            + (f"; the request's {stored} key-value item(s) were stored" if stored else ""))


def _describe_request(request: StartRequest) -> dict:
    """What was asked, for the audit table (key-value values are left out: they may be secret)."""
    def one(item: Item) -> dict:
        if isinstance(item, ById):
            return {"type": TYPE_ID, "taskId": item.task_id}
        if isinstance(item, ByTag):
            return {"type": TYPE_TAG, "tag": item.tag}
        if isinstance(item, ByCustomProperty):
            return {"type": TYPE_CP, "name": item.name, "value": item.value}
        return {"type": TYPE_KV, "namespace": item.namespace, "key": item.key}

    return {"allTaskIdsMustExist": request.all_ids_must_exist,
            "items": [one(i) for i in request.items]}


def _some(values: list[str], limit: int = 10) -> str:
    shown = ", ".join(values[:limit])
    return f"[{shown}{f', … {len(values) - limit} more' if len(values) > limit else ''}]"


def _summary_of_request(request: StartRequest) -> str:
    items = request.items
    ids = [i.task_id for i in items if isinstance(i, ById)]
    tags = [repr(i.tag) for i in items if isinstance(i, ByTag)]
    cps = [f"{i.name!r}={i.value!r}" for i in items if isinstance(i, ByCustomProperty)]
    kvs = [f"{i.namespace}/{i.key}" for i in items if isinstance(i, KeyValueItem)]
    return (f"ids {_some(ids)} tags {_some(tags)} custom properties {_some(cps)} "
            f"key-values {_some(kvs)} allTaskIdsMustExist={request.all_ids_must_exist}")


def _summary_of_outcome(result: StartResult) -> str:
    started = [t["id"] for t in _unique(result.started + result.by_tag + result.by_cp)]
    failed = [f"{t['id']} ({reason})" for t, reason in result.failed]
    return (f"matched and started {_some(started)}, failed {_some(failed, 3)}, "
            f"invalid {_some(result.invalid)}, denied ids {_some(result.denied)}, "
            f"denied tags {_some(result.tags_denied)}, "
            f"denied custom properties {_some([f'{c.name}={c.value}' for c in result.cps_denied])}; "
            f"{result.repository_requests} repository request(s)")


# -- building from the configuration ---------------------------------------------------------
def build_starter(config: Config, database: db.Database, store: kv.KeyValueStore) -> TaskStarter | None:
    """The starter when the start endpoint is enabled; a configuration that cannot work stops
    start-up with a message naming the key."""
    if not config.start_task_enabled:
        return None
    if not config["Butler.configQRS.host"]:
        raise ConfigError("Butler.restServerEndpointsEnable.senseStartTask is true but "
                          "Butler.configQRS.host is not set: name the Sense repository host")
    settings = QrsSettings.from_config(config)
    _check_certificate_files(config)
    try:  # builds what every call uses (authentication headers, TLS context) once, now
        QrsClient(settings).close()
    except QrsConfigError as e:
        raise ConfigError(f"Butler.configQRS: {e.message}") from None
    return TaskStarter(settings, StartFilter.from_config(config), database,
                       store if config.kv_enabled else None)


def _check_certificate_files(config: Config) -> None:
    if config["Butler.configQRS.authentication"] != "certificates" or not config["Butler.configQRS.useSSL"]:
        return
    keys = ["Butler.cert.clientCert", "Butler.cert.clientCertKey"]
    if config["Butler.configQRS.rejectUnauthorized"]:
        keys.append("Butler.cert.clientCertCA")
    for key in keys:
        path = config[key]
        if not path:
            raise ConfigError(f"{key} is not set: certificate authentication needs the QMC's "
                              "exported client.pem, client_key.pem (and root.pem)")
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            raise ConfigError(f"{key}: cannot read {path}: {e.strerror}") from None
