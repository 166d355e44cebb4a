"""The simulated repository narrows a task lookup made of `eq` comparisons to the tasks an index
names; the answer must be exactly what judging every task with the filter gives (the filter
language's own rules are tested in test_sense_filters.py), errors included."""
from __future__ import annotations

import pytest

from demo.sense.filters import FilterError, compile_filter
from demo.sense.repository import Repository, Request
from demo.sense.seed import SeedTask


def _task(n: int, **kwargs) -> SeedTask:
    return SeedTask(id=f"{n:08x}-0000-4000-8000-000000000000", name=kwargs.pop("name", f"Task {n}"),
                    app_id=f"{n:08x}-0000-4000-8000-0000000000aa", app_name=f"App {n % 3}", **kwargs)


TASKS = [
    _task(1, tags=("Nightly", "Sales")),
    _task(2, tags=("nightly",), custom_properties={"Group": ("A", "B")}),
    _task(3, name="Same name", custom_properties={"Group": ("b",)}),
    _task(4, name="same NAME", enabled=False, tags=("O'Brien",)),
    _task(5, custom_properties={"Owner": ("R&D",)}),
]
ID = {n: t.id for n, t in enumerate(TASKS, start=1)}

FILTERS = [
    f"id eq {ID[1]}",
    f"id eq {ID[1].upper()}",                                   # GUIDs compare as text: any case
    f"id eq {ID[1]} or id eq {ID[3]} or id eq {ID[5]}",        # one AnyOf
    f"(id eq {ID[2]}) or (id eq 00000000-0000-4000-8000-00000000ffff)",
    "tags.name eq 'NIGHTLY'",
    f"tags.name eq 'nightly' and id eq {ID[2]}",
    f"tags.name eq 'sales' or id eq {ID[4]} or name eq 'same name'",
    "tags.name eq 'O\\'Brien'",
    "(customProperties.definition.name eq 'group' and customProperties.value eq 'B')",
    "app.name eq 'app 1' or tags.name eq 'none such'",
    "name eq 'nobody'",
    # not narrowed (another operator, a property that is not text): judged task by task
    f"id eq {ID[1]} or name sw 'same'",
    "enabled eq false",
    f"enabled eq true and id eq {ID[4]}",
    f"operational.lastExecutionResult.status eq NeverStarted and id eq {ID[5]}",
    f"name gt 'a' and id eq {ID[1]}",                           # 400: gt on a string
    f"maxRetries eq 'x' or id eq {ID[1]}",                      # 400: a number compared with text
]


def _ids(repository: Repository, text: str) -> list[str] | str:
    response = repository.handle(Request("GET", "task/full", {"filter": text}, None))
    return [t["id"] for t in response.body] if response.status == 200 else response.body


def _every_task_judged(repository: Repository, text: str) -> list[str] | str:
    everything = [repository.task_json(repository.tasks[i], True) for i in repository.order]
    try:
        keep = compile_filter(text, repository.sample_task)
        return [t["id"] for t in everything if keep(t)]
    except FilterError as e:
        return str(e)


@pytest.mark.parametrize("text", FILTERS)
def test_a_narrowed_lookup_answers_what_judging_every_task_does(text: str) -> None:
    repository = Repository(TASKS)
    assert _ids(repository, text) == _every_task_judged(repository, text)


def test_the_index_is_used_only_for_eq_on_text() -> None:
    repository = Repository(TASKS)
    narrowed = lambda text: compile_filter(text, repository.sample_task).candidates(repository._task_ids_where)  # noqa: E731
    assert narrowed(f"id eq {ID[1]} or tags.name eq 'SALES'") == {ID[1]}
    assert narrowed("tags.name eq 'nightly'") == {ID[1], ID[2]}
    assert narrowed(f"tags.name eq 'nightly' and id eq {ID[3]}") == set()
    assert narrowed(f"id eq {ID[1]} or name sw 'x'") is None
    assert narrowed("enabled eq true") is None
    assert narrowed(f"operational.id eq {ID[1]}") is None


def test_the_answer_keeps_the_repository_order() -> None:
    repository = Repository(TASKS)
    assert _ids(repository, f"id eq {ID[5]} or id eq {ID[1]} or id eq {ID[3]}") == [ID[1], ID[3], ID[5]]
