"""Run by a bare CPython 3.12 (``python -I -S``) the way Lambda would run the package.

Usage: ``python -I -S lambda_probe.py PACKAGE_DIR RUNTIME_SDK_DIR OUTPUT`` with an API Gateway
event on stdin. The package comes first on the path and the runtime's AWS SDK after it, nothing
else: an import the package cannot satisfy fails here as it would in Lambda. Writes one JSON
object to OUTPUT (stdout carries the functions' logs): where each module came from (the named
ones, and every module loaded by the end), where the interpreter's standard library is, and what
``functions.api`` answered.
"""

import importlib
import json
import sys
import sysconfig
import uuid


class LambdaContext:
    function_name = "sentiment-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 1769
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sentiment-api"
    aws_request_id = str(uuid.uuid4())
    log_group_name = "/aws/lambda/sentiment-api"
    log_stream_name = "probe"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def main() -> None:
    package, runtime_sdk, output = sys.argv[1:4]
    sys.path[:0] = [package, runtime_sdk]
    modules = {
        name: importlib.import_module(name)
        for name in (
            "functions.api",
            "functions.jobs",
            "functions.uploads",
            "numpy",
            "onnxruntime",
            "pydantic_core",
            "aws_xray_sdk.core",
        )
    }
    event = json.load(sys.stdin)
    response = modules["functions.api"].lambda_handler(event, LambdaContext())
    loaded = {
        name: module.__file__
        for name, module in list(sys.modules.items())
        if getattr(module, "__file__", None) and name != "__main__"  # this script
    }
    result = {
        "files": {name: module.__file__ for name, module in modules.items()},
        "loaded": loaded,
        "stdlib": sysconfig.get_paths()["stdlib"],
        "response": response,
    }
    with open(output, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
