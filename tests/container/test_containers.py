"""The set of compiled containers a node serves, by container id and environment."""

from __future__ import annotations

import pytest

from config.schema import apply_defaults
from container.containers import ContainerSet, NotServed
from container.pipeline import CompiledContainer
from tags.runtime import TemplateRuntime
from tests.helpers import make_document

RUNTIME = TemplateRuntime()


def compiled(container_id: str = "shop", env: str = "live", version: int | None = None):
    doc = make_document()
    doc["container"]["id"] = container_id
    return CompiledContainer.compile(apply_defaults(doc), RUNTIME, version=version, env=env)


def test_of_serves_every_container_as_live():
    shop, blog = compiled("shop"), compiled("blog")
    containers = ContainerSet.of({"shop": shop, "blog": blog})
    assert len(containers) == 2
    assert containers.keys() == [("blog", "live"), ("shop", "live")]
    assert containers.get("shop") is shop
    assert containers.get("shop", "live") is shop
    assert containers.get("shop", "staging") is None
    assert containers.get("news") is None


def test_compile_records_version_and_env():
    assert (compiled().version, compiled().env) == (None, "live")
    staging = compiled(env="staging", version=4)
    assert (staging.version, staging.env) == (4, "staging")


def test_put_replaces_and_remove_stops_serving():
    containers = ContainerSet.of({"shop": compiled()})
    v1, v2 = compiled(env="staging", version=1), compiled(env="staging", version=2)
    containers.put("shop", "staging", v1)
    containers.put("shop", "staging", v2)
    assert containers.get("shop", "staging") is v2
    assert [(key, c.version) for key, c in containers.items()] == [
        (("shop", "live"), None),
        (("shop", "staging"), 2),
    ]
    containers.remove("shop", "staging")
    containers.remove("shop", "pr-1")  # not served: nothing happens
    assert containers.keys() == [("shop", "live")]


def test_writes_replace_the_dict_readers_hold_instead_of_changing_it():
    containers = ContainerSet.of({"shop": compiled()})
    held = containers._by_key
    containers.put("shop", "staging", compiled(env="staging"))
    assert list(held) == [("shop", "live")]
    held = containers._by_key
    containers.remove("shop", "staging")
    assert list(held) == [("shop", "live"), ("shop", "staging")]


@pytest.mark.parametrize(("container_id", "env"), [("blog", "live"), ("shop", "staging")])
def test_put_refuses_a_container_compiled_for_another_id_or_env(container_id, env):
    containers = ContainerSet()
    with pytest.raises(ValueError, match="compile it with env="):
        containers.put(container_id, env, compiled("shop", "live"))
    assert len(containers) == 0
    with pytest.raises(ValueError, match="compile it with env="):
        ContainerSet.of({container_id: compiled("shop", env)})


def test_resolve_finds_the_named_environment_or_live():
    live, staging = compiled(), compiled(env="staging", version=3)
    containers = ContainerSet.of({"shop": live})
    containers.put("shop", "staging", staging)
    assert containers.resolve("shop", None) is live
    assert containers.resolve("shop", "live") is live
    assert containers.resolve("shop", "staging") is staging


@pytest.mark.parametrize(
    ("container_id", "env", "status", "field", "reason"),
    [
        (None, None, 400, "id", "required query parameter"),
        ("", "staging", 400, "id", "required query parameter"),
        ("shop", "", 400, "env", "must be an environment name"),
        ("shop", "Live", 400, "env", "must be an environment name"),
        ("shop", "a" * 41, 400, "env", "must be an environment name"),
        ("nope", None, 404, "id", "unknown container 'nope'"),
        ("nope", "staging", 404, "id", "unknown container 'nope'"),
        ("shop", "pr-12", 404, "env", "container 'shop' has no environment 'pr-12'"),
        ("blog", None, 404, "env", "container 'blog' has no environment 'live'"),
    ],
)
def test_resolve_says_which_parameter_is_wrong(container_id, env, status, field, reason):
    containers = ContainerSet.of({"shop": compiled()})
    containers.put("blog", "staging", compiled("blog", "staging"))
    with pytest.raises(NotServed) as info:
        containers.resolve(container_id, env)
    assert (info.value.status, info.value.field) == (status, field)
    assert info.value.reason.startswith(reason)
