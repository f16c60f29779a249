"""Check: validate (labels against audio against the contract), VAD findings, the shortcut audit."""
