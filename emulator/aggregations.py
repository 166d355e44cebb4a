"""Aggregation functions of LOAD ... Group By: ONE table (``AGGREGATIONS``).

An aggregation receives, for one group, the column of values each argument takes over the
group's records (``columns[0]`` for the first argument...). ``distinct`` (``Count(distinct X)``)
drops records whose first argument repeats an earlier value. NULL values are skipped.
https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/Scripting/AggregationFunctions/aggregation-functions.htm
"""
from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from emulator.tables import value_key
from emulator.values import Dual, Value, number, to_number

Columns = list[list[Value]]


@dataclass(frozen=True)
class Aggregation:
    name: str
    impl: Callable[[Columns], Value]
    min_args: int
    max_args: int


AGGREGATIONS: dict[str, Aggregation] = {}


def aggregation(name: str, min_args: int = 1, max_args: int | None = None):
    def register(impl: Callable[[Columns], Value]) -> Callable[[Columns], Value]:
        AGGREGATIONS[name.lower()] = Aggregation(name, impl, min_args,
                                                 min_args if max_args is None else max_args)
        return impl
    return register


def without_repeats(columns: Columns) -> Columns:
    """The records whose first argument's value was not seen before (``distinct``)."""
    seen: set = set()
    keep = []
    for i, v in enumerate(columns[0]):
        key = None if v is None else value_key(v)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return [[column[i] for i in keep] for column in columns]


def _numbers(column: list[Value]) -> list[float]:
    """The numbers of the values (texts that read as numbers count), in order, NULLs skipped."""
    found = [v.num for v in column if v is not None and v.num is not None]
    if len(found) < len(column):  # NULLs or texts among them: read each one as to_number does
        found = [n for n in map(to_number, column) if n is not None]
    return found


def _present(column: list[Value]) -> list[Dual]:
    return [v for v in column if v is not None]


# ---------------------------------------------------------------- basic and counter aggregations
# .../Scripting/BasicAggregationFunctions/sum.htm, min.htm, max.htm, only.htm, mode.htm
# .../Scripting/CounterAggregationFunctions/count.htm, NullCount.htm, NumericCount.htm, TextCount.htm

@aggregation("Sum")
def _sum(columns: Columns) -> Value:
    return number(sum(_numbers(columns[0])))


@aggregation("Min")
def _min(columns: Columns) -> Value:
    found = _numbers(columns[0])
    return number(min(found)) if found else None


@aggregation("Max")
def _max(columns: Columns) -> Value:
    found = _numbers(columns[0])
    return number(max(found)) if found else None


@aggregation("Avg")
def _avg(columns: Columns) -> Value:
    found = _numbers(columns[0])
    return number(sum(found) / len(found)) if found else None


@aggregation("Only")
def _only(columns: Columns) -> Value:
    distinct = {value_key(v): v for v in _present(columns[0])}
    return next(iter(distinct.values())) if len(distinct) == 1 else None


@aggregation("Mode")
def _mode(columns: Columns) -> Value:
    """The most common value; NULL when several share the highest count."""
    present = _present(columns[0])
    counts = Counter(value_key(v) for v in present)
    ranked = counts.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return next(v for v in present if value_key(v) == ranked[0][0])


# .../Scripting/StatisticalAggregationFunctions/median.htm: the middle number, or the mean of
# the two middle ones for an even count.
@aggregation("Median")
def _median(columns: Columns) -> Value:
    found = _numbers(columns[0])
    return number(statistics.median(found)) if found else None


@aggregation("Count")
def _count(columns: Columns) -> Value:
    return number(len(_present(columns[0])))


@aggregation("NullCount")
def _null_count(columns: Columns) -> Value:
    return number(sum(v is None for v in columns[0]))


@aggregation("NumericCount")
def _numeric_count(columns: Columns) -> Value:
    return number(len(_numbers(columns[0])))


@aggregation("TextCount")
def _text_count(columns: Columns) -> Value:
    return number(sum(v is not None and to_number(v) is None for v in columns[0]))


# ---------------------------------------------------------------- string aggregations
# .../Scripting/StringAggregationFunctions/concat.htm, MinString.htm, MaxString.htm

def _text_order(v: Dual) -> tuple[str, str]:
    return v.text.casefold(), v.text


@aggregation("MinString")
def _min_string(columns: Columns) -> Value:
    present = _present(columns[0])
    return min(present, key=_text_order) if present else None


@aggregation("MaxString")
def _max_string(columns: Columns) -> Value:
    present = _present(columns[0])
    return max(present, key=_text_order) if present else None


@aggregation("Concat", 1, 3)
def _concat(columns: Columns) -> Value:
    """Concat(string [, delimiter [, sort_weight]]): sorted by the weight (lowest first), or
    alphanumerically without one; a weight of 0 keeps the load order."""
    delimiter = columns[1][0].text if len(columns) > 1 and columns[1] and columns[1][0] else ""
    items = [(v, columns[2][i] if len(columns) > 2 else None)
             for i, v in enumerate(columns[0]) if v is not None]
    if not items:
        return None
    if len(columns) > 2:
        weights = [to_number(w) for _, w in items]
        if any(w != 0 for w in weights):
            order = sorted(range(len(items)), key=lambda i: (weights[i] is None, weights[i] or 0,
                                                               _text_order(items[i][0])))
            items = [items[i] for i in order]
    else:
        items.sort(key=lambda item: _text_order(item[0]))
    return Dual(delimiter.join(v.text for v, _ in items))


@aggregation("FirstSortedValue", 2, 3)
def _first_sorted_value(columns: Columns) -> Value:
    """The value with the lowest sort weight (the rank-th lowest); NULL when that weight is
    shared by more than one value. .../BasicAggregationFunctions/firstsortedvalue.htm"""
    rank = int(to_number(columns[2][0]) or 1) if len(columns) > 2 and columns[2] else 1
    pairs = sorted(((w, v) for v, w in zip(columns[0], map(to_number, columns[1])) if w is not None),
                   key=lambda pair: pair[0])
    if rank < 0:
        pairs.reverse()
        rank = -rank
    if not 1 <= rank <= len(pairs):
        return None
    weight, value = pairs[rank - 1]
    if sum(1 for w, _ in pairs if w == weight) > 1:
        return None
    return value
