"""The one exception type the views raise; app.py renders it as the contract's error body."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        details: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers or {}


def bad_request(message: str, details: str | None = None) -> ApiError:
    return ApiError(400, message, details)


def not_found(message: str, details: str | None = None) -> ApiError:
    return ApiError(404, message, details)


def conflict(message: str, details: str | None = None) -> ApiError:
    return ApiError(409, message, details)
