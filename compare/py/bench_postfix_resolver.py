#!/usr/bin/env python3
"""Times postfix-mta-sts-resolver's policy parser on the benchmark inputs.

For each of ../shared/bench/{small,typical_crlf,large,testing}.txt this
times `postfix_mta_sts_resolver.utils.parse_mta_sts_policy(text)` on the
already-decoded text (the resolver decodes the body first; that decode is
timed separately as `decode+parse`), and an MX match against the host of
hosts.tsv written the way a Python caller would with that result (the
package has no matcher of its own in utils; its resolver hands the
patterns to Postfix, which matches them). Prints a TSV:

    op  input  ns_per_op  loops  repeats

using `timeit` with the best of several repeats, after a calibration.

Usage: bench_postfix_resolver.py [--shared DIR] [--repeat N]
"""

import argparse
import os
import timeit

from postfix_mta_sts_resolver.utils import parse_mta_sts_policy

FILES = ('small', 'typical_crlf', 'large', 'testing')


def hosts(shared):
    out = {}
    with open(os.path.join(shared, 'bench', 'hosts.tsv'),
              encoding='ascii') as handle:
        for line in handle:
            if line.startswith('#') or '\t' not in line:
                continue
            name, host = line.rstrip('\n').split('\t', 1)
            out[name] = host.strip()
    return out


def match(patterns, host):
    """RFC 8461 section 4.1 matching, written for this benchmark."""
    host = host.lower()
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.startswith('*.'):
            head, dot, tail = host.partition('.')
            if dot and head and tail == pattern[2:]:
                return True
        elif pattern == host:
            return True
    return False


def best_ns(stmt, repeat):
    timer = timeit.Timer(stmt)
    loops, _ = timer.autorange()
    runs = timer.repeat(repeat=repeat, number=loops)
    return min(runs) / loops * 1e9, loops


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shared', default=os.environ.get(
        'STS_SHARED', os.path.join(here, '..', '..', '..', 'shared')))
    parser.add_argument('--repeat', type=int, default=7)
    args = parser.parse_args()
    host_of = hosts(args.shared)

    print('op\tinput\tns_per_op\tloops\trepeats')
    for name in FILES:
        with open(os.path.join(args.shared, 'bench', name + '.txt'),
                  'rb') as handle:
            body = handle.read()
        text = body.decode('utf-8')
        policy = parse_mta_sts_policy(text)
        host = host_of[name]
        assert match(policy['mx'], host), (name, host)
        cases = (
            ('parse', lambda: parse_mta_sts_policy(text)),
            ('decode+parse', lambda: parse_mta_sts_policy(body.decode('utf-8'))),
            ('match', lambda: match(policy['mx'], host)),
            ('floor_count_newlines', lambda: body.count(b'\n')),
        )
        for op, stmt in cases:
            ns, loops = best_ns(stmt, args.repeat)
            print('%s\t%s\t%.1f\t%d\t%d' % (op, name, ns, loops, args.repeat))


if __name__ == '__main__':
    main()
