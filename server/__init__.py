"""The local sharpening server: a Flask app over one shared inference engine.

``create_app(test_config)`` takes its settings from ``test_config`` (tests pass an already
built ``ENGINE``, e.g. a tiny random model); otherwise it loads the checkpoint named by
``CHECKPOINT``, ``$ANTI_AGING_CHECKPOINT`` or the shipped default. The reader behind /v1/read is
``READER`` (a built ReadService) or one over ``READER_CHECKPOINT``, loaded when first needed.
"""
import logging
import os
import time

from flask import Flask, current_app, g, request
from werkzeug.exceptions import HTTPException

from models import DEFAULT_MODEL, default_checkpoint

from . import imaging, security
from .errors import ServerError, body_too_large_message
from .reading import ReadService, resolve_detector, resolve_korean_svtr, resolve_reader, resolve_svtr

__version__ = "0.1.0"

CHECKPOINT_ENV = "ANTI_AGING_CHECKPOINT"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

access_log = logging.getLogger("server.access")
error_log = logging.getLogger("server")


def resolve_checkpoint(path=None, model=DEFAULT_MODEL):
    """--checkpoint wins, then $ANTI_AGING_CHECKPOINT, then the shipped models/checkpoints/<model>.pt."""
    return path or os.environ.get(CHECKPOINT_ENV) or str(default_checkpoint(model))


def create_app(test_config=None):
    app = Flask(__name__)
    app.config.from_mapping(
        HOST=DEFAULT_HOST,
        PORT=DEFAULT_PORT,
        TOKEN=None,
        ALLOWED_ORIGINS=[],
        MAX_CONTENT_LENGTH=48 * 2**20,  # bytes of request body (base64 JSON is 4/3 of the image)
        MAX_IMAGE_PIXELS=imaging.DEFAULT_MAX_PIXELS,  # per image, and per batch in total
        MAX_BATCH_IMAGES=32,
        REQUEST_TIMEOUT=60.0,  # seconds an image may wait and run before the request gets 503
        MODEL=DEFAULT_MODEL,
        CHECKPOINT=None,
        DEVICE="auto",
        PRECISION="auto",
        ENGINE=None,
        READER_CHECKPOINT=None,  # else $ANTI_AGING_READER, else the shipped models/checkpoints/reader.pt
        SVTR_CHECKPOINT=None,  # else $ANTI_AGING_SVTR, else the shipped svtr_reader.pt beside the shipped reader
        KOREAN_SVTR_CHECKPOINT=None,  # else $ANTI_AGING_KOREAN_SVTR, else the shipped svtr_korean.pt beside it
        DETECTOR_CHECKPOINT=None,  # else $ANTI_AGING_DETECTOR, else the shipped line_detector.pt; "none": find_lines
        READER=None,  # a ReadService (serve's, or a test's); else one over READER_CHECKPOINT, loaded on first use
    )
    if test_config:
        app.config.from_mapping(test_config)

    engine = app.config["ENGINE"]
    if engine is None:
        from .engine import Engine

        engine = Engine.from_checkpoint(
            resolve_checkpoint(app.config["CHECKPOINT"], app.config["MODEL"]),
            device=app.config["DEVICE"], precision=app.config["PRECISION"])
    app.extensions["engine"] = engine
    reader = resolve_reader(app.config["READER_CHECKPOINT"])
    app.extensions["reader"] = app.config["READER"] or ReadService(
        reader, device=engine.device, svtr=resolve_svtr(app.config["SVTR_CHECKPOINT"], reader),
        detector=resolve_detector(app.config["DETECTOR_CHECKPOINT"]),
        korean_svtr=resolve_korean_svtr(app.config["KOREAN_SVTR_CHECKPOINT"], reader))

    app.before_request(_start_clock)
    app.before_request(security.check_request)
    security.enable_cors(app)
    app.after_request(_log_request)
    app.register_error_handler(ServerError, _server_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

    from . import api, demo

    app.register_blueprint(api.bp)
    app.register_blueprint(demo.bp)
    return app


def error_response(status, code, message, headers=None, **details):
    return {"error": {"code": code, "message": message, **details}}, status, headers or {}


def _server_error(exc):
    return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.details)


def _http_error(exc):
    if exc.code == 413:
        size, limit = request.content_length, current_app.config["MAX_CONTENT_LENGTH"]
        return error_response(413, "body_too_large", body_too_large_message(size or limit + 1, limit, chunked=not size))
    return error_response(exc.code, (exc.name or "error").lower().replace(" ", "_"), exc.description or exc.name)


def _unexpected_error(exc):
    error_log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", f"internal error: {type(exc).__name__}")


def _start_clock():
    g.started = time.perf_counter()


def _log_request(response):
    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    size = response.content_length
    access_log.info("%s %s %s %d %.1fms %sB", request.remote_addr, request.method,
                    request.full_path.rstrip("?"), response.status_code, elapsed_ms,
                    "-" if size is None else size)
    return response
