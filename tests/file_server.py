"""One file served on 127.0.0.1 over real HTTP, counting the requests (for URL data sources)."""

from __future__ import annotations

import http.server
import threading


class FileServer:
    def __init__(self, payload: bytes, name: str) -> None:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.paths: list[str] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def requests(self) -> int:
        return len(self.paths)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
