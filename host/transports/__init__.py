"""Thin I/O layers around the sans-I/O core: stdio native messaging and WebSocket."""
