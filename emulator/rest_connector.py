"""Qlik's REST connector, emulated: connections from YAML, the connector's `SQL SELECT ... FROM
JSON (wrap on) "root" ... WITH CONNECTION (...)` statement, a real HTTP request with `requests`,
and the JSON answer turned into one master table as the connector does (`__KEY_root`,
`__FK_<name>`, `@Value`). Facts and their sources: shared/reference/qlik-facts.md §7-§9.

Choices where no source says what Qlik does (also listed in the README):
- JSON values: a string is text that is also a number when it reads as one (like any other
  source); a number keeps its JSON text and value; true/false become the texts 'true'/'false';
  null, and a selected field the JSON lacks, become NULL; an object or array selected as a
  plain field (not through a sub-select) becomes NULL.
- QUERY "k" "v" pairs are percent-encoded (RFC 3986) and appended to the URL; a query string
  written directly in Url is sent as written.
- No Content-Type is added: only the connection's headers and the statement's HTTPHEADERs
  are sent (the statement's win, names compared case-insensitively).
- An empty field list (`SQL SELECT FROM JSON ...`, Butler's delete subs) selects every scalar
  property of the root element(s); an empty response body gives no rows.
- Keys are numbers 1, 2, 3... per key field, in document order; each element's row comes
  before the rows of its children.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import yaml

from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.values import Value, from_text, number, text

DEFAULT_TIMEOUT_SECONDS = 30.0


# ---------------------------------------------------------------- connections

@dataclass
class Connection:
    name: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS


@dataclass
class RecordedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


def load_connections(path: str | Path) -> dict[str, Connection]:
    """Read `NAME: {url, method, headers, body[, timeout]}` (SPEC §9). A body written as a YAML
    mapping or list is sent as its JSON text."""
    return read_connections_file(path)[0]


def read_connections_file(path: str | Path) -> tuple[dict[str, Connection], dict[str, str]]:
    """The REST connections, and the folder connections of its ``libs: {NAME: DIR}`` section
    (relative folders are relative to the file's own folder)."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ScriptError(f"Cannot read connections file {path}: {e}") from e
    if not isinstance(document, dict):
        raise ScriptError(f"Connections file {path}: expected a mapping of connection names")
    libs = document.pop("libs", None) or {}
    if not isinstance(libs, dict) or not all(isinstance(v, str) for v in libs.values()):
        raise ScriptError(f"Connections file {path}: 'libs' must map connection names to folders")
    folders = {str(name): str(Path(path).parent / folder) for name, folder in libs.items()}
    return {str(name): _connection(str(name), spec, path) for name, spec in document.items()}, folders


def _connection(name: str, spec: Any, path: str | Path) -> Connection:
    where = f"Connections file {path}, connection {name!r}"
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        raise ScriptError(f"{where}: needs a 'url'")
    unknown = set(spec) - {"url", "method", "headers", "body", "timeout"}
    if unknown:
        raise ScriptError(f"{where}: unknown keys {sorted(unknown)}")
    method = str(spec.get("method", "GET")).upper()
    if method not in ("GET", "POST"):
        raise ScriptError(f"{where}: method must be GET or POST (the REST connector has no other)")
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict):
        raise ScriptError(f"{where}: 'headers' must be a mapping")
    body = spec.get("body")
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    return Connection(name, spec["url"], method, {str(k): str(v) for k, v in headers.items()},
                      None if body is None else str(body),
                      float(spec.get("timeout", DEFAULT_TIMEOUT_SECONDS)))


# ---------------------------------------------------------------- the statement

@dataclass
class Select:
    """One SELECT of the statement: the root, or a nested (SELECT ... FROM "x" FK ...)."""
    source: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (JSON name, output name)
    children: list[Select] = field(default_factory=list)
    pk: str | None = None
    fk: str | None = None
    value_alias: str | None = None


@dataclass
class WithConnection:
    url: str | None = None
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None


@dataclass
class SqlSelect:
    select: Select
    connection: WithConnection


_TOKEN = re.compile(r"""
    (?P<space>\s+) | (?P<line_comment>//[^\n]*) | (?P<block_comment>/\*.*?\*/)
  | (?P<string>"(?:[^"]|"")*") | (?P<punct>[(),;]) | (?P<word>[A-Za-z_@#$][\w@#$.]*)
""", re.VERBOSE | re.DOTALL)


@dataclass
class _Token:
    kind: str  # 'string', 'punct' or 'word'
    value: str
    offset: int


def _tokens(statement: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(statement):
        m = _TOKEN.match(statement, pos)
        if not m:
            raise ScriptError(f"REST connector: unexpected {statement[pos:pos + 20]!r} in SQL statement",
                              statement=statement, code=SYNTAX_ERROR)
        kind = m.lastgroup
        if kind == "string":
            # a doubled quote inside a quoted value stands for one quote, as in the connector
            tokens.append(_Token(kind, m.group()[1:-1].replace('""', '"'), pos))
        elif kind in ("punct", "word"):
            tokens.append(_Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, statement: str) -> None:
        self.statement = statement
        self.tokens = _tokens(statement)
        self.pos = 0

    # -- token helpers
    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def at(self, value: str) -> bool:
        t = self.peek()
        return t is not None and t.kind != "string" and t.value.lower() == value.lower()

    def accept(self, value: str) -> bool:
        if self.at(value):
            self.pos += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            self.fail(f"expected {value}")

    def string(self, what: str) -> str:
        t = self.peek()
        if t is None or t.kind != "string":
            self.fail(f"expected a quoted {what}")
        self.pos += 1
        return t.value

    def fail(self, message: str):
        t = self.peek()
        found = "end of statement" if t is None else repr(self.statement[t.offset:t.offset + 30])
        raise ScriptError(f"REST connector: {message}, found {found}", statement=self.statement,
                          code=SYNTAX_ERROR)

    # -- grammar
    def parse(self) -> SqlSelect:
        self.expect("SQL")
        self.expect("SELECT")
        fields, children = self.select_items()
        self.expect("FROM")
        self.expect("JSON")
        for word in ("(", "wrap", "on", ")"):
            self.expect(word)
        root = Select(self.string("table name"), fields, children)
        self.options(root, allowed=("PK", "ArrayValueAlias"))
        connection = WithConnection()
        if self.accept("WITH"):
            self.expect("CONNECTION")
            connection = self.connection_items()
        self.accept(";")
        if self.peek() is not None:
            self.fail("expected the end of the statement")
        return SqlSelect(root, connection)

    def select_items(self) -> tuple[list[tuple[str, str]], list[Select]]:
        fields: list[tuple[str, str]] = []
        children: list[Select] = []
        while not self.at("FROM"):
            if self.accept(","):
                continue
            if self.accept("("):
                children.append(self.sub_select())
            else:
                fields.append(self.field())
        return fields, children

    def field(self) -> tuple[str, str]:
        t = self.peek()
        if t is None or t.kind == "punct":
            self.fail("expected a field name")
        self.pos += 1
        alias = self.string("field alias") if self.accept("AS") else t.value
        return t.value, alias

    def sub_select(self) -> Select:
        self.expect("SELECT")
        fields, children = self.select_items()
        self.expect("FROM")
        select = Select(self.string("JSON property name"), fields, children)
        self.options(select, allowed=("PK", "FK", "ArrayValueAlias"))
        self.expect(")")
        if select.fk is None:
            self.fail(f'nested SELECT FROM "{select.source}" needs FK "..."')
        return select

    def options(self, select: Select, allowed: tuple[str, ...]) -> None:
        attributes = {"pk": "pk", "fk": "fk", "arrayvaluealias": "value_alias"}
        while (t := self.peek()) is not None and t.kind == "word" and t.value.lower() in attributes:
            if t.value.lower() not in [a.lower() for a in allowed]:
                self.fail(f"{t.value} is not allowed here")
            self.pos += 1
            setattr(select, attributes[t.value.lower()], self.string(t.value))
        if select.children and select.pk is None:
            self.fail(f'a SELECT from "{select.source}" with nested SELECTs needs PK "..."')

    def connection_items(self) -> WithConnection:
        result = WithConnection()
        self.expect("(")
        while not self.accept(")"):
            if self.accept(","):  # leading, doubled and trailing commas occur in working scripts
                continue
            self.connection_item(result)
        return result

    def connection_item(self, result: WithConnection) -> None:
        if self.accept("URL"):
            result.url = self.string("URL")
        elif self.accept("QUERY"):
            result.query.append((self.string("query parameter name"), self.string("query parameter value")))
        elif self.accept("HTTPHEADER"):
            result.headers.append((self.string("header name"), self.string("header value")))
        elif self.accept("BODY"):
            result.body = self.string("body")
        else:
            self.fail("expected URL, QUERY, HTTPHEADER or BODY in WITH CONNECTION")


def parse_sql_select(statement: str) -> SqlSelect:
    return _Parser(statement).parse()


# ---------------------------------------------------------------- the request

def run_sql_select(statement: str, connection: Connection,
                   recorder: list[RecordedRequest]) -> tuple[list[str], list[list[Value]]]:
    """Run one `SQL SELECT ...` statement (after dollar expansion) against `connection`; the
    request is appended to `recorder` before it is sent. Returns the master table."""
    sql = parse_sql_select(statement)
    request = _build_request(connection, sql.connection)
    prepared = _prepare(request)
    request.url = prepared.url  # as sent: requests percent-encodes spaces and non-ASCII
    recorder.append(request)
    return json_to_table(sql.select, _send(prepared, connection.timeout))


def _build_request(connection: Connection, override: WithConnection) -> RecordedRequest:
    url = override.url if override.url is not None else connection.url
    if override.query:
        pairs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in override.query)
        url += ("&" if "?" in url else "?") + pairs
    headers = dict(connection.headers)
    for name, value in override.headers:
        for existing in [h for h in headers if h.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    body = override.body if override.body is not None else connection.body
    return RecordedRequest(connection.method, url, headers, body)


def _prepare(request: RecordedRequest) -> requests.PreparedRequest:
    try:
        return requests.Request(request.method, request.url, headers=request.headers,
                                data=None if request.body is None else request.body.encode("utf-8")).prepare()
    except requests.RequestException as e:
        raise ScriptError(f"REST connector: cannot send {request.method} {request.url}: {e}") from e


def _send(prepared: requests.PreparedRequest, timeout: float) -> Any:
    """Send exactly the prepared request (no session defaults such as User-Agent); the parsed
    JSON answer, None for an empty body."""
    request = f"{prepared.method} {prepared.url}"
    try:
        with requests.Session() as session:
            response = session.send(prepared, timeout=timeout)
    except requests.RequestException as e:
        raise ScriptError(f"REST connector: {request} failed: {e}") from e
    if not 200 <= response.status_code < 300:
        raise ScriptError(f"REST connector: HTTP {response.status_code} {response.reason} from "
                          f"{request}: {response.text}")
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError as e:
        raise ScriptError(f"REST connector: the answer of {request} is not JSON: "
                          f"{response.text[:200]}") from e


# ---------------------------------------------------------------- JSON to the master table

def json_to_table(select: Select, document: Any) -> tuple[list[str], list[list[Value]]]:
    elements = [] if document is None else document if isinstance(document, list) else [document]
    if not select.fields and not select.children:
        select = _select_all_root_scalars(select, elements)
    rows: list[dict[str, Value]] = []
    counters: dict[str, int] = {}
    for element in elements:
        _emit(select, element, None, rows, counters)
    columns = _columns(select)
    return columns, [[row.get(c) for c in columns] for row in rows]


def _select_all_root_scalars(select: Select, elements: list[Any]) -> Select:
    names: dict[str, None] = {}
    for element in elements:
        if isinstance(element, dict):
            names.update((k, None) for k, v in element.items() if not isinstance(v, (dict, list)))
    return Select(select.source, [(n, n) for n in names], [], select.pk, select.fk, select.value_alias)


def _columns(select: Select) -> list[str]:
    names = [alias for _, alias in select.fields]
    names += [key for key in (select.fk, select.pk) if key]
    if select.value_alias:
        names.append(select.value_alias)
    for child in select.children:
        names += _columns(child)
    return list(dict.fromkeys(names))


def _emit(select: Select, element: Any, parent_key: Value, rows: list[dict[str, Value]],
          counters: dict[str, int]) -> None:
    row: dict[str, Value] = {}
    if isinstance(element, dict):
        row.update((alias, _json_value(element.get(name))) for name, alias in select.fields)
    elif select.value_alias:
        row[select.value_alias] = _json_value(element)
    key = None
    if select.pk:
        counters[select.pk] = counters.get(select.pk, 0) + 1
        key = row[select.pk] = number(counters[select.pk])
    if select.fk:
        row[select.fk] = parent_key
    rows.append(row)
    if not isinstance(element, dict):
        return
    for child in select.children:
        value = element.get(child.source)
        for item in value if isinstance(value, list) else [] if value is None else [value]:
            _emit(child, item, key, rows, counters)


def _json_value(v: Any) -> Value:
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, bool):
        return text("true" if v else "false")
    if isinstance(v, (int, float)):
        return from_text(json.dumps(v))
    return from_text(str(v))
