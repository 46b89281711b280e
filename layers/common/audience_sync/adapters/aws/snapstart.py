"""Lambda SnapStart for the functions on the request path (template: `SnapStart` on the ingest, the management API
and the platform API; docs/decisions/0021-snapstart.md).

Lambda runs a SnapStart function's init once, when a version is published, and restores every new container from a
snapshot of it. So:
- every handler builds its services at init (`Core.warm`, decision 0026), which for these functions is before the
  snapshot: their SDK clients, with the service models botocore loads from disk, are in the snapshot and in no
  container's first invocation. Building opens no connection and sends nothing
  (tests/integration/platform/test_snapstart.py), so no restored container inherits a socket;
- after each restore what must differ between containers is made again: the ingest's container id (its share of
  the ledger), and the random module's state (the writers' back-off jitter).
Credentials need nothing: a SnapStart function gets them from Lambda's container credentials endpoint, and botocore
refreshes them before they expire, after a restore as at any other time.

The hooks are registered with Lambda's runtime library (`snapshot_restore_py`, in the Python managed runtimes). Off
Lambda, and on a function without SnapStart, they are never called; where the library is not installed at all
(local mode without it) nothing is registered.
"""

from __future__ import annotations

import random

from audience_sync.pipeline.ingest import renew_container_id


def register() -> bool:
    """Renew what containers must not share after each restore. True if the runtime's hook library was there to
    register with."""
    try:
        # at init (register is called by a handler's import); only Lambda's runtime has the library
        from snapshot_restore_py import register_after_restore  # noqa: PLC0415
    except ImportError:  # not Lambda's runtime, and not installed: there is no snapshot to prepare for
        return False
    register_after_restore(after_restore)
    return True


def after_restore() -> None:
    renew_container_id()
    random.seed()  # from os.urandom: every restored container its own jitter
