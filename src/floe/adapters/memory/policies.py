"""Policies in memory: what a test attaches to a table is what applies to it."""

from __future__ import annotations

import threading

from floe.domain.identifiers import TableIdentifier
from floe.domain.policies import AppliedPolicy
from floe.ports.policies import PolicyPort


class MemoryPolicies(PolicyPort):
    """The policies attached to tables in this process (none until :meth:`attach`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attached: dict[TableIdentifier, list[AppliedPolicy]] = {}

    def attach(self, identifier: TableIdentifier, policy: AppliedPolicy) -> None:
        """Apply ``policy`` to the table, replacing one of the same type.

        Args:
            identifier: The table.
            policy: The policy.
        """
        with self._lock:
            kept = [
                p for p in self._attached.get(identifier, []) if p.policy_type != policy.policy_type
            ]
            self._attached[identifier] = [*kept, policy]

    def applicable_policies(self, identifier: TableIdentifier) -> tuple[AppliedPolicy, ...]:
        """The policies attached to the table; see :class:`PolicyPort`."""
        with self._lock:
            return tuple(self._attached.get(identifier, ()))
