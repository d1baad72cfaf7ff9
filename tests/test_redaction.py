"""Secret redaction for summaries, comments and logs."""

from __future__ import annotations

import io
import logging

import pytest

from clawboo_host.redaction import (
    MAX_SUMMARY_CHARS,
    REDACTED,
    RedactingFilter,
    redact,
    redact_known,
    safe_summary,
)

# Obviously fake values of the right shapes.
SK_ANT = "sk-ant-test-0123456789"
SK_OR = "sk-or-v1-test-0123456789"
SK = "sk-test-0123456789"
GHP = "ghp_test0123456789abc"
GITHUB_PAT = "github_pat_test_0123456789abcdef"
GLPAT = "glpat-test-0123456789abcdef"
SLACK = "xoxb-test-0123456789"
AKIA = "AKIA" + "TESTTESTTEST1234"  # split: not a committed key
AIZA = "AIza" + "test" * 8 + "abc"  # AIza + 35
JWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.dGVzdHNpZw"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "TESTTESTTESTTESTTESTTESTTESTTEST\n"
    "ONLYATESTFIXTURENOTAREALKEY00000\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    "secret",
    [
        SK_ANT,
        SK_OR,
        SK,
        GHP,
        "gho_test0123456789abc",
        GITHUB_PAT,
        GLPAT,
        SLACK,
        "xoxp-test-0123456789",
        AKIA,
        AIZA,
        JWT,
        PEM,
    ],
)
def test_secret_shapes_are_redacted_in_context(secret):
    text = f"before {secret} after"
    out = redact(text)
    assert out == f"before {REDACTED} after"
    assert secret not in out


@pytest.mark.parametrize("secret", [SK_ANT, GHP, AKIA, JWT])
def test_shapes_at_string_edges_and_in_punctuation(secret):
    assert redact(secret) == REDACTED
    assert redact(f"({secret}),") == f"({REDACTED}),"
    assert redact(f'"{secret}"') == f'"{REDACTED}"'


def test_key_with_trailing_dash_is_taken_whole():
    assert redact("sk-test-0123456789- end") == f"{REDACTED} end"


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abcdef0123456789",
        "authorization: bearer abcdef0123456789",
        "BEARER   abcdef0123456789.xyz",
        "Bearer abc+def/0123456789==",
    ],
)
def test_bearer_tokens(text):
    out = redact(text)
    assert "0123456789" not in out
    assert REDACTED in out


def test_short_bearer_is_prose():
    assert redact("Bearer token") == "Bearer token"


@pytest.mark.parametrize(
    "text",
    [
        "sk-short",  # under 12 chars after sk-
        "task-0123456789abcdef",  # sk- inside a word
        "ghp_short",
        "AKIA1234",  # too short
        "AIzaShort",
        "the user said hello world",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "inputTokens=1200 outputTokens=30 MAX_TOKENS=4096",
        "eyJonly.two",
        "api key is missing",
        "see docs.example.com/path",
    ],
)
def test_non_secrets_pass_through(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"OPENROUTER_API_KEY={SK_OR}", f"OPENROUTER_API_KEY={REDACTED}"),
        ("DB_PASSWORD: hunter2hunter2", f"DB_PASSWORD: {REDACTED}"),
        ("MY_SECRET = plainvalue rest", f"MY_SECRET = {REDACTED} rest"),
        ('MY_SECRET="two words" rest', f"MY_SECRET={REDACTED} rest"),
        ("MY_SECRET='two words' rest", f"MY_SECRET={REDACTED} rest"),
        ("export GH_TOKEN=abc123", f"export GH_TOKEN={REDACTED}"),
        ('{"OPENAI_API_KEY": "not shaped at all"}', f'{{"OPENAI_API_KEY": {REDACTED}}}'),
        ("A_KEY=x\nB_TOKEN=y\n", f"A_KEY={REDACTED}\nB_TOKEN={REDACTED}\n"),
    ],
)
def test_assignments_keep_the_name(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "EMPTY_TOKEN=\nPATH=/usr/bin",  # an empty value never swallows the next line
        "api_key=lowercase-is-prose",
        "MAX_TOKENS=100",
        "KEYBOARD=us",
        "MONKEY business",
    ],
)
def test_assignment_rule_is_narrow(text):
    assert redact(text) == text


def test_run_flow_error_summary_example():
    summary = f"Error: 401 Unauthorized (OPENROUTER_API_KEY={SK_OR}) while calling the model"
    out = redact(summary)
    assert SK_OR not in out
    assert "OPENROUTER_API_KEY=[REDACTED]" in out


def test_pem_block_is_redacted_whole_even_in_an_assignment():
    text = f"PRIVATE_KEY={PEM}\nnext line"
    out = redact(text)
    assert "TESTTEST" not in out and "NOTAREALKEY" not in out
    assert out == f"PRIVATE_KEY={REDACTED}\nnext line"


@pytest.mark.parametrize("header", ["PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
def test_pem_variants(header):
    block = f"-----BEGIN {header}-----\nTESTBODY0000\n-----END {header}-----"
    assert redact(f"a\n{block}\nb") == f"a\n{REDACTED}\nb"


def test_unterminated_pem_is_redacted_to_the_end():
    text = "log start\n-----BEGIN PRIVATE KEY-----\nTESTBODY0000\nTESTBODY1111"
    assert redact(text) == f"log start\n{REDACTED}"


def test_public_key_and_certificate_are_kept():
    text = "-----BEGIN PUBLIC KEY-----\nTESTPUB\n-----END PUBLIC KEY-----"
    assert redact(text) == text


def test_many_secrets_in_one_text():
    text = f"{SK_ANT} and {GHP} and Bearer abcdef0123456789 and {JWT}"
    out = redact(text)
    for secret in (SK_ANT, GHP, "abcdef0123456789", JWT):
        assert secret not in out
    assert out.count(REDACTED) == 4


@pytest.mark.parametrize(
    "text",
    [
        f"OPENROUTER_API_KEY={SK_OR}",
        f"x {PEM} y",
        f"Authorization: Bearer {JWT}",
        'A_SECRET="q w e" B_TOKEN=v',
        f"{SK_ANT} {AIZA}",
    ],
)
def test_redact_is_idempotent(text):
    once = redact(text)
    assert redact(once) == once


def test_empty_text():
    assert redact("") == ""
    assert redact_known("", ["secret-value"]) == ""
    assert safe_summary("") == ""
    assert safe_summary(None) == ""  # type: ignore[arg-type]


# ── known values ────────────────────────────────────────────────────────────────


def test_redact_known_replaces_exact_values_of_any_shape():
    text = "the key is plainvalue99 and again plainvalue99."
    assert redact_known(text, ["plainvalue99"]) == f"the key is {REDACTED} and again {REDACTED}."


def test_redact_known_also_applies_patterns():
    out = redact_known(f"plainvalue99 {SK_ANT}", ["plainvalue99"])
    assert out == f"{REDACTED} {REDACTED}"


def test_redact_known_skips_short_and_non_string_values():
    text = "abcde is short, 12345 too"
    assert redact_known(text, ["abcde", "", "   ", None, 12345]) == text  # type: ignore[list-item]
    assert redact_known("abcdef here", ["abcdef"]) == f"{REDACTED} here"


def test_redact_known_prefers_the_longest_value():
    text = "value: prefix-and-more-text"
    out = redact_known(text, ["prefix", "prefix-and-more-text"])
    assert out == f"value: {REDACTED}"


def test_redact_known_matches_trimmed_value_too():
    assert redact_known("got plainvalue99!", ["  plainvalue99\n"]) == f"got {REDACTED}!"


def test_redact_known_escapes_regex_metacharacters():
    secret = "a.b*c+d?(e)[f]"
    assert redact_known("x a.b*c+d?(e)[f] y aXbbc", [secret]) == f"x {REDACTED} y aXbbc"


def test_redact_known_runs_before_patterns():
    """A known value that contains a shape must not leave its tail in clear."""
    secret = "prefix Bearer abcdef0123456789 suffix-tail"
    out = redact_known(f"[{secret}]", [secret])
    assert out == f"[{REDACTED}]"


def test_redact_known_accepts_any_iterable():
    assert redact_known("plainvalue99", (s for s in ["plainvalue99"])) == REDACTED


# ── safe_summary ────────────────────────────────────────────────────────────────


def test_safe_summary_redacts_and_keeps_short_text():
    assert safe_summary(f"done; OPENAI_API_KEY={SK}") == f"done; OPENAI_API_KEY={REDACTED}"
    assert safe_summary("plainvalue99 leaked", ["plainvalue99"]) == f"{REDACTED} leaked"


def test_safe_summary_truncates_to_8000_plus_ellipsis():
    assert MAX_SUMMARY_CHARS == 8000
    exact = "a" * 8000
    assert safe_summary(exact) == exact
    out = safe_summary("a" * 8001)
    assert out == "a" * 8000 + "…"
    assert len(out) == 8001


def test_safe_summary_redacts_before_truncating():
    text = "a" * 7994 + " " + SK_ANT + " " + "b" * 100
    out = safe_summary(text)
    assert out.endswith("…")
    assert "sk-ant" not in out
    assert out[:7995] == "a" * 7994 + " "
    assert out[7995:8000] == REDACTED[:5]


# ── logging filter ──────────────────────────────────────────────────────────────


@pytest.fixture
def captured():
    logger = logging.getLogger("clawboo_host.tests.redaction")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_filter_redacts_formatted_args(captured):
    logger, stream = captured
    logger.info("connecting with %s to %s", SK_ANT, "openrouter")
    assert stream.getvalue() == f"INFO connecting with {REDACTED} to openrouter\n"


def test_filter_redacts_plain_message_and_dict_args(captured):
    logger, stream = captured
    logger.warning("env dump: GH_TOKEN=abc123 ok")
    logger.warning("%(who)s used %(key)s", {"who": "codex", "key": GHP})
    assert stream.getvalue() == (
        f"WARNING env dump: GH_TOKEN={REDACTED} ok\nWARNING codex used {REDACTED}\n"
    )


def test_filter_sets_args_to_none_and_msg_to_string():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key=%s n=%d", (SK, 3), None)
    assert RedactingFilter().filter(record) is True
    assert record.msg == f"key={REDACTED} n=3"
    assert record.args is None
    assert record.getMessage() == f"key={REDACTED} n=3"


def test_filter_leaves_percent_signs_alone_after_formatting():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s done", ("100%",), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "100% done"


def test_filter_survives_malformed_args():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", (SK,), None)
    assert RedactingFilter().filter(record) is True
    assert SK not in record.getMessage()
    assert record.args is None


def test_filter_redacts_tracebacks(captured):
    logger, stream = captured
    try:
        raise RuntimeError(f"auth failed for {SK_ANT}")
    except RuntimeError:
        logger.exception("run failed")
    out = stream.getvalue()
    assert "run failed" in out
    assert "RuntimeError: auth failed for [REDACTED]" in out
    assert SK_ANT not in out


def test_filter_redacts_stack_info(captured):
    logger, stream = captured
    logger.info("here", stack_info=True)
    assert "Stack (most recent call last)" in stream.getvalue()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None, sinfo=SK)
    RedactingFilter().filter(record)
    assert record.stack_info == REDACTED


def test_filter_with_known_secrets():
    known = ["plainvalue99"]
    f = RedactingFilter(known_secrets=lambda: known)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "v=%s", ("plainvalue99",), None)
    f.filter(record)
    assert record.msg == f"v={REDACTED}"
    known.append("laterknown1")  # consulted per record
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "laterknown1", None, None)
    f.filter(record)
    assert record.msg == REDACTED


def test_filter_with_failing_known_secrets_still_applies_patterns():
    def boom():
        raise OSError("vault unavailable")

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "k=%s", (SK,), None)
    RedactingFilter(known_secrets=boom).filter(record)
    assert record.msg == f"k={REDACTED}"


def test_filter_is_idempotent_across_handlers():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "k=%s", (SK,), None)
    f = RedactingFilter()
    f.filter(record)
    f.filter(record)
    assert record.getMessage() == f"k={REDACTED}"


def test_redact_json_walks_nested_values():
    from clawboo_host.redaction import redact_json

    event = {"type": "tool-result", "output": {"lines": ["ok", "key=known-secret-123"]}, "n": 3}
    out = redact_json(event, ["known-secret-123"])
    assert out == {"type": "tool-result", "output": {"lines": ["ok", "key=[REDACTED]"]}, "n": 3}
    assert event["output"]["lines"][1] == "key=known-secret-123"  # the input is not modified


def test_lone_surrogates_become_replacement_characters():
    from clawboo_host.redaction import redact

    out = redact("half an emoji: \ud83d!")
    assert out == "half an emoji: \ufffd!"
    out.encode("utf-8")  # storable
