"""Attachments API (docs/api.md "Custom fields and attachments"): list and upload a
registration's files, download one, remove one. Parse -> access (404 outside the caller's
tenant) -> role (403) -> service (deals.registrations.attachments) -> serialize."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from deals import access
from deals.registrations import selectors
from deals.registrations.attachments import (
    attachment_delete,
    attachment_open,
    attachment_upload,
    max_bytes,
)
from partners.roles import is_partner_user
from prm.api import ApiView, ErrorResponseSerializer, Pagination, responses
from prm.exceptions import PermissionDeniedError, UnsupportedFile
from prm.lib.downloads import file_download_response
from prm.lib.uploads import ACCEPTED, ACCEPTED_LABELS

# The multipart envelope around a file of the largest accepted size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    registration_id = serializers.IntegerField()
    name = serializers.CharField(help_text="The sanitised file name.")
    size = serializers.IntegerField(help_text="Bytes.")
    content_type = serializers.CharField(help_text="Sniffed from the content.")
    sha256 = serializers.CharField(help_text="SHA-256 of the bytes, hex.")
    uploaded_by = serializers.EmailField(source="uploaded_by.email")
    created_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, attachment) -> str:
        return reverse("api-attachment-download", kwargs={"pk": attachment.pk})


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=f"At most 10 MB; {ACCEPTED_LABELS}, decided by the content (not the name "
        "nor the part's Content-Type)."
    )


UPLOAD_ERRORS = {
    400: OpenApiResponse(
        response=ErrorResponseSerializer,
        description="`unsupported_file`: over 10 MB, empty, or content that is not "
        f"{ACCEPTED_LABELS}; `validation_error`: no `file` part; `payload_too_large`: the "
        "request could not be read.",
    ),
    409: OpenApiResponse(
        response=ErrorResponseSerializer,
        description="`invalid_transition`: the registration is closed (rejected, withdrawn, "
        "won, lost, expired or revoked); `attachment_limit`: it already holds 20 files.",
    ),
}


class _IgnoreAccept(BaseContentNegotiation):
    """A download answers its stored type whatever the client accepts; errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _require_partner_user(user) -> None:
    if not is_partner_user(user):
        raise PermissionDeniedError("Only users of the partner company can do this.")


class RegistrationAttachmentListView(ApiView):
    pagination_class = Pagination
    parser_classes = [MultiPartParser]

    def initial(self, request, *args, **kwargs):
        # An upload over the limit is refused by its declared length before it is read: the
        # same 400 `unsupported_file` as a smaller file over the limit.
        limit = max_bytes() + MULTIPART_OVERHEAD_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            length = 0
        if length > limit:
            raise UnsupportedFile(
                "The file is larger than the limit.",
                fields={"file": ["Attach a file of 10 MB or less."]},
            )
        self.max_body_bytes = limit
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="registrations_attachments_list",
        tags=["registrations"],
        responses=responses({200: AttachmentSerializer(many=True)}, 400, 404),
        description="The registration's files (removed ones are left out), oldest first.",
    )
    def get(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        queryset = selectors.attachments_of(registration)
        return self.paginate(queryset, lambda rows: AttachmentSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="registrations_attachments_create",
        tags=["registrations"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={**responses({201: AttachmentSerializer}, 400, 404, 409, 415), **UPLOAD_ERRORS},
        description="Partner users attach a file (multipart field `file`) while the "
        "registration is open (draft, submitted, info_requested, approved). Over 10 MB, empty, "
        f"or content that is not {ACCEPTED_LABELS} → 400 `unsupported_file`; no file → 400 "
        "`validation_error`; a closed registration → 409 `invalid_transition`; 20 files "
        "already → 409 `attachment_limit`. Upload and removal are events carrying the SHA-256.",
    )
    def post(self, request, pk):
        registration = access.access_registration_for_user(request.user, pk)
        _require_partner_user(request.user)
        attachment = attachment_upload(
            registration=registration, actor=request.user, upload=request.FILES.get("file")
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentDetailView(ApiView):
    @extend_schema(
        operation_id="attachments_destroy",
        tags=["registrations"],
        responses={
            **responses({204: None}, 404, 409),
            409: OpenApiResponse(
                response=ErrorResponseSerializer,
                description="`invalid_transition`: the registration is no longer open to "
                "the partner's edits (only drafts and registrations awaiting information).",
            ),
        },
        description="Users of the registration's partner remove a file while the registration "
        "is a draft or awaiting information (409 `invalid_transition` otherwise). The removal "
        "is an event that keeps the file's SHA-256.",
    )
    def delete(self, request, pk):
        attachment = access.access_attachment_for_user(request.user, pk)
        _require_partner_user(request.user)
        attachment_delete(attachment=attachment, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


DOWNLOAD_RESPONSES = {
    (200, content_type): OpenApiResponse(
        response=OpenApiTypes.BINARY,
        description="The bytes, with `Content-Disposition: attachment`.",
    )
    for content_type in ACCEPTED
}


class AttachmentDownloadView(ApiView):
    content_negotiation_class = _IgnoreAccept

    @extend_schema(
        operation_id="attachments_download",
        tags=["registrations"],
        responses=responses(DOWNLOAD_RESPONSES, 404),
        description="The file's bytes as a download (`Content-Disposition: attachment`, "
        "`X-Content-Type-Options: nosniff`), in its sniffed content type. Another partner's "
        "file → 404.",
    )
    def get(self, request, pk):
        attachment = access.access_attachment_for_user(request.user, pk)
        return file_download_response(
            attachment_open(attachment),
            name=attachment.name,
            content_type=attachment.content_type,
            size=attachment.size,
        )
