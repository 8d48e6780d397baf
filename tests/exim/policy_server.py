#!/usr/bin/env python3
"""HTTPS policy host for the Exim end-to-end test.

Serves ROOT/<host>/.well-known/mta-sts.txt as text/plain for the Host
header of each request (mta-sts.<domain>), 404 otherwise.

usage: policy_server.py ADDRESS PORT CERT_PEM KEY_PEM ROOT
"""
import http.server
import os
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    root = "."

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower().rstrip(".")
        ok = self.path == "/.well-known/mta-sts.txt" and host and "/" not in host and not host.startswith(".")
        path = os.path.join(self.root, host, ".well-known", "mta-sts.txt") if ok else None
        if path is None or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("policy-host: " + (fmt % args) + "\n")


def main():
    addr, port, cert, key, root = sys.argv[1:6]
    Handler.root = root
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd = http.server.ThreadingHTTPServer((addr, int(port)), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print("ready", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
