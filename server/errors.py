"""Typed errors the engine, the decoder and the request checks raise, each with its HTTP status.

The API turns every one into ``{"error": {"code": ..., "message": ...}}``; the CLI prints the message.
"""


def body_too_large_message(size, limit, chunked=False):
    got = f"more than {size:,} bytes arrived (chunked)" if chunked else f"the request body is {size:,} bytes"
    return f"{got}; the limit is {limit:,} bytes ({limit / 2**20:g} MiB)"


class ServerError(Exception):
    status = 500
    code = "internal_error"
    headers = {}

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details  # extra fields of the JSON error, e.g. max_sigma


class BadRequest(ServerError):
    status = 400
    code = "bad_request"


class BadImage(BadRequest):
    code = "bad_image"


class BadSigma(BadRequest):
    code = "bad_sigma"


class SigmaOutOfRange(ServerError):
    """A well-formed sigma beyond what the model can restore (the body names the maximum)."""

    status = 422
    code = "sigma_out_of_range"


class UnknownModel(BadRequest):
    code = "unknown_model"


class ImageTooLarge(ServerError):
    status = 413
    code = "image_too_large"


class UnsupportedMediaType(ServerError):
    status = 415
    code = "unsupported_media_type"


class Forbidden(ServerError):
    status = 403
    code = "forbidden"


class Busy(ServerError):
    """The engine cannot take the work now; the client should retry shortly."""

    status = 503
    code = "busy"
    retry_after_s = 1

    @property
    def headers(self):
        return {"Retry-After": str(self.retry_after_s)}


class QueueFull(Busy):
    code = "queue_full"


class ShuttingDown(Busy):
    """The server is stopping: work it had not started is answered at once, not left waiting."""

    code = "shutting_down"


class RequestTimeout(Busy):
    code = "timeout"
    retry_after_s = 5


class ReaderUnavailable(ServerError):
    """No reader checkpoint could be loaded: /v1/read cannot answer until the server gets one.
    Not transient, so no Retry-After."""

    status = 503
    code = "reader_unavailable"
