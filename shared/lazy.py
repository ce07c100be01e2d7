"""The one way alertloop builds its clients: a `lazy` attribute, created once per instance on
first use (cold start stays cheap). Callers inject their own through a constructor or by
assigning the attribute; assigning None drops the cached client (the next use builds a fresh
one, e.g. after a test changed the settings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class lazy(Generic[T]):
    """A client built by `factory(owner)` on first read and kept on the instance."""

    def __init__(self, factory: Callable[[Any], T]) -> None:
        self.factory = factory
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_lazy_{name}"

    @overload
    def __get__(self, obj: None, owner: type) -> lazy[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> lazy[T] | T:
        if obj is None:
            return self
        value: T | None = obj.__dict__.get(self.slot)
        if value is None:
            value = self.factory(obj)
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: object, value: T | None) -> None:
        obj.__dict__[self.slot] = value
