"""A separate OS process serving the app over HTTP (threaded, like runserver) for the race
tests, configured the way issue 20's probe configured its server: through
DATABASE_URL=sqlite:////absolute/path (the test database file), not SQLITE_PATH.

Usage: python -m tests.reliability.race_server  (environment: DATABASE_URL, CACHE_URL...)
Prints the port it listens on as its first line, then serves until killed.
"""

from __future__ import annotations

import os
import sys


def make_server():
    """Django's threaded development server (a thread per request, database connections
    closed after each) on a free port, with a listen backlog that takes 40 simultaneous
    connections (Django's default of 10 makes the kernel reset the rest)."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Server(ThreadedWSGIServer):
        request_queue_size = 128

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):  # the test reads the responses, not the access log
            pass

    server = Server(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    return server


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings_test")
    import django

    django.setup()
    server = make_server()
    print(server.server_port, flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
