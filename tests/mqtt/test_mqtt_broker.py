"""Valet and the broker: credentials, TLS with client certificates, a broker that goes away and
comes back, one that does not exist yet, readiness, a flood of 1,000 messages, gunicorn workers.
Each test has its own Mosquitto."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from mqtt.mqtt_support import (FLOOD, Client, Mosquitto, health, mqtt_check, valet_config,
                               wait_for_state)
from tasks.start_support import A1, A3, refs, result


def test_username_and_password_required_by_the_broker(tmp_path, start_valet, sense, qlog) -> None:
    with Mosquitto(tmp_path / "broker", users={"valet": "s3cret!", "publisher": "pub"}) as broker:
        butler, valet_section = valet_config(sense, broker, username="valet", password="wrong")
        refused = start_valet(butler, valet_section)
        check = wait_for_state(refused, "refused")
        assert check["status"] == "down" and check["detail"].startswith("refused ")
        assert "last error: the broker refused the connection: Not authorized" in check["detail"]
        assert not check["required"]  # not required for readiness by default
        assert health(refused)["status"] == "degraded"
        refused.stop()

        butler, valet_section = valet_config(sense, broker, username="valet", password="s3cret!")
        valet = start_valet(butler, valet_section)
        assert wait_for_state(valet, "connected")["status"] == "up"
        client = Client(broker, username="publisher", password="pub")
        client.publish(A1[0])
        assert client.results(1) == [result(started=refs(A1))]
        client.close()
    assert qlog.starts() == {A1[0]: 1}
    log = "".join(p.read_text() for p in tmp_path.glob("valet*.log"))
    assert "s3cret!" not in log and "wrong" not in log


def test_tls_to_the_broker_with_a_client_certificate(tmp_path, start_valet, sense, qlog) -> None:
    """Mosquitto requires a client certificate (require_certificate true); CA and certificates
    made with trustme."""
    with Mosquitto(tmp_path / "broker", tls=True) as broker:
        butler, valet_section = valet_config(sense, broker, tls=broker.tls_config())
        valet = start_valet(butler, valet_section)
        assert wait_for_state(valet, "connected")["status"] == "up"
        client = Client(broker)
        client.publish(A3[0])
        assert client.results(1) == [result(started=refs(A3))]
        client.close()

        without_cert = {"enable": True, "caFile": str(broker.certs.root)}
        butler, valet_section = valet_config(sense, broker, tls=without_cert)
        refused = start_valet(butler, valet_section)
        check = wait_for_state(refused, "connected", timeout=3)
        assert check["status"] == "down" and "last error: " in check["detail"]  # TLS 1.3: after the handshake
    assert qlog.starts() == {A3[0]: 1}


def test_broker_stopped_and_restarted_while_valet_runs(tmp_path, start_valet, sense, qlog) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        valet = start_valet(*valet_config(sense, broker))
        assert wait_for_state(valet, "connected")["status"] == "up"
        broker.stop()
        check = wait_for_state(valet, "disconnected")
        assert check["status"] == "down" and "last error: connection lost" in check["detail"]
        assert requests.get(f"{valet.url}/v4/butlerping", timeout=5).status_code == 200
        broker.start()
        assert wait_for_state(valet, "connected")["status"] == "up"
        client = Client(broker)
        client.publish(A1[0])
        assert client.results(1) == [result(started=refs(A1))]
        client.close()
    finally:
        broker.stop()
    assert qlog.starts() == {A1[0]: 1}


def test_valet_started_before_the_broker_exists(tmp_path, start_valet, sense, qlog) -> None:
    broker = Mosquitto(tmp_path / "broker")  # its port is chosen, nothing listens yet
    valet = start_valet(*valet_config(sense, broker))
    check = wait_for_state(valet, "disconnected")
    assert check["status"] == "down" and "Connection refused" in check["detail"]
    assert health(valet)["status"] == "degraded"
    with broker.start():
        assert wait_for_state(valet, "connected")["status"] == "up"
        client = Client(broker)
        client.publish(A1[0])
        assert client.results(1) == [result(started=refs(A1))]
        client.close()
    assert qlog.starts() == {A1[0]: 1}


def test_required_for_readiness_fails_health_while_disconnected(tmp_path, start_valet, sense) -> None:
    broker = Mosquitto(tmp_path / "broker")
    valet = start_valet(*valet_config(sense, broker, requiredForReadiness=True))
    r = requests.get(f"{valet.url}/health", timeout=5)
    assert r.status_code == 503 and r.json()["status"] == "unavailable"
    assert [(c["name"], c["status"], c["required"]) for c in r.json()["checks"]
            if c["name"] in ("database", "mqtt")] == [("database", "up", True), ("mqtt", "down", True)]
    with broker.start():
        wait_for_state(valet, "connected")
        assert requests.get(f"{valet.url}/health", timeout=5).status_code == 200


@pytest.mark.parametrize("session", [{}, {"clientId": "valet-flood", "sessionExpirySeconds": 60}],
                         ids=["clean session", "persistent session"])
def test_a_flood_of_1000_messages_each_handled_exactly_once(tmp_path, start_valet, sense, qlog,
                                                            session) -> None:
    """1,000 start messages, one per task, published as fast as the publisher can (QoS 1):
    the repository is asked to start each task once, and each message gets one result saying
    it started; the HTTP API answers throughout. (A persistent session acknowledges each
    message once handled, so the broker holds back all but its in-flight window.)"""
    with Mosquitto(tmp_path / "broker") as broker:
        valet = start_valet(*valet_config(sense, broker, **session))
        wait_for_state(valet, "connected")
        client = Client(broker)
        pings: list[tuple[int, float]] = []
        done = threading.Event()

        def ping() -> None:
            while not done.is_set():
                t0 = time.perf_counter()
                status = requests.get(f"{valet.url}/v4/butlerping", timeout=10).status_code
                pings.append((status, time.perf_counter() - t0))
                time.sleep(0.05)

        pinger = threading.Thread(target=ping)
        pinger.start()
        try:
            for task_id in FLOOD:
                client.client.publish("qliksense/start_task", task_id, qos=1)
            bodies = client.results(len(FLOOD), timeout=120)
        finally:
            done.set()
            pinger.join()
            client.close()
    started = [t["taskId"] for b in bodies for t in b["tasksId"]["started"]]
    assert len(bodies) == len(FLOOD)
    assert sorted(started) == sorted(FLOOD)
    assert all(b["failed"] == [] and b["tasksId"]["invalid"] == [] for b in bodies)
    assert qlog.starts() == {t: 1 for t in FLOOD}
    assert pings and all(status == 200 for status, _s in pings)
    assert max(s for _status, s in pings) < 5


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="gunicorn runs on Linux")
def test_gunicorn_workers_share_one_subscription(tmp_path, start_valet, sense, qlog) -> None:
    """Each of 2 workers has its own MQTT client in the shared subscription $share/valet/…:
    the broker hands each message to one of them, so no task starts twice."""
    with Mosquitto(tmp_path / "broker") as broker:
        start_valet(*valet_config(sense, broker), workers=2)
        assert broker.wait_for_subscriptions("$share/valet/qliksense/start_task", 2) == 2
        client = Client(broker)
        for task_id in FLOOD[:50]:
            client.publish(task_id)
        bodies = client.results(50, timeout=60)
        time.sleep(0.5)
        client.close()
        assert len(client.topics()) == 50
    assert sorted(t["taskId"] for b in bodies for t in b["tasksId"]["started"]) == sorted(FLOOD[:50])
    assert qlog.starts() == {t: 1 for t in FLOOD[:50]}


def test_messages_received_before_sigterm_are_finished_and_answered(
        tmp_path, start_valet, clean_sense, qlog) -> None:
    """Messages are acknowledged on receipt, so on SIGTERM Valet finishes the ones it holds and
    publishes their results before it disconnects."""
    with Mosquitto(tmp_path / "broker") as broker:
        valet = start_valet(*valet_config(clean_sense, broker))
        wait_for_state(valet, "connected")
        clean_sense.set_faults(rules=[{"action": "slow", "ms": 2000, "path": "qrs/task$", "times": 1}])
        client = Client(broker)
        client.publish(A1[0])
        time.sleep(0.5)  # the first is in its slow lookup, the second waits in Valet's queue
        client.publish(A3[0])
        time.sleep(0.3)
        assert valet.stop() == 0
        assert client.results(2, timeout=5) == [result(started=refs(A1)), result(started=refs(A3))]
        client.close()
    assert qlog.starts() == {A1[0]: 1, A3[0]: 1}


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_a_persistent_session_gets_what_was_published_while_valet_was_away(
        tmp_path, start_valet, sense, qlog, protocol) -> None:
    """With Valet.mqtt.sessionExpirySeconds the broker keeps Valet's subscription and queues
    QoS 1 messages while Valet restarts; the new process handles them."""
    with Mosquitto(tmp_path / "broker") as broker:
        config = valet_config(sense, broker, clientId=f"valet-persistent-{protocol}",
                              sessionExpirySeconds=3600, protocolVersion=protocol)
        first = start_valet(*config)
        wait_for_state(first, "connected")
        assert first.stop() == 0
        client = Client(broker)
        client.publish(A1[0])
        client.publish(A3[0])
        second = start_valet(*config)
        assert client.results(2) == [result(started=refs(A1)), result(started=refs(A3))]
        assert "2 message(s) received, 2 handled" in mqtt_check(second)["detail"]
        client.close()
    assert qlog.starts() == {A1[0]: 1, A3[0]: 1}
