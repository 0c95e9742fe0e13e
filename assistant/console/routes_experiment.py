"""The supervisors' experiment page: the ranking champion/challenger per arm, as a plot with its table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from assistant import contact_centre, experiment
from assistant.console.guard import Supervisor
from assistant.console.web import ConsoleRoute, render
from assistant.experiment import Split

router = APIRouter(route_class=ConsoleRoute)
ARM_LABELS = {"static": "static ranker (champion)", "adaptive": "adaptive ranking (challenger)"}


@router.get("/experiment")
def experiment_page(request: Request, user: Supervisor, days: str = "",
                    first: Annotated[str, Query(alias="from")] = "",
                    last: Annotated[str, Query(alias="to")] = "") -> Response:
    period = contact_centre.period_from(days.strip(), first.strip(), last.strip())
    split = Split.from_settings(request.app.state.settings)
    shown = experiment.report(request.app.state.store, period.start.isoformat(), period.end.isoformat(), split)
    return render(request, "experiment.html", report=shown, chart=chart_of(shown["arms"]), period=period,
                  first=first.strip() or period.start.date().isoformat(),
                  last=last.strip() or period.end.date().isoformat(), presets=contact_centre.PRESET_DAYS,
                  arm_labels=ARM_LABELS)


def chart_of(arms: list[dict]) -> dict | None:
    """Each arm's take-up rate with its 95% interval; None when no arm showed an offer in the period."""
    if not any(arm["offers"] for arm in arms):
        return None
    # matplotlib takes half a second to import: only chart pages pay it
    from assistant.console import charts

    label = "Share of offers taken up per arm, with its 95% interval"
    svg = charts.rates_with_intervals("arms", [ARM_LABELS[arm["arm"]] for arm in arms], [arm["rate"] for arm in arms],
                                      [(arm["low"], arm["high"]) for arm in arms], label, "offers taken up")
    return {"svg": svg, "label": label}
