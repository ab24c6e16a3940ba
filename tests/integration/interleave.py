"""A forced thread interleaving in PyIceberg's manifest evaluation (no timing, no mocks).

PyIceberg's ``_ManifestEvalVisitor.eval`` keeps the manifest it is judging
in an attribute (``self.partition_fields = manifest.partitions``) and then
reads it while visiting the filter. Two threads judging manifests with the
same visitor can therefore answer for each other's manifest when one thread
stores its manifest between the other's store and visit.

:func:`interleave_manifest_evaluations` makes that interleaving happen every
time: installed with :func:`threading.settrace` before any thread pool
exists, it holds the thread judging the ``target`` manifest just after its
store, until a thread judging another manifest has made its own store; the
two threads then go on. Each evaluation still runs PyIceberg's own code on
the real manifests of a real table; only the order of two steps in two
threads is fixed. The rendezvous happens once; later evaluations pass freely.

PyIceberg builds the evaluator a spec's manifests share when the first
thread asks for it; a thread switch in the middle would let a second thread
build one of its own. The interpreter's switch interval is made long, so a
thread gives the others their turn only where it waits (for I/O, a lock, or
the rendezvous): the first thread has built the evaluator before the second
looks for it, as nearly always happens anyway.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from pyiceberg.expressions.visitors import _ManifestEvalVisitor
from pyiceberg.manifest import ManifestFile

#: How long one thread waits for the other; far longer than a manifest
#: evaluation takes on any machine, and only ever waited for in full when the
#: code under test never evaluates two manifests at once.
WAIT_S = 60.0
#: Seconds a thread may run before it must let another have the interpreter.
SWITCH_INTERVAL_S = 1.0

Tracer = Callable[[FrameType, str, Any], Any]


def _line_of(source_fragment: str) -> int:
    lines, first = inspect.getsourcelines(_ManifestEvalVisitor.eval)
    matches = [first + i for i, line in enumerate(lines) if source_fragment in line]
    assert len(matches) == 1, f"PyIceberg's manifest evaluation changed: {source_fragment!r}"
    return matches[0]


class ManifestRendezvous:
    """The state of one forced interleaving; ``met`` tells whether it happened.

    Args:
        target: Whether a manifest is the one whose evaluation is held.
    """

    def __init__(self, target: Callable[[ManifestFile], bool]) -> None:
        self._target = target
        self._code = _ManifestEvalVisitor.eval.__code__
        self._store = _line_of("self.partition_fields = ")
        self._visit = _line_of("return visit(")
        self._target_stored = threading.Event()
        self._other_stored = threading.Event()
        self._lock = threading.Lock()
        self._armed = True
        self.met = False

    def tracer(self, frame: FrameType, event: str, arg: Any) -> Tracer | None:
        """The global trace function: traces PyIceberg's manifest evaluation only."""
        if event != "call" or frame.f_code is not self._code or not self._armed:
            return None
        return self._local

    def _local(self, frame: FrameType, event: str, arg: Any) -> Tracer | None:
        if event != "line" or not self._armed:
            return None
        manifest = frame.f_locals.get("manifest")
        if not isinstance(manifest, ManifestFile) or not manifest.partitions:
            return self._local
        is_target = self._target(manifest)
        if frame.f_lineno == self._store and not is_target:
            # Store only after the target's store, so that it lands between
            # the target's store and the target's visit.
            self._target_stored.wait(WAIT_S)
        elif frame.f_lineno == self._visit and is_target:
            self._target_stored.set()
            met = self._other_stored.wait(WAIT_S)
            with self._lock:
                self.met = self.met or met
                self._armed = False
        elif frame.f_lineno == self._visit:
            self._other_stored.set()
        return self._local


def interleave_manifest_evaluations(target: Callable[[ManifestFile], bool]) -> ManifestRendezvous:
    """Force the interleaving in every thread started from now on.

    Args:
        target: Whether a manifest is the one whose evaluation is held.

    Returns:
        The rendezvous; its ``met`` is True once the interleaving happened.
    """
    rendezvous = ManifestRendezvous(target)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    threading.settrace(rendezvous.tracer)
    return rendezvous
