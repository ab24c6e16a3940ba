"""Namespace use cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from floe.application.inputs import NamespaceLike, as_namespace
from floe.domain.errors import NamespaceExistsError, NamespaceNotFoundError
from floe.domain.identifiers import Namespace
from floe.domain.models import NamespaceInfo
from floe.ports.catalog import CatalogPort


class NamespaceService:
    """Create, list, inspect, change and drop namespaces.

    Args:
        catalog: The catalog port to work on.
    """

    def __init__(self, catalog: CatalogPort) -> None:
        self._catalog = catalog

    def create(
        self,
        namespace: NamespaceLike,
        properties: Mapping[str, str] | None = None,
        *,
        create_parents: bool = False,
    ) -> NamespaceInfo:
        """Create a namespace.

        Args:
            namespace: ``("a", "b")`` or ``"a.b"``.
            properties: Properties of the new namespace (not of its parents).
            create_parents: Create missing parent namespaces first.

        Returns:
            The new namespace.

        Raises:
            InvalidIdentifierError: The name is malformed.
            NamespaceExistsError: It exists already.
            NamespaceNotFoundError: A parent is missing and ``create_parents`` is off.
        """
        ns = as_namespace(namespace)
        if create_parents:
            for depth in range(1, len(ns)):
                self._ensure(ns[:depth], None)
        return self._catalog.create_namespace(ns, properties)

    def create_if_not_exists(
        self,
        namespace: NamespaceLike,
        properties: Mapping[str, str] | None = None,
        *,
        create_parents: bool = True,
    ) -> NamespaceInfo:
        """Create a namespace unless it exists; idempotent and safe under races.

        Properties apply only when the namespace is created.

        Returns:
            The namespace, new or existing.

        Raises:
            InvalidIdentifierError: The name is malformed.
            NamespaceNotFoundError: A parent is missing and ``create_parents`` is off.
        """
        ns = as_namespace(namespace)
        if create_parents:
            for depth in range(1, len(ns)):
                self._ensure(ns[:depth], None)
        return self._ensure(ns, properties)

    def _ensure(self, ns: Namespace, properties: Mapping[str, str] | None) -> NamespaceInfo:
        try:
            return self._catalog.load_namespace(ns)
        except NamespaceNotFoundError:
            pass
        try:
            return self._catalog.create_namespace(ns, properties)
        except NamespaceExistsError:
            return self._catalog.load_namespace(ns)

    def list(self, parent: NamespaceLike = (), *, recursive: bool = False) -> list[Namespace]:
        """List child namespaces of ``parent`` (top level by default).

        Args:
            parent: The namespace whose children to list; ``()`` for the top.
            recursive: Include every descendant, depth first.

        Raises:
            NamespaceNotFoundError: ``parent`` does not exist.
        """
        root = as_namespace(parent) if parent not in ((), "", []) else ()
        children = self._catalog.list_namespaces(root)
        if not recursive:
            return children
        result: list[Namespace] = []
        for child in children:
            result.append(child)
            result.extend(self.list(child, recursive=True))
        return result

    def load(self, namespace: NamespaceLike) -> NamespaceInfo:
        """Return a namespace and its properties.

        Raises:
            NamespaceNotFoundError: It does not exist.
        """
        return self._catalog.load_namespace(as_namespace(namespace))

    def exists(self, namespace: NamespaceLike) -> bool:
        """Whether the namespace exists."""
        try:
            self._catalog.load_namespace(as_namespace(namespace))
        except NamespaceNotFoundError:
            return False
        return True

    def drop(self, namespace: NamespaceLike) -> None:
        """Drop an empty namespace.

        Raises:
            NamespaceNotFoundError: It does not exist.
            NamespaceNotEmptyError: It holds tables or namespaces.
        """
        self._catalog.drop_namespace(as_namespace(namespace))

    def update_properties(
        self,
        namespace: NamespaceLike,
        updates: Mapping[str, str] | None = None,
        removals: Sequence[str] = (),
    ) -> NamespaceInfo:
        """Set and remove namespace properties.

        Returns:
            The namespace with its new properties.

        Raises:
            NamespaceNotFoundError: It does not exist.
        """
        return self._catalog.update_namespace_properties(
            as_namespace(namespace), updates, tuple(removals)
        )
