"""The HTTP API: /healthz, /v1/models, /v1/sharpen and /v1/sharpen/batch."""
import time

from flask import Blueprint, current_app, jsonify, request

from models import REGISTRY, default_checkpoint

from . import __version__
from .engine import checkpoint_sigma_range, validate_sigma
from .errors import BadRequest, ServerError, UnknownModel, UnsupportedMediaType
from .imaging import check_content_type, decode_base64_image, decode_image, encode_png, png_data_url

bp = Blueprint("api", __name__)


def engine():
    return current_app.extensions["engine"]


@bp.get("/healthz")
def healthz():
    return {"status": "ok", "model": engine().name, "device": engine().device, "version": __version__}


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
    return {"default": loaded.name, "models": entries}


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


def sharpen_decoded(items, pixel_budget):
    """items: (image bytes, sigma) -> list of (png bytes, width, height), sharing one engine call.

    ``pixel_budget`` bounds the pixels of all items together (one image's limit for a single one).
    """
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
    outputs = engine().sharpen_many([(rgb, sigma) for rgb, _, sigma in decoded],
                                    timeout=current_app.config["REQUEST_TIMEOUT"])
    return [(encode_png(out, alpha), rgb.shape[1], rgb.shape[0]) for out, (rgb, alpha, _) in zip(outputs, decoded)]


def image_json(png, width, height, sigma, elapsed_ms):
    return {"image": png_data_url(png), "width": width, "height": height, "sigma": sigma,
            "elapsed_ms": round(elapsed_ms, 1)}


@bp.post("/v1/sharpen")
def sharpen():
    started = time.perf_counter()
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise BadRequest("multipart field 'image' is missing")
        data, sigma, model = upload.read(), parse_sigma(request.form.get("sigma")), request.form.get("model")
    elif mimetype.startswith("image/"):
        check_content_type(mimetype)
        data, sigma, model = request.get_data(), parse_sigma(request.args.get("sigma")), request.args.get("model")
    elif mimetype == "application/json":
        payload = json_body()
        sigma, model = parse_sigma(payload.get("sigma")), payload.get("model")
        data = decode_base64_image(payload.get("image"))
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {mimetype or '(none)'!r}: send multipart/form-data, image/* or application/json")
    check_model(model)
    [(png, width, height)] = sharpen_decoded([(data, sigma)], current_app.config["MAX_IMAGE_PIXELS"])
    elapsed_ms = (time.perf_counter() - started) * 1000
    if mimetype == "application/json":
        return image_json(png, width, height, sigma, elapsed_ms)
    response = current_app.response_class(png, mimetype="image/png")
    response.headers["X-Elapsed-Ms"] = f"{elapsed_ms:.1f}"
    return response


@bp.post("/v1/sharpen/batch")
def sharpen_batch():
    started = time.perf_counter()
    payload = json_body()
    images = payload.get("images")
    limit = current_app.config["MAX_BATCH_IMAGES"]
    if not isinstance(images, list) or not images:
        raise BadRequest("'images' must be a non-empty list of {\"image\": ..., \"sigma\": ...}")
    if len(images) > limit:
        raise BadRequest(f"{len(images)} images in one batch; the limit is {limit}")
    check_model(payload.get("model"))
    items, sigmas = [], []
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
        sigmas.append(sigma)
    results = sharpen_decoded(items, current_app.config["MAX_IMAGE_PIXELS"])
    elapsed_ms = (time.perf_counter() - started) * 1000
    return jsonify(results=[image_json(png, w, h, sigma, elapsed_ms) for (png, w, h), sigma in zip(results, sigmas)])
