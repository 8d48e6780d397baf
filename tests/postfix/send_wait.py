#!/usr/bin/env python3
"""Submit one message to the test Postfix and wait for its first status.

usage: send_wait.py SMTPD_ADDR MAILLOG RCPT [TIMEOUT] [STATUS]

Prints `QUEUEID STATUS` for the first `status=` line of the message in
MAILLOG (or, with STATUS, the first line with that status); exits 1 on
timeout.
"""
import re
import smtplib
import sys
import time

addr, maillog, rcpt = sys.argv[1], sys.argv[2], sys.argv[3]
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 15
want = sys.argv[5] if len(sys.argv) > 5 else r"\w+"
host, port = addr.rsplit(":", 1)
t0 = time.monotonic()
with smtplib.SMTP(host, int(port), timeout=10) as s:
    s.ehlo()
    s.mail("sender@postfix.test")
    s.rcpt(rcpt)
    _, msg = s.data(b"From: sender@postfix.test\r\nTo: %s\r\nSubject: t\r\n\r\nhi\r\n" % rcpt.encode())
qid = msg.decode().rsplit(" ", 1)[-1]
pat = re.compile(r" %s: to=<%s>, .* status=(%s)" % (qid, re.escape(rcpt), want))
while time.monotonic() - t0 < timeout:
    with open(maillog, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if m:
                print(qid, m.group(1))
                sys.exit(0)
    time.sleep(0.1)
print(qid, "timeout")
sys.exit(1)
