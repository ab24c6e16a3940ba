"""Durations on the command line: ``7d``, ``12h``, ``1d12h``, ``30m``, ``90s``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

import click

_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """An age such as ``3d`` or ``1d12h``.

    Raises:
        click.BadParameter: Not such a text (a usage error).
    """
    compact = text.strip().lower().replace(" ", "")
    if not compact or _PART.sub("", compact):
        raise click.BadParameter(f"{text!r} is not a duration such as 7d, 12h, 1d12h, 30m or 90s")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(compact)))


def duration_option(_: click.Context, __: click.Parameter, value: str | None) -> timedelta | None:
    """A click option callback turning the option's text into a :class:`timedelta`."""
    return None if value is None else parse_duration(value)
