"""Scenarios: seeded planners that turn clip pools into stream plans, one per capability."""

from streamaudio.plan.scenarios.asr import AsrScenario
from streamaudio.plan.scenarios.base import Pools, Scenario, ScenarioConfig, ScenarioError
from streamaudio.plan.scenarios.chat import ChatScenario
from streamaudio.plan.scenarios.counting import CountingScenario
from streamaudio.plan.scenarios.environment import EnvironmentScenario
from streamaudio.plan.scenarios.proactive import ProactiveScenario
from streamaudio.plan.scenarios.s2tt import S2ttScenario
from streamaudio.plan.scenarios.understanding import UnderstandingScenario

# the one list of capabilities: the schemas, the Hub's configs and the tests read it
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


def register_capability(scenario: type[Scenario]) -> type[Scenario]:
    """Make a capability buildable by its ``name``: its streams validate, export, upload and score like the
    built-in ones. Usable as a class decorator."""
    if not scenario.name:
        raise ScenarioError(f"{scenario.__name__} has no name")
    SCENARIOS[scenario.name] = scenario
    return scenario


__all__ = [
    "SCENARIOS", "AsrScenario", "Pools", "Scenario", "ScenarioConfig", "ScenarioError", "register_capability",
]  # fmt: skip
