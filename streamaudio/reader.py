"""``streamaudio.reader``, as users import it: reading shards back lives in ``streamaudio.use.reader``."""

from streamaudio.use.reader import ReadError, Sample, iter_samples, shard_paths

__all__ = ["ReadError", "Sample", "iter_samples", "shard_paths"]
