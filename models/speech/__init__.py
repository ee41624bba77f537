"""The keyword-spotting model lab: synthetic speech data -> small int8 CNN -> evaluation.

Steps (each a readable module with a docstring, constants, a fixed seed and a final metric):
`generate` (TTS voices + real sounds, speaker-disjoint splits, augmentation, features),
`train` (depthwise-separable CNN, int8 TFLite export), `evaluate` (held-out voices, the
host's streaming detector, PocketSphinx baseline, thresholds, blessing), `publish`
(versioned, checksummed bundle under models/bundled). Run everything with
`.venv/bin/python -m models.speech all --seed 1` (see pipeline.py).
"""
