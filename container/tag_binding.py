"""How a tag's template is bound to its parameters: once, when they are fixed, or per hit
when they reference values of the hit (`{{var.page_kind}}`, see variables.param_refs).

A per-hit binding checks the resolved parameters exactly as a static one is checked (a
value of the wrong type fails the tag run as `params`, kept and counted like any failed
run), and keeps the last bindings by their resolved parameters: hits that resolve to the
same values reuse one binding instead of building it again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import orjson

from tags.package import TemplatePackage
from tags.runtime import BoundTemplate, TemplateRuntime
from variables.param_refs import ParamPlan
from variables.resolver import Resolver

__all__ = ["BINDINGS_KEPT", "TagBinding"]

BINDINGS_KEPT = 64  # per tag


class TagBinding:
    __slots__ = ("_kept", "key", "package", "plan", "static")

    def __init__(
        self,
        key: str,
        package: TemplatePackage,
        plan: ParamPlan | None,
        static: BoundTemplate | None,
    ) -> None:
        """`static` is the one binding of a tag whose parameters hold no reference (then
        `plan` is None); a tag with references has a plan and no static binding."""
        self.key = key
        self.package = package
        self.plan = plan
        self.static = static
        self._kept: OrderedDict[bytes, BoundTemplate] = OrderedDict()

    def for_hit(self, runtime: TemplateRuntime, resolver: Callable[[], Resolver]) -> BoundTemplate:
        """The binding to run for one hit; raises TemplateError ("params") when the
        resolved parameters do not fit the template's schema."""
        if self.static is not None:
            return self.static
        assert self.plan is not None
        params = self.plan.resolve(resolver())
        try:
            key = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return runtime.bind(self.key, self.package, params)
        kept = self._kept
        bound = kept.get(key)
        if bound is None:
            bound = runtime.bind(self.key, self.package, params)
            kept[key] = bound
            if len(kept) > BINDINGS_KEPT:
                kept.popitem(last=False)
        else:
            kept.move_to_end(key)
        return bound
