"""The policies port: the maintenance policies a catalog applies to a table."""

from __future__ import annotations

import abc

from floe.domain.identifiers import TableIdentifier
from floe.domain.policies import AppliedPolicy


class PolicyPort(abc.ABC):
    """Reads the policies a catalog applies to a table (Apache Polaris' policy API).

    A catalog without policies (one that does not serve the endpoint, the
    embedded catalog) applies none: that is an empty answer, not an error.
    """

    @abc.abstractmethod
    def applicable_policies(self, identifier: TableIdentifier) -> tuple[AppliedPolicy, ...]:
        """The policies that apply to the table, its own and inherited ones, content unparsed.

        Raises:
            CatalogError: The catalog's answer could not be read or made no
                sense (``CatalogConnectionError`` when it could not be
                reached).
        """
