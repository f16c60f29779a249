"""Write the demo clip manifests: ``python -m streamaudio.demo``."""

from streamaudio.clips import ClipLoader
from streamaudio.demo import NOISE_MANIFEST, SPEECH_MANIFEST, manifest_path, noise_clips, speech_clips
from streamaudio.manifest import write_clips

if __name__ == "__main__":
    loader = ClipLoader()
    n = write_clips(manifest_path(SPEECH_MANIFEST), speech_clips(loader.speak))
    m = write_clips(manifest_path(NOISE_MANIFEST), noise_clips())
    print(f"wrote {n} speech clips and {m} noise beds to {manifest_path(SPEECH_MANIFEST).parent}")
