"""Prepare: source adapters, clip manifests, dialogues, the demo data, synthesis, reject records."""
