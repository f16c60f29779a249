"""Source adapters: read corpora as released and write clip manifests (see ``streamaudio prepare``)."""

from streamaudio.prepare.sources.pipeline import Candidate, PrepareReport, Reject, rejects_path, run_prepare
from streamaudio.prepare.sources.tsv import SourceError

__all__ = ["Candidate", "PrepareReport", "Reject", "SourceError", "rejects_path", "run_prepare"]
