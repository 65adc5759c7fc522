"""What the functional tests of `functions/` drive the handlers with.

The resources, the events and the context are the ones the local cloud and the benchmarks use
(`infra.local.harness`, `infra.local.lambda_events`); what is only the tests' lives here: the
faults a test publishes on purpose, and reading a proxy response.
"""

from __future__ import annotations

import json
from typing import Any

from infra.local import harness
from infra.local.lambda_events import LambdaContext as FakeLambdaContext
from infra.local.lambda_events import api_event
from model_build import bundle

__all__ = ["Cloud", "FakeLambdaContext", "api_event", "response_json"]


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


class Cloud(harness.Cloud):
    def publish_variant(
        self, from_version: str, *, files: dict[str, bytes] | None = None, card_files: dict[str, bytes] | None = None
    ) -> str:
        """Publishes a new version made from an existing one and points ``current.json`` at it.

        ``files`` replaces file contents and records their sha256 in the card; ``card_files``
        replaces contents but leaves the card as it was (a corrupt upload).
        """
        version = bundle.new_version("bow")
        card = json.loads(self.get_model_object(f"{from_version}/{bundle.CARD_FILE}"))
        card["version"] = version
        contents = {
            name: self.get_model_object(f"{from_version}/{name}")
            for name in (bundle.MODEL_FILE, bundle.PREPROCESS_FILE)
        }
        for name, data in (files or {}).items():
            contents[name] = data
            card["files"][name] = {"sha256": bundle.sha256_bytes(data), "bytes": len(data)}
        contents.update(card_files or {})
        card_data = bundle.json_bytes(card)
        for name, data in {**contents, bundle.CARD_FILE: card_data}.items():
            self.put_model_object(f"{version}/{name}", data)
        pointer = bundle.Pointer(
            version=version, card_sha256=bundle.sha256_bytes(card_data), published_at=bundle.utc_now()
        )
        self.put_model_object(bundle.POINTER_FILE, pointer.to_json())
        return version
