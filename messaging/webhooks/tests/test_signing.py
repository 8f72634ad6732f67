import hashlib
import hmac

from messaging.webhooks import signing


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"id":"x"}'
    header = signing.signature_header(body, ["whsec_abc"], timestamp=1700000000)
    expected = hmac.new(b"whsec_abc", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_accepts_fresh_and_refuses_stale_tampered_or_wrong_secret():
    body = b'{"id":"x"}'
    header = signing.signature_header(body, ["s1"], timestamp=1700000000)
    assert signing.verify(header, body, "s1", now=1700000100)
    assert not signing.verify(header, body, "s1", now=1700000000 + 301)  # replayed too late
    assert not signing.verify(header, body + b" ", "s1", now=1700000100)
    assert not signing.verify(header, body, "s2", now=1700000100)
    assert not signing.verify("", body, "s1", now=1700000100)
    assert not signing.verify("t=abc,v1=00", body, "s1", now=1700000100)


def test_rotation_header_carries_one_signature_per_secret_and_either_verifies():
    body = b"{}"
    header = signing.signature_header(body, ["new", "old"], timestamp=1700000000)
    timestamp, signatures = signing.parse_header(header)
    assert timestamp == 1700000000 and len(signatures) == 2
    assert signing.verify(header, body, "new", now=1700000000)
    assert signing.verify(header, body, "old", now=1700000000)
    assert not signing.verify(header, body, "other", now=1700000000)


def test_the_python_sample_in_the_docs_verifies_our_signatures():
    import re
    import time
    from pathlib import Path

    from django.conf import settings

    text = (Path(settings.BASE_DIR) / "docs" / "webhooks.md").read_text(encoding="utf-8")
    sample = re.search(r"### Python\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(sample, namespace)
    body = '{"id":"e1","data":{"text":"退订"}}'.encode()
    header = signing.signature_header(body, ["new-secret", "old-secret"], timestamp=int(time.time()))
    assert namespace["verify"](header, body, "old-secret")
    assert namespace["verify"](header, body, "new-secret")
    assert not namespace["verify"](header, body + b"x", "new-secret")
