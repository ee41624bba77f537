"""Values shared by the host, the CLI and install_host.py."""

# Native messaging host name, as registered with the browsers.
HOST_NAME = "com.tabsense.host"

# The extension's fixed ID: derived from the public key in extension/manifest.json.
EXTENSION_ID = "dkkhfeafnpmeclbkjcjjdoohdalbafda"
EXTENSION_ORIGIN = f"chrome-extension://{EXTENSION_ID}"

# Chrome refuses host->browser messages of 1 MiB or more (1,048,575 bytes pass) and
# sends at most 64 MiB the other way.
MAX_INBOUND_FRAME = 64 * 1024 * 1024
MAX_OUTBOUND_FRAME = 1024 * 1024 - 1

DEFAULT_WS_PORT = 8765
DEFAULT_TOP_K = 5

# Environment variables.
ENV_HOME = "TABSENSE_HOME"
ENV_LOG_LEVEL = "TABSENSE_LOG_LEVEL"
ENV_THREADS = "TABSENSE_THREADS"
