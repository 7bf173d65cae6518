"""A real S3-compatible server on 127.0.0.1 for the tests (moto's standalone server), started
once per test process on first use and stopped at exit, with one bucket."""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

BUCKET = "lumbung-tests"
#: what pyarrow (and boto) read from the environment: any keys do for moto
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

_lock = threading.Lock()
_endpoint: str | None = None


def endpoint() -> str:
    """``127.0.0.1:PORT`` of the running server (started now if it is not)."""
    global _endpoint
    with _lock:
        if _endpoint is None:
            from moto.server import ThreadedMotoServer

            os.environ.update(CREDENTIALS)
            server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            atexit.register(server.stop)
            _endpoint = f"{host}:{port}"
            import boto3

            s3 = boto3.client("s3", endpoint_url=f"http://{_endpoint}", region_name="us-east-1")
            s3.create_bucket(Bucket=BUCKET)
        return _endpoint


def uri(prefix: str) -> str:
    """An ``s3://`` URI under the test bucket, with the server as its endpoint."""
    return f"s3://{BUCKET}/{prefix}?endpoint_override={endpoint()}&scheme=http"
