"""The hit pipeline: a container document compiled once, then run for every accepted hit.

hit → variables → triggers → consent → tag template (Lua sandbox) → outbox rows and
browser pixels. Compilation (variables, trigger conditions, templates, parameters, grants)
happens off the request path at start-up; `run` does no I/O. Each trigger is evaluated at
most once per hit, each variable resolved at most once. A tag refused by consent is
logged and counted. A tag whose template fails (or is quarantined) is never dropped: it
becomes a `FailedRun` committed with the hit's rows, which keeps the hit so the tag can
run again (`rerun`); the other tags of the hit still run.

A compiled container is not thread-safe (its template runtime and quarantine): the data
plane runs it on one thread at a time, on the event loop while its lane is idle or on
its lane (container/accept.py, container/lanes.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from config.schema import template_package
from config.storage import FailedRun, OutboxRow
from container.metrics import PII_REMOVED, TAG_FAILURES, TAG_OUTCOMES
from container.quarantine import Quarantine, Quarantined
from container.tag_binding import TagBinding
from container.tag_failures import HitRecord, failed_run, record_hit, retry_at
from tags.errors import TemplateError
from tags.event import template_event
from tags.runtime import TagResult, TemplateRuntime
from tags.trial import Trial, TrialRefused
from triggers.trigger import Trigger
from variables.consent import ConsentRequirement, ConsentState, Decision, decide
from variables.hit import Hit
from variables.param_refs import ParamPlan
from variables.pii_firewall import contains_pii, scrub_text
from variables.resolver import Resolver, VariableFunction
from variables.user_defined import compile_variable

__all__ = [
    "Allowance",
    "CompiledContainer",
    "CompiledTag",
    "PipelineResult",
    "RerunError",
    "TagTrace",
]

log = logging.getLogger("tagwire.pipeline")


class _Counters(NamedTuple):
    """A tag's outcome counters, looked up once at compile time instead of per hit."""

    fired: Any
    blocked: Any
    failed: Any

    @classmethod
    def of(cls, container_id: str, tag_id: str) -> _Counters:
        labels = TAG_OUTCOMES.labels
        return cls(
            labels(container_id, tag_id, "fired"),
            labels(container_id, tag_id, "blocked_by_consent"),
            labels(container_id, tag_id, "failed"),
        )


@dataclass(frozen=True, slots=True)
class CompiledTag:
    id: str
    binding: TagBinding
    firing: tuple[str, ...]
    blocking: tuple[str, ...]
    consent: ConsentRequirement
    fire_once: str
    platform: str
    counters: _Counters

    def dedup_key(self, hit: Hit) -> str | None:
        """The fire-once key (None: no dedup); a hit without the scoped id falls back to
        its event id, so a browser retry of it still cannot send twice."""
        if self.fire_once == "none":
            return None
        if self.fire_once in ("transaction_id", "lead_id"):
            value = hit.section("data").get(self.fire_once)
            if value:
                return f"{self.fire_once}:{value}"
        return f"event_id:{hit.event_id}"


@dataclass(slots=True)
class PipelineResult:
    """What hits produced: requests for the outbox, commands for the browser, and the tag
    runs that failed (stored with the requests, never dropped)."""

    rows: list[OutboxRow] = field(default_factory=list)
    pixels: list[dict[str, Any]] = field(default_factory=list)
    cookies: list[dict[str, Any]] = field(default_factory=list)
    failures: list[FailedRun] = field(default_factory=list)


class TagTrace(NamedTuple):
    """One tag's fate on a traced hit: `outcome` is fired, not_fired, blocked_by_consent
    or failed; `consent` the consent decision's reason (empty when not asked)."""

    tag_id: str
    platform: str
    outcome: str
    consent: str = ""
    error: str | None = None
    logs: tuple[str, ...] = ()
    pixels: tuple[dict[str, Any], ...] = ()
    rows: tuple[OutboxRow, ...] = ()


class RerunError(Exception):
    """A stored tag run cannot run again: `kind` and the message say why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class Allowance:
    """Budget units several tag runs may still spend together (see `CompiledContainer.run`)."""

    __slots__ = ("units",)

    def __init__(self, units: int) -> None:
        self.units = units


class _Facts(NamedTuple):
    """What every outbox row of one tag on one hit carries besides its request."""

    event_name: str
    event_id: str
    event_time_ms: int
    dedup_key: str | None
    lead_id: str | None
    value: float | None
    currency: str | None


def _facts(hit: Hit, dedup_key: str | None) -> _Facts:
    """The hit's facts; lead id, value and currency feed the history filters and the value
    guard."""
    data = hit.section("data")
    lead = data.get("lead_id")
    value = data.get("value")
    currency = data.get("currency")
    return _Facts(
        hit.event,
        hit.event_id,
        hit.event_time_ms,
        dedup_key,
        None if lead is None or lead == "" else str(lead),
        float(value) if type(value) is int or type(value) is float else None,
        currency if type(currency) is str else None,
    )


def _netloc(url: str) -> str:
    """The host (and port) of a URL the runtime normalised (`scheme://netloc/path…`)."""
    start = url.find("//") + 2
    end = url.find("/", start)
    return url[start:] if end < 0 else url[start:end]


def _last_scan(request: dict[str, Any]) -> None:
    """Whatever a template assembled, no plaintext email or phone leaves in a request."""
    for key in ("url", "body"):
        text = request[key]
        if text and contains_pii(text):
            request[key], count = scrub_text(text)
            PII_REMOVED.labels(f"outbound.{key}").inc(count)
    headers = request["headers"]
    for name, value in headers.items():
        if contains_pii(value):
            headers[name], count = scrub_text(value)
            PII_REMOVED.labels("outbound.headers").inc(count)


class _HitRun:
    """Per-hit memory: trigger outcomes, the resolver and the consent state, made on demand."""

    __slots__ = ("_consent", "_context", "_fired", "_resolver", "container", "hit")

    def __init__(self, container: CompiledContainer, hit: Hit) -> None:
        self.container = container
        self.hit = hit
        self._fired: dict[str, bool] = {}
        self._resolver: Resolver | None = None
        self._consent: ConsentState | None = None
        self._context: Any = None

    def context(self) -> Any:
        """The hit as the templates see it, built once for all the hit's tags."""
        if self._context is None:
            hit = self.hit
            self._context = self.container.runtime.hit_context(
                template_event(hit), hit.cookies, hit.received_ms
            )
        return self._context

    def resolver(self) -> Resolver:
        if self._resolver is None:
            self._resolver = Resolver(self.hit, self.container.variables)
        return self._resolver

    def fired(self, trigger_id: str) -> bool:
        result = self._fired.get(trigger_id)
        if result is None:
            trigger = self.container.triggers[trigger_id]
            result = self._fired[trigger_id] = trigger.fires(self.hit.event, self.resolver)
        return result

    def tag_fires(self, tag: CompiledTag) -> bool:
        return any(self.fired(t) for t in tag.firing) and not any(
            self.fired(t) for t in tag.blocking
        )

    def consent(self, tag: CompiledTag) -> Decision:
        if self._consent is None:
            self._consent = ConsentState(self.hit)
        return decide(self._consent, tag.consent, self.container.consent_policy)


@dataclass(frozen=True, slots=True)
class CompiledContainer:
    id: str
    name: str
    allowed_origins: frozenset[str]
    consent_policy: str
    pii_policy: str
    variables: Mapping[str, VariableFunction]
    triggers: Mapping[str, Trigger]
    tags: tuple[CompiledTag, ...]
    runtime: TemplateRuntime
    # ISO 3166-1 alpha-2: how the Fire API reads national phone numbers
    default_country: str | None = None
    # ISO 4217: the value guard refuses conversions in another currency
    currency_default: str | None = None
    # the signed version this was compiled from (None: a document file) and the
    # environment it serves
    version: int | None = None
    env: str = "live"
    # the site's domain (`client.com`): its cookies' Domain and the origins it takes hits from
    domain: str | None = None
    # the GA4 streams the gtag intake takes for it, and the name of the secret a
    # Measurement Protocol request's api_secret must equal (None: no Measurement Protocol)
    measurement_ids: frozenset[str] = frozenset()
    mp_api_secret: str | None = None
    # per node and per compiled version: a new version starts with no tag quarantined
    quarantine: Quarantine = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "quarantine", Quarantine(self.id))

    @property
    def lane(self) -> str:
        """The lane its tags run on: one per container and environment."""
        return f"{self.id}@{self.env}"

    @classmethod
    def compile(
        cls,
        doc: dict[str, Any],
        runtime: TemplateRuntime,
        *,
        version: int | None = None,
        env: str = "live",
    ) -> CompiledContainer:
        """Compile a validated document with defaults applied (see config.schema).

        Raises TemplateError when a template does not compile or a tag's params are bad.
        """
        container_id = doc["container"]["id"]
        variables = {v["id"]: compile_variable(v["type"], v.get("params", {}))
                     for v in doc["variables"]}  # fmt: skip
        triggers = {t["id"]: Trigger.compile(t) for t in doc["triggers"]}
        tags = []
        for tag in doc["tags"]:
            if not tag["enabled"]:
                continue
            package = template_package(doc, tag["template"])
            key = f"{container_id}/{tag['id']}"
            plan = ParamPlan.compile(tag["params"])
            try:
                if plan is None:
                    static = runtime.bind(key, package, tag["params"])
                    binding = TagBinding(key, package, None, static)
                else:  # bound per hit; the template compiles now
                    runtime.compile(package)
                    binding = TagBinding(key, package, plan, None)
            except TemplateError as exc:
                raise TemplateError(exc.kind, f"tag {tag['id']!r}: {exc.message}") from None
            consent = tag["consent"]
            tags.append(
                CompiledTag(
                    id=tag["id"],
                    binding=binding,
                    firing=tuple(tag["firing_triggers"]),
                    blocking=tuple(tag["blocking_triggers"]),
                    consent=ConsentRequirement(
                        tuple(dict.fromkeys((*package.consent, *consent["gcm"]))),
                        tuple(consent["purposes"]),
                        consent.get("vendor_id"),
                    ),
                    fire_once=tag["fire_once"],
                    platform=tag["template"],
                    counters=_Counters.of(container_id, tag["id"]),
                )
            )
        container = doc["container"]
        return cls(
            container_id,
            container["name"],
            frozenset(container["allowed_origins"]),
            container["consent_policy"],
            container["pii_policy"],
            variables,
            triggers,
            tuple(tags),
            runtime,
            container.get("default_country"),
            container.get("currency_default"),
            version,
            env,
            container.get("domain"),
            frozenset(container.get("gtag", {}).get("measurement_ids", ())),
            container.get("gtag", {}).get("mp_api_secret"),
        )

    def run(
        self, hit: Hit, result: PipelineResult, allowance: Allowance | None = None, start: int = 0
    ) -> int | None:
        """Run every tag that fires for the hit, from the tag at index `start` on, adding
        what they produce to `result`.

        With an `allowance`, the templates together may spend at most that many budget
        units: a tag that would need more is not run, and its index is returned so the
        rest can run elsewhere (`run(hit, result, start=index)`), with nothing counted or
        recorded for it. None: every tag ran."""
        state = _HitRun(self, hit)
        context = None
        tags = self.tags
        for index in range(start, len(tags)):
            tag = tags[index]
            if not state.tag_fires(tag):
                continue
            decision = state.consent(tag)
            if not decision.allowed:
                tag.counters.blocked.inc()
                log.info(
                    "tag blocked by consent",
                    extra={"fields": {"container": self.id, "tag": tag.id,
                                      "event_id": hit.event_id, "reason": decision.reason}},
                )  # fmt: skip
                continue
            facts = _facts(hit, tag.dedup_key(hit))
            held = self.quarantine.holds(tag.id)
            if held is not None:
                self._fail(tag, hit, facts, _quarantine_error(held), result, held.kind)
                continue
            try:
                template = tag.binding.for_hit(self.runtime, state.resolver)
            except TemplateError as exc:
                self._count(tag, TagResult(error=exc))
                self._fail(tag, hit, facts, exc, result, exc.kind)
                continue
            if context is None:
                context = self.runtime.hit_context(
                    template_event(hit), hit.cookies, hit.received_ms
                )
            if allowance is None:
                outcome = self.runtime.execute(template, context)
            else:
                if allowance.units <= 0:
                    self.quarantine.not_run(tag.id)
                    return index
                outcome = self.runtime.execute(template, context, allowance.units)
                if outcome.capped:
                    self.quarantine.not_run(tag.id)
                    return index
                allowance.units -= outcome.cost
            error = outcome.error
            self._count(tag, outcome)
            if error is not None:
                self._fail(tag, hit, facts, error, result, error.kind)
                continue
            tag.counters.fired.inc()
            self._produced(tag, outcome, facts, result)
        return None

    def _count(self, tag: CompiledTag, outcome: TagResult) -> None:
        """A run that happened, for the quarantine."""
        error = outcome.error
        if error is None:
            self.quarantine.outcome(tag.id, None)
        else:
            self.quarantine.outcome(tag.id, error.kind, error.message, outcome.cost)

    def _produced(
        self, tag: CompiledTag, outcome: TagResult, facts: _Facts, result: PipelineResult
    ) -> None:
        """A run's requests become outbox rows; its pixels and cookies go to the browser."""
        for line in outcome.logs:
            log.info("template log", extra={"fields": {"tag": tag.id, "line": line}})
        key = facts.dedup_key
        for index, request in enumerate(outcome.requests):
            _last_scan(request)
            result.rows.append(
                OutboxRow(
                    container_id=self.id,
                    tag_id=tag.id,
                    destination=_netloc(request["url"]),
                    method=request["method"],
                    url=request["url"],
                    headers=orjson.dumps(request["headers"], option=orjson.OPT_SORT_KEYS),
                    body=(request["body"] or "").encode("utf-8"),
                    event_name=facts.event_name,
                    event_id=facts.event_id,
                    dedup_key=key if key is None or index == 0 else f"{key}#{index}",
                    platform=tag.platform,
                    event_time_ms=facts.event_time_ms,
                    lead_id=facts.lead_id,
                    value=facts.value,
                    currency=facts.currency,
                    held=False,
                )
            )
        result.pixels.extend(outcome.pixels)
        result.cookies.extend(outcome.cookies)

    def _fail(
        self,
        tag: CompiledTag,
        hit: Hit,
        facts: _Facts,
        error: TemplateError,
        result: PipelineResult,
        cause: str,
    ) -> None:
        """Keep the failed run with its hit; `cause` decides whether it is retried."""
        tag.counters.failed.inc()
        TAG_FAILURES.labels(self.id, tag.id, error.kind).inc()
        log.warning(
            "tag failed",
            extra={"fields": {"container": self.id, "tag": tag.id, "event_id": hit.event_id,
                              "kind": error.kind, "reason": error.message}},
        )  # fmt: skip
        record = HitRecord(
            self.env, template_event(hit), dict(hit.cookies), hit.received_ms, *facts
        )
        now = hit.received_ms
        result.failures.append(
            failed_run(self.id, tag.id, tag.platform, record, error.kind, error.message,
                       retry_at(cause, 1, now))
        )  # fmt: skip

    def rerun(self, tag_id: str, record: HitRecord, result: PipelineResult) -> None:
        """Run one tag again on a stored hit, adding its rows to `result` (pixels and
        cookies are dropped: the browser is long gone). Triggers and consent are not
        asked again: they allowed the tag when the hit came. Raises RerunError."""
        tag = self.tag(tag_id)
        if tag is None:
            raise RerunError(
                "runtime", f"tag {tag_id!r} is not in version {self.version} (removed or off)"
            )
        held = self.quarantine.holds(tag.id)
        if held is not None:
            refused = _quarantine_error(held)
            raise RerunError(refused.kind, refused.message)
        try:
            template = tag.binding.for_hit(
                self.runtime, lambda: Resolver(record_hit(self.id, record), self.variables)
            )
        except TemplateError as exc:
            raise RerunError(exc.kind, exc.message) from None
        context = self.runtime.hit_context(record.event, record.cookies, record.received_ms)
        outcome = self.runtime.execute(template, context)
        error = outcome.error
        self._count(tag, outcome)
        if error is not None:
            raise RerunError(error.kind, error.message)
        facts = _Facts(
            record.event_name, record.event_id, record.event_time_ms, record.dedup_key,
            record.lead_id, record.value, record.currency,
        )  # fmt: skip
        self._produced(tag, outcome, facts, result)

    def trial(self, tag_id: str, hit: Hit, result: PipelineResult) -> Trial:
        """Run one tag on a hit whatever its triggers say (a test fire), adding its rows to
        `result` without fire-once keys (a test must not use up a real lead's). Consent is
        still asked: a tag it refuses does not run. Nothing is counted or quarantined."""
        tag = self.tag(tag_id)
        if tag is None:
            raise TrialRefused("tag", f"{tag_id!r} is not an enabled tag of the container")
        state = _HitRun(self, hit)
        fires = state.tag_fires(tag)
        ran = self._attempt(state, tag, result, fire_once=False)
        return Trial(hit.event_id, fires, ran.outcome != "blocked_by_consent", ran.consent,
                     ran.error, ran.logs, ran.pixels, len(ran.rows))  # fmt: skip

    def traced(self, hit: Hit, result: PipelineResult, fire_once: bool) -> list[TagTrace]:
        """Run every tag as `run` decides it, reporting each one's fate (for a preview):
        its triggers, the consent decision, the template's outcome and the rows it added
        to `result`. With `fire_once` False the rows take no fire-once key, so a test does
        not use up a real lead's. A failed run is reported, not kept for a retry."""
        state = _HitRun(self, hit)
        return [
            self._attempt(state, tag, result, fire_once)
            if state.tag_fires(tag)
            else TagTrace(tag.id, tag.platform, "not_fired")
            for tag in self.tags
        ]

    def _attempt(
        self, state: _HitRun, tag: CompiledTag, result: PipelineResult, fire_once: bool
    ) -> TagTrace:
        """One tag run that is reported rather than counted (a trial, a trace): consent
        asked, the template run, its rows added to `result`."""
        decision = state.consent(tag)
        if not decision.allowed:
            return TagTrace(tag.id, tag.platform, "blocked_by_consent", decision.reason)
        try:
            template = tag.binding.for_hit(self.runtime, state.resolver)
        except TemplateError as exc:
            return TagTrace(tag.id, tag.platform, "failed", decision.reason, str(exc))
        outcome = self.runtime.execute(template, state.context())
        logs = tuple(outcome.logs)
        if outcome.error is not None:
            return TagTrace(tag.id, tag.platform, "failed", decision.reason, str(outcome.error),
                            logs)  # fmt: skip
        hit = state.hit
        before = len(result.rows)
        self._produced(tag, outcome, _facts(hit, tag.dedup_key(hit) if fire_once else None),
                       result)  # fmt: skip
        return TagTrace(tag.id, tag.platform, "fired", decision.reason, None, logs,
                        tuple(outcome.pixels), tuple(result.rows[before:]))  # fmt: skip

    def firing_tags(self, hit: Hit) -> list[str]:
        """The tags the hit's triggers select and its consent allows, without running
        them: each must end as outbox rows or a failed run (tests and previews check it)."""
        state = _HitRun(self, hit)
        return [tag.id for tag in self.tags if state.tag_fires(tag) and state.consent(tag).allowed]

    def tag(self, tag_id: str) -> CompiledTag | None:
        for tag in self.tags:
            if tag.id == tag_id:
                return tag
        return None


def _quarantine_error(held: Quarantined) -> TemplateError:
    return TemplateError(
        "limit" if held.kind != "deadline" else "deadline",
        f"quarantined: the tag kept failing with {held.kind} ({held.reason}); "
        f"not run for {held.period_s:.0f} s",
    )
