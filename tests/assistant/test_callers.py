"""Callers: one Role enum decides who is staff and whose data a caller owns."""

from __future__ import annotations

import pytest

from assistant.callers import KEY_ROLES, STAFF_ROLES, Caller, Role


def test_a_role_read_from_a_stored_key_becomes_the_enum():
    caller = Caller(role="agent", key_id="k1")
    assert caller.role is Role.agent and caller.is_staff and caller.owner == "key:k1"


def test_a_customer_owns_by_customer_id_and_is_not_staff():
    caller = Caller(role=Role.customer, customer_id="C0000001")
    assert caller.owner == "customer:C0000001" and not caller.is_staff


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="superuser"):
        Caller(role="superuser", key_id="k2")


def test_keys_carry_every_role_but_customer_and_staff_are_agents_supervisors_and_admins():
    assert set(KEY_ROLES) == set(Role) - {Role.customer}
    assert STAFF_ROLES == {Role.agent, Role.supervisor, Role.admin}
