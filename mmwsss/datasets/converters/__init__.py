"""Dataset converters (offline tools; import them explicitly, nothing registers here)."""
