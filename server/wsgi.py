"""The production WSGI server (waitress), with every error it answers itself in the API's JSON form.

Waitress refuses some requests before the app sees them: a body over its own size limit
(by Content-Length, right after the headers, or while a chunked body arrives), malformed
HTTP, oversized headers. Its stock answer is plain text; ``JsonErrorTask`` answers
``{"error": {"code": ..., "message": ...}}`` instead. Waitress's body limit is the app's
MAX_CONTENT_LENGTH, so an oversized body is refused before it is read, not after buffering it.

Closing a socket with unread input makes the kernel reset the connection, and a client still
sending its body would never read the answer; after an error answer the channel half-closes
and drops the rest of the body instead (at most DRAIN_LIMIT bytes, or until the idle timeout).
"""
import json
import socket

import waitress
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from .errors import body_too_large_message

DRAIN_LIMIT = 2**30
WAITRESS_CODES = {400: "bad_request", 413: "body_too_large", 431: "headers_too_large", 501: "not_implemented"}


def waitress_error_body(status, detail, content_length, received, limit):
    """The JSON error for a request waitress refused itself, as (code, message)."""
    code = WAITRESS_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    if status == 413:
        return code, body_too_large_message(content_length or received, limit, chunked=not content_length)
    return code, str(detail)


class JsonErrorTask(ErrorTask):
    def execute(self):
        error = self.request.error
        code, message = waitress_error_body(error.code, error.body, self.request.content_length,
                                            self.request.body_bytes_received, self.channel.adj.max_request_body_size - 1)
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.channel.drain_on_close = True
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask
    drain_on_close = False
    draining = False
    drained = 0

    def handle_close(self):
        if self.drain_on_close and not self.draining and self.connected and self.socket is not None:
            try:
                self.socket.shutdown(socket.SHUT_WR)  # the answer is flushed: send FIN, keep reading
            except OSError:
                return super().handle_close()
            self.draining, self.will_close = True, False
            return None
        return super().handle_close()

    def readable(self):
        return self.draining or super().readable()

    def writable(self):
        return self.will_close if self.draining else super().writable()

    def received(self, data):
        if not self.draining:
            return super().received(data)
        self.drained += len(data)
        if self.drained > DRAIN_LIMIT:
            super().handle_close()
        return bool(data)


def create_server(app, host, port, threads=8):
    """A waitress server for ``app`` (not started); OSError when the address cannot be bound."""
    # Waitress refuses a body of max_request_body_size bytes or more: one over the app's limit.
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="anti-aging",
                                    max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 1)
    server.channel_class = JsonErrorChannel
    return server
