"""The built-in interceptors, one per module, each with its config model."""
