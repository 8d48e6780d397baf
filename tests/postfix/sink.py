#!/usr/bin/env python3
"""SMTP sink for the Postfix end-to-end test: one line per event in LOG.

usage: sink.py LOG ADDR:PORT=CERT,KEY ... ADDR:PORT=plain ...

A listener given `plain` offers no STARTTLS. Lines: `ADDR:PORT tls VERSION
sni=NAME`, `ADDR:PORT accepted tls=VERSION sni=NAME to=RCPT`,
`ADDR:PORT tls-fail ERROR`, `ADDR:PORT closed ERROR`.
"""
import socketserver
import ssl
import sys
import threading

LOG = open(sys.argv[1], "a", buffering=1)
LOCK = threading.Lock()


def log(*words):
    with LOCK:
        LOG.write(" ".join(map(str, words)) + "\n")


class Session(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        try:
            self.session()
        except OSError as e:  # Postfix drops TLS sessions it does not trust
            log(self.me(), "closed", e)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def me(self):
        return "%s:%d" % self.server.server_address

    def session(self):
        tls, sni, rcpt = None, [None], []
        self.reply("220 sink ESMTP")
        while True:
            line = self.rfile.readline(10000)
            if not line:
                return
            cmd = line.decode("latin1").rstrip("\r\n")
            up = cmd.upper()
            if up[:4] in ("EHLO", "HELO"):
                offer = self.server.ctx is not None and not tls
                self.reply("250-sink\r\n" + ("250-STARTTLS\r\n" if offer else "") + "250 8BITMIME")
            elif up == "STARTTLS" and self.server.ctx is not None and not tls:
                self.reply("220 go ahead")
                ctx = self.server.ctx
                ctx.sni_callback = lambda s, name, c: sni.__setitem__(0, name)
                try:
                    s = ctx.wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    log(self.me(), "tls-fail", e)
                    return
                tls, self.rfile, self.wfile = s.version(), s.makefile("rb"), s.makefile("wb")
                log(self.me(), "tls", tls, "sni=%s" % sni[0])
            elif up.startswith("MAIL FROM:"):
                rcpt = []
                self.reply("250 ok")
            elif up.startswith("RCPT TO:"):
                rcpt.append(cmd[8:])
                self.reply("250 ok")
            elif up == "DATA":
                self.reply("354 go")
                while self.rfile.readline(100000) not in (b"", b".\r\n", b".\n"):
                    pass
                log(self.me(), "accepted tls=%s sni=%s to=%s" % (tls, sni[0], ",".join(rcpt)))
                self.reply("250 ok queued")
            elif up in ("RSET", "NOOP"):
                self.reply("250 ok")
            elif up == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 unimplemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    for spec in sys.argv[2:]:
        addr, files = spec.split("=")
        ip, port = addr.rsplit(":", 1)
        srv = Server((ip, int(port)), Session)
        srv.ctx = None
        if files != "plain":
            srv.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            srv.ctx.load_cert_chain(*files.split(","))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
