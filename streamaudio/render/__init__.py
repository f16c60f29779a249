"""Render: a stream plan becomes audio, events and chunk labels; clip loading, audio and DSP."""
