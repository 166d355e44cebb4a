"""Script functions, table-driven from the examples on Qlik's help pages.

Each case is (page, function, arguments, expected). Arguments: a Python str is a Qlik string
literal, an int/float a number, None is NULL, a Dual is passed as is (``inline('23')`` is a
value read from an inline table). Expected: None means NULL, a str the text shown, an int/float
the number, a Dual both.
"""
from __future__ import annotations

import datetime as dt
import io

import pytest

from emulator.errors import SYNTAX_ERROR, ScriptError
from emulator.functions import FUNCTIONS, bind_function, call_function
from emulator.program import Variables
from emulator.runner import Runner
from emulator.values import Dual, from_text, number, text

HUB = "https://help.qlik.com/en-US/cloud-services/Subsystems/Hub/Content/Sense_Hub/"
STR = HUB + "Scripting/StringFunctions/"
NUM = HUB + "ChartFunctions/GeneralNumericFunctions/"
COND = HUB + "Scripting/ConditionalFunctions/"
FMT = HUB + "Scripting/FormattingFunctions/"
INTERP = HUB + "Scripting/InterpretationFunctions/"
DATE = HUB + "Scripting/DateAndTimeFunctions/"
LOGIC = HUB + "Scripting/LogicalFunctions/logical-functions.htm"
FORMATS = HUB + "Introduction/conventions-number-time-formats.htm"
NULLS = ("https://help.qlik.com/en-US/qlikview/May2023/Subsystems/Client/Content/QV_QlikView/"
         "Scripting/propagate-null-values-expressions.htm")

inline = from_text


def _arg(a):
    if a is None or isinstance(a, Dual):
        return a
    return text(a) if isinstance(a, str) else number(a)


def call(name: str, *args, ctx=None):
    return call_function(name, [_arg(a) for a in args], ctx)


def check(result, expected) -> None:
    if expected is None:
        assert result is None
    elif isinstance(expected, Dual):
        assert result is not None and result.text == expected.text
        assert result.num == pytest.approx(expected.num) if expected.num is not None else result.num is None
    elif isinstance(expected, str):
        assert result is not None and result.text == expected
    else:
        assert result is not None and result.num == pytest.approx(expected)


CASES = [
    # SubField
    (STR + "SubField.htm", "SubField", ("abc;cde;efg", ";", 2), "cde"),
    (STR + "SubField.htm", "SubField", (None, ";", 1), ""),
    (STR + "SubField.htm", "SubField", (";", ";", 1), ""),
    (STR + "SubField.htm", "SubField", ("\\Users\\ext_jrb\\Documents\\Qlik\\Sense\\Apps;", "\\", -3), "Qlik"),
    (STR + "SubField.htm", "SubField", ("Dave Owen", " ", 1), "Dave"),
    (STR + "SubField.htm", "SubField", ("Dave Owen", " ", -1), "Owen"),
    (STR + "SubField.htm", "SubField", ("Joe Tem", " ", 1), "Joe"),
    (STR + "SubField.htm", "SubField", ("Joe Tem", " ", -1), "Tem"),
    # Mid
    (STR + "Mid.htm", "Mid", ("abcdef", 3), "cdef"),
    (STR + "Mid.htm", "Mid", ("abcdef", 3, 2), "cd"),
    (STR + "Mid.htm", "Mid", ("abcdef", 2, 3), "bcd"),
    (STR + "Mid.htm", "Mid", ("abcdef", 2), "bcdef"),
    (STR + "Mid.htm", "Mid", (inline("210714"), 3, 2), "07"),
    (STR + "Mid.htm", "Mid", (inline("210714"), 2, 3), "107"),
    # Index
    (STR + "Index.htm", "Index", ("abcdefg", "cd"), 3),
    (STR + "Index.htm", "Index", ("abcdabcd", "b", 2), 6),
    (STR + "Index.htm", "Index", ("abcdabcd", "b", -2), 2),
    (STR + "Index.htm", "Index", ("abc", "x"), 0),
    (STR + "Index.htm", "Index", ("abc", "a", 2), 0),
    (STR + "Index.htm", "Index", ("abcdabcd", "cd"), 3),
    (STR + "Index.htm", "Index", ("abcdabcd", "e"), 0),
    (STR + "Index.htm", "Index", ("abcdabcd", "b", -1), 6),
    (STR + "Index.htm", "Index", ("abcdefg", "e"), 5),
    (STR + "Index.htm", "Index", ("abcdefg", "b", -1), 2),
    # TextBetween
    (STR + "TextBetween.htm", "TextBetween", ("<abc>", "<", ">"), "abc"),
    (STR + "TextBetween.htm", "TextBetween", ("<abc><de>", "<", ">", 2), "de"),
    (STR + "TextBetween.htm", "TextBetween", ("abc", "<", ">"), None),
    (STR + "TextBetween.htm", "TextBetween", ("<a<b", "<", ">"), None),
    (STR + "TextBetween.htm", "TextBetween", ("<>", "<", ">"), ""),
    (STR + "TextBetween.htm", "TextBetween", ("<abc>", "<", ">", 2), None),
    (STR + "TextBetween.htm", "TextBetween", ("<def><ghi><jk>", "<", ">"), "def"),
    (STR + "TextBetween.htm", "TextBetween", ("<def><ghi><jk>", "<", ">", 2), "ghi"),
    # KeepChar
    (STR + "KeepChar.htm", "KeepChar", ("a1b2c3", "123"), "123"),
    (STR + "KeepChar.htm", "KeepChar", ("a1b2c3", "1234"), "123"),
    (STR + "KeepChar.htm", "KeepChar", ("a1b22c3", "1234"), "1223"),
    (STR + "KeepChar.htm", "KeepChar", ("a1b2c3", "312"), "123"),
    (STR + "KeepChar.htm", "KeepChar", ("a^b^c", "abc"), "abc"),
    (STR + "KeepChar.htm", "KeepChar", ("A^b^c", "abc"), "bc"),
    (STR + "KeepChar.htm", "KeepChar",
     ("The numeric code for input processing is 123-456|789.", "0123456789"), "123456789"),
    (STR + "KeepChar.htm", "KeepChar", ("Delivery of batch number: 333*456789.", "0123456789"), "333456789"),
    (STR + "KeepChar.htm", "KeepChar", ("Find the goods received in bay 16a", "0123456789"), "16"),
    # PurgeChar
    (STR + "PurgeChar.htm", "PurgeChar", ("a1b2c3", "123"), "abc"),
    (STR + "PurgeChar.htm", "PurgeChar", ("a1b2c3", "1234"), "abc"),
    (STR + "PurgeChar.htm", "PurgeChar", ("a1b22c3", "1234"), "abc"),
    (STR + "PurgeChar.htm", "PurgeChar", ("a1b2c3", "312"), "abc"),
    (STR + "PurgeChar.htm", "PurgeChar", ("a1b2c3", "Abc"), "a123"),
    (STR + "PurgeChar.htm", "PurgeChar", ("a^b^c", "^"), "abc"),
    (STR + "PurgeChar.htm", "PurgeChar", ("A^b^c", "A^"), "bc"),
    # SubStringCount
    (STR + "SubStringCount.htm", "SubStringCount", ("abcdefgcdxyz", "cd"), 2),
    (STR + "SubStringCount.htm", "SubStringCount", ("abcdefgcdxyz", "dc"), 0),
    (STR + "SubStringCount.htm", "SubStringCount",
     ("An apple a day keeps the doctor away, but two apples are even better!", "apple"), 2),
    (STR + "SubStringCount.htm", "SubStringCount",
     ("Apple pie is my favorite dessert. I also enjoy apple jam.", "apple"), 1),
    (STR + "SubStringCount.htm", "SubStringCount", ("I don't like apples as much as oranges.", "apple"), 1),
    (STR + "SubStringCount.htm", "SubStringCount",
     ("I love eating an apple every day. Apple juice is great too!", "apple"), 1),
    (STR + "SubStringCount.htm", "SubStringCount", ("There is an apple and a banana on the table.", "apple"), 1),
    # FindOneOf
    (STR + "FindOneOf.htm", "FindOneOf", ("my example text string", "et%s"), 4),
    (STR + "FindOneOf.htm", "FindOneOf", ("my example text string", "et%s", 3), 12),
    (STR + "FindOneOf.htm", "FindOneOf", ("my example text string", "¤%&"), 0),
    (STR + "FindOneOf.htm", "FindOneOf", ("For a very long time", "e", 1), 8),
    (STR + "FindOneOf.htm", "FindOneOf", ("For a very long time", "y", 1), 10),
    (STR + "FindOneOf.htm", "FindOneOf", ("For a very long time", "ey", 1), 8),
    (STR + "FindOneOf.htm", "FindOneOf", ("For a very long time", "e", 2), 20),
    (STR + "FindOneOf.htm", "FindOneOf", ("For a very long time", "y", 2), 0),
    (STR + "FindOneOf.htm", "FindOneOf", ("For a very long time", "ey", 2), 10),
    (STR + "FindOneOf.htm", "FindOneOf", ("Has the potential for growth", "e", 1), 7),
    (STR + "FindOneOf.htm", "FindOneOf", ("Has the potential for growth", "y", 1), 0),
    (STR + "FindOneOf.htm", "FindOneOf", ("Has the potential for growth", "e", 2), 12),
    (STR + "FindOneOf.htm", "FindOneOf", ("Many tiny beads", "e", 1), 12),
    (STR + "FindOneOf.htm", "FindOneOf", ("Many tiny beads", "y", 1), 4),
    (STR + "FindOneOf.htm", "FindOneOf", ("Many tiny beads", "ey", 1), 4),
    (STR + "FindOneOf.htm", "FindOneOf", ("Many tiny beads", "e", 2), 0),
    (STR + "FindOneOf.htm", "FindOneOf", ("Many tiny beads", "y", 2), 9),
    (STR + "FindOneOf.htm", "FindOneOf", ("Many tiny beads", "ey", 2), 9),
    # Capitalize
    (STR + "Capitalize.htm", "Capitalize", ("star trek",), "Star Trek"),
    (STR + "Capitalize.htm", "Capitalize", ("AA bb cC Dd",), "Aa Bb Cc Dd"),
    (STR + "Capitalize.htm", "Capitalize", ("50 Cent",), "50 Cent"),
    (STR + "Capitalize.htm", "Capitalize", ("a-ha",), "A-Ha"),
    (STR + "Capitalize.htm", "Capitalize", ("BIGBANG",), "Bigbang"),
    (STR + "Capitalize.htm", "Capitalize", ("girl in red",), "Girl In Red"),
    (STR + "Capitalize.htm", "Capitalize", ("rHode iSland",), "Rhode Island"),
    (STR + "Capitalize.htm", "Capitalize", ("washingTon d.C.",), "Washington D.C."),
    (STR + "Capitalize.htm", "Capitalize", ("miCHAel Brown",), "Michael Brown"),
    # Repeat, Replace, Left, Len, Ord
    (STR + "Repeat.htm", "Repeat", ("hello world!", 2), "hello world!hello world!"),
    (STR + "Repeat.htm", "Repeat", ("hOw aRe you?", 2), "hOw aRe you?hOw aRe you?"),
    (STR + "Repeat.htm", "Repeat", ("☺", 4), "☺☺☺☺"),
    (STR + "Repeat.htm", "Repeat", ("☺", inline("2")), "☺☺"),
    (STR + "Replace.htm", "Replace", ("abccde", "cc", "xyz"), "abxyzde"),
    (STR + "Replace.htm", "Replace", ("Jhon Smith", "Jhon", "John"), "John Smith"),
    (STR + "Replace.htm", "Replace", ("John Williams", "Jhon", "John"), "John Williams"),
    (STR + "Replace.htm", "Replace", ("Jhonathan Harris", "Jhon", "John"), "Johnathan Harris"),
    (STR + "Replace.htm", "Replace", ("ELEC", "ELC", "ELEC"), "ELEC"),
    (STR + "Left.htm", "Left", ("abcdef", 3), "abc"),
    (STR + "Left.htm", "Left", ("2021-07-14", 4), "2021"),
    (STR + "Left.htm", "Left", ("2021-07-14", 2), "20"),
    (STR + "Left.htm", "Left", ("US2024001", 2), "US"),
    (STR + "Len.htm", "Len", ("Peter",), 5),
    (STR + "Right.htm", "Right", ("abcdef", 3), "def"),
    (STR + "Right.htm", "Right", ("2021-07-14", 5), "07-14"),
    (STR + "Right.htm", "Right", ("2021-07-14", 2), "14"),
    (STR + "Right.htm", "Right", ("AS2000003", 7), "2000003"),
    (STR + "Trim.htm", "Trim", (" abc",), "abc"),
    (STR + "Trim.htm", "Trim", ("abc ",), "abc"),
    (STR + "Trim.htm", "Trim", (" abc ",), "abc"),
    (STR + "LTrim.htm", "LTrim", (" abc ",), "abc "),
    (STR + "LTrim.htm", "LTrim", (" John Doe",), "John Doe"),
    (STR + "RTrim.htm", "RTrim", (" abc",), " abc"),
    (STR + "RTrim.htm", "RTrim", ("abc ",), "abc"),
    (STR + "RTrim.htm", "RTrim", ("Michael Johnson ",), "Michael Johnson"),
    (STR + "Chr.htm", "Chr", (65,), "A"),
    (STR + "Chr.htm", "Chr", (163,), "£"),
    (STR + "Chr.htm", "Chr", (inline("35"),), "#"),
    (STR + "Chr.htm", "Chr", (149,), "•"),
    (STR + "Chr.htm", "Chr", (10,), "\n"),
    (STR + "Ord.htm", "Ord", ("A",), 65),
    (STR + "Ord.htm", "Ord", ("Ab",), 65),
    (STR + "Ord.htm", "Ord", ("古琴",), 21476),
    (STR + "Ord.htm", "Ord", ("Guqin",), 71),
    # Numeric functions
    (NUM + "round.htm", "Round", (3.8,), 4),
    (NUM + "round.htm", "Round", (3.8, 4), 4),
    (NUM + "round.htm", "Round", (2.5,), 3),
    (NUM + "round.htm", "Round", (2, 4), 4),
    (NUM + "round.htm", "Round", (2, 6), 0),
    (NUM + "round.htm", "Round", (3.88, 0.1), Dual("3.9", 3.9)),
    (NUM + "round.htm", "Round", (3.88875, 1 / 1000), Dual("3.889", 3.889)),
    (NUM + "round.htm", "Round", (3.88, 5), 5),
    (NUM + "round.htm", "Round", (1.1, 1, 0.5), 1.5),
    (NUM + "floor.htm", "Floor", (2.4,), 2),
    (NUM + "floor.htm", "Floor", (4.2,), 4),
    (NUM + "floor.htm", "Floor", (3.88, 0.1), Dual("3.8", 3.8)),
    (NUM + "floor.htm", "Floor", (3.88, 5), 0),
    (NUM + "floor.htm", "Floor", (1.1, 1), 1),
    (NUM + "floor.htm", "Floor", (1.1, 1, 0.5), 0.5),
    (NUM + "ceil.htm", "Ceil", (2.4,), 3),
    (NUM + "ceil.htm", "Ceil", (4.2,), 5),
    (NUM + "ceil.htm", "Ceil", (3.88, 0.1), Dual("3.9", 3.9)),
    (NUM + "ceil.htm", "Ceil", (3.88, 5), 5),
    (NUM + "ceil.htm", "Ceil", (1.1, 1), 2),
    (NUM + "ceil.htm", "Ceil", (1.1, 1, 0.5), 1.5),
    (NUM + "ceil.htm", "Ceil", (1.1, 1, -0.01), Dual("1.99", 1.99)),
    (NUM + "mod.htm", "Mod", (7, 2), 1),
    (NUM + "mod.htm", "Mod", (7.5, 2), None),
    (NUM + "mod.htm", "Mod", (9, 3), 0),
    (NUM + "mod.htm", "Mod", (-4, 3), 2),
    (NUM + "mod.htm", "Mod", (4, -3), None),
    (NUM + "mod.htm", "Mod", (-4, -3), None),
    (NUM + "div.htm", "Div", (7, 2), 3),
    (NUM + "div.htm", "Div", (7.1, 2.3), 3),
    (NUM + "div.htm", "Div", (9, 3), 3),
    (NUM + "div.htm", "Div", (-4, 3), -1),
    (NUM + "div.htm", "Div", (4, -3), -1),
    (NUM + "div.htm", "Div", (-4, -3), 1),
    (NUM + "fabs.htm", "Fabs", (2.4,), Dual("2.4", 2.4)),
    (NUM + "fabs.htm", "Fabs", (-3.8,), Dual("3.8", 3.8)),
    (NUM + "frac.htm", "Frac", (11.43,), Dual("0.43", 0.43)),
    (NUM + "frac.htm", "Frac", (-1.4,), Dual("0.6", 0.6)),
    # Conditional functions
    (COND + "pick.htm", "Pick", (2, "A", "B", 4, 6), "B"),
    (COND + "pick.htm", "Pick", (3, "A", "B", 4, 6), 4),
    (COND + "pick.htm", "Pick", (inline("3"), "Electronics", "Accessories", "Office Equipment"), "Office Equipment"),
    (COND + "pick.htm", "Pick", (inline("4"), "North America", "Europe", "Asia", "Australia"), "Australia"),
    (COND + "alt.htm", "Alt", (None, 0), 0),
    (COND + "alt.htm", "Alt", (inline("1000"), 0), 1000),
    (COND + "alt.htm", "Alt", ("2012-13-45", "No valid date"), "No valid date"),
    (COND + "coalesce.htm", "Coalesce", (None, "Unknown Product"), "Unknown Product"),
    (COND + "coalesce.htm", "Coalesce", (inline("Laptop"), "Unknown Product"), "Laptop"),
    (COND + "coalesce.htm", "Coalesce", (None, None, "ABC-1", "no description available"), "ABC-1"),
    (COND + "coalesce.htm", "Coalesce", (None, None, None, "no description available"), "no description available"),
    (COND + "wildmatch.htm", "WildMatch", ("Black", "black", "*Blue*"), 1),
    (COND + "wildmatch.htm", "WildMatch", ("Blue", "black", "*Blue*"), 2),
    (COND + "wildmatch.htm", "WildMatch", ("Light Blue", "black", "*Blue*"), 2),
    (COND + "wildmatch.htm", "WildMatch", ("blue", "black", "*Blue*"), 2),
    (COND + "wildmatch.htm", "WildMatch", ("Boston", "toronto", "Boston", "Beijing", "Zurich"), 2),
    (COND + "wildmatch.htm", "WildMatch", ("Oslo", "toronto", "Boston", "Beijing", "Zurich"), 0),
    (COND + "conditional-functions.htm", "Match", ("Black", "black", "Black"), 2),
    (COND + "conditional-functions.htm", "MixMatch", ("Black", "black", "Black"), 1),
    # Logical and NULL functions
    (LOGIC, "IsNum", (inline("23"),), -1),
    (LOGIC, "IsText", (inline("23"),), 0),
    (LOGIC, "IsNum", (inline("Green"),), 0),
    (LOGIC, "IsText", (inline("Green"),), -1),
    (LOGIC, "IsNum", (inline("12"),), -1),
    (LOGIC, "IsText", (inline("12"),), 0),
    (LOGIC, "IsNum", (inline("33Red"),), 0),
    (LOGIC, "IsText", (inline("33Red"),), -1),
    (LOGIC, "IsNum", (None,), 0),
    (LOGIC, "IsText", (None,), 0),
    (NULLS, "Chr", (None,), None),
    (NULLS, "If", (None, "A", "B"), "B"),
    (NULLS, "If", (-1, None, "A"), None),
    (NULLS, "If", (-1, "A", None), "A"),
    (NULLS, "IsNull", (None,), -1),
    (NULLS, "IsNum", (None,), 0),
    (NULLS, "Round", ("A", 0), None),
    (HUB + "Scripting/NULLFunctions/Null.htm", "Null", (), None),
    # Formatting and interpretation
    (FMT + "Num.htm", "Num", (35648.312, "0.0", "."), "35648.3"),
    (FMT + "Num.htm", "Num", (35648.312, "#,##0.0", ".", ","), "35,648.3"),
    (FMT + "Num.htm", "Num", (35648.312, "# ##0", ",", " "), "35 648"),
    (FORMATS, "Num", (123, "0000"), "0123"),
    (FORMATS, "Num", (1.5, "0.000"), "1.500"),
    (FORMATS, "Num", (1245678912, "0000-0000-0000", ".", "-"), "0012-4567-8912"),
    (FORMATS, "Num", (1234567, "# ##0", ".", " "), "1 234 567"),
    (FORMATS, "Num", (199, "(bin)"), "11000111"),
    (FORMATS, "Num", (199, "(oct)"), "307"),
    (FORMATS, "Num", (199, "(hex)"), "c7"),
    (FORMATS, "Num", (199, "(HEX)"), "C7"),
    (FORMATS, "Num", (199, "(r02)"), "11000111"),
    (FORMATS, "Num", (199, "(r16)"), "c7"),
    (FORMATS, "Num", (199, "(R16)"), "C7"),
    (FORMATS, "Num", (199, "(R36)"), "5J"),
    (INTERP + "num_hash.htm", "Num#", ("35,648.31", "#", ".", ","), Dual("35,648.31", 35648.31)),
    (INTERP + "num_hash.htm", "Num#", ("35 648.312", "#", ".", ","), Dual("35 648.312", 35648.312)),
    (INTERP + "num_hash.htm", "Num#", ("35.648,3123", "#", ".", ","), Dual("35.648,3123", None)),
    (INTERP + "num_hash.htm", "Num#", ("35 648,31234", "#", ".", ","), Dual("35 648,31234", None)),
    (INTERP + "num_hash.htm", "Num#", ("1,234.56", "#,##0.00"), Dual("1,234.56", 1234.56)),
    (INTERP + "num_hash.htm", "Num#", ("$1,230.45", "$#,##0.00"), Dual("$1,230.45", 1230.45)),
    (INTERP + "Text.htm", "Text", (1234,), Dual("1234", None)),
    (FMT + "Date.htm", "Date", (35648, "YY.MM.DD"), Dual("97.08.06", 35648)),
    (FMT + "Date.htm", "Date", (35648, "YY-MM-DD"), "97-08-06"),
    (FMT + "Date.htm", "Date", ("8/6/97", "YY.MM.DD"), None),
    (DATE + "year.htm", "Year", (call("Date#", "2012-10-12"),), 2012),
    (DATE + "month.htm", "Month", (call("Date#", "2012-10-12"),), Dual("Oct", 10)),
    (DATE + "day.htm", "Day", (call("Date#", "2012-10-12"),), 12),
    (DATE + "monthname.htm", "MonthName", (call("Date#", "19/10/2013", "DD/MM/YYYY"),), "Oct 2013"),
    # the number: days since 1899-12-30, as the data-types page defines serial dates
    (INTERP + "Timestamp_hash.htm", "Timestamp#", ("2012-05-27 14:30:00", "YYYY-MM-DD hh:mm:ss"),
     Dual("2012-05-27 14:30:00", 41056.604166666664)),
]


@pytest.mark.parametrize("page, name, args, expected", CASES,
                         ids=[f"{c[1]}{c[2]!r}" for c in CASES])
def test_documented_example(page: str, name: str, args: tuple, expected) -> None:
    check(call(name, *args), expected)


# Examples that combine functions, each from the page named.
def test_index_inside_left_and_mid() -> None:
    # STR + "Index.htm": Left(Date, Index(Date,'-')-1) and Mid(Date, Index(Date,'-',2)-2, 2)
    d = "1997-07-14"
    assert call("Left", d, call("Index", d, "-").num - 1).text == "1997"
    assert call("Mid", d, call("Index", d, "-", 2).num - 2, 2).text == "07"


def test_replace_of_upper_scenario() -> None:
    # STR + "Replace.htm": Replace(Replace(Upper(CategoryCode), 'ELC', 'ELEC'),'FRN', 'FURN')
    def normalise(code: str) -> str:
        return call("Replace", call("Replace", call("Upper", code), "ELC", "ELEC"), "FRN", "FURN").text
    assert [normalise(c) for c in ["ELEC", "ELC", "FURN", "FRN", "elc"]] == ["ELEC", "ELEC", "FURN", "FURN", "ELEC"]


def test_len_inside_mid_and_upper_left() -> None:
    # STR + "Len.htm": First&Second rebuilds the string with a capital first letter
    s = "this is a sample text string"
    first = call("Upper", call("Left", s, 1))
    second = call("Mid", s, call("Len", first).num + 1)
    assert first.text + second.text == "This is a sample text string"


def test_coalesce_of_textbetween_trims_quotes() -> None:
    # COND + "coalesce.htm": Coalesce(TextBetween(FileName, '"', '"'), FileName)
    for name, expected in [('"report.qvd"', "report.qvd"), ("report.qvd", "report.qvd")]:
        assert call("Coalesce", call("TextBetween", name, '"', '"'), name).text == expected


def test_alt_of_date_interpretations() -> None:
    # COND + "alt.htm": alt(date#(dat,'YYYY/MM/DD'), date#(dat,'MM/DD/YYYY'), date#(dat,'MM/DD/YY'), 'No valid date')
    def parse(dat: str):
        return call("Alt", call("Date#", dat, "YYYY/MM/DD"), call("Date#", dat, "MM/DD/YYYY"),
                    call("Date#", dat, "MM/DD/YY"), "No valid date")
    for dat in ["2012/03/04", "03/04/2012", "03/04/12"]:
        result = parse(dat)
        assert result.text == dat and call("Date", result, "YYYY-MM-DD").text == "2012-03-04"
    assert parse("yesterday") == text("No valid date")


@pytest.mark.parametrize("args, shown", [((2012,), "01/01/2012"), ((12,), "01/01/2012"),
                                         ((2012, 12), "12/01/2012"), ((2012, 2, 14), "02/14/2012")])
def test_makedate(args: tuple, shown: str) -> None:
    # DATE + "makedate.htm" (examples shown with DateFormat MM/DD/YYYY)
    assert call("Date", call("MakeDate", *args), "MM/DD/YYYY").text == shown


def test_time_part_of_a_timestamp() -> None:
    # NUM + "frac.htm": Time(Frac(44518.663888889)) returns 3:56:00 PM
    assert call("Timestamp", call("Frac", 44518.663888889), "h:mm:ss TT").text == "3:56:00 PM"


@pytest.mark.parametrize("code, country", [("Sw", "Sweden"), ("Dk", "Denmark"), ("No", "Norway"),
                                           ("Sf", "Rest of the world")])
def test_applymap_with_default(code: str, country: str) -> None:
    # HUB + "Scripting/MappingFunctions/ApplyMap.htm"
    assert call("ApplyMap", "map1", code, "Rest of the world", ctx=FakeContext()).text == country


def test_applymap_without_default_returns_the_expression() -> None:
    # same page: "If not stated, the value of expression will be returned as is."
    assert call("ApplyMap", "map1", "Sf", ctx=FakeContext()).text == "Sf"


def test_applymap_of_unknown_mapping_fails() -> None:
    with pytest.raises(ScriptError, match="nomap"):
        call("ApplyMap", "nomap", "Sw", ctx=FakeContext())


# ---------------------------------------------------------------- context-dependent functions

class FakeContext:
    """A tiny stand-in for the runner: one table EmployeeDates (Peek help page, example 1)."""

    codes = [inline(c) for c in ["101", "102", "103", "104", "105", "106"]]

    def peek(self, field, row, table):
        if field != "EmployeeCode" or table not in (None, "EmployeeDates"):
            return None
        return self.codes[row] if -len(self.codes) <= row < len(self.codes) else None

    def no_of_rows(self, table):
        return 6 if table == "EmployeeDates" else None

    def no_of_fields(self, table):
        return 3 if table == "EmployeeDates" else None

    def no_of_tables(self):
        return 1

    def table_name(self, index):
        return "EmployeeDates" if index == 0 else None

    def field_name(self, index, table):
        fields = ["EmployeeCode", "StartDate", "EndDate"]
        return fields[index - 1] if table == "EmployeeDates" and 1 <= index <= 3 else None

    def field_number(self, field, table):
        fields = ["EmployeeCode", "StartDate", "EndDate"]
        return fields.index(field) + 1 if table == "EmployeeDates" and field in fields else 0

    def field_values(self, field):
        return self.codes if field == "EmployeeCode" else []

    def row_no(self):
        return 7

    def rec_no(self):
        return 3

    def mapping(self, name):
        if name != "map1":
            return None
        return {"Sw": text("Sweden"), "Dk": text("Denmark"), "No": text("Norway")}

    def now(self):
        return dt.datetime(2021, 11, 18, 15, 56, 0)


class ContextWithVariables(FakeContext):
    """The optional `variables` of the context: the settings a Sense app's script starts with."""

    variables = {name: text(value) for name, value in {
        "DateFormat": "M/D/YYYY", "TimestampFormat": "M/D/YYYY h:mm:ss[.fff] TT",
        "DecimalSep": ",", "ThousandSep": "."}.items()}


PEEK = HUB + "Scripting/InterRecordFunctions/Peek.htm"
TABLES = HUB + "Scripting/TableFunctions/table-functions.htm"


@pytest.mark.parametrize("page, name, args, expected", [
    (PEEK, "Peek", ("EmployeeCode", 0, "EmployeeDates"), "101"),
    (PEEK, "Peek", ("EmployeeCode", -1, "EmployeeDates"), "106"),
    (PEEK, "Peek", ("EmployeeCode", 2, "EmployeeDates"), "103"),
    (PEEK, "Peek", ("EmployeeCode",), "106"),  # row defaults to -1
    (PEEK, "Peek", ("EmployeeCode", 6, "EmployeeDates"), None),
    (TABLES, "NoOfRows", ("EmployeeDates",), 6),
    (TABLES, "NoOfRows", ("Missing",), None),
    (TABLES, "NoOfFields", ("EmployeeDates",), 3),
    (TABLES, "NoOfTables", (), 1),
    (TABLES, "TableName", (0,), "EmployeeDates"),
    (TABLES, "TableName", (1,), None),
    (TABLES, "FieldName", (2, "EmployeeDates"), "StartDate"),
    (TABLES, "FieldNumber", ("EndDate", "EmployeeDates"), 3),
    (TABLES, "FieldNumber", ("Missing", "EmployeeDates"), 0),
    (HUB + "Scripting/InterRecordFunctions/FieldValue.htm", "FieldValue", ("EmployeeCode", 1), "101"),
    (HUB + "Scripting/InterRecordFunctions/FieldValue.htm", "FieldValue", ("EmployeeCode", 7), None),
    (HUB + "Scripting/InterRecordFunctions/FieldValueCount.htm", "FieldValueCount", ("EmployeeCode",), 6),
    (HUB + "Scripting/RecordFunctions/RowNo.htm", "RowNo", (), 7),
    (HUB + "Scripting/RecordFunctions/RecNo.htm", "RecNo", (), 3),
    (DATE + "now.htm", "Now", (), Dual("2021-11-18 15:56:00", 44518.663888889)),
    (DATE + "today.htm", "Today", (), Dual("2021-11-18", 44518)),
])
def test_context_function(page: str, name: str, args: tuple, expected) -> None:
    check(call(name, *args, ctx=FakeContext()), expected)


# ---------------------------------------------------------------- the table and its checks

def test_names_are_case_insensitive() -> None:
    assert call("subfield", "a;b", ";", 2).text == call("SUBFIELD", "a;b", ";", 2).text == "b"
    assert call("NUM#", "12").num == 12


def test_unknown_function_fails() -> None:
    with pytest.raises(ScriptError, match="Unknown function: NoSuchFunction") as failure:
        call("NoSuchFunction", 1)
    assert failure.value.code == SYNTAX_ERROR


@pytest.mark.parametrize("name, args", [("Left", ("abc",)), ("Len", ("a", "b")), ("Mid", ("a",)), ("Null", (1,))])
def test_wrong_number_of_arguments_fails(name: str, args: tuple) -> None:
    with pytest.raises(ScriptError, match=f"Wrong number of arguments to {name}") as failure:
        call(name, *args)
    assert failure.value.code == SYNTAX_ERROR


def test_every_function_the_issue_lists_is_in_the_table() -> None:
    required = """Len Left Right Mid Index Replace Upper Lower Trim LTrim RTrim SubField TextBetween
    KeepChar PurgeChar Repeat Chr Ord Capitalize SubStringCount FindOneOf If Alt Coalesce Match
    MixMatch WildMatch Pick IsNull IsNum IsText Null Num Num# Text Round Floor Ceil Mod Div Fabs
    Frac Peek NoOfRows NoOfFields NoOfTables TableName FieldName FieldValue FieldValueCount
    FieldNumber RowNo RecNo Now Today Date Timestamp MakeDate ApplyMap""".split()
    assert [name for name in required if name.lower() not in FUNCTIONS] == []


def test_script_format_variables_are_used_when_the_context_has_them() -> None:
    # DATE + "makedate.htm": its examples depend on the script's SET DateFormat
    ctx = ContextWithVariables()
    assert call("MakeDate", 2012, 2, 14, ctx=ctx).text == "2/14/2012"
    assert call("Date#", "2/14/2012", ctx=ctx).num == call("MakeDate", 2012, 2, 14).num
    assert call("Now", ctx=ctx).text == "11/18/2021 3:56:00 PM"
    assert call("Timestamp", 0.5 + 0.25 / 86400, ctx=ctx).text == "12/30/1899 12:00:00.250 PM"
    assert call("Timestamp#", "11/18/2021 3:56:00 PM", ctx=ctx).num == pytest.approx(call("Now", ctx=ctx).num)
    # FORMATS: a format marks the separators with "the applicable" ones, here ThousandSep '.'
    assert call("Num", 1234.5, "#.##0,00", ctx=ctx).text == "1.234,50"
    assert call("Num#", "1.234,5", "#.##0,0", ctx=ctx).num == 1234.5


def test_bind_function_checks_once_and_calls_many_times() -> None:
    mid = bind_function("MID", 3)
    assert [mid([text(s), number(2), number(2)], None).text for s in ("abcd", "wxyz")] == ["bc", "xy"]
    assert mid([None, number(2), number(2)], None) is None
    with pytest.raises(ScriptError, match="Wrong number of arguments to Mid"):
        bind_function("Mid", 4)


def test_a_changed_setting_is_honoured_by_the_next_call() -> None:
    # The settings are kept between calls (functions.script_settings) only until a variable
    # changes: Set, Let, Drop Variable and a Sub's parameters all change them.
    runner = Runner(out=io.StringIO())
    runner.run_text("Let a = Date(1);\nSet DateFormat='DD/MM/YYYY';\nLet b = Date(1);\n"
                    "Drop Variable DateFormat;\nLet c = Date(1);\n"
                    "Sub S(DateFormat)\n  Let d = Date(1);\nEnd Sub\nCall S('M.D.YY');\nLet e = Date(1);\n")
    assert [runner.variable_text(v) for v in "abcde"] == \
        ["1899-12-31", "31/12/1899", "1899-12-31", "12.31.99", "1899-12-31"]


@pytest.mark.parametrize("change", [
    lambda v: v.__setitem__("x", None), lambda v: v.__delitem__("a"), lambda v: v.pop("a"),
    lambda v: v.popitem(), lambda v: v.clear(), lambda v: v.update(x=None),
    lambda v: v.setdefault("x"), lambda v: v.__ior__({"x": None})])
def test_every_change_to_the_variables_forgets_what_was_derived(change) -> None:
    variables = Variables(a=text("1"))
    variables.derived["k"] = object()
    change(variables)
    assert variables.derived == {}
