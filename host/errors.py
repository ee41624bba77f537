"""Every error the host reports, in one place.

Each error carries a stable snake_case `code` (the extension maps it to UI) and a
one-sentence `message` a user understands. Handlers raise these; the dispatcher turns
them into `{"ok": false, "error": {...}}` responses. Anything else is a bug and is
reported as `internal_error` without leaking a traceback to the peer.
"""

from __future__ import annotations


class TabSenseError(Exception):
    """Base class: an error with a code and a user-facing sentence."""

    code = "internal_error"
    default_message = "Something went wrong inside TabSense; see the host log for details."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


# --- Protocol errors --------------------------------------------------------------


class ProtocolError(TabSenseError):
    """A message that cannot be understood; the request id is kept when it is known."""

    code = "invalid_request"
    default_message = "The request is not a valid TabSense message."

    def __init__(self, message: str | None = None, request_id=None):
        super().__init__(message)
        self.request_id = request_id


class InvalidJSON(ProtocolError):
    code = "invalid_json"
    default_message = "The message is not valid UTF-8 JSON."


class InvalidRequest(ProtocolError):
    code = "invalid_request"


class UnknownType(ProtocolError):
    code = "unknown_type"
    default_message = "The host does not know this message type."


class FrameTooLarge(ProtocolError):
    """Unrecoverable: the stream cannot be resynchronised after a bad length."""

    code = "message_too_large"
    default_message = "The message is larger than the host accepts (64 MiB)."


class ResponseTooLarge(TabSenseError):
    code = "response_too_large"
    default_message = "The answer is too large to send to the browser (1 MiB); ask for fewer results."


class Busy(TabSenseError):
    code = "busy"
    default_message = "The host is busy with too many requests; try again in a moment."


class RateLimited(TabSenseError):
    code = "rate_limited"
    default_message = "Too many requests in a short time; slow down and try again."


# --- Input errors ------------------------------------------------------------------


class BadBase64(TabSenseError):
    code = "bad_base64"
    default_message = "The image data is not valid base64."


class NotAnImage(TabSenseError):
    code = "not_an_image"
    default_message = "The file is not an image TabSense can read."


class ImageTruncated(TabSenseError):
    code = "image_truncated"
    default_message = "The image file is incomplete or damaged."


class ImageTooLarge(TabSenseError):
    code = "image_too_large"
    default_message = "The image is too large to classify."


class DegenerateImage(TabSenseError):
    code = "degenerate_image"
    default_message = "The picture holds nothing to classify."


class UnsupportedImage(TabSenseError):
    code = "unsupported_image"
    default_message = "This kind of image cannot be classified."


# --- Model errors ------------------------------------------------------------------


class ModelNotFound(TabSenseError):
    code = "model_not_found"
    default_message = "No model of that name is registered; `tabsense models list` shows the choices."


class ModelMissing(TabSenseError):
    code = "model_missing"
    default_message = "The model is not installed; run `tabsense models fetch` to install it."


class ModelCorrupt(TabSenseError):
    code = "model_corrupt"
    default_message = (
        "The model file on disk is damaged; run `tabsense models fetch --force` to replace it."
    )


class ModelNotBlessed(TabSenseError):
    code = "model_not_blessed"
    default_message = "This model has not passed validation, so the host will not serve it."


class FetchError(TabSenseError):
    code = "fetch_failed"
    default_message = "The model could not be downloaded or copied."


class InternalError(TabSenseError):
    code = "internal_error"
