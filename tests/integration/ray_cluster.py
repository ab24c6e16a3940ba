"""One small local Ray for a test module: 2 CPUs, no dashboard, no progress bars, quiet."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType


def local(ray: ModuleType) -> Iterator[None]:
    """Start Ray, yield while the module's tests run, shut it down (a fixture's body)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()
