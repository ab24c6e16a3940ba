"""Vended storage credentials: used for their table's files, renewed before they expire.

A catalog asked for ``vended-credentials`` answers each table load or create
with short-lived storage credentials (``s3.access-key-id``,
``s3.session-token``…) and their expiry (``s3.session-token-expires-at-ms``
since Polaris 1.7, ``expiration-time`` before). PyIceberg builds the table's
FileIO from them once and never renews them, so a long write, a long scan or
a long-lived process fails when they expire. :class:`VendedFileIO` stands in
for that FileIO: before each file it opens it checks the expiry and, once the
credentials are past half their life (at most five minutes before expiry),
fetches fresh ones from the catalog and builds a new FileIO. A file the
storage refuses because its credentials expired anyway (a clock skewed
against the catalog's, credentials revoked early) is opened again once,
after one renewal; only that I/O step is repeated, never a catalog commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from pyiceberg.io import FileIO, InputFile, InputStream, OutputFile, OutputStream
from pyiceberg.typedef import Properties

#: Properties that carry a vended credential's expiry, in epoch milliseconds.
EXPIRY_KEYS = (
    "s3.session-token-expires-at-ms",
    "gcs.oauth2.token-expires-at",
    "expiration-time",
)
#: ADLS puts one expiry per storage account: ``adls.sas-token-expires-at-ms.<account>``.
_ADLS_EXPIRY_PREFIX = "adls.sas-token-expires-at-ms."
#: Renew at most this long before expiry (the AWS SDKs' own margin)...
MAX_RENEWAL_MARGIN_S = 300.0
#: ...and at the latest halfway through the credentials' life.
_RENEW_AT_LIFE_FRACTION = 0.5
#: Words storage errors use for credentials that expired (S3 ``ExpiredToken``,
#: the AWS C++ SDK's ``EXPIRED_TOKEN``, GCS/ADLS messages) or for a refusal
#: that may be one: S3 answers a HEAD request without a body, so an expired
#: token there reads as a bare 403 ``ACCESS_DENIED``.
_EXPIRED_MARKERS = (
    "expiredtoken",
    "expired_token",
    "token has expired",
    "token is expired",
    "access_denied",
    "accessdenied",
    "http status 403",
)

_T = TypeVar("_T")


def _is_expiry_key(key: str) -> bool:
    return key in EXPIRY_KEYS or key.startswith(_ADLS_EXPIRY_PREFIX)


def credentials_expiry_ms(properties: Mapping[str, str]) -> int | None:
    """The earliest expiry among vended credential ``properties`` (epoch ms), or None."""
    found: list[int] = []
    for key, value in properties.items():
        if _is_expiry_key(key):
            text = str(value).strip()
            if text.isdigit():
                found.append(int(text))
    return min(found) if found else None


def is_expired_credentials_error(error: BaseException) -> bool:
    """Whether ``error`` is storage refusing credentials that may have expired.

    A refusal that was not about expiry comes again after the one renewal:
    it is then raised as it is.
    """
    if not isinstance(error, OSError):
        return False
    text = str(error).lower()
    return any(marker in text for marker in _EXPIRED_MARKERS)


def refused_storage(error: BaseException) -> bool:
    """Whether ``error`` or one it was raised from is storage refusing expired credentials."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if is_expired_credentials_error(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def vends_credentials(catalog: object) -> bool:
    """Whether storage access comes only with tables (floe's REST catalog, configured so)."""
    return bool(getattr(catalog, "vends_credentials", False))


def renews_credentials(catalog: object) -> bool:
    """Whether ``catalog`` uses and renews the credentials tables come with."""
    return bool(getattr(catalog, "renews_credentials", False))


class VendedFileIO(FileIO):
    """A table's FileIO over vended credentials, renewed ahead of their expiry.

    Args:
        credentials: The vended credential properties the table came with.
        make_io: Builds a FileIO from credential properties (merged by the
            caller with the table's other properties).
        renew: Fetches fresh credential properties from the catalog.
        clock: Wall-clock seconds (the expiry is the catalog's wall clock).
    """

    def __init__(
        self,
        credentials: Properties,
        make_io: Callable[[Properties], FileIO],
        renew: Callable[[], Properties],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._make_io = make_io
        self._renew = renew
        self._clock = clock
        self._lock = threading.Lock()
        self._io = make_io(credentials)
        self._credentials = dict(credentials)
        self._renew_at: float | None = self._renewal_time(credentials)
        #: How many times fresh credentials were fetched.
        self.renewals = 0

    @property
    def properties(self) -> Properties:
        """The current FileIO's properties (the latest credentials)."""
        return self._io.properties

    @properties.setter
    def properties(self, value: Properties) -> None:
        self._io.properties = value

    @property
    def credentials(self) -> Properties:
        """The current vended credential properties."""
        with self._lock:
            return dict(self._credentials)

    def _renewal_time(self, credentials: Mapping[str, str]) -> float | None:
        expiry_ms = credentials_expiry_ms(credentials)
        if expiry_ms is None:
            return None
        expires = expiry_ms / 1000
        life = max(0.0, expires - self._clock())
        return expires - min(MAX_RENEWAL_MARGIN_S, life * _RENEW_AT_LIFE_FRACTION)

    def current(self) -> FileIO:
        """The FileIO to use now: renewed first when the credentials are due."""
        with self._lock:
            if self._renew_at is not None and self._clock() >= self._renew_at:
                self._renew_locked()
            return self._io

    def renew(self, stale: FileIO) -> FileIO:
        """Fresh credentials after ``stale``'s were refused (once, however many threads ask)."""
        with self._lock:
            if self._io is stale:
                self._renew_locked()
            return self._io

    def renew_now(self) -> None:
        """Fetch fresh credentials now (after a refusal the file level could not retry)."""
        with self._lock:
            self._renew_locked()

    def _renew_locked(self) -> None:
        # Settings that came with the table (an endpoint, a region) stay
        # unless the new set names them; the old expiry never does.
        kept = {k: v for k, v in self._credentials.items() if not _is_expiry_key(k)}
        credentials = {**kept, **self._renew()}
        self._io = self._make_io(credentials)
        self._credentials = credentials
        self._renew_at = self._renewal_time(credentials)
        self.renewals += 1

    def new_input(self, location: str) -> InputFile:
        return _RenewingInputFile(self, location)

    def new_output(self, location: str) -> OutputFile:
        return _RenewingOutputFile(self, location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        path = location if isinstance(location, str) else location.location
        self.once_more_if_expired(lambda io: io.delete(path))

    def once_more_if_expired(self, step: Callable[[FileIO], _T]) -> _T:
        """Run one I/O ``step``; refused for expired credentials, renew and run it once more."""
        io = self.current()
        try:
            return step(io)
        except OSError as exc:
            if not is_expired_credentials_error(exc):
                raise
        return step(self.renew(io))


class _RenewingInputFile(InputFile):
    """An input file opened with the credentials current when it is opened."""

    def __init__(self, owner: VendedFileIO, location: str) -> None:
        super().__init__(location)
        self._owner = owner

    def __len__(self) -> int:
        return self._owner.once_more_if_expired(lambda io: len(io.new_input(self.location)))

    def exists(self) -> bool:
        return self._owner.once_more_if_expired(lambda io: io.new_input(self.location).exists())

    def open(self, seekable: bool = True) -> InputStream:
        return self._owner.once_more_if_expired(
            lambda io: io.new_input(self.location).open(seekable=seekable)
        )


class _RenewingOutputFile(OutputFile):
    """An output file created with the credentials current when it is created.

    Its size is taken from the file it created (PyIceberg asks for it after
    writing, to record the data file's size).
    """

    def __init__(self, owner: VendedFileIO, location: str) -> None:
        super().__init__(location)
        self._owner = owner
        self._created: OutputFile | None = None

    def __len__(self) -> int:
        if self._created is not None:
            return len(self._created)
        return self._owner.once_more_if_expired(lambda io: len(io.new_output(self.location)))

    def exists(self) -> bool:
        return self._owner.once_more_if_expired(lambda io: io.new_output(self.location).exists())

    def to_input_file(self) -> InputFile:
        return _RenewingInputFile(self._owner, self.location)

    def create(self, overwrite: bool = False) -> OutputStream:
        def create(io: FileIO) -> OutputStream:
            target = io.new_output(self.location)
            stream = target.create(overwrite=overwrite)
            self._created = target
            return stream

        return self._owner.once_more_if_expired(create)
