"""Scenarios: seeded planners that turn clip pools into stream plans, one per capability."""

from streamaudio.scenarios.asr import AsrScenario
from streamaudio.scenarios.base import Pools, ScenarioConfig

SCENARIOS = {AsrScenario.name: AsrScenario}

__all__ = ["SCENARIOS", "AsrScenario", "Pools", "ScenarioConfig"]
