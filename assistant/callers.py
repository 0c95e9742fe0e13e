"""Who is asking: the roles Fargo knows and the authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    customer = "customer"  # a widget token: one customer, their own data only
    developer = "developer"  # an API key for the bank's backend: product questions, no customer data
    agent = "agent"  # a contact-centre agent: acts for any customer, audited
    supervisor = "supervisor"  # an agent who also sees the contact centre's figures (console)
    admin = "admin"  # an agent who also manages keys and reads the audit log


KEY_ROLES = (Role.developer, Role.agent, Role.supervisor, Role.admin)  # roles an API key can have; customers hold tokens
STAFF_ROLES = frozenset({Role.agent, Role.supervisor, Role.admin})  # may read any customer's data (audited)


@dataclass(frozen=True)
class Caller:
    role: Role
    customer_id: str | None = None  # for a customer: the only customer they may see
    key_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))

    @property
    def owner(self) -> str:
        return f"customer:{self.customer_id}" if self.role is Role.customer else f"key:{self.key_id}"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES
