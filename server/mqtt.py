"""Task starts over MQTT (SPEC §5; Butler's `mqttConfig`): a message on `taskStartTopic` starts
tasks through the same `server.tasks.TaskStarter` as REST (start filter, validation, audit).

A payload is either a task ID (Butler's form) or JSON: the REST start body's array of items, or
`{"items": [...], "allTaskIdsMustExist": bool, "correlationId": "..."}`. When a result topic is
configured (`Valet.mqtt.taskStartResultTopic`), or an MQTT 5 message names a response topic,
each message's result is published there as JSON in the REST answer's shape (the 200 body, or
the `{statusCode, error, message}` error body) with the message's `correlationId`; MQTT 5
correlation data is echoed as correlation data too.

paho-mqtt's network thread receives messages and hands them to one worker thread, so a slow
repository never holds up the connection (keep-alives, acknowledgements). The worker takes
every message waiting (up to `Valet.mqtt.maxBatch`) and starts them with one lookup (split only
where a URL would pass 8 KB) and one `task/start/many` (`TaskStarter.start_batch`); a message with key-value items runs alone, in
its place in the order, so its values are stored just before its own tasks start. paho
reconnects with backoff (`reconnect*Seconds`) and every (re)connection subscribes again.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from server import kv, tasks
from server.audit import Caller
from server.api.errors import INTERNAL_ERROR, KV_STATUS, error_body
from server.config import Config, ConfigError

log = logging.getLogger("valet.mqtt")

STOP_TIMEOUT_SECONDS = 30
UNSUBSCRIBE_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    start_topic: str
    result_topic: str | None
    protocol: int
    client_id: str
    username: str | None
    password: str | None
    tls: bool
    tls_ca: str | None
    tls_cert: str | None
    tls_key: str | None
    keepalive: int
    reconnect_min: int
    reconnect_max: int
    required_for_readiness: bool
    max_batch: int
    max_payload_bytes: int
    session_expiry: int  # 0: a clean session
    shared_group: str | None

    @property
    def persistent(self) -> bool:
        return self.session_expiry > 0

    @property
    def broker(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def subscription(self) -> str:
        if self.shared_group:
            return f"$share/{self.shared_group}/{self.start_topic}"
        return self.start_topic

    @classmethod
    def from_config(cls, config: Config, shared_group: str | None = None) -> "MqttSettings":
        """`shared_group`: the default for `Valet.mqtt.sharedSubscriptionGroup`."""
        v = "Valet.mqtt."
        settings = cls(
            host=config["Butler.mqttConfig.brokerHost"], port=config["Butler.mqttConfig.brokerPort"],
            start_topic=config["Butler.mqttConfig.taskStartTopic"],
            result_topic=config[v + "taskStartResultTopic"],
            protocol=paho.MQTTv5 if config[v + "protocolVersion"] == "5" else paho.MQTTv311,
            client_id=config[v + "clientId"] or f"valet-{socket.gethostname()}-{os.getpid()}",
            username=config[v + "username"], password=config[v + "password"],
            tls=config[v + "tls.enable"], tls_ca=config[v + "tls.caFile"],
            tls_cert=config[v + "tls.certFile"], tls_key=config[v + "tls.keyFile"],
            keepalive=config[v + "keepaliveSeconds"],
            reconnect_min=config[v + "reconnectMinSeconds"],
            reconnect_max=max(config[v + "reconnectMinSeconds"], config[v + "reconnectMaxSeconds"]),
            required_for_readiness=config[v + "requiredForReadiness"],
            max_batch=config[v + "maxBatch"],
            max_payload_bytes=config["Valet.limits.requestBodyBytes"],
            session_expiry=config[v + "sessionExpirySeconds"],
            shared_group=config[v + "sharedSubscriptionGroup"] or shared_group)
        if settings.persistent and not config[v + "clientId"]:
            raise ConfigError("Valet.mqtt.sessionExpirySeconds needs Valet.mqtt.clientId: the "
                              "broker keeps the session under the client ID, which must stay the "
                              "same across restarts")
        _check_topics(settings, config["Butler.mqttConfig.subscriptionRootTopic"])
        _check_credentials(settings)
        return settings


def _check_topics(settings: MqttSettings, root: str) -> None:
    start = settings.start_topic
    if not start or ("#" in start and not start.endswith("#")):
        raise ConfigError(f"Butler.mqttConfig.taskStartTopic: {start!r} is not a valid topic "
                          "filter ('#' may only end it)")
    if not paho.topic_matches_sub(root, start.replace("+", "x").replace("#", "x")):
        raise ConfigError(f"Butler.mqttConfig.taskStartTopic: {start!r} must sit under "
                          f"Butler.mqttConfig.subscriptionRootTopic {root!r}, as Butler requires")
    result = settings.result_topic
    if result is None:
        return
    if "+" in result or "#" in result:
        raise ConfigError(f"Valet.mqtt.taskStartResultTopic: {result!r} must be a topic to "
                          "publish to, without the wildcards + and #")
    if paho.topic_matches_sub(start, result):
        raise ConfigError(f"Valet.mqtt.taskStartResultTopic: {result!r} is matched by "
                          f"Butler.mqttConfig.taskStartTopic {start!r}: every result would be "
                          "read back as a start request; choose a topic outside it")


def _check_credentials(settings: MqttSettings) -> None:
    if settings.password is not None and settings.username is None:
        raise ConfigError("Valet.mqtt.password is set but Valet.mqtt.username is not")
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("Valet.mqtt.tls.certFile and Valet.mqtt.tls.keyFile go together: "
                          "set both for a client certificate, or neither")
    if not settings.tls and (settings.tls_ca or settings.tls_cert):
        raise ConfigError("Valet.mqtt.tls.caFile/certFile/keyFile are set but "
                          "Valet.mqtt.tls.enable is false")
    for key, path in (("caFile", settings.tls_ca), ("certFile", settings.tls_cert),
                      ("keyFile", settings.tls_key)):
        if path is not None:
            try:
                with open(path, "rb"):
                    pass
            except OSError as e:
                raise ConfigError(f"Valet.mqtt.tls.{key}: cannot read {path}: {e.strerror}") from None


# -- messages ---------------------------------------------------------------------------------
@dataclass
class Message:
    """A received message, reduced to what Valet needs (paho reuses its own objects)."""

    topic: str
    payload: bytes
    correlation_data: bytes | None = None
    response_topic: str | None = None
    mid: int = 0  # for the acknowledgement of a persistent session
    qos: int = 0


@dataclass
class Handled:
    """A message on its way through: its request (or why it has none), then its outcome."""

    message: Message
    request: tasks.StartRequest | None = None
    correlation_id: str | None = None
    outcome: tasks.StartResult | Exception | None = None


_ENVELOPE_KEYS = {"items", "allTaskIdsMustExist", "correlationId"}


class PayloadTooLarge(tasks.InvalidStartRequest):
    """Over Valet.limits.requestBodyBytes, the limit of a REST body (answered 413 as there)."""


def parse_payload(payload: bytes, max_bytes: int) -> tuple[list[tasks.Item], bool, str | None]:
    """(items, allTaskIdsMustExist, correlation ID) of a start message; InvalidStartRequest
    says what is wrong with it."""
    if len(payload) > max_bytes:
        raise PayloadTooLarge(f"the payload is {len(payload)} bytes, over the limit of "
                              f"{max_bytes} (Valet.limits.requestBodyBytes)")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise tasks.InvalidStartRequest(f"the payload is not UTF-8 text (byte {e.start})") from None
    if not text.startswith(("[", "{")):
        return [tasks.ById(text)], False, None  # Butler's form: the payload is a task ID
    try:
        body = json.loads(text)
    except json.JSONDecodeError as e:
        raise tasks.InvalidStartRequest(f"the payload is not valid JSON: {e}") from None
    if isinstance(body, list):
        return tasks.parse_items(None, body), False, None
    return _parse_envelope(body)


def _parse_envelope(body: dict) -> tuple[list[tasks.Item], bool, str | None]:
    unknown = sorted(set(body) - _ENVELOPE_KEYS)
    if unknown:
        raise tasks.InvalidStartRequest(f"unknown field(s) {', '.join(unknown)}; a JSON object "
                                        f"payload has {', '.join(sorted(_ENVELOPE_KEYS))}")
    all_ids, correlation = body.get("allTaskIdsMustExist", False), body.get("correlationId")
    if not isinstance(all_ids, bool):
        raise tasks.InvalidStartRequest(f"allTaskIdsMustExist must be true or false, got {all_ids!r:.40}")
    if correlation is not None and not isinstance(correlation, str):
        raise tasks.InvalidStartRequest(f"correlationId must be a string, got {correlation!r:.40}")
    if "items" not in body:
        raise tasks.InvalidStartRequest("items is missing: the array of start items")
    return tasks.parse_items(None, body["items"]), all_ids, correlation


def _correlation_text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.hex()


def _error_status(e: Exception) -> int:
    if isinstance(e, tasks.RepositoryUnavailable):
        return e.http_status
    if isinstance(e, kv.KvError):
        return KV_STATUS[type(e)]
    if isinstance(e, PayloadTooLarge):
        return 413
    return 400 if isinstance(e, tasks.InvalidStartRequest) else 500


def _error_message(e: Exception) -> str:
    if isinstance(e, tasks.InvalidStartRequest):
        return f"invalid start request: {e}"
    if isinstance(e, (tasks.RepositoryUnavailable, kv.KvError)):
        return e.message
    return INTERNAL_ERROR


def result_body(handled: Handled) -> dict:
    """The REST answer's shape for this message's outcome, plus its correlation ID."""
    outcome = handled.outcome
    body = (outcome.to_json() if isinstance(outcome, tasks.StartResult)
            else error_body(_error_status(outcome), _error_message(outcome)))
    if handled.correlation_id is not None:
        body["correlationId"] = handled.correlation_id
    return body


def batches(handled: list[Handled]) -> list[list[Handled]]:
    """Consecutive runs of requests to start together; a request with key-value items alone."""
    runs: list[list[Handled]] = []
    for h in handled:
        if _has_kv(h) or not runs or _has_kv(runs[-1][0]):
            runs.append([h])
        else:
            runs[-1].append(h)
    return runs


def _has_kv(h: Handled) -> bool:
    return any(isinstance(i, tasks.KeyValueItem) for i in h.request.items)


# -- the listener -----------------------------------------------------------------------------
class MqttListener:
    """One MQTT connection and the worker that starts what its messages ask."""

    def __init__(self, settings: MqttSettings, starter: tasks.TaskStarter) -> None:
        self.settings = settings
        self.starter = starter
        self.caller = Caller(f"mqtt://{settings.broker}")
        self.queue: queue.Queue[Message | None] = queue.Queue()
        self.state = "connecting"
        self.last_error: str | None = None
        self.received = self.handled = 0
        self._lock = threading.Lock()
        self._stopping = False
        self._unsubscribed = threading.Event()
        self.client = self._make_client()
        self.worker = threading.Thread(target=self._work, name="valet-mqtt-worker", daemon=True)

    def _make_client(self) -> paho.Client:
        s = self.settings
        v5 = s.protocol == paho.MQTTv5
        # A persistent session acknowledges each message once handled (manual_ack), so that
        # the broker delivers again what Valet had not finished when it went away.
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=s.client_id,
                             protocol=s.protocol, clean_session=None if v5 else not s.persistent,
                             manual_ack=s.persistent)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
        client.reconnect_delay_set(s.reconnect_min, s.reconnect_max)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = lambda *_args: self._unsubscribed.set()
        client.on_message = self._on_message
        return client

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "MqttListener":
        """Connect in the background: a broker that is down now is retried, never fatal."""
        log.info("MQTT: connecting to %s as %s, task starts on %s", self.settings.broker,
                 self.settings.client_id, self.settings.subscription)
        self.worker.start()
        self.client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive,
                                  **self._session_options())
        self.client.loop_start()
        return self

    def _session_options(self) -> dict[str, Any]:
        if self.settings.protocol != paho.MQTTv5:
            return {}
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry
        return {"clean_start": not self.settings.persistent, "properties": props}

    def stop(self) -> None:
        """Stop receiving, then finish the messages already received and publish their results.
        In a clean session they were acknowledged on receipt, so they are Valet's to handle;
        in a persistent one the subscription stays, and what is not handled and acknowledged
        by now is delivered again at the next connection."""
        self._stopping = True
        if self.state == "connected" and not self.settings.persistent:
            self.client.unsubscribe(self.settings.subscription)
            self._unsubscribed.wait(UNSUBSCRIBE_TIMEOUT_SECONDS)
        self.queue.put(None)
        self.worker.join(STOP_TIMEOUT_SECONDS)
        if self.worker.is_alive():
            log.warning("MQTT: %d received message(s) not handled before shutdown",
                        self.queue.qsize())
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    def describe(self) -> str:
        """For /health: the state, the broker, the messages, the last connection error."""
        with self._lock:
            return (f"{self.state} ({self.settings.broker}); {self.received} message(s) received, "
                    f"{self.handled} handled" + (f"; last error: {self.last_error}"
                                                 if self.last_error else ""))

    def _set_state(self, state: str, error: str | None = None) -> None:
        with self._lock:
            repeated = error is not None and error == self.last_error
            self.state = state
            if error is not None:
                self.last_error = error
        if error and not repeated:
            log.warning("MQTT: %s: %s (retrying with backoff up to %d s)", self.settings.broker,
                        error, self.settings.reconnect_max)

    # -- paho callbacks (network thread) ------------------------------------------------------
    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self._set_state("refused", f"the broker refused the connection: {reason_code}")
            return
        client.subscribe(self.settings.subscription, qos=1)
        with self._lock:
            self.state = "subscribing"

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _properties) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            self._set_state("subscription refused", f"the broker refused the subscription to "
                                                    f"{self.settings.subscription}: {refused[0]}")
            return
        with self._lock:
            self.state = "connected"
        log.info("MQTT: connected to %s, subscribed to %s (QoS 1)", self.settings.broker,
                 self.settings.subscription)

    def _on_connect_fail(self, _client, _userdata) -> None:
        error = sys.exc_info()[1]  # paho calls this inside its `except OSError`
        self._set_state("disconnected", f"cannot connect: {error or 'connection failed'}")

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if self._stopping:
            with self._lock:
                self.state = "stopped"
            return
        if self.state != "refused":  # after a refusal the disconnect says nothing new
            self._set_state("disconnected", f"connection lost: {reason_code}")

    def _on_message(self, _client, _userdata, msg: paho.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        self.queue.put(Message(msg.topic, bytes(msg.payload),
                               getattr(props, "CorrelationData", None),
                               getattr(props, "ResponseTopic", None), msg.mid, msg.qos))
        with self._lock:
            self.received += 1

    # -- the worker ----------------------------------------------------------------------------
    def _work(self) -> None:
        stop = False
        while not stop:
            messages, stop = self._next_messages()
            try:
                self._handle(messages)
            except Exception:  # noqa: BLE001 - the worker must outlive any one batch
                log.exception("MQTT: handling %d message(s) failed", len(messages))

    def _next_messages(self) -> tuple[list[Message], bool]:
        """Every message waiting, up to maxBatch (waiting for the first), and whether to stop
        after them."""
        messages: list[Message] = []
        item = self.queue.get()
        while item is not None:
            messages.append(item)
            if len(messages) >= self.settings.max_batch:
                return messages, False
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return messages, False
        return messages, True

    def _handle(self, messages: list[Message]) -> None:
        handled = [self._parse(m) for m in messages]
        for run in batches([h for h in handled if h.request is not None]):
            try:
                self._start(run)
            except Exception as e:  # noqa: BLE001 - every message gets an answer, whatever failed
                log.exception("MQTT: starting the tasks of %d message(s) failed", len(run))
                for h in run:
                    h.outcome = e
        for h in handled:
            self._report(h)

    def _parse(self, message: Message) -> Handled:
        handled = Handled(message, correlation_id=_correlation_text(message.correlation_data))
        try:
            items, all_ids, correlation = parse_payload(message.payload,
                                                        self.settings.max_payload_bytes)
        except tasks.InvalidStartRequest as e:  # audited and logged (WARNING) as REST's are
            self.starter.refuse(self.caller, "mqtt", str(e), topic=message.topic)
            handled.outcome = e
            return handled
        if correlation is not None:
            handled.correlation_id = correlation
        handled.request = tasks.StartRequest(items, all_ids, caller=self.caller,
                                             entry_point="mqtt", topic=message.topic)
        return handled

    def _start(self, run: list[Handled]) -> None:
        if len(run) == 1:
            run[0].outcome = self._start_one(run[0].request)
            return
        for h, outcome in zip(run, self.starter.start_batch([h.request for h in run])):
            h.outcome = outcome

    def _start_one(self, request: tasks.StartRequest) -> tasks.StartResult | Exception:
        try:
            return self.starter.start(request)
        except (tasks.InvalidStartRequest, tasks.RepositoryUnavailable, kv.KvError) as e:
            return e

    def _report(self, handled: Handled) -> None:
        message = handled.message
        topic = self._result_topic(message)
        if topic:
            self.client.publish(topic, json.dumps(result_body(handled)), qos=1,
                                properties=self._result_properties(message))
        self.client.ack(message.mid, message.qos)  # only sent with manual_ack
        with self._lock:
            self.handled += 1

    def _result_topic(self, message: Message) -> str | None:
        """The message's MQTT 5 response topic, else the configured one; never one that the
        start topic matches (the result would be read back as a request)."""
        topic = message.response_topic
        if topic and ("+" in topic or "#" in topic
                      or paho.topic_matches_sub(self.settings.start_topic, topic)):
            log.warning("MQTT message on %s: its response topic %r has a wildcard or is under "
                        "the start topic; its result goes to the configured result topic, if any",
                        message.topic, topic)
            topic = None
        return topic or self.settings.result_topic

    def _result_properties(self, message: Message) -> Properties | None:
        if self.settings.protocol != paho.MQTTv5 or message.correlation_data is None:
            return None
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = message.correlation_data
        return props


def start_listener(config: Config, starter: tasks.TaskStarter | None,
                   shared_group: str | None = None) -> MqttListener | None:
    """The running listener when `Butler.mqttConfig.enable` is on (`build_starter` then made
    the starter); None otherwise."""
    if not config["Butler.mqttConfig.enable"]:
        return None
    return MqttListener(MqttSettings.from_config(config, shared_group), starter).start()
