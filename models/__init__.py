"""TabSense model side: the registry of servable models (registry.json) and, with the
`build` extra, the model lab. Importing this package imports nothing heavy."""
