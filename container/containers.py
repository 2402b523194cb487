"""The compiled containers a node serves, one per (container id, environment).

Endpoints look a container up on every hit while a reload may swap one in at any moment.
A write builds a new dict and replaces the old one in a single assignment (copy-on-write),
so the read path takes no lock and a hit that already looked its container up keeps using
that object to the end, even if it is replaced meanwhile. Writes come from one task at a
time (the reload watcher); two concurrent writers could each drop the other's change.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.publishing import ENV_NAME, LIVE
from container.pipeline import CompiledContainer

__all__ = ["ContainerSet", "NotServed"]


class NotServed(LookupError):
    """A request naming no container, or one this node does not serve: `status` to answer
    with, `field` the query parameter to blame (`id` or `env`), `reason` what is wrong."""

    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.status = status
        self.field = field
        self.reason = reason


class ContainerSet:
    """Compiled containers by (container id, environment name)."""

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], CompiledContainer] = {}

    @classmethod
    def of(cls, containers: Mapping[str, CompiledContainer]) -> ContainerSet:
        """A set serving each of `containers` (by id) as its "live" environment."""
        for container_id, compiled in containers.items():
            _check(container_id, LIVE, compiled)
        result = cls()
        result._by_key = {(container_id, LIVE): c for container_id, c in containers.items()}
        return result

    def get(self, container_id: str, env: str = LIVE) -> CompiledContainer | None:
        return self._by_key.get((container_id, env))

    def put(self, container_id: str, env: str, compiled: CompiledContainer) -> None:
        """Serve `compiled` as `env` of `container_id`; it must have been compiled for them
        (its loader sends hits to the environment it names)."""
        _check(container_id, env, compiled)
        self._by_key = {**self._by_key, (container_id, env): compiled}

    def remove(self, container_id: str, env: str) -> None:
        """Stop serving `env` of `container_id`; nothing happens if it is not served."""
        if (container_id, env) in self._by_key:
            by_key = dict(self._by_key)
            del by_key[(container_id, env)]
            self._by_key = by_key

    def resolve(self, container_id: str | None, env: str | None) -> CompiledContainer:
        """The container a request's `id` and `env` query parameters name (env None:
        "live"); raises `NotServed` saying which parameter is wrong otherwise."""
        if not container_id:
            raise NotServed(400, "id", "required query parameter: the container id")
        if env is None:
            env = LIVE
        elif not ENV_NAME.fullmatch(env):
            raise NotServed(
                400,
                "env",
                "must be an environment name: 1 to 40 lower-case letters, digits and '-' "
                "(e.g. staging), or left out for live",
            )
        by_key = self._by_key
        container = by_key.get((container_id, env))
        if container is not None:
            return container
        if not any(key[0] == container_id for key in by_key):
            raise NotServed(404, "id", f"unknown container {container_id!r}")
        raise NotServed(
            404, "env", f"container {container_id!r} has no environment {env!r} on this node"
        )

    def keys(self) -> list[tuple[str, str]]:
        return sorted(self._by_key)

    def items(self) -> list[tuple[tuple[str, str], CompiledContainer]]:
        """Every (container id, env) with its container, sorted, from one snapshot."""
        by_key = self._by_key
        return [(key, by_key[key]) for key in sorted(by_key)]

    def __len__(self) -> int:
        return len(self._by_key)


def _check(container_id: str, env: str, compiled: CompiledContainer) -> None:
    if (compiled.id, compiled.env) != (container_id, env):
        raise ValueError(
            f"container {compiled.id!r} compiled for environment {compiled.env!r} cannot "
            f"be served as {env!r} of {container_id!r}; compile it with env={env!r}"
        )
