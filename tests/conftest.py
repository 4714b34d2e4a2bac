"""Shared test configuration."""

import pytest
from django.core.cache import caches


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Templates without a collectstatic manifest; every poll asks the API (tests of the
    sharing between tabs turn it on themselves)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.BYCLOUD_POLL_SHARE_SECONDS = 0
    caches["polls"].clear()
