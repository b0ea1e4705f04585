from collections.abc import Callable, Sequence
from re import Pattern
from typing import Any

class Gate:
    def __init__(self, vocab: list[tuple[bytes, bool, bool, list[int], list[int]]],
                 npairs: int, long_word: int, max_chars: int, literals: list[str],
                 bare: bytes, checks: list[tuple[Callable[[str], object], bytes | None]],
                 suspect: list[Pattern[str]], leads: bytes | None) -> None: ...
    def opened(self, texts: Sequence[str]) -> list[bool]: ...

def turn_texts(events: Sequence[Any], app_roles: frozenset[str],
               current_turn: Callable[[Any], list[tuple[int, str, str]]],
               ) -> tuple[list[str], list[int]]: ...
class SuffixGate:
    def __init__(self, tail_chars: int, min_chars: int, symbols: bytes) -> None: ...
    def __call__(self, text: str) -> bool: ...
