"""`tabsense-models`: the model lab's command line.

    tabsense-models build --from ../shared/models     # rebuild, evaluate, validate, register all; write the report
    tabsense-models report                             # rewrite the report from the last build's results
    tabsense-models evaluate NAME                       # re-measure one registered model through the host
    tabsense-models export-fallback                     # the extension's in-browser model (extension/models/fallback/)
    tabsense-models ensemble                            # evaluate and validate the image ensemble, register it
    tabsense-models publish                             # copy the lab's shipped models into models/bundled/
    tabsense-models install-fallback                    # the bundled in-browser model -> extension/ (no TensorFlow)

TensorFlow is imported only by the commands that need it (`build`), so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import config


def _home() -> Path:
    from host import paths

    return paths.data_home()


def cmd_build(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
    from .build import build_all

    home = _home()
    print(f"model store: {home}", file=sys.stderr)
    results = build_all(Path(args.source), home, Path(args.samples), args.model or None,
                        analyses=not args.quick)
    for source, result in results["models"].items():
        for variant in result.get("variants", []):
            validation = variant["validation"]
            state = "blessed" if variant["blessed"] else ("rejected" if variant["shipped"] else "not registered")
            print(f"{variant['name']:<36} {variant['quantization']:<26} top-1 {validation['top1']:.4f} "
                  f"agreement {validation['agreement']:.4f} -> {state}")
    if not args.no_report:
        if "ensemble" in results:
            from .ensemble import write_ensemble_report

            print(f"wrote {write_ensemble_report(results['ensemble'], Path(args.report_dir))}", file=sys.stderr)
        return _write_report(results, Path(args.report_dir))
    return 0


def _write_report(results: dict, report_dir: Path) -> int:
    from .report import write_report

    written = write_report(results, report_dir)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    from .build import results_path

    path = results_path(_home())
    if not path.is_file():
        print(f"tabsense-models: {path} does not exist; run `tabsense-models build --from DIR` first.",
              file=sys.stderr)
        return 2
    return _write_report(json.loads(path.read_text("utf-8")), Path(args.report_dir))


def cmd_evaluate(args) -> int:
    """Accuracy of a registered model through the host, on the report's evaluation split."""
    import numpy as np

    from host.store import ModelStore

    from .evaluation import classifier_for, predict_samples, top_k_hits
    from .samples import load_samples

    store = ModelStore(_home())
    spec = store.registry.get(args.name)
    files = store.require(spec)
    entry = {"name": spec.name, "version": spec.version, "task": spec.task, "input": spec.input,
             "output": spec.output, "preprocess": spec.preprocess,
             "files": {r: {"path": f.path, "sha256": f.sha256} for r, f in spec.files.items()}}
    samples = load_samples(Path(args.samples))
    if args.split != "all":
        samples = [s for s in samples if s.split == args.split]
    classifier = classifier_for(entry, files["model"], files["labels"], threads=1)
    probabilities = predict_samples(classifier, samples, spec.name)
    labels = np.array([s.label for s in samples])
    top1 = float(top_k_hits(probabilities, labels, 1).mean())
    top5 = float(top_k_hits(probabilities, labels, 5).mean())
    print(json.dumps({"model": spec.name, "split": args.split, "images": len(samples),
                      "top1": round(top1, 4), "top5": round(top5, 4), "blessed": spec.blessed}))
    return 0


def cmd_export_fallback(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
    from .browser_fallback import export_fallback, is_current

    out = Path(args.out)
    if not args.force and is_current(out, Path(args.source), args.weights):
        print(f"fallback model already up to date in {out}", file=sys.stderr)
        return 0
    export_fallback(Path(args.source), out, args.weights, Path(args.samples),
                    progress=lambda line: print(line, file=sys.stderr))
    return 0


def cmd_publish(args) -> int:
    from .bundle import publish_all

    for path in publish_all(_home(), Path(args.fallback_from)):
        print(f"published {path}", file=sys.stderr)
    return 0


def cmd_install_fallback(args) -> int:
    from .bundle import install_fallback

    state = install_fallback(Path(args.out))
    print(f"in-browser fallback model {state} in {args.out}", file=sys.stderr)
    return 0


def cmd_ensemble(args) -> int:
    from .ensemble import build_ensemble

    result = build_ensemble(_home(), Path(args.source), Path(args.samples),
                            progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps({k: result[k] for k in ("name", "blessed", "validation")}, indent=2))
    if not args.no_report:
        from .ensemble import write_ensemble_report

        print(f"wrote {write_ensemble_report(result, Path(args.report_dir))}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tabsense-models", description="TabSense model lab: convert, "
                                     "quantize, evaluate and bless models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="rebuild every variant from the pretrained models, register them, write the report")
    p.add_argument("--from", dest="source", default=str(config.DEFAULT_SOURCE_DIR), metavar="DIR",
                   help=f"folder of the pretrained models (default {config.DEFAULT_SOURCE_DIR})")
    p.add_argument("--samples", default=str(config.DEFAULT_SAMPLES_DIR), metavar="DIR",
                   help="ImageNet sample folder with classes.tsv")
    p.add_argument("--model", action="append", choices=[s.name for s in config.SOURCE_MODELS],
                   help="build only this source model (repeatable; default: all)")
    p.add_argument("--quick", action="store_true",
                   help="skip the ablation and graph-optimisation measurements of the main model")
    p.add_argument("--no-report", action="store_true", help="do not write the report")
    p.add_argument("--report-dir", default=str(config.DEFAULT_REPORT_DIR), metavar="DIR")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("report", help="write report.json, report.md and the plot from the last build")
    p.add_argument("--report-dir", default=str(config.DEFAULT_REPORT_DIR), metavar="DIR")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("evaluate", help="top-1/top-5 of a registered model through the host")
    p.add_argument("name")
    p.add_argument("--samples", default=str(config.DEFAULT_SAMPLES_DIR), metavar="DIR")
    p.add_argument("--split", choices=["evaluation", "calibration", "all"], default="evaluation")
    p.set_defaults(func=cmd_evaluate)

    from .browser_fallback import DEFAULT_OUT, WEIGHTS

    p = sub.add_parser("export-fallback", help="write the extension's in-browser fallback model (TF.js graph model)")
    p.add_argument("--from", dest="source", default=str(config.DEFAULT_SOURCE_DIR), metavar="DIR",
                   help=f"folder of the pretrained models (default {config.DEFAULT_SOURCE_DIR})")
    p.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR", help=f"target folder (default {DEFAULT_OUT})")
    p.add_argument("--weights", choices=WEIGHTS, default="float16", help="weight storage (default float16, blessed)")
    p.add_argument("--samples", default=str(config.DEFAULT_SAMPLES_DIR), metavar="DIR",
                   help="ImageNet sample folder (the export is checked on 20 of its photos)")
    p.add_argument("--force", action="store_true", help="rebuild even if the folder is up to date")
    p.set_defaults(func=cmd_export_fallback)

    p = sub.add_parser("install-fallback", help="install the bundled in-browser fallback model into the extension "
                       "(no TensorFlow needed)")
    p.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR", help=f"target folder (default {DEFAULT_OUT})")
    p.set_defaults(func=cmd_install_fallback)

    p = sub.add_parser("ensemble", help="evaluate the image ensemble against its members, validate and register it")
    p.add_argument("--from", dest="source", default=str(config.DEFAULT_SOURCE_DIR), metavar="DIR",
                   help="folder of the pretrained models (the ensemble's MobileNetV2 member is installed from it)")
    p.add_argument("--samples", default=str(config.DEFAULT_SAMPLES_DIR), metavar="DIR")
    p.add_argument("--no-report", action="store_true", help="do not write docs/model-lab/ensemble.md")
    p.add_argument("--report-dir", default=str(config.DEFAULT_REPORT_DIR), metavar="DIR")
    p.set_defaults(func=cmd_ensemble)

    p = sub.add_parser("publish", help="copy the lab's int8 MobileNet v1 0.75, the ensemble's entry and the "
                       "in-browser fallback model into models/bundled/ (what TabSense ships)")
    p.add_argument("--fallback-from", default=str(DEFAULT_OUT), metavar="DIR",
                   help=f"the export-fallback folder to bundle (default {DEFAULT_OUT})")
    p.set_defaults(func=cmd_publish)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"tabsense-models: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
