"""Fixtures of the model-lab tests: the real pretrained models and sample photos in ../shared.

TensorFlow, tf_keras and tensorflowjs come from the `build` extra (CI installs it). Slow
things (TensorFlow conversions) are module- or session-scoped and use the small MobileNet v1
0.25 where possible.
"""

from __future__ import annotations

import os

# Quiet TensorFlow, and keep tensorflow_decision_forests (pulled in by tensorflowjs) from
# importing IPython for its welcome banner when pytest captures stdout.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
