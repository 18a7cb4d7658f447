"""The numeric-aware sort key of spot numbers."""

from __future__ import annotations

import random
import re

from garage.services.spot_numbers import spot_sort_key


def ordered(numbers: list[str]) -> list[str]:
    return sorted(numbers, key=spot_sort_key)


def test_numbers_compare_by_value_not_by_text() -> None:
    assert ordered(["10", "2", "1", "100", "20"]) == ["1", "2", "10", "20", "100"]


def test_a_suffix_sorts_after_its_number_and_before_the_next() -> None:
    assert ordered(["11", "10A", "10", "10B", "2", "9Z"]) == ["2", "9Z", "10", "10A", "10B", "11"]


def test_contract_example() -> None:
    assert spot_sort_key("2") < spot_sort_key("10") < spot_sort_key("10A")


def test_letter_prefixes_group_then_compare_numbers() -> None:
    assert ordered(["B1", "A10", "A2", "B10", "A", "B2"]) == ["A", "A2", "A10", "B1", "B2", "B10"]


def test_numbers_sort_before_text_at_the_same_position() -> None:
    assert ordered(["A", "1", "A1", "AB"]) == ["1", "A", "A1", "AB"]


def test_inner_numbers_compare_numerically() -> None:
    assert ordered(["P1-10", "P1-9", "P2-1", "P10-1"]) == ["P1-9", "P1-10", "P2-1", "P10-1"]


def test_text_compares_case_insensitively() -> None:
    assert spot_sort_key("10a") == spot_sort_key("10A")
    assert ordered(["b", "A", "c"]) == ["A", "b", "c"]


def test_leading_zeros_do_not_change_the_value() -> None:
    assert spot_sort_key("007") == spot_sort_key("7")
    assert spot_sort_key("0") == spot_sort_key("000")
    assert ordered(["010", "9"]) == ["9", "010"]


def test_long_digit_runs_stay_ordered() -> None:
    big = "9" * 99
    assert ordered([big, "1" + "0" * 99, "5"]) == ["5", big, "1" + "0" * 99]


def test_keys_agree_with_a_reference_natural_sort() -> None:
    """Random letter-and-digit numbers: the key order equals comparing chunk lists, where a digit
    run compares by value and sorts before a letter run."""

    def chunks(number: str) -> list[tuple[int, int, str]]:
        return [
            (0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk.upper())
            for chunk in re.findall(r"[0-9]+|[^0-9]+", number)
        ]

    generator = random.Random(4)
    numbers = ["".join(generator.choice("0123456789AB") for _ in range(generator.randint(1, 6))) for _ in range(3000)]
    assert sorted(numbers, key=lambda n: (spot_sort_key(n), n)) == sorted(numbers, key=lambda n: (chunks(n), n))


def test_punctuation_compares_as_text() -> None:
    # no natural answer exists for punctuation: it compares by code point, below digits
    assert ordered(["A1", "A-1", "A-", "A 1"]) == ["A 1", "A-", "A-1", "A1"]
