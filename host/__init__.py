"""TabSense host: on-device image classification for the browser, served by LiteRT.

The package reads like a sans-I/O library: `protocol` turns bytes into messages and back,
`dispatcher` maps message types to `capabilities`, and `transports` move bytes (stdio
native messaging, WebSocket). `store` keeps checksummed model files; `vision` and
`classifier` do the work. Nothing here imports TensorFlow.
"""

__version__ = "0.1.0"
