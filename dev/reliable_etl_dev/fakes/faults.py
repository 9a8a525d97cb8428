"""Faults the fake server injects on demand: which request fails, and how."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from reliable_etl_dev.fakes.protocol import Call

# Faults any API can suffer; the server applies them around the normal answer.
TRANSPORT_KINDS = frozenset({"timeout", "reset", "truncated_json", "invalid_json"})
KINDS = {
    "github": TRANSPORT_KINDS
    | {
        "rate_limit",
        "secondary_rate_limit",
        "http_502",
        "http_504",
        "invalid_cursor",
        "reorder",
        "corrupt_record",
        "corrupt_page",
    },
    "jira": TRANSPORT_KINDS
    | {"rate_limit", "http_502", "http_504", "invalid_token", "reorder", "corrupt_record", "corrupt_page"},
}
# Faults that only make sense on a request that continues a walk.
CURSOR_KINDS = frozenset({"invalid_cursor", "invalid_token"})


@dataclass
class Fault:
    """Fail requests ``at_request .. at_request + times - 1`` of one kind (``times=0``: forever).

    Requests are counted per (service, entity) from the moment the fault is added, over the
    kind ``params["on"]`` (default "page"), faulted ones included. ``entity=None`` matches every
    entity, each counted on its own. ``params["above"]`` limits the fault to pages larger than
    that size; the other params are read by the kind that needs them: ``reset_after`` (rate
    limits, seconds), ``delay`` (timeout, seconds), ``keys`` / ``numbers`` / ``count`` and
    ``from`` ("end", the default, or "start" of the result order) for reorder.
    """

    service: str
    kind: str
    entity: str | None = None
    at_request: int = 1
    times: int = 1
    params: dict | None = None

    def __post_init__(self) -> None:
        if self.service not in KINDS:
            raise ValueError(f"unknown service {self.service!r}: expected one of {sorted(KINDS)}")
        if self.kind not in KINDS[self.service]:
            raise ValueError(
                f"{self.service} has no fault {self.kind!r}: expected one of {sorted(KINDS[self.service])}"
            )
        if self.at_request < 1 or self.times < 0:
            raise ValueError("at_request starts at 1 and times is 0 (forever) or more")
        self.params = dict(self.params or {})

    @property
    def on(self) -> str:
        return self.params.get("on", "page")

    def watches(self, service: str, call: Call) -> bool:
        return service == self.service and call.kind == self.on and self.entity in (None, call.entity)

    def due(self, number: int) -> bool:
        return number >= self.at_request and (self.times == 0 or number < self.at_request + self.times)

    def fits(self, call: Call) -> bool:
        if "above" in self.params and (call.page_size or 0) <= self.params["above"]:
            return False
        return call.has_cursor or self.kind not in CURSOR_KINDS


class Faults:
    """The faults armed on one server; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[tuple[Fault, Counter]] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._armed.append((fault, Counter()))
        return fault

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def fire(self, service: str, call: Call) -> Fault | None:
        """Count the request against every fault watching it; the first one due fires."""
        fired = None
        with self._lock:
            for fault, seen in self._armed:
                if not fault.watches(service, call):
                    continue
                seen[call.entity] += 1
                if fired is None and fault.due(seen[call.entity]) and fault.fits(call):
                    fired = fault
        return fired
