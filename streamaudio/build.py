"""``streamaudio.build``, as users import it: the build lives in ``streamaudio.write.build``."""

from streamaudio.write.build import BuildError, BuildResult, BuildSpec, Part, build, single

__all__ = ["BuildError", "BuildResult", "BuildSpec", "Part", "build", "single"]
