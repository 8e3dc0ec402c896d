"""Fault injection: named, parameterised misbehaviours a test switches on and off.

``world.faults.enable(name, **params)``; ``disable(name)``; ``active()``.

throttle          ThrottlingException bursts. ``next=K`` throttles the next K calls
                  (default 3, which botocore's default retries absorb), ``every=N``
                  throttles every Nth call until disabled; ``operations=[...]`` limits it.
internal-failure  The next ``count`` (default 1) calls of ``operation`` (default
                  CreateHsm) fail with CloudHsmInternalFailureException (HTTP 500).
hsm-degraded      The next ``count`` (default 1) HSMs created (optionally only in
                  ``cluster_id``) end DEGRADED instead of ACTIVE and never recover.
az-unsupported    ``az=...``: CreateHsm in that AZ is accepted but the HSM ends DEGRADED
                  (the facts page: the failure "can surface late"). Repeat to add AZs.
backup-stuck      Backups started while enabled stay CREATE_IN_PROGRESS for ever.
copy-fails        Copies started while enabled end DELETED instead of READY.
hsm-failure       ``cluster_id=...`` (``hsm_id=...`` optional): one ACTIVE HSM turns
                  DEGRADED at once. A one-shot event, so it never shows in active().
backups-stopped   The service makes no automatic daily backups while enabled.
key-missing       Clusters restored while enabled lack one of the backup's keys.
key-corrupt       Clusters restored while enabled hold one key whose value differs.
bad-pin           Clusters restored while enabled refuse the verification crypto user's
                  PIN. These three need a key store (keystore.py) to have any effect.

``fired()`` counts what actually happened (a call throttled, an HSM made DEGRADED, a
backup left stuck...), by fault: a fault that is enabled but never fires shows no count.
``az-unsupported`` counts per zone (``az-unsupported:ZONE``) and ``hsm-failure`` per
cluster (``hsm-failure:CLUSTER``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

FAULT_NAMES: tuple[str, ...] = (
    "throttle",
    "internal-failure",
    "hsm-degraded",
    "az-unsupported",
    "backup-stuck",
    "copy-fails",
    "hsm-failure",
    "backups-stopped",
    "key-missing",
    "key-corrupt",
    "bad-pin",
)
KEY_FAULTS = frozenset({"key-missing", "key-corrupt", "bad-pin"})

_ALLOWED_PARAMS: dict[str, frozenset[str]] = {
    "throttle": frozenset({"next", "every", "operations"}),
    "internal-failure": frozenset({"count", "operation"}),
    "hsm-degraded": frozenset({"count", "cluster_id"}),
    "az-unsupported": frozenset({"az"}),
    "backup-stuck": frozenset(),
    "copy-fails": frozenset(),
    "hsm-failure": frozenset({"cluster_id", "hsm_id"}),
    "backups-stopped": frozenset(),
    "key-missing": frozenset(),
    "key-corrupt": frozenset(),
    "bad-pin": frozenset(),
}


@dataclass
class _Throttle:
    remaining: int | None
    every: int | None
    operations: frozenset[str] | None
    seen: int = 0


@dataclass
class _Counted:
    remaining: int
    target: str | None


@dataclass
class _State:
    throttle: _Throttle | None = None
    internal_failure: _Counted | None = None
    hsm_degraded: _Counted | None = None
    unsupported_azs: set[str] = field(default_factory=set)
    # backup-stuck, copy-fails, backups-stopped and the KEY_FAULTS
    flags: set[str] = field(default_factory=set)
    fired: Counter[str] = field(default_factory=Counter)


HsmFailureHook = Callable[[str, str | None], None]


class FaultBoard:
    """Holds the enabled faults; the world asks it questions at the decision points."""

    def __init__(self, lock: threading.RLock, on_hsm_failure: HsmFailureHook) -> None:
        self._lock = lock
        self._on_hsm_failure = on_hsm_failure
        self._state = _State()

    # -- public switchboard ---------------------------------------------------------
    def enable(self, name: str, **params: Any) -> None:
        self._check(name, params)
        with self._lock:
            if name == "throttle":
                self._state.throttle = self._throttle_from(params)
            elif name == "internal-failure":
                self._state.internal_failure = _Counted(
                    remaining=_positive(params.get("count", 1), "count"),
                    target=str(params.get("operation", "CreateHsm")),
                )
            elif name == "hsm-degraded":
                cluster_id = params.get("cluster_id")
                self._state.hsm_degraded = _Counted(
                    remaining=_positive(params.get("count", 1), "count"),
                    target=None if cluster_id is None else str(cluster_id),
                )
            elif name == "az-unsupported":
                if "az" not in params:
                    raise ValueError("az-unsupported needs az=<availability zone>")
                self._state.unsupported_azs.add(str(params["az"]))
            elif name == "hsm-failure":
                if "cluster_id" not in params:
                    raise ValueError("hsm-failure needs cluster_id=<cluster id>")
                hsm_id = params.get("hsm_id")
                cluster_id = str(params["cluster_id"])
                self._on_hsm_failure(cluster_id, None if hsm_id is None else str(hsm_id))
                self._state.fired[f"hsm-failure:{cluster_id}"] += 1
            else:
                self._state.flags.add(name)

    def disable(self, name: str) -> None:
        self._check(name, {})
        with self._lock:
            if name == "throttle":
                self._state.throttle = None
            elif name == "internal-failure":
                self._state.internal_failure = None
            elif name == "hsm-degraded":
                self._state.hsm_degraded = None
            elif name == "az-unsupported":
                self._state.unsupported_azs.clear()
            else:
                self._state.flags.discard(name)

    def clear(self) -> None:
        with self._lock:
            self._state = _State()

    def active(self) -> dict[str, dict[str, Any]]:
        """Enabled faults and their remaining parameters."""
        with self._lock:
            state = self._state
            result: dict[str, dict[str, Any]] = {}
            if state.throttle is not None:
                result["throttle"] = {
                    "next": state.throttle.remaining,
                    "every": state.throttle.every,
                    "operations": sorted(state.throttle.operations or []) or None,
                }
            if state.internal_failure is not None:
                result["internal-failure"] = {
                    "count": state.internal_failure.remaining,
                    "operation": state.internal_failure.target,
                }
            if state.hsm_degraded is not None:
                result["hsm-degraded"] = {
                    "count": state.hsm_degraded.remaining,
                    "cluster_id": state.hsm_degraded.target,
                }
            if state.unsupported_azs:
                result["az-unsupported"] = {"azs": sorted(state.unsupported_azs)}
            for flag in sorted(state.flags):
                result[flag] = {}
            return result

    def is_active(self, name: str) -> bool:
        return name in self.active()

    def fired(self) -> dict[str, int]:
        """How many times each fault has fired so far (see the module docstring)."""
        with self._lock:
            return {name: count for name, count in self._state.fired.items() if count}

    # -- decision points used by the world -------------------------------------------
    def take_throttle(self, operation: str) -> bool:
        with self._lock:
            throttle = self._state.throttle
            if throttle is None:
                return False
            if throttle.operations is not None and operation not in throttle.operations:
                return False
            throttle.seen += 1
            if throttle.every is not None:
                hit = throttle.seen % throttle.every == 0
            else:
                assert throttle.remaining is not None
                throttle.remaining -= 1
                if throttle.remaining <= 0:
                    self._state.throttle = None
                hit = True
            self._state.fired["throttle"] += hit
            return hit

    def take_internal_failure(self, operation: str) -> bool:
        with self._lock:
            fault = self._state.internal_failure
            if fault is None or fault.target != operation:
                return False
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._state.internal_failure = None
            self._state.fired["internal-failure"] += 1
            return True

    def take_hsm_degraded(self, cluster_id: str) -> bool:
        with self._lock:
            fault = self._state.hsm_degraded
            if fault is None or fault.target not in (None, cluster_id):
                return False
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._state.hsm_degraded = None
            self._state.fired["hsm-degraded"] += 1
            return True

    def az_unsupported(self, availability_zone: str) -> bool:
        """Asked once per CreateHsm: True makes that HSM end DEGRADED."""
        with self._lock:
            hit = availability_zone in self._state.unsupported_azs
            self._state.fired[f"az-unsupported:{availability_zone}"] += hit
            return hit

    def flag(self, name: str) -> bool:
        """Asked where the flag changes what happens: True means it does now."""
        with self._lock:
            hit = name in self._state.flags
            self._state.fired[name] += hit
            return hit

    def key_damage(self) -> frozenset[str]:
        """The key faults a restore made now suffers."""
        with self._lock:
            damage = frozenset(self._state.flags & KEY_FAULTS)
            self._state.fired.update(damage)
            return damage

    # -- helpers ---------------------------------------------------------------------
    @staticmethod
    def _check(name: str, params: dict[str, Any]) -> None:
        if name not in FAULT_NAMES:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        unknown = set(params) - _ALLOWED_PARAMS[name]
        if unknown:
            raise ValueError(f"fault {name!r} takes no parameter(s) {sorted(unknown)}")

    @staticmethod
    def _throttle_from(params: dict[str, Any]) -> _Throttle:
        every = params.get("every")
        remaining = params.get("next")
        if every is None and remaining is None:
            remaining = 3
        if every is not None and remaining is not None:
            raise ValueError("throttle takes next=K or every=N, not both")
        operations: Iterable[str] | None = params.get("operations")
        return _Throttle(
            remaining=None if remaining is None else _positive(remaining, "next"),
            every=None if every is None else _positive(every, "every"),
            operations=None if operations is None else frozenset(operations),
        )


def _positive(value: Any, name: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be >= 1")
    return number
