"""The ranking experiment's figures (champion/challenger) for supervisors and admins: per arm, the offers shown
and the share taken up, with a 95% interval (assistant.experiment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from assistant import experiment
from assistant.api.deps import Store, require_roles
from assistant.callers import Caller, Role
from assistant.contact_centre import MAX_PERIOD_DAYS
from assistant.experiment import Split

router = APIRouter(prefix="/v1", tags=["experiments"])
SupervisorCaller = Annotated[Caller, Depends(require_roles(Role.supervisor, Role.admin))]


class ArmFigures(BaseModel):
    arm: str = Field(description="static (the champion) or adaptive (the challenger).")
    decisions: int = Field(description="Answers with offers given to customers on this arm in the period.")
    offers: int = Field(description="Offers shown in those answers.")
    taken_up: int = Field(description="Offers accepted or opened since, once per offer.")
    rate: float | None = Field(description="taken_up / offers; null when no offer was shown.")
    low: float | None = Field(description="Lower end of the rate's 95% Wilson interval.")
    high: float | None = Field(description="Upper end of the rate's 95% Wilson interval.")


class ExperimentReport(BaseModel):
    experiment: str = Field(description="The experiment's name (FARGO_EXPERIMENT): customers are dealt by it.")
    adaptive_share: float = Field(description="Share of customers on the adaptive arm (FARGO_ADAPTIVE_SHARE).")
    since: str = Field(description="Start of the period, included (ISO 8601, UTC).")
    until: str = Field(description="End of the period, excluded.")
    arms: list[ArmFigures]
    ratio: float | None = Field(description="The adaptive arm's rate over the static arm's; null when either has none.")


@router.get("/experiments/ranking", response_model=ExperimentReport)
async def ranking(request: Request, caller: SupervisorCaller, store: Store,
                  days: Annotated[int, Query(ge=1, le=MAX_PERIOD_DAYS,
                                             description="The period: the last this many days up to now.")] = 30):
    """Champion/challenger: per ranking arm, the decisions made in the period, the offers shown and how many were
    taken up, with a 95% interval, and the adaptive arm's rate relative to the static one's."""
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    split = Split.from_settings(request.app.state.settings)
    return await run_in_threadpool(experiment.report, store, since.isoformat(), until.isoformat(), split)
