"""Request understanding: what a turn asks for (needs, product types, constraints, relatives, life events) and
how the tools honour it (`tools.requests.fit`)."""

from tools.requests.model import Constraints, NeedHit, Request, StatedRelative
from tools.requests.understand import understand, with_needs

__all__ = ["Constraints", "NeedHit", "Request", "StatedRelative", "understand", "with_needs"]
