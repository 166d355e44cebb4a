"""Lookups of IDs and names that need more than one URL: one unfiltered `GET /qrs/task` they are
picked from, as the filtered lookups would pick them (IDs as GUIDs, names ignoring case: "string
comparisons are case-insensitive", https://help.qlik.com/en-US/sense-developer/November2024/
Subsystems/RepositoryServiceAPI/Content/Sense_RepositoryServiceAPI/RepositoryServiceAPI-Filtering.htm),
and the split lookups again above UNFILTERED_LOOKUP_MAX_TASKS. Against the simulated repository
over real TLS; its log names each request's TLS connection."""
from __future__ import annotations

import random
import uuid
from dataclasses import replace

import pytest

import server.qrs as qrs_module
from demo.sense.process import SenseProcess
from qrs.qrs_support import no_faults, settings  # noqa: F401
from server.qrs import QrsClient, QrsSettings, TaskQuery

TASKS = [{"id": str(uuid.UUID(int=0x10C << 112 | n)), "name": f"Lookup task {n}",
          "run": {"seconds": 0.1}} for n in range(1000)]
SAME_NAMES = [{"id": str(uuid.UUID(int=0x5A4E << 112 | n)), "name": name, "run": {"seconds": 0.1}}
              for n, name in enumerate(["Same Name", "same name"])]
REPOSITORY_TASKS = 5 + len(TASKS) + len(SAME_NAMES)  # the default seed's five too


@pytest.fixture(scope="module")
def sense(tmp_path_factory) -> SenseProcess:
    with SenseProcess(tmp_path_factory.mktemp("unfiltered"), extra_tasks=TASKS + SAME_NAMES) as s:
        yield s


def fresh(settings: QrsSettings, n: int) -> QrsSettings:
    """Settings of their own pool, so nothing is known yet of the repository's size."""
    return replace(settings, timeout=settings.timeout + n / 1000)


KNOWN = [t["id"] for t in TASKS[:600]]
UNKNOWN = [str(uuid.UUID(int=0xDEAD << 112 | n)) for n in range(300)]


def asked_ids() -> list[str]:
    """600 known IDs (every other one upper-case), 300 unknown, 100 known ones again in the
    other case: 900 distinct IDs, six 8 KB URLs (about 150 IDs each)."""
    known = [i.upper() if n % 2 else i for n, i in enumerate(KNOWN)]
    again = [i.upper() if n % 2 == 0 else i for n, i in enumerate(KNOWN[:100])]
    asked = known + UNKNOWN + again
    random.Random(15).shuffle(asked)
    return asked


def lookup(sense, settings: QrsSettings, query: TaskQuery) -> tuple[list[dict], list[dict]]:
    """The tasks found and the requests the repository received for them."""
    before = len(sense.requests())
    with QrsClient(settings) as client:
        found = client.find_tasks_in(query)
    return found, sense.requests()[before:]


def test_ids_over_one_url_are_picked_from_one_unfiltered_list(sense, settings) -> None:
    found, logged = lookup(sense, fresh(settings, 1), TaskQuery(ids=tuple(asked_ids())))
    assert sorted(t["id"] for t in found) == sorted(KNOWN)  # each once, unknown ones absent
    assert [(e["method"], e["path"], e["query"].keys()) for e in logged] == [
        ("GET", "/qrs/task", {"xrfkey"})]  # no filter: every task, condensed


def test_the_split_lookups_find_the_same_tasks(sense, settings, monkeypatch) -> None:
    monkeypatch.setattr(qrs_module, "UNFILTERED_LOOKUP_MAX_TASKS", -1)
    found, logged = lookup(sense, fresh(settings, 2), TaskQuery(ids=tuple(asked_ids())))
    assert sorted(t["id"] for t in found) == sorted(KNOWN)
    assert len(logged) == 6 and all(e["query"]["filter"].startswith("id eq ") for e in logged)


def test_names_are_picked_ignoring_case_as_the_filter_picks_them(sense, settings) -> None:
    query = TaskQuery(ids=tuple(UNKNOWN), names=("SAME NAME", "lookup TASK 7", "No such task"))
    found, logged = lookup(sense, fresh(settings, 3), query)
    assert sorted(t["name"] for t in found) == ["Lookup task 7", "Same Name", "same name"]
    assert len(logged) == 1 and "filter" not in logged[0]["query"]
    with QrsClient(settings) as client:  # one URL: the filtered lookup, the same answer
        filtered = client.find_tasks_in(replace(query, ids=()))
        assert client.requests_sent == 1
    assert sorted(t["name"] for t in filtered) == ["Lookup task 7", "Same Name", "same name"]


def test_above_the_size_limit_the_split_lookups_are_used(sense, settings, monkeypatch) -> None:
    monkeypatch.setattr(qrs_module, "UNFILTERED_LOOKUP_MAX_TASKS", REPOSITORY_TASKS - 1)
    own = fresh(settings, 4)
    first, first_logged = lookup(sense, own, TaskQuery(ids=tuple(asked_ids())))
    second, second_logged = lookup(sense, own, TaskQuery(ids=tuple(asked_ids())))
    assert len(first_logged) == 1  # the size was not known yet: it is learned from this answer
    assert len(second_logged) == 6 and all("filter" in e["query"] for e in second_logged)
    assert sorted(t["id"] for t in first) == sorted(t["id"] for t in second) == sorted(KNOWN)
    monkeypatch.setattr(qrs_module, "UNFILTERED_LOOKUP_MAX_TASKS", REPOSITORY_TASKS)
    assert len(lookup(sense, own, TaskQuery(ids=tuple(asked_ids())))[1]) == 1  # at the limit


def test_tags_stay_on_filtered_full_lookups_beside_it(sense, settings) -> None:
    query = TaskQuery(ids=tuple(UNKNOWN + KNOWN[:1]), full_terms=("name eq 'Same Name'",))
    found, logged = lookup(sense, fresh(settings, 5), query)
    assert sorted(t["name"] for t in found) == ["Lookup task 0", "Same Name", "same name"]
    assert sorted((e["path"], "filter" in e["query"]) for e in logged) == [
        ("/qrs/task", False), ("/qrs/task/full", True)]
    assert all("tags" in t for t in found if t["name"].lower() == "same name")  # whole entities


def test_repeated_calls_use_one_connection(sense, settings) -> None:
    own = fresh(settings, 6)
    before = len(sense.requests())
    for _ in range(3):
        with QrsClient(own) as client:
            found = client.find_tasks_in(TaskQuery(ids=tuple(asked_ids())))
            client.start_many([t["id"] for t in found])
    logged = sense.requests()[before:]
    assert [e["method"] for e in logged] == ["GET", "POST"] * 3
    assert len({e["connection"] for e in logged}) == 1
