"""The demo page at / (plain HTML, CSS and JS from server/static, no third-party code)."""
from flask import Blueprint, current_app

bp = Blueprint("demo", __name__)

# The page only talks to this server and shows images it made itself (blob: and data: URLs).
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")


@bp.get("/")
def index():
    response = current_app.send_static_file("index.html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
