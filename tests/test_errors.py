"""Messages about a learner's values and errors: they never raise while they are made."""
from simcore.errors import said, shown


def test_a_message_about_a_value_or_an_error_never_raises():
    class Odd(Exception):
        def __str__(self):
            raise RuntimeError("str exploded")
    deep = []
    for _ in range(5000):
        deep = [deep]
    assert shown(10 ** 5000) == "<int>" and shown(deep) == "<list>" and shown("x" * 100).endswith("...")
    assert said(Odd()) == "<its str() raised RuntimeError>"
