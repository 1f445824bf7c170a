"""Registries by name: one per kind (methods, encoders, estimators), filled where each
thing is defined (``@register_method``, ``@register_encoder``, ...), so there is one list
and nothing to keep in sync. Config checks, ``infomax config --keys``, the CLI's help and
the error messages read the names from here. (Data sets have their own entries with more
to them: ``infomax.data.registry.DATASETS``.)"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from infomax.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Things of one ``kind`` by name, in registration order. ``registry[name]`` is the
    thing; an unknown name is a ConfigError naming the valid ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if not isinstance(name, str) or not name or name != name.strip().lower():
            raise ValueError(f"{self.kind} names are lower-case, without spaces: {name!r}")
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered already")
        self._items[name] = item
        return item

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator(name)``: register the decorated thing under ``name``."""
        return lambda item: self.register(name, item)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests that register something of their own)."""
        del self._items[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def choices(self) -> str:
        return ", ".join(self._items)

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of "
                              f"{self.choices()}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())
