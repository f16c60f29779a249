"""``streamaudio view``: a local web page for auditing a corpus by listening to its streams while looking
at their chunks, events and replies. The shards are read in place."""

from streamaudio.use.view.corpus import Corpus
from streamaudio.use.view.server import ViewServer, make_server, serve

__all__ = ["Corpus", "ViewServer", "make_server", "serve"]
