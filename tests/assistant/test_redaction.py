"""Personal data never reaches a prompt: every kind is replaced by a placeholder and comes back on restore."""

from __future__ import annotations

import pytest

from assistant.redaction import placeholder_kind, redact, restore, restore_value

KNOWN = ["Fatima Garcia", "Malik Garcia"]
PROFILE_ADDRESS = "4521 Washington Dr, Los Angeles, CA 90062"


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("my email is fatima.garcia487@example.org, thanks", "fatima.garcia487@example.org", "EMAIL"),
        ("write to F.Garcia+bank@mail.example.co.uk", "F.Garcia+bank@mail.example.co.uk", "EMAIL"),
        ("call me on +1-213-555-8643", "+1-213-555-8643", "PHONE"),
        ("my number is (213) 555-8643", "(213) 555-8643", "PHONE"),
        ("my number is 213.555.8643", "213.555.8643", "PHONE"),
        ("my number is 2135558643", "2135558643", "PHONE"),
        ("from abroad: +44 20 7946 0958", "+44 20 7946 0958", "PHONE"),
        ("card 4111 1111 1111 1111 was declined", "4111 1111 1111 1111", "CARD"),
        ("card 4111-1111-1111-1111 was declined", "4111-1111-1111-1111", "CARD"),
        ("card 4111111111111111 was declined", "4111111111111111", "CARD"),
        ("amex 3782 822463 10005 please", "3782 822463 10005", "CARD"),
        ("IBAN GB82 WEST 1234 5698 7654 32 for the transfer", "GB82 WEST 1234 5698 7654 32", "ACCOUNT"),
        ("IBAN DE89370400440532013000 for the transfer", "DE89370400440532013000", "ACCOUNT"),
        ("account A00000003 is overdrawn", "A00000003", "ACCOUNT"),
        ("Berka account BA2378 is mine", "BA2378", "ACCOUNT"),
        ("account number 987654321 please", "987654321", "ACCOUNT"),
        ("routing 12-3456-7890 please", "12-3456-7890", "ACCOUNT"),
        ("born 1983-06-24 in LA", "1983-06-24", "DATE"),
        ("born 06/24/1983 in LA", "06/24/1983", "DATE"),
        ("born 24.06.83 in LA", "24.06.83", "DATE"),
        ("born June 24, 1983 in LA", "June 24, 1983", "DATE"),
        ("born Jun 24th 1983 in LA", "Jun 24th 1983", "DATE"),
        ("born 24th of June 1983 in LA", "24th of June 1983", "DATE"),
        ("born 24 june 1983 in LA", "24 june 1983", "DATE"),
        ("I live at 4521 Washington Dr, Los Angeles, CA 90062.", PROFILE_ADDRESS, "ADDRESS"),
        ("send it to 12 Oak Tree Lane, Apt 4B", "12 Oak Tree Lane, Apt 4B", "ADDRESS"),
        ("the office at 1600 Pennsylvania Avenue NW", "1600 Pennsylvania Avenue NW", "ADDRESS"),
        ("mail to PO Box 1234", "PO Box 1234", "ADDRESS"),
        ("my customer id is C0000001", "C0000001", "CUSTOMER"),
        ("my son R0000042 is not a customer", "R0000042", "CUSTOMER"),
        ("imported client B2378", "B2378", "CUSTOMER"),
        ("follow me @fgarcia83!", "@fgarcia83", "HANDLE"),
        ("my name is Dana Reyes and I need a card", "Dana Reyes", "NAME"),
        ("I'm Dana, hi", "Dana", "NAME"),
        ("hi, i am Dana Reyes", "Dana Reyes", "NAME"),
        ("please call me Jo", "Jo", "NAME"),
    ],
)
def test_each_kind_of_personal_data_is_replaced_and_restored(text, secret, kind):
    result = redact(text, KNOWN)

    assert secret not in result.text
    assert f"[{kind}_1]" in result.text
    assert result.mapping[f"[{kind}_1]"] == secret
    assert restore(result.text, result.mapping) == text


@pytest.mark.parametrize(
    "text",
    [
        "Fatima Garcia wants a card",
        "fatima garcia wants a card",
        "FATIMA GARCIA wants a card",
        "Fatima  Garcia wants a card",
        "Is Fatima's card ready?",
        "Garcia, Fatima: card holder",
    ],
)
def test_known_names_are_redacted_whatever_their_case_or_order(text):
    result = redact(text, KNOWN)

    assert "fatima" not in result.text.lower()
    assert "garcia" not in result.text.lower()
    assert "card" in result.text


def test_relatives_names_get_their_own_placeholders_and_the_shared_surname_one():
    result = redact("Malik Garcia is married to Fatima; Garcia family", KNOWN)

    assert result.text == "[NAME_1] is married to [NAME_2]; [NAME_3] family"
    assert result.mapping == {"[NAME_1]": "Malik Garcia", "[NAME_2]": "Fatima", "[NAME_3]": "Garcia"}


def test_names_that_are_also_words_are_redacted_only_as_written():
    result = redact("Will and An asked: will an account help, Rose?", ["Will Rose", "An Nguyen"])

    assert "will an account help" in result.text
    assert not {"Will", "An", "Rose"} & set(result.text.replace("?", " ").replace(",", " ").split())
    assert sorted(result.mapping.values()) == ["An", "Rose", "Will"]


def test_name_given_in_the_message_is_redacted_everywhere_in_it():
    result = redact("Dana here. My name is Dana Reyes; Dana likes travel", [])

    assert "Dana" not in result.text
    assert "Reyes" not in result.text


@pytest.mark.parametrize(
    "text",
    [
        "I'm looking for a travel card",
        "I'm Interested in a savings account",
        "I am Not sure which plan",
    ],
)
def test_capitalised_words_after_im_that_are_not_names_stay(text):
    assert redact(text, []).text == text


@pytest.mark.parametrize(
    "text",
    [
        "I spend $7,680 a year on travel and $640/month on dining.",
        "The card has a 21.99% APR and earns 3 points per dollar, 3x on travel.",
        "Balance $150000 and income $92,300.50; limit 11800.0",
        "Ages 17 to 25, the 12-Month Certificate of Deposit, a 7/1 Adjustable-Rate Mortgage, the 2024-2025 season",
        "Customer since 2019 and spending rose 12% in March 2024.",
        "The Solo 401(k) and the 529 College Savings Plan.",
    ],
)
def test_figures_and_product_names_are_left_for_the_llm(text):
    assert redact(text, KNOWN).text == text


def test_same_value_keeps_one_placeholder_across_calls_with_the_mapping():
    first = redact("email fatima.garcia487@example.org, id C0000001", KNOWN)
    second = redact("again fatima.garcia487@example.org and bob@example.com", KNOWN, mapping=first.mapping)

    assert second.text == "again [EMAIL_1] and [EMAIL_2]"
    assert second.mapping["[CUSTOMER_1]"] == "C0000001"
    assert first.mapping == {"[EMAIL_1]": "fatima.garcia487@example.org", "[CUSTOMER_1]": "C0000001"}


def test_known_ids_of_any_shape_are_redacted():
    result = redact("look up cust-77 please", [], known_ids=["cust-77"])

    assert result.text == "look up [CUSTOMER_1] please"


def test_handle_shaped_known_names_become_handle_placeholders():
    text = "see fatima.garcia on instagram and @fgarcia83 on X"

    result = redact(text, ["fatima.garcia", "@fgarcia83"])

    assert sorted(result.mapping) == ["[HANDLE_1]", "[HANDLE_2]"]
    assert "garcia" not in result.text and "fgarcia83" not in result.text
    assert restore(result.text, result.mapping) == text


def test_placeholders_are_never_redacted_again():
    first = redact("id C0000001", [])
    second = redact(first.text + " and C0000002", [], mapping=first.mapping)

    assert second.text == "id [CUSTOMER_1] and [CUSTOMER_2]"


def test_restore_accepts_placeholders_an_llm_mangled():
    mapping = {"[NAME_1]": "Fatima", "[CUSTOMER_1]": "C0000001"}

    assert restore("Hi NAME_1, [name_1] and [CUSTOMER_1]; [NAME_9] stays", mapping) == (
        "Hi Fatima, Fatima and C0000001; [NAME_9] stays"
    )


def test_restore_value_restores_nested_tool_arguments():
    mapping = {"[CUSTOMER_1]": "C0000001"}

    args = restore_value({"customer_id": "[CUSTOMER_1]", "people": ["[CUSTOMER_1]", 3], "k": 5}, mapping)

    assert args == {"customer_id": "C0000001", "people": ["C0000001", 3], "k": 5}


def test_placeholder_kind_names_the_kind_of_a_bare_placeholder():
    assert placeholder_kind("[CUSTOMER_2]") == "CUSTOMER"
    assert placeholder_kind("C0000002") is None
    assert placeholder_kind("for [CUSTOMER_2]") is None


def test_a_whole_profile_leaves_nothing_personal():
    profile = (
        "Fatima Garcia (C0000001), born 1983-06-24, lives at 4521 Washington Dr, Los Angeles, CA 90062; "
        "email fatima.garcia487@example.org, phone +1-213-555-8643, twitter @fgarcia83, account A00000003, "
        "card 4111 1111 1111 1111; spouse Malik Garcia (C0000002). Travel spend $7,680."
    )
    secrets = ["Fatima", "Garcia", "Malik", "C0000001", "C0000002", "1983", "4521", "90062", "fatima.garcia487",
               "213-555", "fgarcia83", "A00000003", "4111"]

    result = redact(profile, KNOWN)

    assert [secret for secret in secrets if secret in result.text] == []
    assert "$7,680" in result.text
    assert restore(result.text, result.mapping) == profile
