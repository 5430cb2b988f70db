"""An emulator running in another process, driven through its admin endpoints.

``python -m powertokens.emulator --port 8787 --api-key KEY`` in one terminal (or a CI
service container), ``pytest --powertokens-emulator-url http://127.0.0.1:8787/v1`` in
another: the fixtures then script faults and read requests over HTTP instead of in-process
(``GET /_emulator/health``, ``POST /_emulator/faults``, ``GET /_emulator/requests``,
``POST /_emulator/reset``; see ``docs/testing.md``).
"""

from __future__ import annotations

from typing import Any

import httpx

from powertokens.emulator import FaultSpecError, RecordedRequest

__all__ = ["RemoteEmulator"]

_ADMIN_TIMEOUT = 10.0


class RemoteEmulator:
    """The part of :class:`~powertokens.emulator.Emulator`'s interface the fixtures use,
    for an emulator served by another process at ``url`` (its base URL, ``.../v1``)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        root = self.url.removesuffix("/v1")
        self._admin = httpx.Client(base_url=f"{root}/_emulator", timeout=_ADMIN_TIMEOUT)

    def __repr__(self) -> str:
        return f"<RemoteEmulator {self.url}>"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._admin.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise RuntimeError(f"no emulator answers at {self.url} ({exc})") from exc
        if response.status_code == 400 and path == "/faults":
            raise FaultSpecError(response.json()["error"]["message"])
        if response.status_code != 200:
            raise RuntimeError(
                f"{self.url} is not a PowerTokens emulator: {method} /_emulator{path} "
                f"answered {response.status_code}"
            )
        return response.json()

    def check(self) -> RemoteEmulator:
        """Raise unless an emulator answers its health check; return self."""
        self._call("GET", "/health")
        return self

    def push_fault(self, spec: str, times: int = 1) -> None:
        """Queue a fault for the next ``times`` chat requests; raises on an unknown spec."""
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        self._call("POST", "/faults", {"faults": [spec] * times})

    def _log(self) -> dict[str, Any]:
        log: dict[str, Any] = self._call("GET", "/requests")
        return log

    @property
    def requests(self) -> list[RecordedRequest]:
        """The chat requests received since the last reset."""
        return [RecordedRequest(**item) for item in self._log()["requests"]]

    @property
    def request_count(self) -> int:
        """Chat requests received since the last reset."""
        count: int = self._log()["request_count"]
        return count

    def reset(self) -> None:
        """Clear the fault queue, the request log, the prompt cache and the counters."""
        self._call("POST", "/reset")

    def close(self) -> None:
        """Close the admin connection (the emulator keeps running)."""
        self._admin.close()
