"""The red-team suite's bank and its report.

`redteam` is one small synthetic bank whose data carries the attacks (a customer's disclosure, a campaign post and
two FAQ answers written by an attacker, and the bank's assistant notice), ingested as any bank's would be, and served by the real app with the LLM
path on: an `ObedientLLM` on loopback that does whatever the text it reads tells it to.

Each test records `redteam_kind` (the attack's channel) and `redteam_outcome` (how it was stopped, or what was
shown); the terminal summary counts cases by kind and outcome, and the leaks (failed cases):
`pytest -q tests/assistant/redteam` prints the figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from ingested_bank import SharedRuntime, build_app
from live_app import make_bank
from obedient_llm import ObedientLLM
from redteam_bank import CUSTOMERS, POISON_NOTICE, PROXY_VARIABLES, plant_attacks

from assistant.auth import create_key
from assistant.runtime import Runtime
from assistant.settings import Settings


@dataclass
class RedTeam:
    client: TestClient
    llm: ObedientLLM
    runtime: object
    keys: dict[str, str]

    @property
    def store(self):
        return self.runtime.store


@pytest.fixture(scope="package")
def redteam(tmp_path_factory) -> Iterator[RedTeam]:
    root = tmp_path_factory.mktemp("redteam")
    built = make_bank(root, customers=CUSTOMERS, edit_sources=plant_attacks)
    with pytest.MonkeyPatch.context() as patch, ObedientLLM() as llm:
        for name in PROXY_VARIABLES:
            patch.delenv(name, raising=False)
        settings = Settings(data_dir=built.data_dir, source_dir=built.source_dir, openai_base_url=llm.base_url,
                            openai_api_key="sk-loopback-redteam", llm_model="obedient",
                            assistant_disclosure=POISON_NOTICE)
        with Runtime.open(settings) as runtime:
            app = build_app((settings, SharedRuntime(runtime)), requests_per_minute=100_000)
            with TestClient(app) as client:
                keys = {role: create_key(app.state.store, role, f"red team {role}")[0]
                        for role in ("developer", "agent", "admin")}
                yield RedTeam(client, llm, runtime, keys)


# --- the report --------------------------------------------------------------------------------------------------------

_CASES: list[tuple[str, str, bool]] = []  # (kind, outcome, held)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    if report.when == "call" and "redteam_kind" in properties:
        _CASES.append((properties["redteam_kind"], properties.get("redteam_outcome", "not reached"), report.passed))


def pytest_terminal_summary(terminalreporter) -> None:
    if not _CASES:
        return
    write = terminalreporter.write_line
    leaks = sum(not held for _, _, held in _CASES)
    terminalreporter.section("red team")
    write(f"{len(_CASES)} attack cases, {leaks} leaks")
    for kind, count in sorted(Counter(kind for kind, _, _ in _CASES).items()):
        held = sum(1 for k, _, ok in _CASES if k == kind and ok)
        write(f"  {kind:<56} {count:>3} cases, {held:>3} held")
    write("outcomes:")
    for outcome, count in Counter(outcome for _, outcome, _ in _CASES).most_common():
        write(f"  {count:>3}  {outcome}")
