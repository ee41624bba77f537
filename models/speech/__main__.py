"""`python -m models.speech all --seed 1`: see pipeline.py."""

from .pipeline import main

main()
