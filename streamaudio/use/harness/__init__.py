"""The reference inference harness: replay streams chunk by chunk through a model, as it will hear them."""
