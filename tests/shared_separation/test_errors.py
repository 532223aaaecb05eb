"""The one catalogue of error codes: complete, documented, and what failures store."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from core.jobs import services
from core.jobs.models import Job, LinkImport
from core.web import advice
from shared_separation import errors
from shared_separation.errors import CATALOGUE, Code, status_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_code_has_an_entry_that_fits_the_rows() -> None:
    assert set(CATALOGUE) == set(Code)
    assert all(len(code) <= 32 for code in Code)  # error_code columns are 32 characters
    assert all(100 <= entry.status < 600 and entry.meaning for entry in CATALOGUE.values())
    assert status_of("too_large") == 413 and status_of("no such code") == 400


def test_docs_api_lists_every_code_as_the_catalogue_says() -> None:
    text = DOCS.read_text()
    found = re.search(r"<!-- error codes: begin -->\n(.*?)<!-- error codes: end -->", text, re.S)
    assert found, "docs/api.md has no generated table of codes"
    out = StringIO()
    call_command("error_codes", stdout=out)
    assert found.group(1) == out.getvalue(), "run `manage.py error_codes` and paste its table"
    listed = set(re.findall(r"^\| \d{3} \| `([a-z_]+)` \|", found.group(1), re.M))
    assert listed == {str(code) for code in Code}


def test_the_pages_advice_is_keyed_by_catalogue_codes() -> None:
    assert set(advice.JOB_ADVICE) <= set(Code) and set(advice.LINK_ADVICE) <= set(Code)
    assert advice.for_job("decode_failed") == advice.JOB_ADVICE[Code.DECODE_FAILED]
    assert advice.for_job("not a code") == advice.DEFAULT_JOB_ADVICE
    assert advice.for_link("playlist") == advice.LINK_ADVICE[Code.PLAYLIST]
    assert advice.for_link("") == advice.DEFAULT_LINK_ADVICE


@pytest.mark.django_db
def test_a_failure_with_a_code_outside_the_catalogue_is_stored_as_error_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = services.submit(
        ContentFile(b"some bytes", name="a.mp3"),
        services.Submission(original_name="a.mp3", stem="vocals"),
    )
    assert services.fail_separation(job.separation_id, code="made_up", message="Broken.")
    job.refresh_from_db()
    assert (job.status, job.error_code, job.error_message) == (
        Job.Status.FAILED,
        "error",
        "Broken.",
    )
    assert "'made_up' is not in shared_separation/errors.py" in caplog.text
    link = LinkImport.objects.create(url="https://example.com/a", stem="vocals")
    assert services.fail_link(link.pk, code="timeout", message="Too slow.")
    link.refresh_from_db()
    assert link.error_code == "timeout"
    assert errors.known("invented") == Code.ERROR
