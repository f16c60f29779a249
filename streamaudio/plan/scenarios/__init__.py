"""Scenarios: seeded planners that turn clip pools into stream plans, one per capability."""

from streamaudio.plan.scenarios.asr import AsrScenario
from streamaudio.plan.scenarios.base import Pools, Scenario, ScenarioConfig, ScenarioError
from streamaudio.plan.scenarios.chat import ChatScenario
from streamaudio.plan.scenarios.counting import CountingScenario
from streamaudio.plan.scenarios.environment import EnvironmentScenario
from streamaudio.plan.scenarios.proactive import ProactiveScenario
from streamaudio.plan.scenarios.s2tt import S2ttScenario
from streamaudio.plan.scenarios.understanding import UnderstandingScenario

SCENARIOS: dict[str, type[Scenario]] = {
    s.name: s
    for s in (
        AsrScenario,
        S2ttScenario,
        ChatScenario,
        UnderstandingScenario,
        ProactiveScenario,
        EnvironmentScenario,
        CountingScenario,
    )
}

__all__ = ["SCENARIOS", "AsrScenario", "Pools", "Scenario", "ScenarioConfig", "ScenarioError"]
