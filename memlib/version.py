"""memlib's version: part of every run's key (:func:`memlib.store.run_key`) and of every finding's header."""

__version__ = "0.1.0"
