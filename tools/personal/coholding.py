"""Peers: for each pair of products, how much more often holders of one hold the other (item-item co-holding).

Built once per ToolContext from the live graph's statistics: how many people hold each pair of products.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from tools.context import ToolContext

PEER_PRIOR = 10.0  # holders' weight of the bank-wide rate when smoothing co-holding shares
MEMO_KEY = "tools.personal.coholding"


@dataclass(frozen=True)
class CoHolding:
    """For each pair of products, how much more often holders of one hold the other than customers at large."""

    product_ids: tuple[str, ...]
    excess: np.ndarray  # [i, j]: smoothed share of i's holders who hold j, minus j's share among all holders

    @classmethod
    def from_holdings(cls, holdings: Iterable[Iterable[str]], product_ids: Sequence[str]) -> CoHolding:
        """From each customer's held product ids; products outside `product_ids` are ignored."""
        index = {product_id: position for position, product_id in enumerate(product_ids)}
        rows, columns, people = [], [], 0
        for held in holdings:
            positions = {index[product_id] for product_id in held if product_id in index}
            if positions:
                rows += [people] * len(positions)
                columns += positions
                people += 1
        matrix = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(people, len(product_ids))
        )
        return cls._from_together((matrix.T @ matrix).toarray(), people, product_ids)

    @classmethod
    def _from_together(cls, together: np.ndarray, people: int, product_ids: Sequence[str]) -> CoHolding:
        holders = np.diag(together).copy()
        base_rate = holders / max(people, 1)
        # A product few people hold says little: its shares are pulled toward the base rate.
        share = (together + PEER_PRIOR * base_rate[None, :]) / (holders[:, None] + PEER_PRIOR)
        excess = share - base_rate[None, :]
        np.fill_diagonal(excess, 0.0)
        return cls(tuple(product_ids), excess)

    @classmethod
    def from_counts(cls, co_holders: Mapping[str, Mapping[str, int]], people: int,
                    product_ids: Sequence[str]) -> CoHolding:
        """From how many people hold each pair of products (`GraphStats.co_holders`, a product with itself: its
        holders) among `people` holding any; products outside `product_ids` are ignored."""
        together = np.array([[co_holders.get(a, {}).get(b, 0) for b in product_ids] for a in product_ids],
                            dtype=np.float32).reshape(len(product_ids), len(product_ids))
        return cls._from_together(together, people, product_ids)

    def scores(self, held: Iterable[str]) -> tuple[dict[str, float], dict[str, str]]:
        """Per product: the strongest excess given any held product, and the held product that gives it."""
        index = {product_id: position for position, product_id in enumerate(self.product_ids)}
        positions = [index[product_id] for product_id in held if product_id in index]
        if not positions:
            return {}, {}
        rows = self.excess[positions]
        strongest, best = rows.max(axis=0), rows.argmax(axis=0)
        return (
            {product_id: float(strongest[j]) for j, product_id in enumerate(self.product_ids)},
            {product_id: self.product_ids[positions[best[j]]] for j, product_id in enumerate(self.product_ids)},
        )


def coholding(ctx: ToolContext) -> CoHolding:
    """The context's co-holding table (built once per context, from the live graph's statistics)."""
    stats = ctx.graph_stats
    return ctx.memo(MEMO_KEY, lambda: CoHolding.from_counts(stats.co_holders, stats.holding_people, sorted(ctx.products)))
