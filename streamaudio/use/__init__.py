"""Use: reading shards back, the training loader, tokens, upstream export, Hub, stats, harness, view."""
