"""The supervisors' page: the contact centre's figures over a period, each as a chart with its table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from assistant import contact_centre
from assistant.console.guard import Supervisor
from assistant.console.routes_handoffs import KIND_LABELS
from assistant.console.web import ConsoleRoute, render
from assistant.contact_centre import Figures

router = APIRouter(route_class=ConsoleRoute)
REASON_LABELS = {"out_of_scope": "out of scope", "low_confidence": "low confidence", "nothing_found": "nothing found"}


@router.get("/figures")
def figures_page(request: Request, user: Supervisor, days: str = "",
                 first: Annotated[str, Query(alias="from")] = "", last: Annotated[str, Query(alias="to")] = "") -> Response:
    period = contact_centre.period_from(days.strip(), first.strip(), last.strip())
    shown = contact_centre.figures(request.app.state.store, period)
    return render(request, "figures.html", figures=shown, period=period, charts=charts_of(shown),
                  first=first.strip() or period.start.date().isoformat(),
                  last=last.strip() or period.end.date().isoformat(), presets=contact_centre.PRESET_DAYS,
                  kind_labels=KIND_LABELS, reason_labels=REASON_LABELS, duration=duration)


def charts_of(shown: Figures) -> dict[str, dict]:
    """Each figure's chart: its SVG and the label that names it (None where the period has nothing to draw)."""
    # matplotlib takes half a second to import: only this page pays it
    from assistant.console import charts

    def chart(key: str, label: str, categories: list[str], series: dict[str, list[int]], axis: str,
              horizontal: bool = False) -> dict | None:
        if not any(any(values) for values in series.values()):
            return None
        return {"svg": charts.count_bars(key, categories, series, label, axis, horizontal), "label": label}

    days = [row["day"] for row in shown.by_day]
    wait = shown.handoffs
    return {
        "conversations": chart("conversations", "Conversations per day: handled by Fargo, handed to a person",
                               [_day_label(day) for day in days],
                               {"handled by Fargo": [r["conversations"] - r["handed_off"] for r in shown.by_day],
                                "handed to a person": [r["handed_off"] for r in shown.by_day]}, "conversations"),
        "waits": chart("waits", "Hand-offs by time waited until a person picked them up", list(wait.bands),
                       {"hand-offs": list(wait.bands.values())}, "hand-offs"),
        "ratings": chart("ratings", "Satisfaction ratings after a hand-off, 1 (poor) to 5 (very good)",
                         [str(score) for score in shown.ratings], {"ratings": list(shown.ratings.values())}, "ratings"),
        "intents": chart("intents", "Top intents of the customers' messages",
                         [intent.replace("_", " ") for intent, _ in shown.intents],
                         {"messages": [count for _, count in shown.intents]}, "messages", horizontal=True),
        "unserved": chart("unserved", "Messages Fargo could not serve, by reason", list(REASON_LABELS.values()),
                          {"messages": [shown.unserved.get(reason, 0) for reason in REASON_LABELS]}, "messages"),
    }


def duration(seconds: float | None) -> str:
    """'45 s', '4 min', '1 h 05 min'; a dash when there is nothing to measure."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _day_label(day: str) -> str:
    from assistant.console.charts import MONTH_NAMES

    return f"{MONTH_NAMES[int(day[5:7]) - 1]} {int(day[8:])}"
