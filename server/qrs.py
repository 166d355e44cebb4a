"""Client of the Qlik Sense Repository Service (QRS), standalone: requests, urllib3, stdlib.

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
- lookups ORed and split only where a URL would pass `MAX_URL_LENGTH`; the parts run
  concurrently on the pool, so any number of IDs costs about one round trip.

Errors are `QrsError` subclasses with `http_status`, the status Valet should answer with.
Environment variables such as REQUESTS_CA_BUNDLE or HTTPS_PROXY are ignored (trust_env off):
the repository is reached directly, verified against the configured CA only.
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

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from server.credentials import EncryptedKeyWithoutPassphrase, load_cert_chain

MAX_URL_LENGTH = 8192  # a URL any server or proxy in front of the repository accepts
POOL_SIZE = 10  # connections kept open to one repository; more callers wait for a free one
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
    def base_url(self) -> str:
        scheme = "https" if self.use_ssl else "http"
        prefix = (self.virtual_proxy_prefix or "").strip("/")
        proxy = f"/{prefix}" if self.authentication == "header" and prefix else ""
        return f"{scheme}://{self.host}:{self.port}{proxy}/qrs/"


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


def _same(a: Any, b: str) -> bool:
    return isinstance(a, str) and a.casefold() == b.casefold()


# -- client --------------------------------------------------------------------------------
class QrsClient:
    """One client per call: it counts the call's requests; the connections it uses are the
    repository's shared pool (see `_shared_session`), so closing a client keeps them open."""

    def __init__(self, settings: QrsSettings, max_url_length: int = MAX_URL_LENGTH) -> None:
        self.settings = settings
        self.max_url_length = max_url_length
        self.requests_sent = 0
        self._count_lock = threading.Lock()
        self.session = _shared_session(settings)

    def __enter__(self) -> "QrsClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: the pooled connections outlive the call."""

    @property
    def _verify(self) -> bool | str:
        s = self.settings
        if not s.use_ssl or not s.reject_unauthorized:
            return False
        return s.ca_cert or True

    # -- the calls -----------------------------------------------------------------------
    def find_tasks(self, terms: Iterable[str], endpoint: str = "task/full") -> list[dict]:
        """Tasks matching any of the filter terms, in as few requests as keep every URL within
        the limit; each task once, in the repository's order within each request."""
        def look_up(batch: list[str]) -> list[dict]:
            return self._json("GET", endpoint, {"filter": " or ".join(batch)})

        first, *rest = self._batches(list(dict.fromkeys(terms)), endpoint) or [[]]
        if not first:
            return []
        others = [_lookup_executor().submit(look_up, batch) for batch in rest]
        answers = [look_up(first)] + [f.result() for f in others]
        found: dict[str, dict] = {}
        for task in (t for answer in answers for t in answer):
            found.setdefault(task["id"], task)
        return list(found.values())

    def _batches(self, terms: list[str], endpoint: str) -> list[list[str]]:
        """Greedy packing in order. Percent-encoding works character by character, so a
        batch's URL length is the base plus its encoded terms and separators."""
        base = len(self._url(endpoint, {"filter": ""}, "x" * 16))
        separator = len(quote(" or ", safe=""))
        batches: list[list[str]] = []
        length = 0
        for term in terms:
            size = len(quote(term, safe=""))
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
            self._call("POST", "task/start/many", json=[_guid(i) for i in task_ids])

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
    def _url(self, path: str, params: Mapping[str, str] | None, xrfkey: str) -> str:
        query = "&".join([f"xrfkey={xrfkey}"] + [f"{quote(k, safe='')}={quote(v, safe='')}"
                                                 for k, v in (params or {}).items()])
        return f"{self.settings.base_url}{path}?{query}"

    def _json(self, method: str, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = self._call(method, path, params)
        try:
            return response.json()
        except ValueError:
            raise QrsBadResponse(f"expected JSON, got {response.text[:200]!r}",
                                 method=method, path=path) from None

    def _call(self, method: str, path: str, params: Mapping[str, str] | None = None,
              json: Any = None) -> requests.Response:
        xrfkey = "".join(secrets.choice(_XRFKEY_CHARS) for _ in range(16))
        where = {"method": method, "path": path}
        with self._count_lock:  # split lookups run on several threads
            self.requests_sent += 1
        try:
            response = self.session.request(
                method, self._url(path, params, xrfkey), json=json,
                headers={"X-Qlik-Xrfkey": xrfkey}, timeout=self.settings.timeout,
                verify=self._verify)
        except requests.exceptions.SSLError as e:
            raise QrsTlsError(_tls_message(e), request_sent=False, **where) from None
        except requests.exceptions.ConnectTimeout:
            raise QrsTimeout(f"no connection to {self.settings.host}:{self.settings.port} within "
                             f"{self.settings.timeout:g} s", request_sent=False, **where) from None
        except requests.exceptions.ReadTimeout:
            raise QrsTimeout(f"no answer within {self.settings.timeout:g} s", **where) from None
        except requests.exceptions.ConnectionError as e:
            raise _connection_error(e, self.settings, where) from None
        if not 200 <= response.status_code < 300:
            raise QrsHttpError(response.status_code, response.text, **where)
        return response


class _ConnectionRetry(Retry):
    """Retries on connection errors only: a read timeout means the repository is slow, not
    gone, and retrying would multiply the caller's wait."""

    def increment(self, method: str | None = None, url: str | None = None, *args: Any,
                  error: Exception | None = None, **kwargs: Any) -> Retry:
        if isinstance(error, ReadTimeoutError):
            raise error
        return super().increment(method, url, *args, error=error, **kwargs)


class _Adapter(HTTPAdapter):
    """`POOL_SIZE` persistent connections to the one repository host; a caller finding them
    all busy waits for one (pool_block) rather than open a connection thrown away after one
    request. TLS from a prepared context, so urllib3 neither reloads the system CA store nor
    the client certificate for each new connection."""

    def __init__(self, context: ssl.SSLContext | None, **kwargs: Any) -> None:
        self.context = context
        super().__init__(pool_connections=1, pool_maxsize=POOL_SIZE, pool_block=True, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self.context is not None:
            kwargs["ssl_context"] = self.context
        super().init_poolmanager(*args, **kwargs)


_SESSIONS: OrderedDict[str, requests.Session] = OrderedDict()
_SESSIONS_KEPT = 8  # distinct repository settings in one process (tests make many)
_sessions_lock = threading.Lock()


def _shared_session(s: QrsSettings) -> requests.Session:
    """The session, and so the connection pool, of these settings: built on first use (a
    configuration error raises then), shared by every client and thread afterwards."""
    key = json.dumps(asdict(s), sort_keys=True, default=str)
    with _sessions_lock:
        session = _SESSIONS.get(key)
        if session is None:
            session = _SESSIONS[key] = _session(s)
            while len(_SESSIONS) > _SESSIONS_KEPT:
                _SESSIONS.popitem(last=False)[1].close()
        _SESSIONS.move_to_end(key)
        return session


def _session(s: QrsSettings) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    retries = _ConnectionRetry(total=s.get_retries, connect=s.get_retries, read=s.get_retries,
                               status=0, other=0, allowed_methods=frozenset({"GET"}),
                               backoff_factor=0.05, raise_on_status=False)
    adapter = _Adapter(_ssl_context(s) if s.use_ssl else None, max_retries=retries)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(s.headers)
    if s.authentication == "header":
        if not (s.header_auth_name and s.header_auth_user):
            raise QrsConfigError("header authentication needs Valet.qrs.headerAuthName and "
                                 "Valet.qrs.headerAuthUser", request_sent=False)
        session.headers[s.header_auth_name] = s.header_auth_user
    elif s.authentication != "certificates":
        raise QrsConfigError(f"unknown authentication {s.authentication!r}; expected "
                             "'certificates' or 'header'", request_sent=False)
    if s.use_ssl and not s.reject_unauthorized:
        # The admin chose to accept the repository's self-signed certificate (Butler's
        # rejectUnauthorized: false); don't warn on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return session


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
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return QrsTlsError(_tls_message(e), request_sent=False, **where)
    return QrsConnectionLost(f"the repository closed the connection without answering: "
                             f"{_reason(str(e))}", **where)


def _reason(text: str) -> str:
    """The innermost reason of a urllib3/requests error text, without the URL and xrfkey."""
    m = re.search(r"\(Caused by (.*)\)\s*$", text)
    return (m.group(1) if m else text)[:240]
