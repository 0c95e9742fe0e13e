"""Server-side SVG for the console: spending by category per month and the family graph (customer page), counts
as bars (figures page), rates with their intervals (experiment page).

Drawn with matplotlib's object API (Agg backend, no pyplot, no global figure
state) with text kept as text (`svg.fonttype = "none"`), so the
labels stay readable and searchable in the page. Matplotlib escapes the text it
writes; math parsing is off so a `$` in a name is only a dollar sign.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass

import matplotlib
import matplotlib.ticker
import networkx as nx
from markupsafe import escape
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

matplotlib.use("Agg")

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#9A9A9A"
TOP_CATEGORIES = 6
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "fargo-console", "text.parse_math": False,
         "font.family": "sans-serif", "font.size": 10, "axes.spines.top": False, "axes.spines.right": False}
_RENDERING = threading.Lock()  # rc_context changes process-wide settings for the length of one render
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CUSTOMER_NODE, RELATIVE_CUSTOMER_NODE, RELATIVE_NODE = "#0072B2", "#56B4E9", "#FFFFFF"
GENERATION_OF = {"parent": 2, "spouse": 1, "sibling": 1, "child": 0}
SLOT_IN, ROW_IN, LEGEND_IN = 1.9, 1.35, 0.75  # inches per node across, per generation, for the legend
LABEL_ROOM = 0.62  # of a generation's height, beside an outer row for its labels


@dataclass(frozen=True)
class Person:
    """One node of the family picture."""

    key: str
    label: str
    is_customer: bool
    relation: str | None = None  # None for the customer in the middle
    consent_to_share: bool = False  # for a relative: the edge to the customer


def top_spending(spend_by_month: dict[str, list[float]], top: int = TOP_CATEGORIES) -> dict[str, list[float]]:
    """The `top` categories by 12-month total, the rest summed as "other"."""
    ranked = sorted(spend_by_month, key=lambda category: -sum(spend_by_month[category]))
    series = {category: spend_by_month[category] for category in ranked[:top]}
    rest = [spend_by_month[category] for category in ranked[top:]]
    if rest:
        series["other"] = [round(sum(values), 2) for values in zip(*rest, strict=True)]
    return series


def month_label(month: str) -> str:
    """'2025-10' -> 'Oct 25'."""
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {year[2:]}"


def spending_chart(months: list[str], series: dict[str, list[float]], label: str) -> str:
    """A stacked bar per month, one colour per category."""
    with _RENDERING, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(8, 3.6), layout="constrained")
        axes = figure.add_subplot()
        positions, bottom = range(len(months)), [0.0] * len(months)
        for index, (category, values) in enumerate(series.items()):
            colour = OTHER_COLOUR if category == "other" else PALETTE[index % len(PALETTE)]
            axes.bar(positions, values, bottom=bottom, color=colour, label=category.replace("_", " "), width=0.7)
            bottom = [low + value for low, value in zip(bottom, values, strict=True)]
        axes.set_xticks(list(positions), [month_label(month) for month in months], fontsize=8)
        axes.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("${x:,.0f}"))
        axes.set_ylabel("spent per month")
        axes.grid(axis="y", color="#DDDDDD", linewidth=0.6)
        axes.set_axisbelow(True)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9, reverse=True)
        return _svg(figure, "spending", label)


def count_bars(key: str, categories: list[str], series: dict[str, list[int]], label: str, axis_label: str,
               horizontal: bool = False) -> str:
    """Counts per category as bars, one colour per series, stacked; across the page when `horizontal` (long names,
    the first category on top). `key` keeps the chart's SVG ids apart from the other charts' on its page."""
    with _RENDERING, matplotlib.rc_context(STYLE):
        height = max(2.4, 0.32 * len(categories) + 0.9) if horizontal else 3.2
        figure = Figure(figsize=(8, height), layout="constrained")
        axes = figure.add_subplot()
        positions, base = list(range(len(categories))), [0] * len(categories)
        draw = axes.barh if horizontal else axes.bar
        for index, (name, values) in enumerate(series.items()):
            offset = {"left": base} if horizontal else {"bottom": base}
            draw(positions, values, 0.7, **offset, color=PALETTE[index % len(PALETTE)], label=name)
            base = [low + value for low, value in zip(base, values, strict=True)]
        counts = axes.xaxis if horizontal else axes.yaxis
        counts.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        (axes.set_xlabel if horizontal else axes.set_ylabel)(axis_label)
        shown = _thinned(categories)
        if horizontal:
            axes.set_yticks(positions, shown, fontsize=8)
            axes.invert_yaxis()
        else:
            axes.set_xticks(positions, shown, fontsize=8)
        axes.grid(axis="x" if horizontal else "y", color="#DDDDDD", linewidth=0.6)
        axes.set_axisbelow(True)
        if len(series) > 1:
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
        return _svg(figure, key, label)


def rates_with_intervals(key: str, categories: list[str], rates: list[float | None],
                         intervals: list[tuple[float | None, float | None]], label: str, axis_label: str) -> str:
    """A dot per category at its rate (a share, 0-1) with its interval as whiskers; "no offers" where a category
    has no rate."""
    with _RENDERING, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(6, 3.2), layout="constrained")
        axes = figure.add_subplot()
        for index, (rate, (low, high)) in enumerate(zip(rates, intervals, strict=True)):
            if rate is not None:
                axes.errorbar([index], [rate], yerr=[[rate - low], [high - rate]], fmt="o", markersize=8,
                              capsize=10, elinewidth=1.8, color=PALETTE[index % len(PALETTE)])
                axes.annotate(f"{rate:.1%}", (index, rate), xytext=(10, 0), textcoords="offset points",
                              va="center", fontsize=9)
            else:
                axes.annotate("no offers", (index, 0), xytext=(0, 8), textcoords="offset points", ha="center",
                              fontsize=9, color=OTHER_COLOUR)
        axes.set_xticks(range(len(categories)), categories)
        axes.set_xlim(-0.6, len(categories) - 0.4)
        top = max((high for _, high in intervals if high is not None), default=1.0)
        axes.set_ylim(0, min(1.0, top * 1.15) or 1.0)
        axes.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=None))
        axes.set_ylabel(axis_label)
        axes.grid(axis="y", color="#DDDDDD", linewidth=0.6)
        axes.set_axisbelow(True)
        return _svg(figure, key, label)


def _thinned(categories: list[str], most: int = 15) -> list[str]:
    """Every category's label while they fit; else every n-th (the table beside the chart has them all)."""
    step = -(-len(categories) // most)
    return [name if index % step == 0 else "" for index, name in enumerate(categories)]


def family_graph(customer: Person, relatives: list[Person], label: str) -> str:
    """Generations as rows (parents above, spouse and siblings beside, children below), an edge from the customer
    to each relative: solid where the relative consents to share, dashed where not."""
    rows = generation_rows(customer, relatives)
    graph = nx.Graph()
    graph.add_nodes_from(person.key for row in rows.values() for person in row)
    graph.add_edges_from((customer.key, relative.key) for relative in relatives)
    layout = nx.multipartite_layout(graph, subset_key={level: [p.key for p in row] for level, row in rows.items()},
                                    align="horizontal")
    widest = max(len(row) for row in rows.values())
    with _RENDERING, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(max(6.0, SLOT_IN * widest), ROW_IN * len(rows) + LEGEND_IN))
        axes = figure.add_axes((0, LEGEND_IN / figure.get_figheight(), 1, 1 - LEGEND_IN / figure.get_figheight()))
        _draw_edges(axes, graph, layout, customer, relatives, rows)
        parents_on_top = 2 in rows and len(rows) > 1  # their labels go above them, clear of the edges below
        for level, row in rows.items():
            for person in row:
                _draw_person(axes, layout[person.key], person, person is customer, above=parents_on_top and level == 2)
        _frame(axes, layout, widest, len(rows), room_above=parents_on_top)
        figure.legend(handles=_legend_entries(), loc="lower center", ncol=3 if widest < 4 else 5, frameon=False,
                      fontsize=9, columnspacing=1.5)
        return _svg(figure, "family", label)


def generation_rows(customer: Person, relatives: list[Person]) -> dict[int, list[Person]]:
    """Rows from the bottom: children, then siblings, the customer and their spouse, then parents."""
    by_relation = {relation: [r for r in relatives if r.relation == relation] for relation in GENERATION_OF}
    siblings = by_relation["sibling"] + [r for r in relatives if r.relation not in GENERATION_OF]
    spouses = by_relation["spouse"]
    half = (len(siblings) + 1) // 2
    middle = [*siblings[:half], customer, *spouses, *siblings[half:]]
    rows = {0: by_relation["child"], 1: middle, 2: by_relation["parent"]}
    return {level: row for level, row in rows.items() if row}


def _draw_edges(axes, graph: nx.Graph, layout: dict, customer: Person, relatives: list[Person], rows) -> None:
    slots = {person.key: (level, index) for level, row in rows.items() for index, person in enumerate(row)}
    home_level, home_index = slots[customer.key]
    for relative in relatives:
        level, index = slots[relative.key]
        # a relative two or more places along the customer's own row: bend the edge over whoever sits between
        bend = 0.35 if level == home_level and abs(index - home_index) > 1 else 0.0
        drawn = nx.draw_networkx_edges(graph, layout, edgelist=[(customer.key, relative.key)], ax=axes, width=1.8,
                                       style="solid" if relative.consent_to_share else "dashed", edge_color="#444444",
                                       arrows=True, arrowstyle="-", connectionstyle=f"arc3,rad={bend}", node_size=0)
        for edge in drawn:
            edge.set_zorder(1)  # under the name labels, which hide the stretch of line behind them


def _frame(axes, layout: dict, widest: int, row_count: int, room_above: bool) -> None:
    """Limits that leave half a slot around the outer nodes and room for the labels of the outer rows."""
    xs, ys = [x for x, _ in layout.values()], [y for _, y in layout.values()]
    x_step = (max(xs) - min(xs)) / (widest - 1) if widest > 1 else 1.0
    y_step = (max(ys) - min(ys)) / (row_count - 1) if row_count > 1 else 1.0
    axes.set_xlim(min(xs) - x_step / 2, max(xs) + x_step / 2)
    axes.set_ylim(min(ys) - y_step * LABEL_ROOM, max(ys) + y_step * (LABEL_ROOM if room_above else 0.3))
    axes.axis("off")


def _draw_person(axes, point, person: Person, is_centre: bool, above: bool) -> None:
    x, y = point
    fill = CUSTOMER_NODE if is_centre else RELATIVE_CUSTOMER_NODE if person.is_customer else RELATIVE_NODE
    axes.scatter([x], [y], s=520 if is_centre else 320, color=fill, edgecolors="#1F2937", linewidths=1.2, zorder=3)
    axes.annotate(person.label, (x, y), xytext=(0, 15 if above else -15), textcoords="offset points", ha="center",
                  va="bottom" if above else "top",
                  fontsize=9, zorder=4, linespacing=1.3, annotation_clip=False,
                  bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#CCCCCC", "alpha": 0.95})


def _legend_entries() -> list[Line2D]:
    def node(colour: str, text: str) -> Line2D:
        return Line2D([], [], marker="o", linestyle="", markersize=10, markerfacecolor=colour,
                      markeredgecolor="#1F2937", label=text)

    return [
        Line2D([], [], color="#444444", linewidth=1.8, linestyle="solid", label="consent to share: yes"),
        Line2D([], [], color="#444444", linewidth=1.8, linestyle="dashed", label="consent to share: no"),
        node(CUSTOMER_NODE, "this customer"), node(RELATIVE_CUSTOMER_NODE, "relative, a customer"),
        node(RELATIVE_NODE, "relative, not a customer"),
    ]


def _svg(figure: Figure, prefix: str, label: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _as_inline(buffer.getvalue(), prefix, label)


_ID = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _as_inline(svg: str, prefix: str, label: str) -> str:
    """Ready to sit inside HTML: no XML prologue, ids unique to this chart, an accessible name."""
    svg = svg[svg.index("<svg"):]
    svg = _ID.sub(lambda match: f"{match.group(1)}{prefix}-{match.group(2)}", svg)
    name = escape(label)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1).replace(
        ">", f"><title>{name}</title>", 1)
