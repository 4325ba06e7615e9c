"""What a user pastes into a panel editor (issue #17): a megabyte of digits or letters, a
deeply nested literal — refused with a short message that names the field, never raised."""
from __future__ import annotations

import dataclasses

import pytest

from widgets.parameter_fields import field_kind, parse_value


@dataclasses.dataclass(frozen=True)
class Cfg:
    n: int = dataclasses.field(default=8, metadata={"help": "n", "min": 1, "max": 64})
    lr: float = dataclasses.field(default=0.1, metadata={"help": "lr", "min": 0.0, "max": 1.0})
    shape: tuple = dataclasses.field(default=(1, 2), metadata={"help": "shape"})


FIELDS = {f.name: f for f in dataclasses.fields(Cfg)}


@pytest.mark.parametrize("name, text", [
    ("n", "9" * 100_000), ("lr", "x" * 1_000_000), ("n", "1e999"), ("lr", "-" * 5000),
    ("shape", "[" * 5000 + "]" * 5000), ("shape", "9" * 10_000), ("shape", "(" * 100),
])
def test_pasted_text_is_refused_with_a_short_message(name, text):
    value, error = parse_value(FIELDS[name], field_kind(FIELDS[name], getattr(Cfg(), name)),
                               text)
    assert value is None and error.startswith(name) and len(error) < 200


def test_short_text_is_still_quoted_whole():
    assert parse_value(FIELDS["n"], "int", "abc") == (None, "n: 'abc' is not a number")
