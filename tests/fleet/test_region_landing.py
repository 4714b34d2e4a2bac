"""A region switch from a fleet page comes back to it: jobs and the overview span regions."""

from __future__ import annotations

import uuid

import pytest
from django.test import RequestFactory
from django.urls import resolve

from console.regions import landing_after_switch


@pytest.mark.parametrize(
    ("path", "landing"),
    [
        ("/jobs", "/jobs"),
        (f"/jobs/{uuid.UUID(int=7)}", f"/jobs/{uuid.UUID(int=7)}"),
        ("/protection?state=failing", "/protection?state=failing"),
        ("/volumes?name=web", "/volumes"),
    ],
)
def test_a_switch_lands_back_on_pages_that_span_regions(path, landing):
    request = RequestFactory().get(path)
    request.resolver_match = resolve(path.split("?")[0])
    assert landing_after_switch(request) == landing
