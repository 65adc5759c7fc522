"""What a handler module does around its own import, which is most of a cold start.

Everything built then (modules, classes, the model) lives as long as the execution environment,
and the cyclic garbage collector would walk it over and over while it is being built: a large
share of the import time. A handler module pauses the collector before its imports and resumes
it once it is ready, freezing what init built out of later collections. Standard library only,
so importing this costs nothing.
"""

from __future__ import annotations

import gc

# Variables the deployment sets on every function (CDK and the local cloud): pydantic looks for
# plugins among all installed distributions on first use unless told there are none.
RUNTIME_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}


def pause_garbage_collection() -> bool:
    """Turns the cyclic collector off; whether it was on, for `resume_garbage_collection`."""
    was_enabled = gc.isenabled()
    gc.disable()
    return was_enabled


def resume_garbage_collection(was_enabled: bool) -> None:
    """Moves everything alive now out of the collector's sight and turns it back on (unless it
    was off before the pause)."""
    gc.freeze()
    if was_enabled:
        gc.enable()
