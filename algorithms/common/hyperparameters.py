"""A small schema checker for the built-ins' ``hyperparameters.json``.

The real images validate the (all-string) hyperparameter map against a JSON schema, fill in the
defaults of their ``default-conf.json``, and reject unknown names. This module copies the
messages they print (``No value(s) were specified for ... which are required
hyperparameter(s)``, ``Additional properties are not allowed ('x' was unexpected)``,
``'abc' is not valid under any of the given schemas``) and raises ``HyperparameterError``, a
``ClientError``, so the failure reason starts with ``ClientError:``.

An algorithm declares ``Param`` objects and reads typed values back with ``Parsed[param]``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from algorithms.common.failures import ClientError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_INT = re.compile(r"^[+-]?[0-9]+$")
_CAUSE = " (caused by ValidationError)"


class HyperparameterError(ClientError):
    """A hyperparameter is missing, unknown or has a bad value."""


class Kind(Protocol[T_co]):
    """How one hyperparameter's raw value (a string in ``hyperparameters.json``) is read."""

    def parse(self, value: object) -> T_co:
        """Return the typed value or raise ``ValueError`` (the message is unused)."""
        ...

    @property
    def expected(self) -> str:
        """What a valid value looks like, for the error message."""
        ...


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value).strip()
    raise ValueError(value)


@dataclass(frozen=True)
class Integer:
    """An integer in ``[minimum, maximum]`` (either bound optional); ``"5"`` or ``5``."""

    minimum: int | None = None
    maximum: int | None = None

    def parse(self, value: object) -> int:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(value)
            value = int(value)
        text = _as_text(value)
        if not _INT.match(text):
            raise ValueError(value)
        number = int(text)
        if self.minimum is not None and number < self.minimum:
            raise ValueError(value)
        if self.maximum is not None and number > self.maximum:
            raise ValueError(value)
        return number

    @property
    def expected(self) -> str:
        if self.minimum == 1 and self.maximum is None:
            return "a positive integer"
        if self.minimum == 0 and self.maximum is None:
            return "a non-negative integer"
        low = "-inf" if self.minimum is None else str(self.minimum)
        high = "inf" if self.maximum is None else str(self.maximum)
        return f"an integer in [{low}, {high}]"


POSITIVE_INT = Integer(minimum=1)
NON_NEGATIVE_INT = Integer(minimum=0)


@dataclass(frozen=True)
class Real:
    """A finite float in ``[minimum, maximum]``."""

    minimum: float | None = None
    maximum: float | None = None

    def parse(self, value: object) -> float:
        if isinstance(value, bool):
            raise ValueError(value)
        number = float(_as_text(value))
        if not math.isfinite(number):
            raise ValueError(value)
        if self.minimum is not None and number < self.minimum:
            raise ValueError(value)
        if self.maximum is not None and number > self.maximum:
            raise ValueError(value)
        return number

    @property
    def expected(self) -> str:
        low = "-inf" if self.minimum is None else f"{self.minimum:g}"
        high = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"a number in [{low}, {high}]"


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of strings (exact match, as the real JSON schema's enum)."""

    values: tuple[str, ...]

    def parse(self, value: object) -> str:
        text = _as_text(value)
        if text not in self.values:
            raise ValueError(value)
        return text

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Boolean:
    """``true``/``false`` in any case: the SDK sends Python's ``str(True)`` = ``"True"``."""

    def parse(self, value: object) -> bool:
        if isinstance(value, bool):
            return value
        text = _as_text(value).lower()
        if text == "true":
            return True
        if text == "false":
            return False
        raise ValueError(value)

    @property
    def expected(self) -> str:
        return "'true' or 'false'"


BOOLEAN = Boolean()


@dataclass(frozen=True)
class AutoOr(Generic[T]):
    """The string ``auto`` (returned as ``None``: the algorithm evaluates it) or ``inner``."""

    inner: Kind[T]

    def parse(self, value: object) -> T | None:
        if isinstance(value, str) and value.strip() == "auto":
            return None
        return self.inner.parse(value)

    @property
    def expected(self) -> str:
        return f"'auto' or {self.inner.expected}"


@dataclass(frozen=True)
class Text:
    """Any string (hidden knobs of the real image that change nothing here, e.g. ``_kvstore``)."""

    def parse(self, value: object) -> str:
        return _as_text(value)

    @property
    def expected(self) -> str:
        return "a string"


TEXT = Text()


class NotJson(ValueError):
    """A JSON-valued hyperparameter that does not parse as JSON."""


@dataclass(frozen=True)
class JsonList:
    """A JSON list of distinct strings from ``allowed`` (e.g. ``eval_metrics='["msd","ssd"]'``)."""

    allowed: tuple[str, ...]

    def parse(self, value: object) -> tuple[str, ...]:
        if isinstance(value, list):
            items: object = value
        else:
            try:
                items = json.loads(_as_text(value))
            except json.JSONDecodeError as exc:
                raise NotJson(value) from exc
        if not isinstance(items, list) or not items:
            raise ValueError(value)
        result: list[str] = []
        for item in items:
            if not isinstance(item, str) or item not in self.allowed or item in result:
                raise ValueError(value)
            result.append(item)
        return tuple(result)

    @property
    def expected(self) -> str:
        return "a JSON list of distinct values from " + ", ".join(f'"{v}"' for v in self.allowed)


@dataclass(frozen=True)
class Param(Generic[T_co]):
    """One hyperparameter: its name, kind, and whether it is required or its default.

    ``default`` is the raw value of the real image's default configuration (a string, as in
    its ``default-conf.json``); it goes through ``kind`` like a given value.
    """

    name: str
    kind: Kind[T_co]
    required: bool = False
    default: object = None


@dataclass(frozen=True)
class Parsed:
    """Validated hyperparameters, read back with their types: ``parsed[FEATURE_DIM]``."""

    values: Mapping[str, object]
    given: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, param: Param[T]) -> T:
        # The schema parsed every declared name with ``param.kind``, so the type holds.
        return self.values[param.name]  # type: ignore[return-value]

    def was_given(self, param: Param[object]) -> bool:
        return param.name in self.given


class Schema:
    """The hyperparameters one algorithm accepts, in declaration order."""

    def __init__(self, params: Iterable[Param[object]]) -> None:
        self.params: tuple[Param[object], ...] = tuple(params)
        self._by_name = {p.name: p for p in self.params}
        if len(self._by_name) != len(self.params):
            raise ValueError("duplicate hyperparameter names")

    @property
    def defaults(self) -> dict[str, object]:
        """The default configuration, as the real image logs it before merging."""
        return {p.name: p.default for p in self.params if not p.required}

    def validate(self, raw: Mapping[str, object]) -> Parsed:
        """Check ``raw`` (the contents of ``hyperparameters.json``) and fill in defaults.

        The checks run in the real image's order: required names, then unknown names, then
        each value.
        """
        missing = [p.name for p in self.params if p.required and p.name not in raw]
        if missing:
            names = ", ".join(f"'{n}'" for n in missing)
            raise HyperparameterError(
                f"No value(s) were specified for {names} which are required "
                f"hyperparameter(s){_CAUSE}"
            )
        unknown = [name for name in raw if name not in self._by_name]
        if unknown:
            names = ", ".join(f"'{n}'" for n in unknown)
            verb = "was" if len(unknown) == 1 else "were"
            raise HyperparameterError(
                f"Additional properties are not allowed ({names} {verb} unexpected){_CAUSE}"
            )
        values: dict[str, object] = {}
        for param in self.params:
            given = param.name in raw
            value = raw[param.name] if given else param.default
            try:
                values[param.name] = param.kind.parse(value)
            except NotJson:
                raise HyperparameterError(
                    f"Hyperparameter must be valid json, but found {param.name}: {value}"
                    " (caused by ValueError)"
                ) from None
            except ValueError:
                raise HyperparameterError(
                    f"{value!r} is not valid under any of the given schemas: hyperparameter "
                    f"'{param.name}' must be {param.kind.expected}{_CAUSE}"
                ) from None
        return Parsed(values=values, given=frozenset(raw))


def load_json_object(text: str, what: str) -> dict[str, object]:
    """Parse a config file that must hold a JSON object; a ``ClientError`` otherwise."""
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ClientError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ClientError(f"{what} must hold a JSON object, found {type(data).__name__}")
    return data
