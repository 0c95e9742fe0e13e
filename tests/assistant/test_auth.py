"""API keys, widget tokens and demo credentials, without the HTTP layer."""

from __future__ import annotations

import json
import stat

import pytest

from assistant.api.ratelimit import FailureLimiter, RateLimiter, client_address
from assistant.auth import (
    AuthError,
    KeyNotFound,
    authenticate,
    create_key,
    demo_customer_id,
    ensure_demo_credentials,
    key_id,
    mint_widget_token,
    read_widget_token,
    revoke_key,
    token_secret,
    verify_key,
)
from assistant.settings import Settings

SECRET = b"s" * 32


def test_a_created_key_is_stored_only_as_its_hash_and_verifies(store):
    key, record = create_key(store, "agent", "support desk")

    stored = store["api_keys"].find_one({"_id": record["_id"]})
    assert stored["_id"] == key_id(key) and key not in json.dumps(stored)
    assert stored["role"] == "agent" and stored["name"] == "support desk" and stored["revoked"] is False
    assert verify_key(store, key)["role"] == "agent"
    assert verify_key(store, key + "x") is None


def test_a_revoked_key_no_longer_authenticates(store):
    key, record = create_key(store, "developer", "ci")
    assert authenticate(store, SECRET, f"Bearer {key}").role == "developer"

    revoke_key(store, record["_id"][:12])

    assert verify_key(store, key) is None
    with pytest.raises(AuthError, match="revoked"):
        authenticate(store, SECRET, f"Bearer {key}")


def test_revoking_an_unknown_or_too_short_id_says_so(store):
    with pytest.raises(KeyNotFound, match="no API key"):
        revoke_key(store, "deadbeefdeadbeef")
    with pytest.raises(KeyNotFound, match="8 characters"):
        revoke_key(store, "dead")


def test_an_unknown_role_is_refused(store):
    with pytest.raises(ValueError, match="role must be one of"):
        create_key(store, "root", "x")


def test_a_widget_token_names_its_customer_until_it_expires():
    token, expires = mint_widget_token(SECRET, "C0000007", ttl_s=60, now=1000)

    assert read_widget_token(SECRET, token, now=1059) == "C0000007"
    assert expires == 1060
    with pytest.raises(AuthError, match="expired"):
        read_widget_token(SECRET, token, now=1060)


def test_a_tampered_or_foreign_token_is_refused():
    token, _ = mint_widget_token(SECRET, "C0000007", ttl_s=60)
    body, signature = token.removeprefix("fwt.").split(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")

    with pytest.raises(AuthError, match="signature"):
        read_widget_token(SECRET, f"fwt.{forged_body}.{signature}")
    with pytest.raises(AuthError, match="signature"):
        read_widget_token(b"t" * 32, token)
    with pytest.raises(AuthError, match="malformed"):
        read_widget_token(SECRET, "fwt.nonsense")


@pytest.mark.parametrize("token", ["fwt.xx.\xff", "fwt.\u00e9\u00e9.c2ln", "fwt.e30.\ud83d", "fwt.\U0001F600.x"])
def test_a_token_with_non_ascii_characters_is_malformed_not_a_crash(token):
    with pytest.raises(AuthError, match="malformed widget token"):
        read_widget_token(SECRET, token)


@pytest.mark.parametrize("credential", ["fwt.xx.\xff", "fargo_\xff", "fargo_\ud83d"])
def test_a_credential_with_non_ascii_characters_is_refused_as_malformed(store, credential):
    with pytest.raises(AuthError, match="malformed credential"):
        authenticate(store, SECRET, f"Bearer {credential}")


def test_a_key_name_that_is_not_valid_unicode_is_refused_and_no_key_is_made(store):
    with pytest.raises(ValueError, match=r"name contains a lone surrogate \(U\+DCFF\) at position 4"):
        create_key(store, "agent", "desk\udcff")
    assert store["api_keys"].count_documents({}) == 0
    assert create_key(store, "agent", "Zo\u00eb \U0001F600")[1]["name"] == "Zo\u00eb \U0001F600"


def test_a_token_longer_than_an_hour_is_refused():
    with pytest.raises(ValueError, match="ttl_s"):
        mint_widget_token(SECRET, "C1", ttl_s=3601)


def test_demo_mode_keeps_one_private_token_secret_per_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)

    first, again = token_secret(settings), token_secret(settings)

    assert first == again and len(first) >= 32
    assert stat.S_IMODE((tmp_path / "token_secret").stat().st_mode) == 0o600
    assert token_secret(Settings(data_dir=tmp_path / "other")) != first


def test_demo_credentials_are_made_once_and_work(tmp_path):
    from retrieval.docstore import open_store

    settings = Settings(data_dir=tmp_path)
    with open_store(settings) as store:
        store["customers"].insert_many([{"_id": "C0000002"}, {"_id": "C0000001"}])
        agent_key, widget_token = ensure_demo_credentials(store, settings)
        again, _ = ensure_demo_credentials(store, settings)

        assert again == agent_key
        assert authenticate(store, token_secret(settings), f"Bearer {agent_key}").role == "agent"
        customer = authenticate(store, token_secret(settings), f"Bearer {widget_token}")
        assert (customer.role, customer.customer_id) == ("customer", "C0000001")
    saved = tmp_path / "demo_credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_a_missing_or_non_bearer_header_is_refused(store):
    for header in (None, "", "Basic abc", "Bearer "):
        with pytest.raises(AuthError, match="Bearer"):
            authenticate(store, SECRET, header)


def test_the_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])

    assert limiter.acquire("k") == 0 and limiter.acquire("k") == 0
    assert limiter.acquire("k") == pytest.approx(1.0)
    assert limiter.acquire("other") == 0
    now[0] = 1.0
    assert limiter.acquire("k") == 0


def test_failed_credentials_block_an_address_until_the_oldest_failure_leaves_the_window():
    now = [0.0]
    failures = FailureLimiter(limit=3, window_s=60, clock=lambda: now[0])

    for second in (0.0, 10.0, 20.0):
        now[0] = second
        assert failures.wait("198.51.100.7") == 0
        failures.failed("198.51.100.7")

    assert failures.wait("198.51.100.7") == pytest.approx(40.0)
    assert failures.wait("198.51.100.8") == 0
    now[0] = 60.0
    assert failures.wait("198.51.100.7") == 0
    failures.failed("198.51.100.7")
    assert failures.wait("198.51.100.7") == pytest.approx(10.0)


def test_failures_forget_quiet_addresses_when_tracking_too_many():
    now = [0.0]
    failures = FailureLimiter(limit=1, window_s=60, clock=lambda: now[0], max_addresses=2)
    failures.failed("a")
    failures.failed("b")
    now[0] = 61.0
    failures.failed("c")

    assert failures.wait("c") > 0 and len(failures._failures) == 1


def test_ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4():
    assert client_address("2001:db8:1:2::1") == client_address("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:3::1") != client_address("2001:db8:1:2::1")
    assert client_address("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_address("testclient") == "testclient" and client_address(None) == "unknown"


def test_without_a_token_secret_outside_demo_mode_keys_still_work_but_tokens_do_not(store):
    from assistant.auth import TokenSecretMissing

    settings = Settings(mongodb_uri="mongodb://127.0.0.1:1")
    key, _ = create_key(store, "agent", "desk")

    def secret() -> bytes:
        return token_secret(settings)

    assert authenticate(store, secret, f"Bearer {key}").role == "agent"
    with pytest.raises(TokenSecretMissing, match="FARGO_TOKEN_SECRET"):
        authenticate(store, secret, "Bearer fwt.abc.def")


def test_the_demo_customer_lets_us_profile_them_and_holds_no_card(store):
    # C1 has the largest household but opted out of profiling; C2 holds a card; C3 is the one to show
    store["customers"].insert_many([
        {"_id": "C1", "consent": {"profiling": False}}, {"_id": "C2", "consent": {"profiling": True}},
        {"_id": "C3", "consent": {"profiling": True}}])
    store["relationships"].insert_many(
        [{"_id": f"R1{i}", "customer_id": "C1"} for i in range(4)]
        + [{"_id": f"R2{i}", "customer_id": "C2"} for i in range(3)]
        + [{"_id": f"R3{i}", "customer_id": "C3"} for i in range(2)])
    store["products"].insert_one({"_id": "P011", "category": "card"})
    store["accounts"].insert_one({"_id": "A1", "customer_id": "C2", "product_id": "P011"})
    assert demo_customer_id(store) == "C3"
