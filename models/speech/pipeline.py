"""The whole keyword-model pipeline in one command: generate -> train (+ int8 export) ->
evaluate (thresholds, PocketSphinx baseline, blessing) -> publish.

    .venv/bin/python -m models.speech all --seed 1          # full run: 48 min measured on the shared 2-core machine
    .venv/bin/python -m models.speech all --small           # tiny set, ~1-3 min
    .venv/bin/python -m models.speech generate|train|evaluate|publish [--small] [--seed N]
    .venv/bin/python -m models.speech all --no-mine         # without hard-negative mining (an ablation)
    .venv/bin/python -m models.speech all --kokoro          # the Kokoro experiment (docs/speech/experiments.md)

A full run writes the bundle (models/bundled/kws_commands/<version>/, the version in common.py) and docs/speech/report.*;
a --small run writes only under models/speech/.cache/run-small/.
"""

from __future__ import annotations

import argparse
import json
import time

from .common import log, run_dir, setup_logging

STEPS = ("generate", "train", "evaluate", "publish")


def run(step: str, small: bool, seed: int, baseline: bool = True, kokoro: bool = False, mine: bool = True,
        voice_change: bool = False) -> dict:
    if step == "generate":
        from .generate import generate

        return generate("small" if small else "full", seed, kokoro=kokoro, mining_pool=mine, voice_change=voice_change)
    if step == "train":
        from .train import train

        return train(small, seed, mine=mine)
    if step == "evaluate":
        from .evaluate import evaluate

        return evaluate(small, seed, baseline=baseline)
    if step == "publish":
        from .publish import publish

        return publish(small)
    raise ValueError(step)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m models.speech", description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=STEPS + ("all",))
    parser.add_argument("--small", action="store_true", help="a tiny data set (fast, for tests)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true", help="skip the PocketSphinx comparison")
    parser.add_argument("--kokoro", action="store_true", help="experiment: Kokoro-82M voices in train/validation")
    parser.add_argument("--no-mine", action="store_true", help="no hard-negative mining (pool in generate, rounds in train)")
    parser.add_argument("--voice-change", action="store_true",
                        help="experiment: Praat voice change on half the speech clips (not adopted, see experiments.md)")
    args = parser.parse_args(argv)
    setup_logging()
    steps = STEPS if args.step == "all" else (args.step,)
    timings = {}
    start = time.time()
    for step in steps:
        t0 = time.time()
        log.info("=== %s ===", step)
        run(step, args.small, args.seed, baseline=not args.no_baseline, kokoro=args.kokoro, mine=not args.no_mine,
            voice_change=args.voice_change)
        timings[step] = round(time.time() - t0, 1)
        log.info("=== %s done in %.0f s ===", step, timings[step])
    timings["total"] = round(time.time() - start, 1)
    out = run_dir(args.small)
    (out / f"timings-{args.step}.json").write_text(json.dumps(timings, indent=2))
    if "evaluate" in steps or args.step == "publish":
        report = json.loads((out / "report.json").read_text())
        t = report["test"]
        print(f"pipeline {args.step} ({'small' if args.small else 'full'}, seed {args.seed}): {timings}; test recall clean "
              f"next_tab {t['recall']['next_tab']['clean']}, previous_tab {t['recall']['previous_tab']['clean']}; "
              f"near-miss FA {t['near_miss'].get('clean', {}).get('rate')}; {t['stream']['per_hour']} false triggers/h; "
              f"blessed {report['blessed']}")
    else:
        print(f"pipeline {args.step}: {timings}")


if __name__ == "__main__":
    main()
