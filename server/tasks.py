"""Starting Sense tasks: the rules of SPEC §2 "Starting tasks" in one place, for every entry
point (REST and MQTT call `TaskStarter.start`; MQTT messages that arrive together go through
`TaskStarter.start_batch`, the same rules with one lookup and one start for the batch).

A call, in order:
1. `parse_items` checks the whole request first (a malformed one changes nothing);
2. key-value items are stored (when the KV store is enabled), before anything else can fail;
3. each ID/tag/custom-property item is judged against the start filter, per item as Butler
   does (an ID: not a GUID -> invalid; not allowed -> denied; not in Sense -> invalid);
4. one repository lookup per kind for all allowed items together (IDs and names on the
   condensed task, tags and custom properties on the whole task, each ORed in one filter; see
   `QrsClient.find_tasks_in` for when IDs are picked from the unfiltered list or split); each
   item's tasks are then picked from the answer locally, so a tag or value can never widen the
   match;
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

from server import audit, db, kv
from server.audit import Caller
from server.config import Config, ConfigError
from server.qrs import (QrsClient, QrsConfigError, QrsError, QrsHttpError, QrsSettings, TaskQuery,
                        custom_property_term, fold, guid_key, has_custom_property, has_tag, id_term,
                        is_guid, name_term, tag_term)
from server.runs import RUNNING

log = logging.getLogger("valet.tasks")

MAGIC_NO_TASK_ID = "-"
TYPE_ID, TYPE_TAG, TYPE_CP, TYPE_KV = ("starttaskid", "starttasktag", "starttaskcustomproperty",
                                       "keyvaluestore")
TYPE_NAME = "starttaskname"  # Valet's own: a task by its exact name
ITEM_TYPES = (TYPE_ID, TYPE_TAG, TYPE_CP, TYPE_KV, TYPE_NAME)
ZERO_SESSION = "00000000-0000-0000-0000-000000000000"


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
class ByName:
    """A task by its name, matched exactly (case and all); allowed by the start filter when
    the task it names is (its ID on allowTask.taskId): a name is another way to write an ID."""
    name: str


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


Item = Union[ById, ByName, ByTag, ByCustomProperty, KeyValueItem]


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
    if kind == TYPE_NAME:
        return ByName(_text(payload, "taskName", where))
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
    caller: Caller = Caller("unknown")
    entry_point: str = "rest"
    topic: str | None = None  # MQTT: the topic the request arrived on (audited)


# -- the start filter -------------------------------------------------------------------------
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
                   task_ids=frozenset(guid_key(i) for i in config[prefix + "taskId"]),
                   tags=frozenset(fold(t) for t in config[prefix + "tag"]),
                   custom_properties=frozenset((fold(cp["name"]), fold(cp["value"]))
                                               for cp in config[prefix + "customProperty"]))

    def allows(self, item: Item) -> bool:
        if not self.enabled:
            return True
        if isinstance(item, ById):
            return guid_key(item.task_id) in self.task_ids
        if isinstance(item, ByName):
            raise TypeError("a name is judged by the task it names: allows_task")
        if isinstance(item, ByTag):
            return fold(item.tag) in self.tags
        if isinstance(item, ByCustomProperty):
            return (fold(item.name), fold(item.value)) in self.custom_properties
        return True

    def allows_task(self, task: dict) -> bool:
        return self.allows(ById(task["id"]))


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
    names_asked: bool = False  # the name lists are answered only when names were asked
    by_name: list[dict] = field(default_factory=list)
    names_denied: list[str] = field(default_factory=list)
    names_invalid: list[tuple[str, str]] = field(default_factory=list)

    @property
    def refused_any(self) -> bool:
        """Whether anything asked was invalid, denied or not started."""
        return bool(self.failed or self.invalid or self.denied or self.tags_denied or self.cps_denied
                    or self.names_denied or self.names_invalid)

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
            **({"tasksName": [_ref(t) for t in self.by_name],
                "tasksNameDenied": [{"taskName": n} for n in self.names_denied],
                "tasksNameInvalid": [{"taskName": n, "reason": why} for n, why in self.names_invalid]}
               if self.names_asked else {}),
        }


# -- judging and matching ---------------------------------------------------------------------
@dataclass
class _Matches:
    """What each item matched: (item, tasks) in request order; IDs refused up front."""

    by_id: list[tuple[ById, dict]] = field(default_factory=list)
    by_name: list[tuple[ByName, dict]] = field(default_factory=list)
    by_tag: list[tuple[ByTag, list[dict]]] = field(default_factory=list)
    by_cp: list[tuple[ByCustomProperty, list[dict]]] = field(default_factory=list)


def lookups(items: Iterable[Item]) -> TaskQuery:
    """What the allowed, well-formed items look up: a tag's or a custom property's tasks are
    picked from the answer by those properties, so they need whole tasks (filter terms on
    task/full); an ID or a name needs only the task's id, name and enabled, which the condensed
    task carries at a tenth of the size (1,000 IDs: 1.4 MB of whole tasks)."""
    items = list(items)
    return TaskQuery(
        ids=tuple(i.task_id for i in items if isinstance(i, ById) and is_guid(i.task_id)),
        names=tuple(i.name for i in items if isinstance(i, ByName)),
        full_terms=tuple(tag_term(i.tag) if isinstance(i, ByTag) else custom_property_term(i.name, i.value)
                         for i in items if isinstance(i, (ByTag, ByCustomProperty))))


def _judge(items: list[Item], start_filter: StartFilter, result: StartResult) -> list[Item]:
    """Refused items go to the result; the allowed, well-formed ones are returned."""
    allowed = []
    for item in items:
        if isinstance(item, KeyValueItem):
            continue
        if isinstance(item, ById) and not is_guid(item.task_id):
            result.invalid.append(item.task_id)
        elif isinstance(item, ByName):
            result.names_asked = True
            allowed.append(item)  # judged once the name is resolved (_match)
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


def named(tasks: list[dict], name: str) -> list[dict]:
    """Tasks with exactly this name (the repository's `eq` ignores case)."""
    return [t for t in tasks if t.get("name") == name]


def name_problem(name: str, matches: list[dict]) -> str:
    """Why a name does not pick one task ("" when it does)."""
    if not matches:
        return f"no task is named exactly {name!r} (names are matched case and all)"
    if len(matches) > 1:
        return (f"{len(matches)} tasks are named {name!r} "
                f"({', '.join(t['id'] for t in matches)}); start it by ID")
    return ""


def _match(items: list[Item], tasks: list[dict], start_filter: StartFilter,
           result: StartResult) -> _Matches:
    by_id = {guid_key(t["id"]): t for t in tasks}
    matches = _Matches()
    for item in items:
        if isinstance(item, ByName):
            found = named(tasks, item.name)
            problem = name_problem(item.name, found)
            if problem:
                result.names_invalid.append((item.name, problem))
            elif not start_filter.allows_task(found[0]):
                result.names_denied.append(item.name)
            else:
                matches.by_name.append((item, found[0]))
        elif isinstance(item, ById):
            task = by_id.get(guid_key(item.task_id))
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
        return client.find_tasks_in(lookups(allowed))
    except ValueError as e:  # a tag or value too long to fit any URL
        raise InvalidStartRequest(str(e)) from None


def _unique(tasks: Iterable[dict]) -> list[dict]:
    return list({t["id"]: t for t in tasks}.values())


# -- one task, synchronously ------------------------------------------------------------------
STARTED, ALREADY_RUNNING = "started", "alreadyRunning"
INVALID, UNKNOWN, AMBIGUOUS, DENIED, DISABLED, NOT_STARTED, FAILED = (
    "invalid", "unknown", "ambiguous", "denied", "disabled", "notStarted", "failed")
SYNC_OUTCOMES = (STARTED, ALREADY_RUNNING, INVALID, UNKNOWN, AMBIGUOUS, DENIED, DISABLED,
                 NOT_STARTED, FAILED)


@dataclass(frozen=True)
class SyncStartRequest:
    target: Union[ById, ByName]
    caller: Caller = Caller("unknown")
    entry_point: str = "rest"


@dataclass
class SyncStart:
    """The answer to a synchronous start: `session_id` is the run to follow when `started`."""

    outcome: str
    message: str
    task: dict | None = None
    session_id: str = ""
    repository_requests: int = 0

    @property
    def started(self) -> bool:
        return self.outcome in (STARTED, ALREADY_RUNNING)

    def to_json(self) -> dict:
        task = self.task or {}
        return {"started": self.started, "outcome": self.outcome, "sessionId": self.session_id,
                "taskId": task.get("id", ""), "taskName": task.get("name", ""),
                "message": self.message}


def _to_start(matches: _Matches, all_ids_must_exist: bool, result: StartResult) -> list[dict]:
    """The enabled tasks to start, each once; disabled ones go to `failed`."""
    if all_ids_must_exist and result.invalid:
        result.denied += [item.task_id for item, _task in matches.by_id]
        matches.by_id = []
    wanted = _unique([t for _i, t in matches.by_id]
                     + [t for _i, t in matches.by_name]
                     + [t for _i, ts in matches.by_tag for t in ts]
                     + [t for _i, ts in matches.by_cp for t in ts])
    result.failed += [(t, "the task is disabled in Sense; enable it in the QMC to start it")
                      for t in wanted if not t.get("enabled", True)]
    return [t for t in wanted if t.get("enabled", True)]


def _start_many(client: QrsClient, tasks: list[dict]) -> tuple[set[str], str | None]:
    """IDs the repository accepted, and why none was when the batch call failed."""
    try:
        client.start_many([t["id"] for t in tasks])
    except QrsError as e:
        return set(), (f"task/start/many for the batch of {len(tasks)} task(s) failed, so none of "
                       f"them is reported started ({e.kind}: {e.message})"
                       + ("; the repository may still have started it and Valet did not repeat "
                          "the request" if e.request_sent else ""))
    return {t["id"] for t in tasks}, None


def _settle(matches: _Matches, sent: list[dict], accepted: set[str], failure: str | None,
            result: StartResult) -> None:
    """Each match listed under its item if the repository accepted it; `sent` tasks it did not
    accept go to `failed` with the batch's `failure`."""
    if failure:
        result.failed += [(t, failure) for t in sent]
    result.started = [t for _i, t in matches.by_id if t["id"] in accepted]
    result.by_name = [t for _i, t in matches.by_name if t["id"] in accepted]
    result.by_tag = [t for _i, ts in matches.by_tag for t in ts if t["id"] in accepted]
    result.by_cp = [t for _i, ts in matches.by_cp for t in ts if t["id"] in accepted]


@dataclass
class _Pending:
    """A request of a batch between its judging and its result."""

    n: int
    request: StartRequest
    stored: int
    allowed: list[Item]
    result: StartResult


# -- the starter ------------------------------------------------------------------------------
class TaskStarter:
    def __init__(self, settings: QrsSettings, start_filter: StartFilter, database: db.Database,
                 store: kv.KeyValueStore | None, clock: Callable[[], int] = kv.now_ms) -> None:
        self.settings = settings
        self.filter = start_filter
        self.database = database
        self.audit_insert = audit.insert_statement(database, audit.TASK_STARTS)
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
            self._record_unavailable(request, began, failure)
            raise failure from None
        except InvalidStartRequest as e:
            self._record_refusal(request, began, str(e))
            raise
        self._record_result(request, began, result)
        return result

    def refuse(self, caller: Caller, entry_point: str, reason: str, topic: str | None = None) -> None:
        """Audit a request refused before its items could be read (a malformed body)."""
        self._record_refusal(StartRequest([], caller=caller, entry_point=entry_point, topic=topic),
                             time.perf_counter(), reason)

    def _record_refusal(self, request: StartRequest, began: float, reason: str) -> None:
        self._record(request, began, {"refused": reason}, f"refused: {reason}")

    def _record_unavailable(self, request: StartRequest, began: float,
                            failure: RepositoryUnavailable) -> None:
        self._record(request, began, {"status": failure.http_status, "error": failure.message},
                     f"failed with {failure.http_status}: {failure.message}")

    def _record_result(self, request: StartRequest, began: float, result: StartResult,
                       batch_size: int = 1) -> None:
        outcome = {"status": 200, "result": result.to_json(),
                   "repositoryRequests": result.repository_requests}
        if batch_size > 1:  # the repository requests and time were shared by the batch
            outcome["batchOf"] = batch_size
        self._record(request, began, outcome, _summary_of_outcome(result), ok=not result.refused_any)

    def _look_up_and_start(self, allowed: list[Item], all_ids_must_exist: bool,
                           result: StartResult) -> None:
        """One client for the lookup and the start, on the repository's kept connections."""
        with QrsClient(self.settings) as client:
            try:
                matches = _match(allowed, _look_up(client, allowed), self.filter, result)
                self._start_matches(client, matches, all_ids_must_exist, result)
            finally:
                result.repository_requests = client.requests_sent

    def _store_parameters(self, request: StartRequest) -> int:
        """Store the key-value items; how many were stored."""
        items = [i for i in request.items if isinstance(i, KeyValueItem)]
        if not items:
            return 0
        if self.store is None:
            log.warning("start-task from %s: %d key-value item(s) not stored: the KV store is "
                        "disabled (Butler.restServerEndpointsEnable.keyValueStore)",
                        request.caller, len(items))
            return 0
        self.store.set_many([(i.namespace, i.key, i.value, i.ttl) for i in items])
        return len(items)

    def _start_matches(self, client: QrsClient, matches: _Matches, all_ids_must_exist: bool,
                       result: StartResult) -> None:
        enabled = _to_start(matches, all_ids_must_exist, result)
        accepted, failure = _start_many(client, enabled)
        _settle(matches, enabled, accepted, failure, result)

    # -- several requests together (MQTT) ----------------------------------------------------
    def start_batch(self, requests: list[StartRequest]) -> list[StartResult | Exception]:
        """Each request's own result, or the exception `start` would raise for it, in order.
        Each request is stored, judged, matched, reported and audited as its own call; the
        lookup and the `task/start/many` are shared, and a task asked by several requests is
        started once. Callers keep a request with key-value items out of a batch with others
        (its values would be stored before the others' tasks start)."""
        began = time.perf_counter()
        outcomes: list[StartResult | Exception | None] = [None] * len(requests)
        pending: list[_Pending] = []
        for n, request in enumerate(requests):
            try:
                stored = self._store_parameters(request)
            except kv.KvError as e:  # nothing of it was stored
                self._record_refusal(request, began, e.message)
                outcomes[n] = e
                continue
            result = StartResult()
            pending.append(_Pending(n, request, stored, _judge(request.items, self.filter, result),
                                    result))
        try:
            self._look_up_and_start_batch(pending)
        except InvalidStartRequest:  # a term too long for any URL: find out whose, one by one
            return [outcome if outcome is not None else self._start_alone(requests[n])
                    for n, outcome in enumerate(outcomes)]
        except QrsError as e:
            for p in pending:
                outcomes[p.n] = RepositoryUnavailable(e, _lookup_failure(e, p.stored))
        for p in pending:
            if outcomes[p.n] is None:
                outcomes[p.n] = p.result
                self._record_result(p.request, began, p.result, len(requests))
            else:
                self._record_unavailable(p.request, began, outcomes[p.n])
        return outcomes

    def _start_alone(self, request: StartRequest) -> StartResult | Exception:
        try:
            return self.start(request)
        except (InvalidStartRequest, RepositoryUnavailable, kv.KvError) as e:
            return e

    def _look_up_and_start_batch(self, pending: list[_Pending]) -> None:
        with QrsClient(self.settings) as client:
            try:
                tasks = _look_up(client, [item for p in pending for item in p.allowed])
                plans = []
                for p in pending:
                    matches = _match(p.allowed, tasks, self.filter, p.result)
                    plans.append((matches, _to_start(matches, p.request.all_ids_must_exist, p.result)))
                accepted, failure = _start_many(client, _unique(t for _m, ts in plans for t in ts))
                for p, (matches, enabled) in zip(pending, plans):
                    _settle(matches, enabled, accepted, failure, p.result)
            finally:
                for p in pending:
                    p.result.repository_requests = client.requests_sent

    # -- one task, synchronously ------------------------------------------------------------
    def start_synchronous(self, request: "SyncStartRequest") -> "SyncStart":
        """Start one task by ID or exact name through `start/synchronous`, judged by the start
        filter as `start` judges items; the answer carries the execution session to follow.
        Raises RepositoryUnavailable when the task cannot be looked up."""
        began = time.perf_counter()
        asked = _describe_target(request.target)
        try:
            with QrsClient(self.settings) as client:
                outcome = self._start_one(client, request.target)
                outcome.repository_requests = client.requests_sent
        except QrsError as e:
            failure = RepositoryUnavailable(e, _lookup_failure(e, 0))
            self._audit(request.caller, request.entry_point, asked,
                        {"status": failure.http_status, "error": failure.message},
                        json.dumps(asked), f"failed with {failure.http_status}: {failure.message}",
                        False, began)
            raise failure from None
        except InvalidStartRequest as e:
            self._audit(request.caller, request.entry_point, asked, {"refused": str(e)},
                        json.dumps(asked), f"refused: {e}", False, began)
            raise
        self._audit(request.caller, request.entry_point, asked,
                    {"status": 200, "result": outcome.to_json(),
                     "repositoryRequests": outcome.repository_requests},
                    json.dumps(asked), f"{outcome.outcome}: {outcome.message}", outcome.started,
                    began)
        return outcome

    def _start_one(self, client: QrsClient, target: "ById | ByName") -> "SyncStart":
        task = self._resolve(client, target)
        if isinstance(task, SyncStart):
            return task
        if not task.get("enabled", True):
            return SyncStart(DISABLED, "the task is disabled in Sense; enable it in the QMC to "
                                       "start it", task)
        try:
            session = client.start_synchronous(task["id"])
        except QrsError as e:
            return SyncStart(FAILED, f"task/{task['id']}/start/synchronous failed ({e.kind}: "
                             f"{e.message})" + ("; the repository may still have started it "
                                               "and Valet did not repeat the request"
                                               if e.request_sent else ""), task)
        if session != ZERO_SESSION:
            return SyncStart(STARTED, "the repository started the task", task, session)
        return _already_running(client, task)

    def _resolve(self, client: QrsClient, target: "ById | ByName") -> "dict | SyncStart":
        """The task to start, or the SyncStart saying why there is none (Butler's order for an
        ID: not a GUID, not allowed, not in Sense)."""
        if isinstance(target, ByName):
            try:
                matches = named(client.find_tasks([name_term(target.name)]), target.name)
            except ValueError as e:  # a name too long to fit any URL
                raise InvalidStartRequest(str(e)) from None
            problem = name_problem(target.name, matches)
            if problem:
                return SyncStart(AMBIGUOUS if matches else UNKNOWN, problem)
            if not self.filter.allows_task(matches[0]):
                return SyncStart(DENIED, "the task is not allowed by Butler.startTaskFilter "
                                         "(a name is allowed when its task ID is on "
                                         "allowTask.taskId)", matches[0])
            return matches[0]
        if not is_guid(target.task_id):
            return SyncStart(INVALID, f"{target.task_id!r} is not a task ID (a GUID)")
        if not self.filter.allows(target):
            return SyncStart(DENIED, "the task ID is not on Butler.startTaskFilter.allowTask.taskId")
        found = client.find_tasks([id_term(target.task_id)])
        if not found:
            return SyncStart(UNKNOWN, f"Sense has no task with the ID {target.task_id}")
        return found[0]

    # -- audit ------------------------------------------------------------------------------
    def _record(self, request: StartRequest, began: float, outcome: dict, summary: str,
                ok: bool = False) -> None:
        self._audit(request.caller, request.entry_point, _describe_request(request), outcome,
                    _summary_of_request(request), summary, ok, began)

    def _audit(self, caller: Caller, entry_point: str, asked: dict, outcome: dict, asked_text: str,
               summary: str, ok: bool, began: float) -> None:
        """One audit row and one log line (a warning unless everything asked was started), for
        every kind of start."""
        ms = (time.perf_counter() - began) * 1000
        row = {"at_ms": self.clock(), **audit.caller_columns(caller), "entry_point": entry_point,
               "request": json.dumps(asked), "outcome": json.dumps(outcome),
               "task_ids": audit.task_ids_text(asked, outcome)}
        self.database.write(lambda cursor: self.audit_insert.run(cursor, row))
        log.log(logging.INFO if ok else logging.WARNING,
                "start-task from %s via %s: asked %s; %s (%.0f ms)", caller, entry_point,
                asked_text, summary, ms)

def _already_running(client: QrsClient, task: dict) -> "SyncStart":
    """After the empty session ID: Sense gives it when "the task did not start, for example, it
    is disabled or there is no scheduler to perform the reload or the app is not available"
    (Task: Start synchronous, Qlik's QRS reference). When the task has a run in progress, that
    run is the answer (SPEC §4: a start of a running task is accepted without a second run)."""
    not_started = SyncStart(NOT_STARTED, "the repository did not start the task (it answered "
                            "the empty session ID: no scheduler could run it, or its app is not "
                            "available); see the Scheduler log in Sense", task)
    try:
        now = (client.find_tasks([id_term(task["id"])]) or [task])[0]
        last = (now.get("operational") or {}).get("lastExecutionResult") or {}
        if int(last.get("status") or 0) not in RUNNING or not is_guid(last.get("id")):
            return not_started
        session = client.execution_result(last["id"]).get("executionID")
    except QrsError as e:
        not_started.message += f"; whether it was already running could not be read ({e.kind}: {e.message})"
        return not_started
    if not is_guid(session) or session == ZERO_SESSION:
        return not_started
    return SyncStart(ALREADY_RUNNING, "the task was already running, so no second run was "
                     "started; the session is the run in progress", task, session)


def _describe_target(target: "ById | ByName") -> dict:
    if isinstance(target, ById):
        return {"synchronous": True, "type": TYPE_ID, "taskId": target.task_id}
    return {"synchronous": True, "type": TYPE_NAME, "taskName": target.name}


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
        if isinstance(item, ByName):
            return {"type": TYPE_NAME, "taskName": item.name}
        if isinstance(item, ByTag):
            return {"type": TYPE_TAG, "tag": item.tag}
        if isinstance(item, ByCustomProperty):
            return {"type": TYPE_CP, "name": item.name, "value": item.value}
        return {"type": TYPE_KV, "namespace": item.namespace, "key": item.key}

    asked = {"allTaskIdsMustExist": request.all_ids_must_exist,
             "items": [one(i) for i in request.items]}
    return asked if request.topic is None else {"topic": request.topic, **asked}


def _some(values: list[str], limit: int = 10) -> str:
    shown = ", ".join(values[:limit])
    return f"[{shown}{f', … {len(values) - limit} more' if len(values) > limit else ''}]"


def _summary_of_request(request: StartRequest) -> str:
    items = request.items
    ids = [i.task_id for i in items if isinstance(i, ById)]
    names = [repr(i.name) for i in items if isinstance(i, ByName)]
    tags = [repr(i.tag) for i in items if isinstance(i, ByTag)]
    cps = [f"{i.name!r}={i.value!r}" for i in items if isinstance(i, ByCustomProperty)]
    kvs = [f"{i.namespace}/{i.key}" for i in items if isinstance(i, KeyValueItem)]
    return (f"ids {_some(ids)} {f'names {_some(names)} ' if names else ''}tags {_some(tags)} "
            f"custom properties {_some(cps)} "
            f"key-values {_some(kvs)} allTaskIdsMustExist={request.all_ids_must_exist}")


def _summary_of_outcome(result: StartResult) -> str:
    started = [t["id"] for t in _unique(result.started + result.by_name + result.by_tag + result.by_cp)]
    failed = [f"{t['id']} ({reason})" for t, reason in result.failed]
    names = (f"names denied {_some(result.names_denied)} invalid "
             f"{_some([n for n, _why in result.names_invalid])}, " if result.names_asked else "")
    return (f"matched and started {_some(started)}, failed {_some(failed, 3)}, {names}"
            f"invalid {_some(result.invalid)}, denied ids {_some(result.denied)}, "
            f"denied tags {_some(result.tags_denied)}, "
            f"denied custom properties {_some([f'{c.name}={c.value}' for c in result.cps_denied])}; "
            f"{result.repository_requests} repository request(s)")


# -- building from the configuration ---------------------------------------------------------
def build_starter(config: Config, database: db.Database, store: kv.KeyValueStore) -> TaskStarter | None:
    """The starter when the start endpoint or MQTT is enabled (the start endpoint alone without
    a repository host: none, with a warning; its calls answer 503); a configuration that cannot
    work stops start-up with a message naming the key."""
    if not (config.start_task_enabled or config["Butler.mqttConfig.enable"]):
        return None
    if not config["Butler.configQRS.host"] and not config["Butler.mqttConfig.enable"]:
        log.warning("Butler.restServerEndpointsEnable.senseStartTask is true but "
                    "Butler.configQRS.host is not set: start calls answer 503 until the Sense "
                    "repository host is named")
        return None
    return make_starter(config, database, store,
                        "task starts are enabled (Butler.restServerEndpointsEnable.senseStartTask "
                        "or Butler.mqttConfig.enable)")


def make_starter(config: Config, database: db.Database, store: kv.KeyValueStore | None,
                 why: str) -> TaskStarter:
    """The starter for any entry point (`why` it is needed opens the error message)."""
    if not config["Butler.configQRS.host"]:
        raise ConfigError(f"{why} but Butler.configQRS.host is not set: name the Sense "
                          "repository host")
    settings = QrsSettings.from_config(config)
    _check_certificate_files(config)
    try:  # builds what every call uses (authentication headers, TLS context) once, now
        QrsClient(settings).close()
    except QrsConfigError as e:
        raise ConfigError(f"Butler.configQRS: {e.message}") from None
    if settings.use_ssl and not settings.reject_unauthorized:
        log.warning("Butler.configQRS.rejectUnauthorized is false: the repository's certificate "
                    "is not verified, so the client certificate and X-Qlik-User go to whatever "
                    "answers on %s:%s; set it to true with Butler.cert.clientCertCA (root.pem)",
                    settings.host, settings.port)
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
