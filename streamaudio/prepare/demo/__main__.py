"""Write the demo manifests: ``python -m streamaudio.prepare.demo``."""

import gzip
import json

from streamaudio.prepare.demo import (
    DIALOGUES_MANIFEST,
    NOISE_MANIFEST,
    SOUNDS_MANIFEST,
    SPEECH_MANIFEST,
    dialogues,
    manifest_path,
    noise_clips,
    sound_clips,
    speech_clips,
)
from streamaudio.prepare.manifest import write_clips
from streamaudio.render.clips import ClipLoader

if __name__ == "__main__":
    loader = ClipLoader()
    n = write_clips(manifest_path(SPEECH_MANIFEST), speech_clips(loader.speak))
    m = write_clips(manifest_path(NOISE_MANIFEST), noise_clips())
    k = write_clips(manifest_path(SOUNDS_MANIFEST), sound_clips())
    rows = dialogues()
    with open(manifest_path(DIALOGUES_MANIFEST), "wb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as f:
        for row in rows:
            f.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
    print(
        f"wrote {n} speech clips, {m} noise beds, {k} sounds and {len(rows)} dialogues to "
        f"{manifest_path(SPEECH_MANIFEST).parent}"
    )
