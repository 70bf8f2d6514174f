"""The outermost safety net: nothing under /v1/ ever answers HTML, even a crash in middleware."""

from __future__ import annotations

import logging

from pools.api.envelope import answer, as_service_error, new_req_id
from pools.choices import Code

log = logging.getLogger("ipresmgr.api")


class V1JsonErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/v1/"):
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            log.exception("unhandled error on %s", request.path)
            return self._answer_error(exc)
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        code = Code.INTERNAL if response.status_code >= 500 else Code.INVALID_REQUEST
        return answer(new_req_id(), code, f"HTTP {response.status_code}", status=response.status_code)

    def process_exception(self, request, exc):
        if not request.path.startswith("/v1/"):
            return None
        error = as_service_error(exc)
        if error.code == Code.INTERNAL:
            log.exception("unhandled error on %s", request.path, exc_info=exc)
        return self._answer_error(exc)

    @staticmethod
    def _answer_error(exc: Exception):
        error = as_service_error(exc)
        return answer(new_req_id(), error.code, error.msg, status=error.http_status)
