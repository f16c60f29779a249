"""``streamaudio.build``, as users import it: the build lives in ``streamaudio.write.build``."""

from streamaudio.plan.spec import BuildError, BuildSpec, Part, single
from streamaudio.write.build import BuildResult, build

__all__ = ["BuildError", "BuildResult", "BuildSpec", "Part", "build", "single"]
