"""The default seed is SPEC §4's table (the reference document's tasks); bad seeds are refused
with a message naming the task and key."""
from __future__ import annotations

import pytest

from demo.sense.seed import SeedError, load_seed, status_code

# SPEC §4: task ID | name | tags | taskGroup
SPEC_TABLE = [
    ("e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e", "Reload task of App1", ("startTask1",), ("tasks1",)),
    ("7552d9fc-d1bb-4975-9a38-18357de531ea", "Reload task of App2", ("startTask1",), ("tasks1", "tasks2")),
    ("fb0f317d-da91-4b86-aafa-0174ae1e8c8f", "Reload task of App3", ("startTask1", "startTask2"), ("tasks1",)),
    ("fbf645f0-0c92-40a4-af9a-6e3eb1d3c35c", "Reload Operations Monitor", (), ()),
    ("8b4fe424-d90c-493f-a61d-0ce91cd485c9", "Reload task of App4", (), ()),
]


def test_default_seed_is_the_spec_table() -> None:
    got = [(t.id, t.name, t.tags, t.custom_properties.get("taskGroup", ())) for t in load_seed()]
    assert got == SPEC_TABLE
    assert all(t.enabled and t.run_status == 7 for t in load_seed())


@pytest.mark.parametrize("value,code", [("FinishedSuccess", 7), ("finishedfail", 8), (11, 11),
                                        ("Aborted", 6), ("DistributionRunning", 14)])
def test_status_names_and_numbers(value, code) -> None:
    assert status_code(value) == code


@pytest.mark.parametrize("text,message", [
    ("[]", "expected a mapping with a 'tasks' list"),
    ("tasks:\n  - name: x\n", "tasks[0]: missing key 'id'"),
    ("tasks:\n  - id: 1\n    name: x\n", "tasks[0]: id: expected a GUID"),
    ("tasks:\n  - id: e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e\n    name: ''\n", "tasks[0]: name: expected a non-empty string"),
    ("tasks:\n  - id: e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e\n    name: x\n    enabled: 'no'\n", "enabled: expected true or false"),
    ("tasks:\n  - id: e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e\n    name: x\n    run: {status: Done}\n", "unknown status 'Done'"),
    ("tasks:\n  - {id: e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e, name: x}\n  - {id: e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e, name: y}\n", "task IDs must be unique"),
])
def test_bad_seeds(tmp_path, text, message) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    with pytest.raises(SeedError) as err:
        load_seed(path)
    assert message in str(err.value)


def test_script_paths_resolve_against_the_seed_folder(tmp_path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("tasks:\n  - {id: e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e, name: x, script: apps/a.qvs}\n")
    assert load_seed(path)[0].script == tmp_path / "apps" / "a.qvs"
