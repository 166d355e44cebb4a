"""Comment and Tag statements keep their texts in the run's state (issue 14k)."""
from __future__ import annotations

from emulator import field_rules

SCRIPT = """
T: LOAD * INLINE [
Alpha, Num
a, 1
];
commentmap: mapping LOAD * inline [
a,b
Alpha,This field contains text values
Gamma,Not a field here
];
comment fields using commentmap;
comment field Num with '*A field containing numbers';
comment table T with 'A table';
tag fields Alpha, Num with 'key';
untag field Num with 'key';
tag table T with 'facts';
comment field Gamma with 'Mickey Mouse field';
"""


def test_comments_and_tags_are_recorded(run) -> None:
    """Comment page: "Field names not present in the application will be ignored" (Gamma)."""
    runner = run(SCRIPT)
    assert runner.run_state(field_rules.COMMENTS) == {
        ("field", "Alpha"): "This field contains text values",
        ("field", "Num"): "*A field containing numbers",
        ("table", "T"): "A table",
    }
    assert runner.run_state(field_rules.TAGS) == {("field", "Alpha"): {"key"}, ("field", "Num"): set(),
                                                  ("table", "T"): {"facts"}}
