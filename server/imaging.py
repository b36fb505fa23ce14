"""Image decoding and encoding with the server's limits.

The pixel count is checked from the header before any pixel is decoded, so a small file that
claims a huge size (a decompression bomb) costs nothing. Every mode Pillow can hand back is
brought to float RGB in [0, 1] plus, when the image has one, its 8-bit alpha channel, which
the caller returns unchanged.
"""
import base64
import binascii
import io
import re

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import BadImage, ImageTooLarge, UnsupportedMediaType

FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
CONTENT_TYPES = {
    "image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/webp",
    "image/bmp", "image/x-ms-bmp", "image/x-bmp", "image/gif",
}
DEFAULT_MAX_PIXELS = 4096 * 4096

# Pillow's own bomb check would refuse a huge header inside Image.open, before the size is known;
# decode_image checks the size from the header itself (before any pixel is decoded), so its
# message can name the dimensions.
Image.MAX_IMAGE_PIXELS = None

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*)(;base64)?,", re.IGNORECASE)


def check_content_type(content_type):
    """Raise UnsupportedMediaType unless ``content_type`` (without parameters) is a supported image type."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime not in CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"unsupported image type {mime or '(none)'!r}; send PNG, JPEG, WebP, BMP or GIF")


def decode_base64_image(text):
    """Bytes from a data URL (``data:image/png;base64,...``) or bare base64 text."""
    if not isinstance(text, str) or not text:
        raise BadImage("'image' must be a non-empty string: a data URL or base64")
    match = _DATA_URL.match(text)
    if match:
        if match.group(1):
            check_content_type(match.group(1))
        if not match.group(3):
            raise BadImage("data URL must be base64-encoded (';base64,')")
        text = text[match.end():]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadImage(f"'image' is not valid base64: {exc}") from None


def decode_image(data, max_pixels=DEFAULT_MAX_PIXELS):
    """Decode bytes to (rgb float32 (H, W, 3) in [0, 1], alpha uint8 (H, W) or None).

    Raises BadImage for anything that is not a whole, non-empty image in a supported format
    and ImageTooLarge when the header announces more than ``max_pixels`` pixels.
    """
    if not data:
        raise BadImage("empty body: no image")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise BadImage("not a supported image (PNG, JPEG, WebP, BMP, GIF): unrecognised data") from None
    except (SyntaxError, ValueError, OSError) as exc:
        raise BadImage(f"not a supported image (PNG, JPEG, WebP, BMP, GIF): {exc}") from None
    with image:
        width, height = image.size
        if width < 1 or height < 1:
            raise BadImage(f"image has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageTooLarge(f"image is {width}x{height} = {width * height:,} pixels; "
                                f"the limit is {max_pixels:,} pixels per request")
        try:
            image.seek(0)  # animated GIF / WebP: first frame
            image.load()
        except Exception as exc:  # truncated or corrupt data surfaces here with many exception types
            raise BadImage(f"corrupt or truncated {image.format} image: {exc}") from None
        return _to_rgb_alpha(image)


def _to_rgb_alpha(image):
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        scale = 255.0 if mode == "F" else 65535.0
        gray = np.asarray(image, dtype=np.float32) / scale
        return np.repeat(np.clip(gray, 0, 1)[:, :, None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info) \
        or (mode in ("L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        return _unit_float(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
    return _unit_float(np.asarray(image.convert("RGB"))), None


def _unit_float(pixels):
    """uint8 -> float32 in [0, 1] with one image-sized allocation (no float temporary)."""
    out = pixels.astype(np.float32)
    out *= np.float32(1 / 255)
    return out


def encode_png(rgb, alpha=None):
    """PNG bytes from float RGB (H, W, 3) (clamped to [0, 1]) and an optional uint8 alpha (H, W)."""
    channels = 3 if alpha is None else 4
    pixels = np.empty((rgb.shape[0], rgb.shape[1], channels), np.uint8)
    for top in range(0, rgb.shape[0], 256):  # bands: float temporaries stay small for large images
        band = rgb[top:top + 256] * np.float32(255)
        band += np.float32(0.5)
        np.clip(band, 0, 255, out=band)
        pixels[top:top + 256, :, :3] = band
    if alpha is not None:
        pixels[:, :, 3] = alpha
    out = io.BytesIO()
    # Level 1: the result travels over loopback, so speed matters more than size.
    Image.fromarray(pixels, "RGBA" if alpha is not None else "RGB").save(out, "PNG", compress_level=1)
    return out.getvalue()


def png_data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
