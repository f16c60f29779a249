"""``streamaudio.scenarios``, as users import it: the capabilities live in ``streamaudio.plan.scenarios``."""

from streamaudio.plan.scenarios import SCENARIOS, ScenarioConfig

__all__ = ["SCENARIOS", "ScenarioConfig"]
