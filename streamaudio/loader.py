"""``streamaudio.loader``, as users import it: the training loader lives in ``streamaudio.use.loader``."""

from streamaudio.use.loader import StreamDataset, StreamLoader, collate

__all__ = ["StreamDataset", "StreamLoader", "collate"]
