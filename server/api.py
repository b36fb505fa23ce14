"""The HTTP API: /healthz, /v1/models, /v1/sharpen, /v1/sharpen/batch, /v1/read and /v1/read/batch."""
import time

from flask import Blueprint, current_app, jsonify, request

from models import REGISTRY, default_checkpoint

from . import __version__
from .engine import checkpoint_sigma_range, validate_sigma
from .errors import BadRequest, ServerError, UnknownModel, UnsupportedMediaType
from .imaging import check_content_type, decode_base64_image, decode_image, encode_png, png_data_url
from .reading import reader_pixels

bp = Blueprint("api", __name__)


def engine():
    return current_app.extensions["engine"]


@bp.get("/healthz")
def healthz():
    return {"status": "ok", "model": engine().name, "device": engine().device, "version": __version__,
            "reader": reader().available}


@bp.get("/v1/models")
def models():
    loaded = engine()
    entries = []
    for name in REGISTRY:
        if name == loaded.name:
            entries.append({"name": name, "loaded": True, "checkpoint": loaded.checkpoint,
                            "device": loaded.device, "precision": loaded.precision, "sigma": loaded.sigma_range})
        else:
            path = default_checkpoint(name)
            found = path.is_file()
            entries.append({"name": name, "loaded": False, "checkpoint": str(path) if found else None,
                            "sigma": checkpoint_sigma_range(path) if found else None})
    return {"default": loaded.name, "models": entries, "reader": reader().describe()}


def parse_sigma(value):
    """Form/query strings and JSON values: absent, empty or null means blind."""
    if isinstance(value, str):
        value = value.strip()
        if value == "" or value.lower() in ("null", "none", "blind"):
            return None
    return validate_sigma(value, engine().max_sigma)


def check_model(name):
    if name not in (None, "") and name != engine().name:
        raise UnknownModel(f"model {name!r} is not loaded; this server runs {engine().name!r}")


def json_body():
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send JSON (Content-Type: application/json)")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise BadRequest("the body is not a JSON object")
    return payload


def decode_all(items, pixel_budget):
    """items: (image bytes, sigma) -> [(rgb, alpha, sigma)]. ``pixel_budget`` bounds the pixels of all
    items together (one image's limit for a single one)."""
    decoded = []
    for index, (data, sigma) in enumerate(items):
        try:
            rgb, alpha = decode_image(data, max_pixels=pixel_budget)
        except ServerError as exc:
            if len(items) > 1:
                exc.message = f"images[{index}]: {exc.message}"
            raise
        pixel_budget -= rgb.shape[0] * rgb.shape[1]
        decoded.append((rgb, alpha, sigma))
    return decoded


def sharpen_decoded(items, pixel_budget):
    """items: (image bytes, sigma) -> list of (png bytes, width, height), sharing one engine call."""
    decoded = decode_all(items, pixel_budget)
    outputs = engine().sharpen_many([(rgb, sigma) for rgb, _, sigma in decoded],
                                    timeout=current_app.config["REQUEST_TIMEOUT"])
    return [(encode_png(out, alpha), rgb.shape[1], rgb.shape[0]) for out, (rgb, alpha, _) in zip(outputs, decoded)]


def image_json(png, width, height, sigma, elapsed_ms):
    return {"image": png_data_url(png), "width": width, "height": height, "sigma": sigma,
            "elapsed_ms": round(elapsed_ms, 1)}


def image_request():
    """(image bytes, sigma, model) of a single-image request: a multipart form (file ``image``, fields
    ``sigma``, ``model``), a raw image body (``?sigma=&model=``) or JSON (``image`` as base64)."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise BadRequest("multipart field 'image' is missing")
        return upload.read(), parse_sigma(request.form.get("sigma")), request.form.get("model")
    if mimetype.startswith("image/"):
        check_content_type(mimetype)
        return request.get_data(), parse_sigma(request.args.get("sigma")), request.args.get("model")
    if mimetype == "application/json":
        payload = json_body()
        sigma, model = parse_sigma(payload.get("sigma")), payload.get("model")
        return decode_base64_image(payload.get("image")), sigma, model
    raise UnsupportedMediaType(
        f"unsupported Content-Type {mimetype or '(none)'!r}: send multipart/form-data, image/* or application/json")


def batch_request():
    """([(image bytes, sigma)], model) of ``{"images": [{"image": ..., "sigma": ...}, ...], "model": ...}``."""
    payload = json_body()
    images = payload.get("images")
    limit = current_app.config["MAX_BATCH_IMAGES"]
    if not isinstance(images, list) or not images:
        raise BadRequest("'images' must be a non-empty list of {\"image\": ..., \"sigma\": ...}")
    if len(images) > limit:
        raise BadRequest(f"{len(images)} images in one batch; the limit is {limit}")
    items = []
    for index, entry in enumerate(images):
        if not isinstance(entry, dict):
            raise BadRequest(f"images[{index}] must be an object with 'image' and optional 'sigma'")
        try:
            sigma = parse_sigma(entry.get("sigma"))
            data = decode_base64_image(entry.get("image"))
        except ServerError as exc:
            exc.message = f"images[{index}]: {exc.message}"
            raise
        items.append((data, sigma))
    return items, payload.get("model")


def elapsed_ms(started):
    return (time.perf_counter() - started) * 1000


@bp.post("/v1/sharpen")
def sharpen():
    started = time.perf_counter()
    data, sigma, model = image_request()
    check_model(model)
    [(png, width, height)] = sharpen_decoded([(data, sigma)], current_app.config["MAX_IMAGE_PIXELS"])
    if request.mimetype == "application/json":
        return image_json(png, width, height, sigma, elapsed_ms(started))
    response = current_app.response_class(png, mimetype="image/png")
    response.headers["X-Elapsed-Ms"] = f"{elapsed_ms(started):.1f}"
    return response


@bp.post("/v1/sharpen/batch")
def sharpen_batch():
    started = time.perf_counter()
    items, model = batch_request()
    check_model(model)
    results = sharpen_decoded(items, current_app.config["MAX_IMAGE_PIXELS"])
    took = elapsed_ms(started)
    return jsonify(results=[image_json(png, w, h, sigma, took) for (png, w, h), (_, sigma) in zip(results, items)])


# --- reading ---------------------------------------------------------------------------------

def reader():
    return current_app.extensions["reader"]


def read_decoded(items, pixel_budget):
    """items: (image bytes, sigma) -> [(reading dict, width, height)], read one after another."""
    decoded = decode_all(items, pixel_budget)
    sizes = [(rgb.shape[1], rgb.shape[0]) for rgb, _, _ in decoded]
    readings = reader().read_many([(reader_pixels(rgb, alpha), sigma) for rgb, alpha, sigma in decoded],
                                  timeout=current_app.config["REQUEST_TIMEOUT"])
    return [(reading, width, height) for reading, (width, height) in zip(readings, sizes)]


def reading_json(reading, width, height, sigma, took_ms):
    return {**reading, "width": width, "height": height, "sigma": sigma, "elapsed_ms": round(took_ms, 1)}


@bp.post("/v1/read")
def read():
    """The text of an image, per line with boxes and per-character confidences, and a verdict.
    The same request forms as /v1/sharpen (``model`` is ignored: reading has one reader)."""
    started = time.perf_counter()
    reader().load()  # without a reader nothing else about the request matters
    data, sigma, _ = image_request()
    [(reading, width, height)] = read_decoded([(data, sigma)], current_app.config["MAX_IMAGE_PIXELS"])
    return reading_json(reading, width, height, sigma, elapsed_ms(started))


@bp.post("/v1/read/batch")
def read_batch():
    started = time.perf_counter()
    reader().load()
    items, _ = batch_request()
    results = read_decoded(items, current_app.config["MAX_IMAGE_PIXELS"])
    took = elapsed_ms(started)
    return jsonify(results=[reading_json(reading, w, h, sigma, took)
                            for (reading, w, h), (_, sigma) in zip(results, items)])
