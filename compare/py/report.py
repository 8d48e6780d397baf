#!/usr/bin/env python3
"""Markdown tables for docs/differential.md and docs/benchmarks.md.

    report.py differential [--update FILE]
    report.py benchmarks --results DIR --target CARGO_TARGET_DIR [--update FILE]

Without --update the table is printed; with it, the part of FILE between
the markers `<!-- NAME:begin -->` and `<!-- NAME:end -->` is replaced.
Standard library only.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)
FILES = ('typical_crlf', 'small', 'testing', 'large')


def read_tsv(path):
    with open(path, encoding='utf-8', errors='backslashreplace') as handle:
        lines = handle.read().split('\n')
    header = lines[0].split('\t')
    return [dict(zip(header, line.split('\t'))) for line in lines[1:] if line]


def cell(text):
    return text.replace('|', '\\|').replace('\\t', ' ').replace('\\r', '\\\\r')


def differential():
    causes = {row['cause']: row for row in read_tsv(os.path.join(CRATE, 'causes.tsv'))}
    rows = read_tsv(os.path.join(CRATE, 'expected-disagreements.tsv'))
    order = list(causes)
    rows.sort(key=lambda r: (order.index(r['cause']) if r['cause'] in order else 999,
                             r['item'], r['other']))
    out = []
    counts = {}
    for row in rows:
        key = (row['kind'], row['other'])
        counts[key] = counts.get(key, 0) + 1
    out.append('| input kind | compared with | disagreements |')
    out.append('| --- | --- | ---: |')
    for (kind, other), n in sorted(counts.items()):
        out.append('| %s | %s | %d |' % (kind, other, n))
    out.append('| **all** | | **%d** |' % len(rows))
    out.append('')
    out.append('| item | other | libsts | other\'s verdict | cause | RFC | judgement |')
    out.append('| --- | --- | --- | --- | --- | --- | --- |')
    for row in rows:
        c = causes.get(row['cause'], {})
        ours = row['libsts'] if row['libsts'] == 'accept' else 'reject `%s`' % row['libsts_detail']
        theirs = row['theirs'] if row['theirs'] == 'reject' else 'accept'
        if row['theirs'] == 'reject':
            theirs = 'reject `%s`' % row['theirs_detail']
        if row['libsts'] == 'accept' and row['theirs'] == 'accept':
            ours = 'accept `%s`' % row['libsts_detail']
            theirs = 'accept `%s`' % row['theirs_detail']
        elif row['theirs'] == 'accept':
            theirs = 'accept `%s`' % row['theirs_detail']
        out.append('| %s | %s | %s | %s | [%s](#%s) | %s | %s |' % (
            row['item'], row['other'], cell(ours), cell(theirs), row['cause'],
            row['cause'], c.get('section', '?'), c.get('judgement', '?')))
    out.append('')
    out.append('### Causes')
    out.append('')
    for name, c in causes.items():
        n = sum(1 for r in rows if r['cause'] == name)
        out.append('#### %s' % name)
        out.append('')
        out.append('*%s* — %s; %d row(s).' % (c['section'], c['judgement'], n))
        out.append('')
        out.append(c['why'])
        out.append('')
    return '\n'.join(out)


def criterion_ns(target, group, name):
    path = os.path.join(target, 'criterion', group.replace('/', '_'), name, 'new',
                        'estimates.json')
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)['median']['point_estimate']
    except (OSError, KeyError, ValueError):
        return None


def fmt_ns(value):
    if value is None:
        return 'n/a'
    return '%.0f' % value if value >= 100 else '%.1f' % value


def benchmarks(results, target):
    cg = {(r['impl'], r['op'], r['input']): r
          for r in read_tsv(os.path.join(results, 'callgrind.tsv'))}
    py = {}
    pypath = os.path.join(results, 'postfix_timeit.tsv')
    if os.path.exists(pypath):
        py = {(r['op'], r['input']): float(r['ns_per_op']) for r in read_tsv(pypath)}

    def ir(impl, op, inp):
        row = cg.get((impl, op, inp))
        return int(row['instructions_per_op']) if row else None

    def allocs(impl, op, inp):
        row = cg.get((impl, op, inp))
        return '%s (%s B)' % (row['allocs_per_op'], row['bytes_per_op']) if row else 'n/a'

    out = []
    out.append('### Policy parse')
    out.append('')
    out.append('| input | libsts ns | libsts instr | libsts allocs | mailrs-mta-sts ns | mailrs instr | '
               'mailrs allocs (bytes) | postfix-mta-sts-resolver ns (CPython) | floor ns | floor instr |')
    out.append('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for inp in FILES:
        g = 'parse/%s' % inp
        out.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            inp, fmt_ns(criterion_ns(target, g, 'libsts')), ir('libsts', 'parse', inp),
            allocs('libsts', 'parse', inp),
            fmt_ns(criterion_ns(target, g, 'mailrs-mta-sts')), ir('mailrs', 'parse', inp),
            allocs('mailrs', 'parse', inp), fmt_ns(py.get(('parse', inp))),
            fmt_ns(criterion_ns(target, g, 'floor_count_newlines')), ir('floor', 'parse', inp)))
    out.append('')
    out.append('### MX match (host from hosts.tsv; a hit, last pattern for large)')
    out.append('')
    out.append('| input | libsts ns | libsts instr | libsts allocs | mailrs-mta-sts ns | mailrs instr | '
               'mailrs allocs (bytes) | Python matcher over postfix-mta-sts-resolver\'s result, ns |')
    out.append('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for inp in FILES:
        g = 'match/%s' % inp
        out.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            inp, fmt_ns(criterion_ns(target, g, 'libsts')), ir('libsts', 'match', inp),
            allocs('libsts', 'match', inp),
            fmt_ns(criterion_ns(target, g, 'mailrs-mta-sts')), ir('mailrs', 'match', inp),
            allocs('mailrs', 'match', inp), fmt_ns(py.get(('match', inp)))))
    out.append('')

    out.append('### Goals')
    out.append('')
    out.append('| goal | measured | met |')
    out.append('| --- | --- | --- |')

    def goal(text, value, ok):
        out.append('| %s | %s | %s |' % (text, value, 'yes' if ok else '**no**'))

    p = ir('libsts', 'parse', 'typical_crlf')
    m = ir('mailrs', 'parse', 'typical_crlf')
    f = ir('floor', 'parse', 'typical_crlf')
    if None not in (p, m, f):
        goal('typical parse (typical_crlf) < 600 instructions', '%d' % p, p < 600)
        goal('... 10x fewer than mailrs-mta-sts', '%d vs %d: %.1fx' % (p, m, m / p), m >= 10 * p)
        goal('... within 3x of the newline-scan floor', '%d vs %d: %.2fx' % (p, f, p / f), p <= 3 * f)
    mm = ir('libsts', 'match', 'typical_crlf')
    if mm is not None:
        goal('MX match, 3-mx policy (typical_crlf) < 100 instructions', '%d' % mm, mm < 100)
    lg = ir('libsts', 'parse', 'large')
    if lg is not None:
        goal('200-mx parse (large) < 10,000 instructions', '%d' % lg, lg < 10000)
    zero = all(r['allocs_per_op'] == '0' for k, r in cg.items() if k[0] == 'libsts')
    goal('zero heap allocations (libsts, every op and input)',
         'max %s' % max((r['allocs_per_op'] for k, r in cg.items() if k[0] == 'libsts'), default='n/a'),
         zero)
    out.append('')
    machine = os.path.join(results, 'machine.txt')
    if os.path.exists(machine):
        with open(machine, encoding='utf-8') as handle:
            out.append('Run on: ' + '; '.join(l.strip() for l in handle if l.strip()) + '.')
    return '\n'.join(out)


def update(path, name, body):
    begin, end = '<!-- %s:begin -->' % name, '<!-- %s:end -->' % name
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        sys.exit('%s: markers %s / %s not found' % (path, begin, end))
    text = text[:i + len(begin)] + '\n' + body + '\n' + text[j:]
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('what', choices=('differential', 'benchmarks'))
    parser.add_argument('--results', default=os.path.join(CRATE, 'results'))
    parser.add_argument('--target', default=os.environ.get('CARGO_TARGET_DIR', os.path.join(CRATE, '..', 'target', 'compare')))
    parser.add_argument('--update')
    args = parser.parse_args()
    body = differential() if args.what == 'differential' else benchmarks(args.results, args.target)
    if args.update:
        update(args.update, args.what, body)
    else:
        print(body)


if __name__ == '__main__':
    main()
