"""Client for the ByCloud block-storage API (see shared/bycloud-api/openapi.yaml).

Import from here; :mod:`backups.api.factory` (Django-aware) is imported explicitly.
"""

from .client import ApiKey, BearerToken, ByCloudClient, Credential
from .errors import (
    ApiError,
    ApiTimeout,
    ApiUnavailable,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    RateLimited,
    ServerError,
    Unauthorized,
    UnexpectedResponse,
    Unprocessable,
)
from .models import (
    Attachment,
    Backup,
    BackupStatus,
    Page,
    RateLimit,
    RestoreResult,
    Snapshot,
    SnapshotStatus,
    Volume,
    VolumeStatus,
)

__all__ = [
    "ApiError",
    "ApiKey",
    "ApiTimeout",
    "ApiUnavailable",
    "Attachment",
    "Backup",
    "BackupStatus",
    "BadRequest",
    "BearerToken",
    "ByCloudClient",
    "Conflict",
    "Credential",
    "Forbidden",
    "NotFound",
    "NotSupported",
    "Page",
    "RateLimit",
    "RateLimited",
    "RestoreResult",
    "ServerError",
    "Snapshot",
    "SnapshotStatus",
    "Unauthorized",
    "UnexpectedResponse",
    "Unprocessable",
    "Volume",
    "VolumeStatus",
]
