"""What a successful change leaves on the next page: its sentence, and a receipt a support
ticket can quote (ByCloud's request ID of the answer, the console's own, and the call as curl).

The receipt is a second Django message (``extra_tags="receipt"``) holding HTML rendered here from
``backups/_receipt.html`` (every value autoescaped; the message storage keeps it marked safe and
is signed or server-side). ``base.html`` shows it outside ``#alerts``, so the poll that replaces
"Backup X is being created" with the final state leaves the receipt in place.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.template.loader import render_to_string

from audit.record import console_request_id
from backups.api import ApiKey, Sent
from backups.curl import curl_for

RECEIPT_TAG = "receipt"


def success(request: HttpRequest, sent: Sent[Any], sentence: str) -> None:
    """``sentence`` as the success message, then the receipt of ``sent``."""
    messages.success(request, sentence)
    html = render_to_string(
        "backups/_receipt.html",
        {
            "request_id": sent.request_id,
            "console_request_id": console_request_id(request),
            "curl": curl_for(sent, request.console.credential_kind),
            "api_key": request.console.credential_kind == ApiKey.kind,
        },
    )
    messages.info(request, html, extra_tags=RECEIPT_TAG)
