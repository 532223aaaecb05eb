"""The API's endpoints. Thin: changes go through core.api.services and core.jobs.services."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import selectors, serializers, services
from core.api.callbacks import CallbackRefused, check_address
from core.api.errors import ApiError, body, not_found
from core.api.models import ApiJob
from core.api.pagination import Pagination
from core.billing import plans
from core.billing import selectors as billing
from core.http import files, ratelimit
from core.jobs import deliveries, live_streams
from core.jobs import services as jobs
from core.jobs.media import SeparationError
from core.jobs.models import Job
from core.jobs.transposition import InvalidShift, parse
from shared_separation.errors import status_of
from shared_separation.links import LinkError

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
STEM_LABELS = {"vocals": "Acapella", "accompaniment": "Instrumental"}
ERRORS = {
    code: OpenApiResponse(serializers.ErrorSerializer, description=text)
    for code, text in {
        400: "Malformed request",
        401: "Missing, malformed or revoked API key",
        402: "Not enough credits (with the balance)",
        403: "The plan does not allow it (names the plan that does)",
        404: "No such separation on this account",
        409: "Not possible in the current state",
        410: "The files are gone",
        413: "File too large",
        415: "Not audio",
        422: "Idempotency-Key reused with another request, or a refused address",
        429: "Too many requests (see Retry-After)",
    }.items()
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: ERRORS[c] for c in (401, 403, 429, *codes)}


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _plan(request: Request) -> plans.Plan:
    plan: plans.Plan = getattr(request, "plan", None) or plans.plan_for(_user(request))
    return plan


def _base_url(request: Request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _api_job(request: Request, pk: uuid.UUID) -> ApiJob:
    api_job = selectors.api_job_for(_user(request), pk)
    if api_job is None:
        raise not_found()
    return api_job


def _describe(request: Request, api_job: ApiJob) -> dict[str, Any]:
    data: dict[str, Any] = serializers.SeparationSerializer(
        selectors.describe(api_job, _base_url(request))
    ).data
    return data


class SeparationList(APIView):
    """The account's separations, and new ones."""

    @extend_schema(
        operation_id="separations_list",
        responses={200: serializers.SeparationPageSerializer, **_errors()},
    )
    def get(self, request: Request) -> Response:
        """List the account's separations, newest first, a page at a time."""
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.api_jobs_of(_user(request)), request, self)
        assert page is not None
        base = _base_url(request)
        data = [serializers.SeparationSerializer(selectors.describe(a, base)).data for a in page]
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="separations_create",
        request={
            "multipart/form-data": serializers.UploadSubmitSerializer,
            "application/json": serializers.LinkSubmitSerializer,
        },
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Makes retries safe: the same key and request give the same job.",
            )
        ],
        responses={
            202: serializers.SeparationSerializer,
            **_errors(400, 402, 413, 415, 422),
        },
    )
    def post(self, request: Request) -> Response:
        """Submit a song (a file, or a link in JSON) for separation; answer 202 at once."""
        plan = _plan(request)
        if "url" in request.data and "file" not in request.data:
            return self._submit_link(request, plan)
        return self._submit_upload(request, plan)

    def _ask(
        self, request: Request, data: dict[str, Any], plan: plans.Plan, **kw: str
    ) -> services.Ask:
        jobs.check_format(plan, data["format"])
        callback_url = (data.get("callback_url") or "").strip()
        if callback_url:
            try:
                check_address(callback_url)
            except CallbackRefused as exc:
                raise ApiError(422, "invalid_callback_url", f"callback_url: {exc}.") from exc
        brand = request.brand
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if len(key) > 255:
            raise ApiError(400, "invalid_request", f"{IDEMPOTENCY_HEADER} is too long.")
        stem = data.get("stem") or brand.stem
        return services.Ask(
            stem=stem,
            job_stem=brand.stem if stem == Job.Stem.BOTH else stem,
            format=data["format"],
            brand=brand.slug,
            base_url=_base_url(request),
            callback_url=callback_url,
            idempotency_key=key,
            quality=data.get("quality") or "",
            **kw,
        )

    def _accepted(self, request: Request, api_job: ApiJob, created: bool) -> Response:
        data = _describe(request, api_job)
        response = Response(data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = data["url"]
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response

    def _submit_upload(self, request: Request, plan: plans.Plan) -> Response:
        # Refused before the body is read: an oversized upload never reaches the disk.
        jobs.check_request_length(plan, request.META.get("CONTENT_LENGTH"), files=1)
        form = serializers.UploadSubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        upload: UploadedFile = data["file"]
        ask = self._ask(request, data, plan, file_sha256=jobs.hash_file(File(upload)))
        order = jobs.Order(
            stem=ask.job_stem,
            brand=ask.brand,
            format=ask.format,
            origin=Job.Origin.API,
            owner=_user(request),
            plan=plan,
            quality=ask.quality or None,
            # An API client asked for the song: a longer one is refused, never cut short.
            previews=False,
            priority=plan.priority,
        )
        content = File(upload, name=upload.name or "song")
        try:
            examined = jobs.examine(content, order)
            api_job, created = services.submit_upload(_user(request), content, ask, examined, order)
        except services.IdempotencyMismatch as exc:
            raise _mismatch() from exc
        return self._accepted(request, api_job, created)

    def _submit_link(self, request: Request, plan: plans.Plan) -> Response:
        form = serializers.LinkSubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        ask = self._ask(request, data, plan, url=data["url"].strip())
        user = _user(request)
        try:
            api_job, created = services.submit_link(user, ask, client=ratelimit.client_id(request))
        except LinkError as exc:
            raise ApiError(status_of(exc.code), exc.code, exc.message) from exc
        except services.IdempotencyMismatch as exc:
            raise _mismatch() from exc
        return self._accepted(request, api_job, created)


def _mismatch() -> ApiError:
    return ApiError(
        422,
        "idempotency_mismatch",
        f"This {IDEMPOTENCY_HEADER} was used with a different request. Use a new key.",
    )


class SeparationDetail(APIView):
    """One separation of the account."""

    @extend_schema(
        operation_id="separations_retrieve",
        responses={200: serializers.SeparationSerializer, **_errors(404)},
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        """Return the state, queue position, progress, error, credits, expiry and downloads."""
        return Response(_describe(request, _api_job(request, pk)))

    @extend_schema(
        operation_id="separations_destroy",
        responses={204: None, **_errors(404, 409)},
    )
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        """Delete the separation and its files (credits held by an active one come back)."""
        api_job = _api_job(request, pk)
        current = selectors.state(api_job)
        if current.status == "fetching":
            raise ApiError(409, "busy", "The link is being fetched; try again in a moment.")
        services.delete(api_job, current.job)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SeparationCancel(APIView):
    """Cancelling a separation."""

    @extend_schema(
        operation_id="separations_cancel",
        request=None,
        responses={200: serializers.SeparationSerializer, **_errors(404, 409)},
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        """Cancel a queued or running separation; its held credits come back."""
        api_job = _api_job(request, pk)
        current = selectors.state(api_job)
        if current.job is None or current.status not in Job.ACTIVE_STATUSES:
            raise ApiError(
                409,
                "not_cancellable",
                f"A separation that is {current.status} cannot be cancelled.",
            )
        if not services.cancel(current.job):
            raise ApiError(409, "not_cancellable", "The separation finished in the meantime.")
        return Response(_describe(request, _api_job(request, pk)))


AUDIO = {(200, t): OpenApiTypes.BINARY for t in deliveries.CONTENT_TYPES.values()}


class SeparationDownload(APIView):
    """A stem of a finished separation."""

    @extend_schema(
        operation_id="separations_download",
        parameters=[
            OpenApiParameter("stem", OpenApiTypes.STR, OpenApiParameter.PATH, enum=selectors.STEMS),
            OpenApiParameter(
                "fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=serializers.FORMATS
            ),
            OpenApiParameter(
                "pitch",
                OpenApiTypes.INT,
                OpenApiParameter.QUERY,
                description="Semitones up or down, -6 to 6 (default 0).",
            ),
            OpenApiParameter(
                "tempo",
                OpenApiTypes.DOUBLE,
                OpenApiParameter.QUERY,
                description="Tempo factor, pitch kept: 0.7 to 1.3, in whole percents (default 1).",
            ),
        ],
        responses={**AUDIO, **_errors(400, 404, 409, 410)},
    )
    def get(self, request: Request, pk: uuid.UUID, stem: str, fmt: str) -> HttpResponseBase:
        """Download a stem as MP3 (320 kbps), WAV or FLAC; HTTP ranges are supported.

        With `pitch` and `tempo`, the stem in a new key and at a new tempo (rubberband).
        """
        api_job = _api_job(request, pk)
        if stem not in selectors.delivered_stems(api_job.stem) or fmt not in deliveries.FORMATS:
            raise ApiError(404, "not_found", "This separation has no such file.")
        try:
            shift = parse(request.query_params.get("pitch"), request.query_params.get("tempo"))
        except InvalidShift as exc:
            raise ApiError(
                400, "invalid_request", exc.message, fields={exc.field: [exc.message]}
            ) from exc
        jobs.check_format(_plan(request), fmt)
        current = selectors.state(api_job)
        if current.status == Job.Status.EXPIRED:
            raise ApiError(410, "gone", "The files of this separation have been deleted.")
        if current.job is None or current.status != Job.Status.SUCCEEDED:
            raise ApiError(
                409, "not_ready", f"The separation is {current.status}; nothing to download yet."
            )
        try:
            name = deliveries.transposed(current.job.separation, stem, fmt, shift)
        except FileNotFoundError as exc:
            raise ApiError(410, "gone", "The files of this separation have been deleted.") from exc
        except SeparationError as exc:
            logger.error("API delivery failed: %s (%s)", exc.message, exc.code)
            raise ApiError(503, "unavailable", "The file could not be prepared; retry.") from exc
        label = STEM_LABELS[stem] + (f", {shift.label()}" if not shift.identity else "")
        filename = deliveries.download_name(current.job.original_name, label, fmt)
        return files.serve(
            request,
            name,
            content_type=deliveries.CONTENT_TYPES[fmt],
            filename=filename,
            as_attachment=True,
        )


class SeparationStream(APIView):
    """A stem while it is separated: a growing MP3."""

    @extend_schema(
        operation_id="separations_stream",
        parameters=[
            OpenApiParameter("stem", OpenApiTypes.STR, OpenApiParameter.PATH, enum=selectors.STEMS)
        ],
        responses={(200, "audio/mpeg"): OpenApiTypes.BINARY, **_errors(404, 409, 410)},
    )
    def get(self, request: Request, pk: uuid.UUID, stem: str) -> HttpResponseBase:
        """Play a stem as MP3 while it is separated, from its start; the file once finished.

        Asked while queued, the answer starts when the separation does. The bytes are a
        constant-bitrate MP3 (192 kbps) without a length, ending with the stem, or earlier if
        the separation fails (the status then says why). Once succeeded, the MP3 320 kbps file.
        """
        api_job = _api_job(request, pk)
        if stem not in selectors.delivered_stems(api_job.stem):
            raise ApiError(404, "not_found", "This separation has no such stem.")
        current = selectors.state(api_job)
        if current.status == "fetching" or current.job is None:
            if current.status == "fetching":
                raise ApiError(409, "not_ready", "The link is being fetched; retry in a moment.")
            raise ApiError(410, "gone", "The files of this separation have been deleted.")
        if current.status == Job.Status.SUCCEEDED:
            return SeparationDownload().get(request, pk, stem, "mp3")
        refused = live_streams.refusal(current.job, stem)
        if refused is not None:
            raise ApiError(refused.status, refused.code, refused.message)
        return live_streams.response(current.job, stem)


class AccountView(APIView):
    """The account of the key."""

    @extend_schema(
        operation_id="account_retrieve",
        responses={200: serializers.AccountSerializer, **_errors()},
    )
    def get(self, request: Request) -> Response:
        """Return the balance, the plan and its limits."""
        user = _user(request)
        plan = _plan(request)
        data = {
            "email": user.email,
            "balance": billing.balance(user),
            "held": billing.reserved(user),
            "plan": {"code": plan.code, "name": plan.name, "api_access": plan.api_access},
            "limits": {
                "max_duration_seconds": plan.max_duration,
                "max_upload_bytes": plan.max_upload_bytes,
                "formats": sorted(plan.formats),
                "priority": plan.priority,
                "retention_hours": plan.retention.total_seconds() / 3600,
                "max_files": plan.max_files,
                "requests_per_minute": settings.API_REQUESTS_PER_MINUTE,
            },
        }
        return Response(serializers.AccountSerializer(data).data)


class LedgerView(APIView):
    """The account's credit movements."""

    @extend_schema(
        operation_id="account_ledger",
        responses={200: serializers.LedgerPageSerializer, **_errors()},
    )
    def get(self, request: Request) -> Response:
        """List the credit movements, newest first, a page at a time."""
        paginator = Pagination()
        entries = billing.ledger(_user(request)).select_related("job__api_job")
        page = paginator.paginate_queryset(entries, request, self)
        assert page is not None
        return paginator.get_paginated_response(
            serializers.LedgerEntrySerializer(page, many=True).data
        )


def unknown_endpoint(request: HttpRequest) -> JsonResponse:
    """Answer an address the API does not have with a 404 in the API's error shape."""
    message = f"No such endpoint: {request.path}. See /api/v1/docs/."
    return JsonResponse(body("not_found", message), status=404)
