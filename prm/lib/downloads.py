"""Sending stored files back: always as a download, never rendered by the browser."""

from __future__ import annotations

from django.http import FileResponse


def file_download_response(
    fileobj, *, name: str, content_type: str, size: int | None = None
) -> FileResponse:
    """A streaming response for `fileobj` with `Content-Disposition: attachment` (the name
    quoted, or RFC 5987-encoded when it is not ASCII), the stored content type, `nosniff`, a
    sandboxing CSP and no caching by shared caches."""
    response = FileResponse(fileobj, as_attachment=True, filename=name, content_type=content_type)
    if size is not None:
        response["Content-Length"] = str(size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
