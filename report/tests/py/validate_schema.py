"""Validate TLSRPT reports (a JSON array of them) against a JSON Schema.

usage: python3 validate_schema.py SCHEMA REPORTS.json
Needs the `jsonschema` package (pip install jsonschema, or Debian's
python3-jsonschema). Formats (date-time, ipv4, ipv6, uri) are checked.
"""
import json
import sys

import jsonschema


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        reports = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    bad = 0
    for i, report in enumerate(reports):
        for err in validator.iter_errors(report):
            bad += 1
            path = "/".join(str(p) for p in err.absolute_path)
            print(f"report {i}: /{path}: {err.message}", file=sys.stderr)
    print(f"{len(reports)} reports, {bad} errors")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
