"""Parse a report message with Python's email package and print what the
test checks, as JSON: every header (unfolded), the multipart structure, and
each part's content type, parameters, file name and payload (base64 of the
decoded bytes).

usage: python3 parse_mail.py MESSAGE.eml
"""
import base64
import email
import email.policy
import json
import sys


def main() -> int:
    with open(sys.argv[1], "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    out = {
        "defects": [str(d) for d in msg.defects],
        "headers": [[k, str(v)] for k, v in msg.items()],
        "content_type": msg.get_content_type(),
        "params": dict(msg["content-type"].params),
        "is_multipart": msg.is_multipart(),
        "parts": [],
    }
    for part in msg.iter_parts():
        payload = part.get_payload(decode=True) or b""
        out["parts"].append({
            "content_type": part.get_content_type(),
            "params": dict(part["content-type"].params),
            "transfer_encoding": part.get("content-transfer-encoding", ""),
            "disposition": part.get_content_disposition(),
            "filename": part.get_filename(),
            "defects": [str(d) for d in part.defects],
            "payload_b64": base64.b64encode(payload).decode("ascii"),
        })
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
