#!/usr/bin/env python3
"""Verdicts of postfix-mta-sts-resolver on the public corpus.

Prints one line per corpus item (every policy file named in INDEX.tsv,
then every record of records/sts.tsv), tab-separated:

    kind  item  verdict  detail

kind is `policy` or `sts`; verdict is `accept` or `reject`; detail is the
normalised content for an accept (`mode=... max_age=... mx=a,b` or
`id=...`, mx lowercased, file order) or the reason for a reject. Fields
are escaped like the corpus (backslash-t, -r, -n, -backslash).

The parsing is done by the package's own functions,
`postfix_mta_sts_resolver.utils.parse_mta_sts_policy` and
`parse_mta_sts_record`. Those return plain dicts; the resolver decides
validity afterwards, inside `STSResolver.resolve`, which also does the
DNS query and the HTTPS fetch and so cannot be called offline. The
acceptance rules applied here restate what that method checks (version,
max_age range, mode, non-empty mx list unless mode is none; for TXT: a
single record starting with `v=STSv1` with v and id tags).

The policy body is decoded as UTF-8, as the resolver does for a response
with `Content-Type: text/plain; charset=utf-8` (without a charset it
decodes as ASCII; `--charset ascii` reproduces that). A decoding error is
a rejection, as in the resolver (the fetch fails).

Usage: postfix_resolver_verdicts.py [--shared DIR] [--charset NAME]
"""

import argparse
import os
import sys

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


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shared', default=os.environ.get(
        'STS_SHARED', os.path.join(here, '..', '..', '..', 'shared')))
    parser.add_argument('--charset', default='utf-8')
    args = parser.parse_args()
    corpus = os.path.join(args.shared, 'corpus')

    out = sys.stdout
    out.write('kind\titem\tverdict\tdetail\n')
    for row in read_tsv(os.path.join(corpus, 'INDEX.tsv')):
        name = row[0].decode()
        with open(os.path.join(corpus, name), 'rb') as handle:
            body = handle.read()
        verdict, detail = policy_verdict(body, args.charset)
        out.write('policy\t%s\t%s\t%s\n' % (name, verdict, escape(detail)))
    for row in read_tsv(os.path.join(corpus, 'records', 'sts.tsv')):
        verdict, detail = record_verdict(unescape(row[1]))
        out.write('sts\t%s\t%s\t%s\n' % (row[0].decode(), verdict,
                                         escape(detail)))


if __name__ == '__main__':
    main()
