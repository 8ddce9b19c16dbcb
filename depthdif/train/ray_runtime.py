"""Join or start the Ray runtime: the one `ensure_ray` of `depthdif train` and `depthdif study`.

Ray's own chatter (usage stats, V2 migration warnings) is turned down here, when a runtime is
actually wanted, never at import; a value the user set in the environment wins.
"""

from __future__ import annotations

import os

QUIET_RAY_ENV = {"RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def ensure_ray(address: str | None = None, *, log_to_driver: bool = True) -> bool:
    """Join `address` (or $RAY_ADDRESS), else start a local runtime; True if this call started it."""
    import ray

    for key, value in QUIET_RAY_ENV.items():
        os.environ.setdefault(key, value)
    if ray.is_initialized():
        return False
    ray.init(address=address or os.environ.get("RAY_ADDRESS") or "local", log_to_driver=log_to_driver)
    return True
