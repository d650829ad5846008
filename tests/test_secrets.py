"""The secrets pack: provider formats in realistic surroundings, placeholders, no values in records, limits.

Every credential below is made up for these tests; none is real.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import string
import time
from pathlib import Path

import pytest

from promptward import Action, Guard
from promptward._packs import BUILTIN_PACKS, RulePack, load_pack

PACK_PATH = Path(__file__).resolve().parents[1] / "rules" / "secrets.yaml"


@functools.cache
def pack() -> RulePack:
    return load_pack(PACK_PATH)


@functools.cache
def default_guard() -> Guard:
    """The default guard once the pack is built in; until then the built-ins plus the pack file."""
    if "secrets" in BUILTIN_PACKS:
        return Guard()
    return Guard(["builtin", str(PACK_PATH)])


@functools.cache
def pack_guard() -> Guard:
    return Guard([pack()])


def secret_findings(text: str, guard: Guard | None = None) -> list[tuple[str, str]]:
    """(rule id, covered text) of every finding of category secret."""
    decision = (guard or pack_guard()).check(text)
    return [(f.rule_id, f.span.of(text)) for f in decision.findings if f.category == "secret"]


# (expected rule id prefix, the secret value, text holding it); {v} marks where the value goes.
CASES: list[tuple[str, str, str]] = [
    ("secrets.aws.access-key-id", "AKIAQ3EGTR7XJ2LMNP5K", "[default]\naws_access_key_id = {v}\nregion = eu-west-1"),
    ("secrets.aws.secret-access-key", "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", 'AWS_SECRET_ACCESS_KEY="{v}"'),
    ("secrets.gcp.api-key", "AIzaSyR1m4jfXuX8v-h2-1KZNUK9IKLdbFfu0Xg", 'const config = {{ apiKey: "{v}" }};'),
    ("secrets.gcp.service-account", '"type": "service_account"', '{{{v}, "project_id": "demo"}}'),
    (
        "secrets.azure.storage-key",
        "PUpP4J4N6OCZFkUUdUYXyVXtwwl6KcChuLc2iNkQkJnOkdsm2FC/R6YSRQr+/jf0SaWl7dUbo11sFuWvPAX2LJ==",
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={v};EndpointSuffix=core.windows.net",
    ),
    ("secrets.azure.client-secret", "Ab48Q~29rHO5WsAJ5ZrXTCnLVSBrfd9bMiBTpVEH", '{{"clientSecret": "{v}"}}'),
    ("secrets.ibm.cloud-iam-key", "iZIgW-M8PGjdeSPVMHx8XRUdBjg01iJi75WXerIN-U8c", "IBM_CLOUD_API_KEY={v}"),
    ("secrets.ibm.cos-hmac-secret", "7ac86d66c7a644fb12853ef86dcfaea21818b904ce608741", '"secret_access_key": "{v}"'),
    ("secrets.github.token", "ghp_XDuCL1mHoOsFaQfDPrAJ71fTquWoGsbeKXgz", 'gh = Github("{v}")'),
    ("secrets.github.token", "gho_g2sye9b2Rann76dEyTzAeKOmXRrvftva9AW7", "GITHUB_TOKEN={v}"),
    (
        "secrets.github.token",
        "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",
        "token: {v}",
    ),
    (
        "secrets.gitlab.token",
        "glpat-C3J27XDCG2LmlZGEONYl",
        'curl -H "PRIVATE-TOKEN: {v}" https://gitlab.com/api/v4/user',
    ),
    ("secrets.slack.token", "xoxb-281800994846-4846281800-C3J27XDCG2LmlZGEONYlgCtj", "SLACK_BOT_TOKEN={v}"),
    ("secrets.telegram.bot-token", "6281800994:AAR1m4jfXuX8v-h2-1KZNUK9IKLdbFfu0Xg", 'bot = TeleBot("{v}")'),
    (
        "secrets.stripe.secret-key",
        "sk_live_51hipTgadDZFlRJmCGmUXiAPyhzAnar3ZLt4bnlz2MPKgcjnCq",
        "stripe.api_key = '{v}'",
    ),
    ("secrets.stripe.secret-key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc8", "STRIPE_KEY={v}"),
    ("secrets.twilio.api-key", "SKcf2d133187c8df95247f2866028de711", 'client = Client("{v}", secret)'),
    (
        "secrets.sendgrid.api-key",
        "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",
        "SENDGRID_API_KEY={v}",
    ),
    (
        "secrets.openai.api-key",
        "sk-proj-2z_JEjn4_Ej-hitUwmQeSCKp1xXd7_jlAOz3WbROJAAxqv7fqJoHSTNzbiAUN0zsjI2V0J6rpmS1",
        'client = OpenAI(api_key="{v}")',
    ),
    ("secrets.openai.api-key", "sk-hipTgadDZFlRJmCGmUXiAPyhzAnar3ZLt4bnlz2MPKgcjnCq", "OPENAI_API_KEY={v}"),
    (
        "secrets.anthropic.api-key",
        "sk-ant-api03-GI2VZlKmkYCGQeOttKKh_gYkrRcBa91Qjwk4rW53p4OjoTopYNoBm1PrptJ80e3Wz--3X9nvPzbSuSWX57Ts9YPl_DHS0AA",
        '{{"anthropic_api_key": "{v}"}}',
    ),
    ("secrets.perplexity.api-key", "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", "PERPLEXITY_API_KEY={v}"),
    ("secrets.huggingface.token", "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", 'login(token="{v}")'),
    ("secrets.npm.token", "npm_g2sye9b2Rann76dEyTzAeKOmXRrvftva9AW7", "//registry.npmjs.org/:_authToken={v}"),
    ("secrets.npm.npmrc-auth", "baf19553-d7e8-78f7-f816-1e5a40fde802", "//registry.npmjs.org/:_authToken={v}"),
    (
        "secrets.pypi.token",
        "pypi-AgEIcHlwaS5vcmcCJGJhZjE5NTUzLWQ3ZTgtNzhmNy1mODE2LTFlNWE0MGZkZTgwMgACKlszLCI3YWM4NmQ2NmM3YTY0NGZiMTI4NTNl",
        "[pypi]\nusername = __token__\npassword = {v}",
    ),
    (
        "secrets.jwt.token",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1LTQ4MjEiLCJyb2xlIjoiYWRtaW4iLCJpYXQiOjE3MDAwMDAwMDB9"
        ".GTd7FguoV8FWnFbB0JxXujr4qqaaABvvLOzAxzXMcU1",
        '{{"access_token": "{v}", "token_type": "Bearer"}}',
    ),
    (
        "secrets.private-key.block",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nvsHiQMaRiNTN9Ox98whGcTZc1UWb5fxzpF7STG7nVLe3lARUsRJlNONwktN9ugkZ\n"
        "eESG61she/QAqq0nv3Vth1Ls6v6+O9JL8ZsoWw/Rxl+IUiTeNUJ+HLRwb8GPJ7KT\n-----END OPENSSH PRIVATE KEY-----",
        "Here is my key:\n{v}\nwhy does ssh reject it?",
    ),
    ("secrets.url.credentials", "q8Vh2xLm9Tz", "DATABASE_URL=postgres://app:{v}@db.internal:5432/prod"),
    ("secrets.generic.password", "Zr7#kLp2Wq9x", '{{"user": "svc", "password": "{v}"}}'),
    ("secrets.generic.password", "Xk2#pq9!Lm", "Server=db1;Database=app;User Id=sa;Password={v};"),
    ("secrets.generic.api-key", "gCtjfIZ4SOcMz9CPVNPkNa1Hedcm4pMb", "export API_KEY={v}"),
    ("secrets.generic.api-key", "XDuCL1mHoOsFaQfDPrAJ71fTquWoGsbeKXgz", "client_secret: {v}"),
    ("secrets.clickhouse.cloud-key", "4b1dJowNGGjKTm7HTT17mK8bOQmXfipEKASvvf73xr", "key_secret = {v}"),
    (
        "secrets.facebook.access-token",
        "EAAMD4hCUip5KIIJeJ6qk6V50vMjh70asR5xpWKx1klMJZeDczlY78QitWQ2V6yNLOZWbkmADcjHyhKzlvHiqpK7vdPYcUQYjz9FMgEw",
        "FB_TOKEN={v}",
    ),
    ("secrets.facebook.app-secret", "cf2d133187c8df95247f2866028de711", "FACEBOOK_APP_SECRET={v}"),
    ("secrets.grafana.token", "glsa_gCtjfIZ4SOcMz9CPVNPkNa1Hedcm4pMb_1828c76d", "Authorization: Bearer {v}"),
    (
        "secrets.hashicorp.vault-token",
        "hvs.PcIsJZJPDk9zUHgtiaNkaxR9rz09e1SYhBGJyLF4gwdvpjITdNi7bAiUbHF-ZNm9Z0GdbsDPXVJU5TNJiPmHQBxBgqMAwSntsVSx",
        "export VAULT_TOKEN={v}",
    ),
    (
        "secrets.hashicorp.terraform-token",
        "2CGXREckN3A3Ed.atlasv1.SGYYGGVPxQAq1qIuqzWLDxb8rII1GYXrgupfyKTpZQd9vViN4KCY0sXBKs4wnG_3pt",
        'credentials "app.terraform.io" {{ token = "{v}" }}',
    ),
    (
        "secrets.heroku.api-key",
        "HRKU-AAiFp5FYg8nENYEiV1vC1pjmqp6aLFMdPwi45YsTDfNd6ONP-s8AzLhzOT8c",
        "HEROKU_API_KEY={v}",
    ),
    ("secrets.hubspot.private-app-token", "pat-na1-baf19553-d7e8-78f7-f816-1e5a40fde802", "HUBSPOT_TOKEN={v}"),
    ("secrets.infracost.api-key", "ico-gCtjfIZ4SOcMz9CPVNPkNa1Hedcm4pMb", "INFRACOST_API_KEY={v}"),
    (
        "secrets.intra42.client-secret",
        "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",
        "FT_SECRET={v}",
    ),
    ("secrets.notion.token", "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", "NOTION_TOKEN={v}"),
    (
        "secrets.openshift.token",
        "sha256~tqkTIm97kMcy1yl4Ae0-uNONZjN7iUjrnY7p4bW8ELo",
        "oc login --token={v} --server=x",
    ),
    (
        "secrets.sentry.token",
        "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",
        "auth_token: {v}",
    ),
    ("secrets.sidekiq.credentials", "1828c76d:25decf37", "export BUNDLE_ENTERPRISE__CONTRIBSYS__COM={v}"),
    ("secrets.snyk.token", "baf19553-d7e8-78f7-f816-1e5a40fde802", 'SNYK_TOKEN := "{v}"'),
    ("secrets.sonar.token", "sqp_f2d0f0cc022238daceee2092f073ff80b9465aef", "sonar-scanner -Dsonar.token={v}"),
    (
        "secrets.sumologic.access-key",
        "dPgtU0u95r3AT4ivS98XCAfko3thTSmrlUpGQsYrxZQH4hLHot57lQoriOQfDeC6",
        "SUMO_ACCESS_KEY: {v}",
    ),
]


@pytest.mark.parametrize(("rule", "value", "template"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_provider_secret_is_found_in_context(rule: str, value: str, template: str) -> None:
    text = template.format(v=value)
    found = secret_findings(text)
    assert any(rule_id.startswith(rule) and value in covered for rule_id, covered in found), found


@pytest.mark.parametrize(("rule", "value", "template"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_record_never_holds_the_value(rule: str, value: str, template: str) -> None:
    text = template.format(v=value)
    decision = default_guard().check(text)
    assert decision.findings
    record = json.dumps(decision.to_record())
    assert value not in record
    assert text not in record


@pytest.mark.parametrize(("rule", "value", "template"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_default_guard_blocks_a_secret(rule: str, value: str, template: str) -> None:
    text = "Can you see why this fails?\n" + template.format(v=value) + "\nThanks!"
    decision = default_guard().check(text)
    assert decision.action is Action.BLOCK
    assert any(f.category == "secret" for f in decision.findings)


PLACEHOLDERS = [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    'OPENAI_API_KEY="<your-openai-key>"',
    "API_KEY=${API_KEY}",
    "password: {{ vault_db_password }}",
    "STRIPE_SECRET_KEY=sk_live_****************************",
    "DATABASE_URL=postgres://user:password@localhost:5432/app",
    "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app",
    "client_secret=bP88Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "export SUMOLOGIC_ACCESSID=XXXXXXXXXXXXXX",
    "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "password = 'changeme123'",
    "api_key: YOUR_API_KEY_HERE_123",
    "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
]


@pytest.mark.parametrize("text", PLACEHOLDERS)
def test_placeholders_and_doc_examples_are_not_secrets(text: str) -> None:
    assert secret_findings(text) == []


NOT_SECRETS = [
    "max_tokens = 1024",
    "password = self.password",
    "token = request.headers.get('Authorization')",
    '<input type="password" name="password" autocomplete="current-password">',
    "Use an API key from the console and keep it out of source control.",
    "The commit 3e3b266f850f1578b5c72dc4ee60caea63367c29 fixed the tokenizer.",
    "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')",
    "request id 357419d1-a8f2-5c87-5fe1-adeb614f44e1 failed with 503",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 is the base64 of a JWT header",
    "https://github.com/acme/app/blob/main/README.md",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_ordinary_code_and_prose_are_not_secrets(text: str) -> None:
    assert secret_findings(text) == []


@pytest.mark.parametrize("rule", pack().rules, ids=[r.id for r in pack().rules])
def test_rule_examples(rule) -> None:  # type: ignore[no-untyped-def]
    assert len(rule.examples.match) >= 2 and len(rule.examples.no_match) >= 2
    for example in rule.examples.match:
        assert rule.id in {r for r, _ in secret_findings(example)}, f"should fire on: {example!r}"
    for example in rule.examples.no_match:
        assert rule.id not in {r for r, _ in secret_findings(example)}, f"should not fire on: {example!r}"


def test_pack_conventions() -> None:
    assert pack().pack == "secrets"
    for rule in pack().rules:
        assert rule.id.startswith("secrets.")
        assert rule.kind == "secret"
        assert rule.category == "secret"


def _random_tokens(size: int) -> str:
    rng = random.Random(1234)
    alphabet = string.ascii_letters + string.digits
    prefixes = ["ghp_", "AKIA", "sk-", "eyJhbGciOi", "xoxb-", "", "glpat-", "hf_"]
    parts: list[str] = []
    total = 0
    while total < size:
        token = rng.choice(prefixes) + "".join(rng.choices(alphabet, k=rng.randint(16, 64)))
        parts.append(token)
        total += len(token) + 1
    return " ".join(parts)


@pytest.mark.parametrize("kind", ["base64", "tokens", "pem"])
def test_megabytes_scan_in_bounded_time(kind: str) -> None:
    rng = random.Random(99)
    if kind == "base64":
        text = base64.b64encode(rng.randbytes(2_400_000)).decode()
    elif kind == "tokens":
        text = _random_tokens(3_000_000)
    else:
        body = base64.b64encode(rng.randbytes(750_000)).decode()
        lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        text = f"-----BEGIN RSA PRIVATE KEY-----\n{lines}\n-----END RSA PRIVATE KEY-----"
    guard = Guard([pack()], max_text_chars=4_000_000)
    started = time.perf_counter()
    decision = guard.check(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 15.0, f"{kind}: {len(text)} characters took {elapsed:.1f} s"
    assert len(json.dumps(decision.to_record())) < 500_000


def test_a_secret_spelled_mostly_with_look_alike_letters_is_still_found() -> None:
    # The Cyrillic letters in the name make most of the text non-Latin until the mixed words are undone;
    # the all-Cyrillic "ісо" must still be folded for the value to read as one secret.
    disguised = 'sесrеt_vаluе = "ісо-gCtjfІZ4SОсМz9CРVNРkNа1Неdсm4рМb"'
    plain = 'secret_value = "ico-gCtjfIZ4SOcMz9CPVNPkNa1Hedcm4pMb"'
    assert [rule for rule, _ in secret_findings(disguised)] == [rule for rule, _ in secret_findings(plain)] != []
