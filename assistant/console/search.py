"""Finding a customer by id or by name, with indexed lookups only (the bank may have 100k customers)."""

from __future__ import annotations

import re

from assistant.api.chat import CUSTOMER_ID_PATTERN

MAX_QUERY_CHARS = 100
MAX_RESULTS = 25
FIELDS = {"_id": 1, "first_name": 1, "last_name": 1, "city": 1, "date_of_birth": 1}


class SearchInputError(ValueError):
    pass


def find_customers(store, query: str, limit: int = MAX_RESULTS) -> list[dict]:
    """An exact customer id, else customers whose last name starts with the (last) word typed.

    "Wri" finds Wright; "James Her" finds Hernandez customers whose first name starts with James.
    """
    query = " ".join((query or "").split())
    if len(query) > MAX_QUERY_CHARS:
        raise SearchInputError(f"Search for at most {MAX_QUERY_CHARS} characters.")
    if not query:
        return []
    exact = _by_id(store, query)
    if exact is not None:
        return [exact]
    *first, last = query.split(" ")
    found = _by_last_name_prefix(store, last, limit if not first else limit * 20)
    if first:
        wanted = " ".join(first).casefold()
        found = [doc for doc in found if str(doc.get("first_name", "")).casefold().startswith(wanted)]
    return found[:limit]


def _by_id(store, query: str) -> dict | None:
    if not re.fullmatch(CUSTOMER_ID_PATTERN, query):
        return None
    for candidate in dict.fromkeys((query, query.upper())):
        found = store["customers"].find_one({"_id": candidate}, FIELDS)
        if found is not None:
            return found
    return None


def _by_last_name_prefix(store, prefix: str, limit: int) -> list[dict]:
    """Names are stored capitalised ("McDonald"): try the prefix as typed and capitalised, on the last_name index."""
    found: dict[str, dict] = {}
    for variant in dict.fromkeys((prefix, prefix[:1].upper() + prefix[1:])):
        upper_bound = variant[:-1] + chr(ord(variant[-1]) + 1)
        docs = store["customers"].find({"last_name": {"$gte": variant, "$lt": upper_bound}}, FIELDS,
                                       sort=[("last_name", 1), ("first_name", 1)], limit=limit)
        found.update((doc["_id"], doc) for doc in docs)
    return sorted(found.values(), key=lambda doc: (doc.get("last_name", ""), doc.get("first_name", ""), doc["_id"]))
