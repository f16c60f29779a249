"""Scenarios: seeded planners that turn clip pools into stream plans, one per capability."""

from streamaudio.scenarios.asr import AsrScenario
from streamaudio.scenarios.base import Pools, Scenario, ScenarioConfig, ScenarioError
from streamaudio.scenarios.chat import ChatScenario
from streamaudio.scenarios.counting import CountingScenario
from streamaudio.scenarios.environment import EnvironmentScenario
from streamaudio.scenarios.proactive import ProactiveScenario
from streamaudio.scenarios.s2tt import S2ttScenario
from streamaudio.scenarios.understanding import UnderstandingScenario

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
