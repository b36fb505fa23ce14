"""Who may talk to the daemon: Host allow-list, Origin check, optional bearer token, CORS.

- Host must be exactly one of localhost / 127.0.0.1 / [::1] (or the bound address) with the
  server's port, so a DNS-rebinding page (evil.com resolving to 127.0.0.1) is refused.
- A browser request carrying an ordinary web page's Origin is refused; extension origins
  (chrome-extension://, and Firefox's moz-extension://) are allowed (only the listed ones, when
  some are pinned), and so is the server's own origin, which the demo page uses.
- With a token configured, /v1/* also needs ``Authorization: Bearer <token>``.
"""
import hmac

from flask import current_app, request

from .errors import Forbidden

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")
EXTENSION_SCHEMES = ("chrome-extension://", "moz-extension://")


def allowed_hosts(host, port):
    names = list(LOOPBACK_NAMES)
    if host not in WILDCARD_HOSTS:
        bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
        if bound not in names:
            names.append(bound)
    return {f"{name}:{port}" for name in names}


def origin_allowed(origin, host_header, allowed_origins):
    """Whether a request with this Origin header may be served (no Origin at all is fine)."""
    if origin is None:
        return True
    if origin in allowed_origins:
        return True
    if origin == f"http://{host_header}":  # the demo page served by this very server
        return True
    if origin.startswith(EXTENSION_SCHEMES):
        pinned = [o for o in allowed_origins if o.startswith(EXTENSION_SCHEMES)]
        return not pinned
    return False


def token_ok(header, token):
    if not token:
        return True
    scheme, _, value = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def check_request():
    """before_request hook: raise Forbidden unless Host, Origin and (for the API) token pass."""
    config = current_app.config
    host_header = request.headers.get("Host", "")
    if host_header.lower() not in allowed_hosts(config["HOST"], config["PORT"]):
        raise Forbidden(f"Host {host_header!r} is not allowed; use http://127.0.0.1:{config['PORT']}")
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, host_header.lower(), config["ALLOWED_ORIGINS"]):
        raise Forbidden(f"Origin {origin!r} is not allowed: web pages may not use this server")
    if request.method != "OPTIONS" and request.path.startswith("/v1/") \
            and not token_ok(request.headers.get("Authorization"), config["TOKEN"]):
        raise Forbidden("missing or wrong bearer token (Authorization: Bearer <token>)")


def add_cors_headers(response):
    """after_request hook: let allowed cross-origin callers (extensions) read responses."""
    origin = request.headers.get("Origin")
    host_header = request.headers.get("Host", "").lower()
    if origin and origin != f"http://{host_header}" \
            and origin_allowed(origin, host_header, current_app.config["ALLOWED_ORIGINS"]):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers.add("Vary", "Origin")
    return response
