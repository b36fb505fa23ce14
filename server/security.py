"""Who may talk to the daemon: Host allow-list, Origin check, optional bearer token, CORS.

- Host must be exactly one of localhost / 127.0.0.1 / [::1] (or the bound address) with the
  server's port, so a DNS-rebinding page (evil.com resolving to 127.0.0.1) is refused.
- A browser request carrying an ordinary web page's Origin is refused; extension origins
  (chrome-extension://, and Firefox's moz-extension://) are allowed (only the listed ones, when
  some are pinned), and so is the server's own origin, which the demo page uses.
- With a token configured, /v1/* also needs ``Authorization: Bearer <token>``.
- flask-cors answers the allowed cross-origin callers (extensions, pinned origins) with CORS
  headers, from the same allow-list; the refusals above are this module's, not flask-cors's.
"""
import hmac
import re

from flask import current_app, request
from flask_cors import CORS

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


CORS_METHODS = ("GET", "POST", "OPTIONS")
CORS_HEADERS = ("Authorization", "Content-Type")
CORS_MAX_AGE_S = 600


def cors_origins(allowed_origins):
    """The origins flask-cors answers: the pinned ones, and every extension while none is pinned.

    Compiled patterns, because flask-cors compares plain strings case-insensitively and
    origin_allowed does not: a refused origin must not get CORS headers on its 403.
    """
    patterns = [re.compile(re.escape(origin) + r"\Z") for origin in allowed_origins]
    if not any(origin.startswith(EXTENSION_SCHEMES) for origin in allowed_origins):
        patterns += [re.compile(re.escape(scheme)) for scheme in EXTENSION_SCHEMES]
    return patterns


def enable_cors(app):
    """Let allowed cross-origin callers (extensions) read responses; configured from ALLOWED_ORIGINS."""
    # Registered before flask-cors's hook so that it runs after it (Flask runs them in reverse).
    app.after_request(state_allowed_headers)
    CORS(app, origins=cors_origins(app.config["ALLOWED_ORIGINS"]), methods=CORS_METHODS,
         allow_headers=CORS_HEADERS, max_age=CORS_MAX_AGE_S,
         always_send=False,  # no Origin, no CORS headers (else it lists the pinned origins to anyone)
         intercept_exceptions=False)  # error answers pass through after_request already


def state_allowed_headers(response):
    """after_request hook: name the allowed request headers on a preflight that asked for none.

    flask-cors only echoes the headers a preflight lists in Access-Control-Request-Headers; the
    contract is that an accepted preflight always names Authorization and Content-Type.
    """
    if request.method == "OPTIONS" and "Access-Control-Allow-Methods" in response.headers \
            and "Access-Control-Allow-Headers" not in response.headers:
        response.headers["Access-Control-Allow-Headers"] = ", ".join(CORS_HEADERS)
    return response
