"""Client of the Qlik Sense Repository Service (QRS), standalone: urllib3, stdlib.

What it guarantees (SPEC §4):
- one pool of persistent HTTPS connections per repository, shared by every client and
  thread (`POOL_SIZE`): a call pays no TCP or TLS handshake once the pool is warm, and the
  certificates are read once; a connection the repository closed (idle, restarted) is noticed
  when it is taken from the pool (urllib3 checks the socket) and replaced by a new one;
- a fresh 16-character xrfkey on every request, as the `xrfkey` query parameter and the
  `X-Qlik-Xrfkey` header (https://help.qlik.com/en-US/sense-developer/Subsystems/
  RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Connect-API-Using-Xrfkey-Headers.htm);
- certificate authentication with the QMC-exported client.pem/client_key.pem (root.pem to
  verify the server when `reject_unauthorized`), or header authentication through a virtual
  proxy (`https://host[:port]/PREFIX/qrs/...`, the configured header naming the user);
- a timeout on every request; GETs retried on connection and read errors (urllib3 Retry); a
  start is retried only when no connection could be made (nothing was sent), never once sent;
- filter literals escaped as a live Sense expects (`\\'` and `\\\\`, qlik-facts §6) and the
  whole filter percent-encoded, so no tag or property value can break or widen a filter;
- lookups ORed in one filter; tasks by ID or name that would need more than one URL
  (`MAX_URL_LENGTH`) are picked from one unfiltered `GET /qrs/task` instead (every task,
  condensed: one round trip on one connection), unless the repository's last such answer held
  more than `UNFILTERED_LOOKUP_MAX_TASKS`; then, and for tags and custom properties, the lookup
  is split where a URL would pass the limit and the parts run concurrently on the pool (one
  connection each), so any number of terms costs about one round trip.

Errors are `QrsError` subclasses with `http_status`, the status Valet should answer with.
Environment variables such as REQUESTS_CA_BUNDLE or HTTPS_PROXY are ignored: the repository is
reached directly, verified against the configured CA only.

urllib3 is used directly, not through requests: requests parses and re-quotes every URL again
before urllib3 does, ~3 ms of CPU for each 8 KB lookup URL and ~1 ms for any request here.
"""
from __future__ import annotations

import functools
import json
import re
import secrets
import socket
import ssl
import string
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import quote

import orjson
import urllib3
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, NewConnectionError,
                                ReadTimeoutError)
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from server.credentials import EncryptedKeyWithoutPassphrase, load_cert_chain

MAX_URL_LENGTH = 8192  # a URL any server or proxy in front of the repository accepts
POOL_SIZE = 10  # connections kept open to one repository; more callers wait for a free one
# Task lookups: the whole ReloadTask (tags, custom properties, operational), or the condensed
# task, "the ID property and zero or more pre-selected properties ... used to reduce the amount
# of data to transfer" (https://help.qlik.com/en-US/sense-developer/Subsystems/
# RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Connect-API-Full-vs-Condensed-Objects.htm):
# id, name, taskType, enabled, as the condensed task types list them (UserSyncTaskCondensed,
# https://help.qlik.com/en-US/sense-developer/APIs/RepositoryServiceAPI/index.html?page=1942).
FULL, CONDENSED = "task/full", "task"
# The unfiltered condensed list ("Get all as condensed", https://help.qlik.com/en-US/sense-developer/
# November2024/Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Get-All-As-Condensed.htm)
# grows with the repository, split lookups with the request: above this many tasks in the
# repository's last unfiltered answer, split lookups are used again. Measured against the
# simulated repository, 1,000 IDs cost the same either way near 10,000 tasks (README,
# Benchmarks); half that leaves room for a real repository slower to list its tasks.
UNFILTERED_LOOKUP_MAX_TASKS = 5_000
_XRFKEY_CHARS = string.ascii_letters + string.digits


# -- errors --------------------------------------------------------------------------------
class QrsError(Exception):
    """A repository call that failed. `request_sent` is False when the repository certainly
    never received the request (so a start certainly did not happen)."""

    http_status = 502
    kind = "error"

    def __init__(self, message: str, *, method: str = "", path: str = "",
                 request_sent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.request_sent = request_sent


class QrsConfigError(QrsError):
    """The settings cannot work (missing certificate files, unknown authentication mode)."""
    http_status = 500
    kind = "configuration"


class QrsUnreachable(QrsError):
    """No connection could be made: refused, no route, name not resolved."""
    http_status = 503
    kind = "unreachable"


class QrsConnectionLost(QrsError):
    """The connection closed after the request was sent, without an answer."""
    kind = "connection lost"


class QrsTimeout(QrsError):
    """No connection or no answer within the timeout."""
    http_status = 504
    kind = "timeout"


class QrsTlsError(QrsError):
    """The TLS handshake failed: untrusted server certificate, or client certificate refused."""
    kind = "TLS"


class QrsHttpError(QrsError):
    """The repository answered with a non-2xx status; `body` is its (plain-text) answer."""
    kind = "HTTP error"

    def __init__(self, status: int, body: str, **kwargs: Any) -> None:
        super().__init__(f"repository answered {status}: {body.strip()[:300]}", **kwargs)
        self.status = status
        self.body = body


class QrsBadResponse(QrsError):
    """A 2xx answer that is not what the endpoint returns (e.g. not JSON)."""
    kind = "bad response"


# -- settings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class QrsSettings:
    host: str
    port: int = 4242
    use_ssl: bool = True
    authentication: str = "certificates"  # or "header" (through a virtual proxy)
    headers: Mapping[str, str] = field(default_factory=dict)  # static; X-Qlik-User among them
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None
    client_key_passphrase: str | None = field(default=None, repr=False)
    reject_unauthorized: bool = False  # the config default is true (Butler.configQRS.rejectUnauthorized)
    virtual_proxy_prefix: str | None = None
    header_auth_name: str | None = None
    header_auth_user: str | None = None
    timeout: float = 10.0
    get_retries: int = 2

    @classmethod
    def from_config(cls, config: Any) -> "QrsSettings":
        """From Valet's config (dotted keys: Butler.configQRS.*, Butler.cert.*, Valet.qrs.*)."""
        static = config["Butler.configQRS.headers.static"] or []
        return cls(
            host=config["Butler.configQRS.host"],
            port=config["Butler.configQRS.port"],
            use_ssl=config["Butler.configQRS.useSSL"],
            authentication=config["Butler.configQRS.authentication"],
            headers={h["name"]: h["value"] for h in static},
            client_cert=config["Butler.cert.clientCert"],
            client_key=config["Butler.cert.clientCertKey"],
            ca_cert=config["Butler.cert.clientCertCA"],
            client_key_passphrase=config["Valet.qrs.clientCertKeyPassphrase"],
            reject_unauthorized=config["Butler.configQRS.rejectUnauthorized"],
            virtual_proxy_prefix=config["Valet.qrs.virtualProxyPrefix"],
            header_auth_name=config["Valet.qrs.headerAuthName"],
            header_auth_user=config["Valet.qrs.headerAuthUser"],
            timeout=config["Valet.qrs.timeoutSeconds"],
        )

    @property
    def base_path(self) -> str:
        prefix = (self.virtual_proxy_prefix or "").strip("/")
        proxy = f"/{prefix}" if self.authentication == "header" and prefix else ""
        return f"{proxy}/qrs/"

    @property
    def base_url(self) -> str:
        return f"{'https' if self.use_ssl else 'http'}://{self.host}:{self.port}{self.base_path}"

    @functools.cached_property
    def pool_key(self) -> str:
        """What tells one repository's settings from another's (cached: a call asks for it)."""
        return json.dumps(asdict(self), sort_keys=True, default=str)


# -- filters -------------------------------------------------------------------------------
def quote_literal(value: str) -> str:
    """A QRS string literal: `\\` as `\\\\` first, then `'` as `\\'` (measured on a live Sense;
    the OData doubling `''` is rejected, qlik-facts §6)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 36 and _parses_as_guid(value)


@functools.lru_cache(maxsize=4096)
def _parses_as_guid(value: str) -> bool:
    """Cached: a start checks each ID at several steps, and parsing is most of a check."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def id_term(task_id: str) -> str:
    """`id eq <guid>`; GUIDs are written bare. Refuses anything but a GUID, so no ID can inject."""
    if not is_guid(task_id):
        raise ValueError(f"not a task ID (GUID): {task_id!r}")
    return f"id eq {task_id.lower()}"


def name_term(name: str) -> str:
    """Sense compares strings case-insensitively, so callers pick exact matches from the answer."""
    return f"name eq {quote_literal(name)}"


def tag_term(tag: str) -> str:
    return f"tags.name eq {quote_literal(tag)}"


def custom_property_term(name: str, value: str) -> str:
    """Both halves on one custom property; whether Sense requires them to hit the same element
    is not documented (qlik-facts §6), so callers check results with has_custom_property."""
    return (f"(customProperties.definition.name eq {quote_literal(name)} "
            f"and customProperties.value eq {quote_literal(value)})")


def has_tag(task: Mapping[str, Any], tag: str) -> bool:
    """Does a task entity carry this tag? Case-insensitive, as Sense compares strings."""
    return any(_same(t.get("name"), tag) for t in task.get("tags") or [])


def has_custom_property(task: Mapping[str, Any], name: str, value: str) -> bool:
    return any(_same((cp.get("definition") or {}).get("name"), name) and _same(cp.get("value"), value)
               for cp in task.get("customProperties") or [])


def guid_key(guid: str) -> str:
    """What two spellings of one GUID have in common (Sense writes them lower-case)."""
    return guid.lower()


def fold(text: str) -> str:
    """What two spellings of one string have in common when Sense compares them: "string
    comparisons are case-insensitive" (https://help.qlik.com/en-US/sense-developer/November2024/
    Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Filtering.htm)."""
    return text.casefold()


def _same(a: Any, b: str) -> bool:
    return isinstance(a, str) and fold(a) == fold(b)


@dataclass(frozen=True)
class TaskQuery:
    """One call's task lookup: by ID (GUIDs) and by name on the condensed task, and by filter
    terms on whole tasks (`full_terms`: tags, custom properties)."""

    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    full_terms: tuple[str, ...] = ()

    def condensed_terms(self) -> list[str]:
        return list(dict.fromkeys([id_term(i) for i in self.ids] + [name_term(n) for n in self.names]))

    def picked(self, tasks: Iterable[dict]) -> list[dict]:
        """The tasks the ID and name terms select, as the repository's filter selects them."""
        ids, names = {guid_key(i) for i in self.ids}, {fold(n) for n in self.names}
        return [t for t in tasks if guid_key(t["id"]) in ids
                or (names and isinstance(t.get("name"), str) and fold(t["name"]) in names)]


# -- client --------------------------------------------------------------------------------
class QrsClient:
    """One client per call: it counts the call's requests; the connections it uses are the
    repository's shared pool (see `_shared_repository`), so closing a client keeps them open."""

    def __init__(self, settings: QrsSettings, max_url_length: int = MAX_URL_LENGTH) -> None:
        self.settings = settings
        self.max_url_length = max_url_length
        self.requests_sent = 0
        self._count_lock = threading.Lock()
        self.repository = _shared_repository(settings)
        self.pool = self.repository.pool

    def __enter__(self) -> "QrsClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: the pooled connections outlive the call."""

    # -- the calls -----------------------------------------------------------------------
    def find_tasks(self, terms: Iterable[str], endpoint: str = FULL) -> list[dict]:
        """Tasks matching any of the filter terms, in as few requests as keep every URL within
        the limit (run at once); each task once, in the repository's order within each request."""
        return _merged(self._answers([(endpoint, batch) for batch in
                                      self._batches(list(dict.fromkeys(terms)), endpoint)]))

    def find_tasks_in(self, query: TaskQuery) -> list[dict]:
        """The tasks of a query, each once (one found by both kinds keeps the union of its
        properties, the full entity's). Its requests run at the same time: the full terms'
        filtered lookups, and the ID and name terms' or, when those need more than one URL and
        the repository's last unfiltered answer held at most `UNFILTERED_LOOKUP_MAX_TASKS`
        (or there was none yet), one unfiltered condensed list they are picked from."""
        requests: list[tuple[str, list[str] | None]] = [
            (FULL, batch) for batch in self._batches(list(dict.fromkeys(query.full_terms)), FULL)]
        condensed = self._batches(query.condensed_terms(), CONDENSED)
        unfiltered = len(condensed) > 1 and self.repository.tasks <= UNFILTERED_LOOKUP_MAX_TASKS
        requests += [(CONDENSED, None)] if unfiltered else [(CONDENSED, b) for b in condensed]
        answers = self._answers(requests)
        if unfiltered:
            self.repository.tasks = len(answers[-1])
            answers[-1] = query.picked(answers[-1])
        return _merged(answers)

    def _answers(self, requests: list[tuple[str, list[str] | None]]) -> list[list[dict]]:
        """Each lookup's answer, in order; all of them at once (one pooled connection each),
        the first on the caller's thread. A batch of None: the unfiltered list."""
        if not requests:
            return []
        first, *rest = requests
        others = [_lookup_executor().submit(self._look_up, *request) for request in rest]
        return [self._look_up(*first)] + [f.result() for f in others]

    def _look_up(self, endpoint: str, batch: list[str] | None) -> list[dict]:
        params = None if batch is None else {"filter": _OR.join(batch)}
        return self._json("GET", endpoint, params, quoted=True)

    def _batches(self, terms: list[str], endpoint: str) -> list[list[str]]:
        """Greedy packing in order, of the percent-encoded terms. Percent-encoding works
        character by character, so a batch's URL length is the base plus its encoded terms and
        separators, and the encoded batch is the encoded terms joined by the encoded `or`."""
        base = len(self.settings.base_url) + len(self._target(endpoint, {"filter": ""}, "x" * 16)) \
            - len(self.settings.base_path)
        separator = len(_OR)
        batches: list[list[str]] = []
        length = 0
        for term in map(_percent_encoded, terms):
            size = len(term)
            if base + size > self.max_url_length:
                raise ValueError(f"a filter term alone makes a URL over {self.max_url_length} "
                                 f"characters: {term[:80]}...")
            if batches and length + separator + size <= self.max_url_length:
                batches[-1].append(term)
                length += separator + size
            else:
                batches.append([term])
                length = base + size
        return batches

    def start_many(self, task_ids: list[str]) -> None:
        """One POST task/start/many for all IDs (Sense answers for the whole batch)."""
        if task_ids:
            self._call("POST", "task/start/many", body=[_guid(i) for i in task_ids])

    def start(self, task_id: str) -> None:
        self._call("POST", f"task/{_guid(task_id)}/start")

    def start_synchronous(self, task_id: str) -> str:
        """The execution session ID; the zero GUID when Sense did not start the task
        (disabled, already running). Sense's reference shows a bare "guid", clients read
        {"value": guid}: both are accepted."""
        answer = self._json("POST", f"task/{_guid(task_id)}/start/synchronous")
        session = answer.get("value") if isinstance(answer, dict) else answer
        if not is_guid(session):
            raise QrsBadResponse(f"start/synchronous answered {str(answer)[:200]!r}, not a session ID",
                                 method="POST", path="task/start/synchronous")
        return session

    def execution_session(self, session_id: str) -> dict | None:
        """The running session, or None once it has ended (Sense deletes it: 404)."""
        try:
            return self._json("GET", f"executionsession/{_guid(session_id)}")
        except QrsHttpError as e:
            if e.status == 404:
                return None
            raise

    def execution_results(self, session_id: str) -> list[dict]:
        """The session's execution results, one per try ("each task retry renders a new
        execution result", Task: Start synchronous in Qlik's QRS reference), oldest first;
        whole entities, so each carries its taskID."""
        return _by_creation(self._json("GET", "executionresult/full",
                                       {"filter": f"ExecutionId eq {_guid(session_id)}"}))

    def task_results(self, task_id: str) -> list[dict]:
        """Every execution result the repository keeps for a task, oldest first."""
        return _by_creation(self._json("GET", "executionresult/full",
                                       {"filter": f"taskID eq {_guid(task_id)}"}))

    def execution_result(self, result_id: str) -> dict:
        return self._json("GET", f"executionresult/{_guid(result_id)}")

    def about(self) -> dict:
        return self._json("GET", "about")

    # -- transport -----------------------------------------------------------------------
    def _target(self, path: str, params: Mapping[str, str] | None, xrfkey: str,
                quoted: bool = False) -> str:
        """The request target; `quoted`: the parameter values are percent-encoded already."""
        pairs = [f"{quote(k, safe='')}={v if quoted else quote(v, safe='')}"
                 for k, v in (params or {}).items()]
        return f"{self.settings.base_path}{path}?{'&'.join([f'xrfkey={xrfkey}'] + pairs)}"

    def _json(self, method: str, path: str, params: Mapping[str, str] | None = None,
              quoted: bool = False) -> Any:
        response = self._call(method, path, params, quoted=quoted)
        try:
            return orjson.loads(response.data)  # a third faster than json on 1,000 tasks (1.4 MB)
        except ValueError:
            raise QrsBadResponse(f"expected JSON, got {_text(response)[:200]!r}",
                                 method=method, path=path) from None

    def _call(self, method: str, path: str, params: Mapping[str, str] | None = None,
              body: Any = None, quoted: bool = False) -> urllib3.BaseHTTPResponse:
        """`body`: sent as JSON when given."""
        xrfkey = _xrfkey()
        where = {"method": method, "path": path}
        headers = {**self.pool.headers, "X-Qlik-Xrfkey": xrfkey}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        with self._count_lock:  # split lookups run on several threads
            self.requests_sent += 1
        try:
            response = self.pool.urlopen(method, self._target(path, params, xrfkey, quoted),
                                         body=body, headers=headers, redirect=False)
        except HTTPError as e:
            raise _connection_error(e, self.settings, where) from None
        if not 200 <= response.status < 300:
            raise QrsHttpError(response.status, _text(response), **where)
        return response


def _merged(answers: list[list[dict]]) -> list[dict]:
    found: dict[str, dict] = {}
    for task in (t for answer in answers for t in answer):
        seen = found.get(task["id"])
        found[task["id"]] = task if seen is None else {**seen, **task}
    return list(found.values())


_OR = quote(" or ", safe="")
_UNRESERVED_AND_SPACES = re.compile(r"[A-Za-z0-9_.~ -]*")  # what `quote` leaves but spaces


def _percent_encoded(term: str) -> str:
    """`quote(term, safe="")`; an ID term (letters, digits, `-` and spaces) without its
    character-by-character pass, a tenth of its cost (1,000 IDs are 1,000 terms)."""
    if _UNRESERVED_AND_SPACES.fullmatch(term):
        return term.replace(" ", "%20")
    return quote(term, safe="")


def _xrfkey() -> str:
    """16 random letters and digits, from one draw of the system's generator (a draw per
    character, as `secrets.choice` makes, is a system call each)."""
    n = secrets.randbelow(len(_XRFKEY_CHARS) ** 16)
    key = []
    for _ in range(16):
        n, digit = divmod(n, len(_XRFKEY_CHARS))
        key.append(_XRFKEY_CHARS[digit])
    return "".join(key)


def _text(response: urllib3.BaseHTTPResponse) -> str:
    return response.data.decode("utf-8", errors="replace")


class _ConnectionRetry(Retry):
    """Retries on connection errors only: a read timeout means the repository is slow, not
    gone, and retrying would multiply the caller's wait."""

    def increment(self, method: str | None = None, url: str | None = None, *args: Any,
                  error: Exception | None = None, **kwargs: Any) -> Retry:
        if isinstance(error, ReadTimeoutError):
            raise error
        return super().increment(method, url, *args, error=error, **kwargs)


@dataclass
class _Repository:
    """What one repository's clients share: the connections, and the number of tasks its last
    unfiltered condensed list held (0: none was asked for yet; once over the limit, no list is
    asked for again, so a repository that shrinks is noticed only after a restart)."""

    pool: urllib3.HTTPConnectionPool
    tasks: int = 0


_REPOSITORIES: OrderedDict[str, _Repository] = OrderedDict()
_REPOSITORIES_KEPT = 8  # distinct repository settings in one process (tests make many)
_repositories_lock = threading.Lock()


def _shared_repository(s: QrsSettings) -> _Repository:
    """The connection pool and what is known of the repository of these settings: built on
    first use (a configuration error raises then), shared by every client and thread afterwards."""
    with _repositories_lock:
        repository = _REPOSITORIES.get(s.pool_key)
        if repository is None:
            repository = _REPOSITORIES[s.pool_key] = _Repository(_pool(s))
            while len(_REPOSITORIES) > _REPOSITORIES_KEPT:
                _REPOSITORIES.popitem(last=False)[1].pool.close()
        _REPOSITORIES.move_to_end(s.pool_key)
        return repository


def _pool(s: QrsSettings) -> urllib3.HTTPConnectionPool:
    """`POOL_SIZE` persistent connections to the one repository host; a caller finding them
    all busy waits for one (block) rather than open a connection thrown away after one
    request. TLS from a prepared context, so neither the CA nor the client certificate is
    read again for a new connection; the server's name is matched by urllib3 when verifying."""
    retries = _ConnectionRetry(total=s.get_retries, connect=s.get_retries, read=s.get_retries,
                               status=0, other=0, allowed_methods=frozenset({"GET"}),
                               backoff_factor=0.05, raise_on_status=False)
    common = {"maxsize": POOL_SIZE, "block": True, "retries": retries,
              "timeout": urllib3.Timeout(connect=s.timeout, read=s.timeout),
              "headers": _headers(s)}
    if not s.use_ssl:
        return urllib3.HTTPConnectionPool(s.host, s.port, **common)
    if not s.reject_unauthorized:
        # The admin chose to accept the repository's self-signed certificate (Butler's
        # rejectUnauthorized: false); don't warn on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return urllib3.HTTPSConnectionPool(s.host, s.port, ssl_context=_ssl_context(s), **common)


def _headers(s: QrsSettings) -> dict[str, str]:
    """The headers of every request: the static ones, and the user's for header authentication."""
    headers = dict(s.headers)
    if s.authentication == "header":
        if not (s.header_auth_name and s.header_auth_user):
            raise QrsConfigError("header authentication needs Valet.qrs.headerAuthName and "
                                 "Valet.qrs.headerAuthUser", request_sent=False)
        headers[s.header_auth_name] = s.header_auth_user
    elif s.authentication != "certificates":
        raise QrsConfigError(f"unknown authentication {s.authentication!r}; expected "
                             "'certificates' or 'header'", request_sent=False)
    return headers


@functools.lru_cache(maxsize=1)
def _lookup_executor() -> ThreadPoolExecutor:
    """Threads for the parts of a split lookup beyond the first (which runs on the caller's)."""
    return ThreadPoolExecutor(max_workers=POOL_SIZE - 1, thread_name_prefix="qrs-lookup")


def _ssl_context(s: QrsSettings) -> ssl.SSLContext:
    cert = (s.client_cert, s.client_key) if s.authentication == "certificates" else None
    if cert and not all(cert):
        raise QrsConfigError("certificate authentication needs Butler.cert.clientCert and "
                             "Butler.cert.clientCertKey (client.pem, client_key.pem from the QMC "
                             "export)", request_sent=False)
    try:
        return _cached_context(cert, s.ca_cert if s.reject_unauthorized else None,
                               s.reject_unauthorized, s.client_key_passphrase)
    except EncryptedKeyWithoutPassphrase:
        raise QrsConfigError(f"the client key {s.client_key} is encrypted: give its passphrase "
                             "in Valet.qrs.clientCertKeyPassphrase", request_sent=False) from None
    except (OSError, ssl.SSLError) as e:
        raise QrsConfigError(f"cannot use the configured certificates {cert or ''} "
                             f"{s.ca_cert or ''}: {e}", request_sent=False) from None


@functools.lru_cache(maxsize=16)
def _cached_context(cert: tuple[str, str] | None, ca: str | None, verify: bool,
                    passphrase: str | None) -> ssl.SSLContext:
    """Built once per certificate set (the files are read when Valet first calls)."""
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)
    context.check_hostname = False  # urllib3 matches the host name itself when verifying
    if verify:
        if ca:
            context.load_verify_locations(ca)
        else:
            context.load_default_certs()
    if cert:
        load_cert_chain(context, *cert, passphrase)
    return context


def _by_creation(results: list[dict]) -> list[dict]:
    """Sorted here: `orderby` is not honoured by every repository version (and not by the
    simulated one). ISO dates sort as text."""
    return sorted(results, key=lambda r: (r.get("createdDate") or "", r.get("startTime") or ""))


def _guid(value: str) -> str:
    if not is_guid(value):
        raise ValueError(f"not a GUID: {value!r}")
    return value


def _tls_message(e: Exception) -> str:
    text, reason = str(e), _reason(str(e))
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return ("the repository's server certificate is not trusted by Butler.cert.clientCertCA "
                f"(root.pem): {reason}")
    if "doesn't match" in text or "CertificateError" in text:
        return ("the repository's server certificate is for another host name than "
                f"Butler.configQRS.host (the name does not match): {reason}")
    return ("TLS handshake with the repository failed; is the client certificate "
            f"(Butler.cert.clientCert, client.pem from the QMC) issued by its CA? {reason}")


def _causes(e: BaseException | None) -> Iterator[BaseException]:
    """The error and what it wraps: requests' args, urllib3's `reason`, Python's chain."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        wrapped = getattr(e, "reason", None)
        if not isinstance(wrapped, BaseException) and e.args and isinstance(e.args[0], BaseException):
            wrapped = e.args[0]
        e = wrapped if isinstance(wrapped, BaseException) else (e.__cause__ or e.__context__)


def _connection_error(e: Exception, s: QrsSettings, where: dict) -> QrsError:
    """By the exception types inside, never their text (Windows words errors its own way)."""
    causes = list(_causes(e))
    if any(isinstance(c, (NewConnectionError, ConnectionRefusedError, socket.gaierror))
           for c in causes):
        return QrsUnreachable(f"cannot connect to the repository at {s.host}:{s.port}: "
                              f"{_reason(str(e))}", request_sent=False, **where)
    if any(isinstance(c, ConnectTimeoutError) for c in causes):
        return QrsTimeout(f"no connection to {s.host}:{s.port} within {s.timeout:g} s",
                          request_sent=False, **where)
    if any(isinstance(c, ReadTimeoutError) for c in causes):
        return QrsTimeout(f"no answer within {s.timeout:g} s", **where)
    if any(isinstance(c, (ssl.SSLError, urllib3.exceptions.SSLError)) for c in causes):
        return QrsTlsError(_tls_message(e), request_sent=False, **where)
    return QrsConnectionLost(f"the repository closed the connection without answering: "
                             f"{_reason(str(e))}", **where)


def _reason(text: str) -> str:
    """The innermost reason of a urllib3/requests error text, without the URL and xrfkey."""
    m = re.search(r"\(Caused by (.*)\)\s*$", text)
    return (m.group(1) if m else text)[:240]
