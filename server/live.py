"""Run the app under waitress on a free loopback port in a background thread.

Used by the tests, the load script and the bench to talk to a real server over HTTP.
"""
import threading

from .wsgi import create_server


class LiveServer:
    def __init__(self, app, host="127.0.0.1", port=0, threads=8):
        self.app = app
        self.server = create_server(app, host, port, threads)
        self.port = self.server.effective_port
        app.config["HOST"], app.config["PORT"] = host, self.port  # the Host check needs the real port
        self.url = f"http://{host}:{self.port}"
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="waitress", daemon=True)

    def _serve(self):
        try:
            self.server.run()
        except OSError:
            # Closing the sockets from another thread can wake the loop's select() on a closed
            # descriptor (EBADF): expected while closing, a real error otherwise.
            if not self._closing.is_set():
                raise

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._closing.set()
        self.server.task_dispatcher.shutdown()  # finish in-flight requests before closing their sockets
        self.server.close()
        self._thread.join(timeout=10)
