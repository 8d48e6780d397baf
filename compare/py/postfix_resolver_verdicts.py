#!/usr/bin/env python3
"""Verdicts of postfix-mta-sts-resolver on the public corpus.

Prints one line per corpus item (every policy file named in INDEX.tsv,
then every record of records/sts.tsv), tab-separated:

    kind  item  verdict  detail

kind is `policy` or `sts`; verdict is `accept` or `reject`; detail is the
normalised content for an accept (`mode=... max_age=... mx=a,b` or
`id=...`, mx lowercased, file order) or the reason for a reject. Fields
are escaped like the corpus (backslash-t, -r, -n, -backslash).

By default (`--method resolver`) every verdict comes from the package's
real decision path, `postfix_mta_sts_resolver.resolver.STSResolver.resolve`,
with its two I/O points replaced by in-process fakes: the DNS query answers
the TXT record(s) and the HTTPS fetch answers the policy bytes with status
200 and `Content-Type: text/plain; charset=utf-8`. A policy file is judged
with the TXT record `v=STSv1; id=1`; a TXT record is judged with a valid
policy. `VALID` is an accept; `NONE` and `FETCH_ERROR` are rejections.
Parsing is therefore done by the package's own
`utils.parse_mta_sts_policy` and `utils.parse_mta_sts_record`.

`--method emulate` instead calls those two parsers directly and applies the
acceptance checks of `resolve` restated here (version, max_age range,
mode, non-empty mx list unless mode is none; for TXT: starts with
`v=STSv1`, has v and id); it needs no event loop and gives the same
verdicts on the corpus (reasons are more specific).

The policy body is decoded as UTF-8 (`--charset` changes the charset the
fake server announces; without one the resolver decodes ASCII).

Usage: postfix_resolver_verdicts.py [--shared DIR] [--charset NAME]
"""

import argparse
import asyncio
import logging
import os
import sys

import postfix_mta_sts_resolver.resolver as pmsr_resolver

from postfix_mta_sts_resolver.utils import (parse_mta_sts_policy,
                                            parse_mta_sts_record)

MAX_AGE_LIMIT = 31557600


def escape(text):
    return (text.replace('\\', '\\\\').replace('\t', '\\t')
            .replace('\r', '\\r').replace('\n', '\\n'))


def unescape(raw):
    out = bytearray()
    i = 0
    table = {ord('t'): 9, ord('r'): 13, ord('n'): 10, ord('\\'): 92}
    while i < len(raw):
        if raw[i] == 92 and i + 1 < len(raw) and raw[i + 1] in table:
            out.append(table[raw[i + 1]])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def read_tsv(path):
    with open(path, 'rb') as handle:
        lines = handle.read().split(b'\n')[1:]
    return [line.split(b'\t') for line in lines if line]


def policy_verdict(body, charset):
    try:
        text = body.decode(charset)
    except UnicodeDecodeError:
        return 'reject', 'decode(%s)' % charset
    pol = parse_mta_sts_policy(text)
    if pol.get('version') != 'STSv1':
        return 'reject', 'version'
    try:
        max_age = int(pol.get('max_age', '-1'))
    except ValueError:
        return 'reject', 'max_age(int)'
    if max_age < 0 or max_age > MAX_AGE_LIMIT:
        return 'reject', 'max_age(range)'
    mode = pol.get('mode')
    if mode is None:
        return 'reject', 'mode(missing)'
    if mode != 'none':
        if mode not in ('testing', 'enforce'):
            return 'reject', 'mode(value)'
        if not pol['mx']:
            return 'reject', 'mx(missing)'
    mx = ','.join(m.lower() for m in pol['mx'])
    return 'accept', 'mode=%s max_age=%d mx=%s' % (mode, max_age, mx)


def record_verdict(record):
    # TXT strings reach the resolver as bytes and are decoded as ASCII;
    # records that fail are dropped.
    try:
        txt = record.decode('ascii')
    except UnicodeDecodeError:
        return 'reject', 'decode(ascii)'
    if not txt.startswith('v=STSv1'):
        return 'reject', 'prefix'
    rec = parse_mta_sts_record(txt)
    if rec.get('v') != 'STSv1':
        return 'reject', 'v'
    if 'id' not in rec:
        return 'reject', 'id(missing)'
    return 'accept', 'id=%s' % rec['id']


class _FakeContent:
    def __init__(self, body):
        self._body = body
        self._pos = 0

    async def read(self, size):
        chunk = self._body[self._pos:self._pos + size]
        self._pos += len(chunk)
        return chunk


class _FakeResponse:
    def __init__(self, body, charset):
        self.status = 200
        self.headers = {'Content-Type': 'text/plain; charset=%s' % charset,
                        'Content-Length': str(len(body))}
        self.charset = charset
        self.content = _FakeContent(body)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


class _FakeSession:
    """Stands in for aiohttp.ClientSession: serves one policy body."""
    body = b''
    charset = 'utf-8'

    def __init__(self, *args, **kwargs):
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    def get(self, url, **kwargs):
        return _FakeResponse(_FakeSession.body, _FakeSession.charset)


class _FakeTxt:
    def __init__(self, text):
        self.text = text


class _FakeDns:
    def __init__(self, records):
        self.records = records

    async def query(self, name, rtype):
        return [_FakeTxt(r) for r in self.records]


VALID_POLICY = b'version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n'


def via_resolver(loop, txt_records, body, charset):
    """Runs STSResolver.resolve with faked DNS and HTTPS; returns its result."""
    pmsr_resolver.aiohttp.ClientSession = _FakeSession
    _FakeSession.body = body
    _FakeSession.charset = charset
    resolver = pmsr_resolver.STSResolver(loop=loop)
    resolver._resolver = _FakeDns(txt_records)  # pylint: disable=protected-access
    return loop.run_until_complete(resolver.resolve('example.com'))


def resolver_policy_verdict(loop, body, charset):
    status, result = via_resolver(loop, [b'v=STSv1; id=1'], body, charset)
    if status != pmsr_resolver.STSFetchResult.VALID:
        return 'reject', status.name
    pol = result[1]
    mx = ','.join(m.lower() for m in pol['mx'])
    return 'accept', 'mode=%s max_age=%d mx=%s' % (pol['mode'], pol['max_age'], mx)


def resolver_record_verdict(loop, record):
    status, result = via_resolver(loop, [record], VALID_POLICY, 'utf-8')
    if status != pmsr_resolver.STSFetchResult.VALID:
        return 'reject', status.name
    return 'accept', 'id=%s' % result[0]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shared', default=os.environ.get(
        'STS_SHARED', os.path.join(here, '..', '..', '..', 'shared')))
    parser.add_argument('--charset', default='utf-8')
    parser.add_argument('--method', choices=('resolver', 'emulate'),
                        default='resolver')
    args = parser.parse_args()
    if args.method == 'resolver':
        # resolve() logs each failed fetch as a warning; the verdict says it.
        logging.getLogger('RES').setLevel(logging.ERROR)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        judge_policy = lambda body: resolver_policy_verdict(loop, body, args.charset)
        judge_record = lambda rec: resolver_record_verdict(loop, rec)
    else:
        judge_policy = lambda body: policy_verdict(body, args.charset)
        judge_record = record_verdict
    corpus = os.path.join(args.shared, 'corpus')

    out = sys.stdout
    out.write('kind\titem\tverdict\tdetail\n')
    for row in read_tsv(os.path.join(corpus, 'INDEX.tsv')):
        name = row[0].decode()
        with open(os.path.join(corpus, name), 'rb') as handle:
            body = handle.read()
        verdict, detail = judge_policy(body)
        out.write('policy\t%s\t%s\t%s\n' % (name, verdict, escape(detail)))
    for row in read_tsv(os.path.join(corpus, 'records', 'sts.tsv')):
        verdict, detail = judge_record(unescape(row[1]))
        out.write('sts\t%s\t%s\t%s\n' % (row[0].decode(), verdict,
                                         escape(detail)))


if __name__ == '__main__':
    main()
