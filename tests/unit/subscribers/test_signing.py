"""Webhook signatures (wardwatch.subscribers.signing): what a receiver's verify accepts and refuses."""

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wardwatch.subscribers.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    signature,
    signed_headers,
    verify,
    verify_headers,
)

SECRET = b"whsec-" + b"k" * 32
BODY = b'{"event_id":"e-1","type":"raised","priority":"high","bed":"7"}'
NOW = 1_733_371_200.0


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET, b"1733371200." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1733371200, BODY) == "v1=" + expected
    # a fixed vector, the one README's "Webhooks" section quotes
    assert signature(b"x" * 32, 1700000000, b"{}") == (
        "v1=" + hmac.new(b"x" * 32, b"1700000000.{}", hashlib.sha256).hexdigest()
    )


def test_signed_headers_carry_timestamp_signature_and_event_id():
    h = signed_headers(SECRET, BODY, NOW + 0.9, event_id="e-1")
    assert h[TIMESTAMP_HEADER] == "1733371200"
    assert h[EVENT_ID_HEADER] == "e-1"
    assert verify(SECRET, BODY, h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER], NOW) == 1733371200


@pytest.mark.parametrize("skew", [-300.0, -1.0, 0.0, 299.0, 300.0])
def test_verify_accepts_within_the_replay_window(skew):
    h = signed_headers(SECRET, BODY, NOW)
    assert verify_headers(SECRET, BODY, h, now=NOW + skew) == int(NOW)


@pytest.mark.parametrize("skew", [-301.0, 301.0, 86400.0])
def test_verify_refuses_a_timestamp_outside_the_window(skew):
    h = signed_headers(SECRET, BODY, NOW)
    with pytest.raises(SignatureError) as e:
        verify_headers(SECRET, BODY, h, now=NOW + skew)
    assert e.value.code == "stale"


def test_verify_window_is_configurable():
    h = signed_headers(SECRET, BODY, NOW)
    with pytest.raises(SignatureError, match="stale"):
        verify_headers(SECRET, BODY, h, now=NOW + 61, tolerance_s=60)
    assert verify_headers(SECRET, BODY, h, now=NOW + 61, tolerance_s=120) == int(NOW)


def test_verify_refuses_tampering():
    h = signed_headers(SECRET, BODY, NOW)
    cases = {
        "body": (SECRET, BODY.replace(b"high", b"low!"), h),
        "secret": (b"other-" + b"k" * 32, BODY, h),
        # an old signature replayed under a fresh timestamp
        "timestamp": (SECRET, BODY, {**h, TIMESTAMP_HEADER: str(int(NOW) + 1)}),
    }
    for name, (secret, body, headers) in cases.items():
        with pytest.raises(SignatureError) as e:
            verify_headers(secret, body, headers, now=NOW)
        assert e.value.code == "bad_signature", name


def test_verify_refuses_missing_or_malformed_headers():
    h = signed_headers(SECRET, BODY, NOW)
    for headers, code in [
        ({SIGNATURE_HEADER: h[SIGNATURE_HEADER]}, "missing_header"),
        ({TIMESTAMP_HEADER: h[TIMESTAMP_HEADER]}, "missing_header"),
        ({**h, TIMESTAMP_HEADER: "2024-12-05T04:00:00Z"}, "bad_timestamp"),
        ({**h, TIMESTAMP_HEADER: "-5"}, "bad_timestamp"),
        ({**h, SIGNATURE_HEADER: "sha1=abc"}, "bad_signature"),
        ({**h, SIGNATURE_HEADER: "v1=" + "0" * 64}, "bad_signature"),
    ]:
        with pytest.raises(SignatureError) as e:
            verify_headers(SECRET, BODY, headers, now=NOW)
        assert e.value.code == code, headers


def test_verify_headers_case_insensitive_and_rotation():
    h = signed_headers(SECRET, BODY, NOW)
    lower = {k.lower(): v for k, v in h.items()}
    assert verify_headers(SECRET, BODY, lower, now=NOW) == int(NOW)
    old = signature(b"old-" + b"k" * 32, int(NOW), BODY)
    rotated = {**h, SIGNATURE_HEADER: f"{old}, {h[SIGNATURE_HEADER].upper().replace('V1=', 'v1=')}"}
    assert verify_headers(SECRET, BODY, rotated, now=NOW) == int(NOW)


@given(
    secret=st.binary(min_size=32, max_size=64),
    body=st.binary(max_size=512),
    ts=st.integers(min_value=0, max_value=4_000_000_000),
    flip=st.integers(min_value=0, max_value=10_000),
)
def test_any_signed_body_verifies_and_any_changed_byte_does_not(secret, body, ts, flip):
    h = signed_headers(secret, body, float(ts))
    assert verify_headers(secret, body, h, now=float(ts)) == ts
    if body:
        i = flip % len(body)
        changed = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
        with pytest.raises(SignatureError):
            verify_headers(secret, changed, h, now=float(ts))
