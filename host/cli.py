"""`tabsense`: command line for classifying, managing models, serving and diagnosing."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
from pathlib import Path

from . import __version__
from .constants import DEFAULT_TOP_K, DEFAULT_WS_PORT, EXTENSION_ORIGIN
from .errors import TabSenseError
from .logs import configure

log = logging.getLogger("tabsense")


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


# --- classify ------------------------------------------------------------------------


def _for_each_file(files: list[str], as_json: bool, process, describe) -> int:
    """Run `process(file bytes)` on every file and print one line per file (JSON or `describe`).

    A bad file is reported in its line and does not stop the others; exit status 1 if any failed.
    """
    failures = 0
    for name in files:
        try:
            result = {"file": name, **process(Path(name).read_bytes())}
        except OSError as exc:
            result = {"file": name, "error": {"code": "file_unreadable", "message": f"Cannot read {name}: {exc.strerror}."}}
        except TabSenseError as exc:
            result = {"file": name, "error": exc.to_dict()}
        failures += "error" in result
        if as_json:
            _print_json(result)
        elif "error" in result:
            print(f"{name}: error {result['error']['code']}: {result['error']['message']}")
        else:
            print(f"{name}: {describe(result)}")
    return 1 if failures else 0


def cmd_classify(args) -> int:
    from .capabilities import ModelPool
    from .native import thread_count
    from .store import ModelStore

    pool = ModelPool(ModelStore(), thread_count(args.threads), serve_unblessed=args.allow_unblessed)
    classifier = pool.get(args.model)

    def describe(result: dict) -> str:
        labels = ", ".join(f"{l['label']} {l['score']:.1%}" for l in result["labels"])
        return f"{labels}  ({result['timing_ms']['total']:.1f} ms)"

    return _for_each_file(args.files, args.json, lambda data: classifier.classify(data, args.top_k), describe)


# --- listen --------------------------------------------------------------------------


def cmd_listen(args) -> int:
    """Through the host's own handler: the voice profile applies as it does for the browser."""
    from .capabilities import Capabilities
    from .store import ModelStore

    host = Capabilities(ModelStore(), 1, serve_unblessed=args.allow_unblessed)

    def process(data: bytes) -> dict:
        params = {"audio": base64.b64encode(data).decode()}
        if args.sample_rate is not None:
            params["sample_rate"] = args.sample_rate
        if args.model:
            params["model"] = args.model
        return host.recognize_speech(params)

    def describe(result: dict) -> str:
        heard = f"{result['command'] or 'no command'} ({result['score']:.2f})"
        return heard + (" [your voice profile]" if result.get("profile") else "")

    return _for_each_file(args.files, args.json, process, describe)


# --- enroll --------------------------------------------------------------------------


def _speech_check(check: dict) -> str:
    """One line on a command's check against everyday speech (voice_profile._check_speech)."""
    return (f"Checked on {check['windows']:,} stretches of everyday speech: the closest is "
            f"{check['closest']:.2f}x its threshold (a match is under 1x).")


def cmd_enroll(args) -> int:
    from .capabilities import Capabilities
    from .speech_params import COMMANDS
    from .store import ModelStore

    host = Capabilities(ModelStore(), 1)
    if args.command is not None and args.command not in COMMANDS:
        print(f"tabsense enroll: unknown command {args.command!r}; choose one of {', '.join(COMMANDS)}.", file=sys.stderr)
        return 2
    if args.reset:
        summary = host.voice_profile_request({"action": "reset", "command": args.command})
        print(f"Forgot {'the takes of ' + args.command if args.command else 'your whole voice profile'}.")
        return 0
    if args.list or not args.files:
        if not args.list:
            print("tabsense enroll: give --command CMD and the take files, or --list / --reset.", file=sys.stderr)
            return 2
        summary = host.voice_profile_request({"action": "get"})
        if args.json:
            print(json.dumps(summary))
            return 0
        if not summary["commands"]:
            print("No voice profile yet: tabsense enroll --command next_tab TAKE1.wav TAKE2.wav TAKE3.wav")
        for command, state in summary["commands"].items():
            print(f"{command}: {'ready' if state['ready'] else 'not ready'}")
            if state.get("check"):
                print(f"  {_speech_check(state['check'])}")
            if state.get("message"):
                print(f"  {state['message']}")
            for take in state["takes"]:
                print(f"  {take['take']}  {take['seconds']:.1f} s  {take['verdict']}: {take['message']}")
        for problem in summary["problems"]:
            print(f"problem: {problem}")
        return 0
    if args.command is None:
        print("tabsense enroll: --command CMD says which command the takes are of.", file=sys.stderr)
        return 2
    answer = None
    for path in args.files:
        try:
            params = {"command": args.command, "audio": base64.b64encode(Path(path).read_bytes()).decode()}
            if args.sample_rate is not None:
                params["sample_rate"] = args.sample_rate
            answer = host.enroll_take(params)
        except OSError as exc:
            print(f"{path}: cannot be read ({exc.strerror})", file=sys.stderr)
            return 1
        except TabSenseError as exc:
            print(f"{path}: {exc.message}", file=sys.stderr)
            return 1
        print(json.dumps({"file": path, **answer}) if args.json else f"{path}: {answer['verdict']}: {answer['message']}")
    good = sum(1 for take in answer["takes"] if take["verdict"] == "ok")
    if answer["command_ready"]:
        print(f"{args.command} is ready: TabSense now hears it in your voice.", file=sys.stderr)
        if answer.get("check"):
            print(_speech_check(answer["check"]), file=sys.stderr)
        return 0
    if answer.get("command_message"):
        print(f"{args.command} is not ready: {answer['command_message']}", file=sys.stderr)
        return 1
    print(f"{args.command} is not ready: {good} good take(s), 3 needed; record the ones marked above again.",
          file=sys.stderr)
    return 1


# --- models --------------------------------------------------------------------------


def _selected_specs(store, names):
    return [store.registry.get(n) for n in names] if names else store.registry.specs()


def cmd_models_fetch(args) -> int:
    from .store import ModelStore

    store = ModelStore()
    source = Path(args.source).expanduser() if args.source else None
    failed = 0
    for spec in _selected_specs(store, args.names):
        fetchable = all(f.bundled or f.urls for f in spec.files.values())
        if not args.names and not fetchable:
            continue  # lab-built models have no source; `tabsense-models build` makes them
        try:
            outcome = store.fetch(spec, source, args.force, progress=lambda m: print(m, file=sys.stderr))
            print(f"{spec.name} v{spec.version}: " + ", ".join(f"{r} {o}" for r, o in outcome.items()) + f" -> {store.model_dir(spec)}")
        except TabSenseError as exc:
            failed += 1
            print(f"{spec.name}: {exc.message}", file=sys.stderr)
    return 1 if failed else 0


def cmd_models_list(args) -> int:
    from .store import ModelStore

    store = ModelStore()
    default = store.registry.default_name()
    for spec in store.registry.specs():
        row = {**spec.summary(), "available": store.is_available(spec), "default": spec.name == default}
        if args.json:
            _print_json(row)
        else:
            flags = [f for f, on in (("default", row["default"]), ("installed", row["available"])) if on]
            flags.append("blessed" if spec.blessed else "not blessed")
            validation = spec.validation or {}
            if "top1" in validation and "agreement" in validation:
                flags.append(f"(top-1 {validation['top1']:.3f}, agreement {validation['agreement']:.1%})")
            print(f"{spec.name:40} v{spec.version:4} {spec.quantization:26} {' '.join(flags)}")
    return 0


def cmd_models_verify(args) -> int:
    from .store import ModelStore

    store = ModelStore()
    bad = 0
    for spec in _selected_specs(store, args.names):
        for status in store.check(spec):
            ok = status.state == "ok"
            bad += not ok
            print(f"{spec.name} {status.role}: {status.state}" + ("" if ok else f" ({status.detail})"))
    if bad:
        print("Fix: tabsense models fetch --force [--from DIR]", file=sys.stderr)
    return 1 if bad else 0


# --- serve, token, doctor, bench, evaluate ------------------------------------------


def cmd_serve(args) -> int:
    import asyncio

    from . import auth
    from .capabilities import Capabilities
    from .dispatcher import Dispatcher
    from .native import thread_count
    from .store import ModelStore
    from .transports.websocket import WebSocketServer

    if not args.ws:
        print("tabsense serve: only --ws is available here; the browser starts the native host itself.", file=sys.stderr)
        return 2
    store = ModelStore()
    token = auth.load_or_create(store.home)
    origins = [EXTENSION_ORIGIN, *args.allow_origin]
    dispatcher = Dispatcher(Capabilities(store, num_threads=thread_count(args.threads)))
    server = WebSocketServer(dispatcher, token, origins, args.port)
    def announce() -> None:
        print(f"TabSense WebSocket listening on ws://127.0.0.1:{server.port}/ (token: `tabsense token`)",
              file=sys.stderr, flush=True)

    try:
        asyncio.run(server.serve_forever(on_ready=announce))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"tabsense serve: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; try --port.", file=sys.stderr)
        return 1
    finally:
        dispatcher.close()
    return 0


def cmd_token(args) -> int:
    from . import auth

    print(auth.load_or_create())
    return 0


def cmd_doctor(args) -> int:
    from .doctor import run_doctor

    return run_doctor()


def cmd_bench(args) -> int:
    from .bench import run_bench

    return run_bench(args)


def cmd_soak(args) -> int:
    from .bench import run_soak

    return run_soak(args)


def cmd_evaluate(args) -> int:
    from .evaluate import run_evaluate

    return run_evaluate(args)


def cmd_native(args) -> int:
    from .native import run_native

    return run_native(args.origin)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tabsense", description="TabSense: on-device image classification for the browser.")
    parser.add_argument("--version", action="version", version=f"tabsense {__version__}")
    verbose_help = "more logging on stderr (-v info, including LiteRT's own notes; -vv debug)"
    parser.add_argument("-v", "--verbose", action="count", default=0, help=verbose_help)
    # -v also after the command (`tabsense classify -v FILE`); SUPPRESS keeps a -v given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=verbose_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("classify", parents=[common], help="classify image files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per line per file")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, choices=range(1, 1001), metavar="K")
    p.add_argument("--model", help="registered model name (default: the default image model)")
    p.add_argument("--threads", type=int, help="inference threads (default $TABSENSE_THREADS or 2)")
    p.add_argument("--allow-unblessed", action="store_true", help="also run models the validator has not blessed")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("listen", parents=[common], help="find a voice command in audio files (WAV, or raw 16-bit PCM with --sample-rate)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per line per file")
    p.add_argument("--model", help="registered keyword model (default: the default keyword model)")
    p.add_argument("--sample-rate", type=int, help="sample rate of raw PCM files")
    p.add_argument("--allow-unblessed", action="store_true", help="also run models the validator has not blessed")
    p.set_defaults(func=cmd_listen)

    p = sub.add_parser("enroll", parents=[common], help="teach TabSense your voice: takes of a command (WAV, or raw 16-bit PCM with --sample-rate)")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--command", help="the command the takes say (next_tab, previous_tab, close_tab, new_tab, go_back, reload)")
    p.add_argument("--sample-rate", type=int, help="sample rate of raw PCM files")
    p.add_argument("--list", action="store_true", help="show the profile: takes and verdicts per command")
    p.add_argument("--reset", action="store_true", help="forget the whole profile, or one --command")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_enroll)

    models = sub.add_parser("models", parents=[common], help="install, list and verify models").add_subparsers(dest="action", required=True, metavar="ACTION")
    p = models.add_parser("fetch", parents=[common], help="install models (download, or copy with --from) and check sha256")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--from", dest="source", metavar="DIR", help="copy from this folder instead of downloading")
    p.add_argument("--force", action="store_true", help="replace files even if they look fine")
    p.set_defaults(func=cmd_models_fetch)
    p = models.add_parser("list", parents=[common], help="list registered models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models_list)
    p = models.add_parser("verify", parents=[common], help="check installed model files against their sha256")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.set_defaults(func=cmd_models_verify)

    p = sub.add_parser("serve", parents=[common], help="serve the host over a WebSocket on 127.0.0.1")
    p.add_argument("--ws", action="store_true", help="WebSocket transport (required)")
    p.add_argument("--port", type=int, default=DEFAULT_WS_PORT)
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN", help="another allowed Origin (repeatable)")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("token", parents=[common], help="print the WebSocket token (created on first use)")
    p.set_defaults(func=cmd_token)
    p = sub.add_parser("doctor", parents=[common], help="check models, checksums and browser registrations")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("bench", parents=[common], help="benchmark decode, inference, cold start and memory")
    p.add_argument("--images", metavar="DIR", help="folder of JPEGs to pick the ~100 KB and ~600 KB files from")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int)
    p.add_argument("--model")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("soak", parents=[common], help="many classifications through one real host process: errors, memory, latency drift")
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--images", metavar="DIR")
    p.add_argument("--json", metavar="FILE")
    p.set_defaults(func=cmd_soak)

    p = sub.add_parser("evaluate", parents=[common], help="top-1/top-5 accuracy on a labelled ImageNet sample folder")
    p.add_argument("--data", metavar="DIR", help="folder with WNID_name.JPEG files and classes.tsv")
    p.add_argument("--model")
    p.add_argument("--resize", choices=["center_crop", "whole", "both"], default="both")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", metavar="FILE")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("native", parents=[common], help="run the native messaging host on stdio (what the browser starts)")
    p.add_argument("origin", nargs="?")
    p.set_defaults(func=cmd_native)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "native":
        configure(["WARNING", "INFO", "DEBUG"][min(args.verbose, 2)])
    try:
        return args.func(args)
    except TabSenseError as exc:
        print(f"tabsense: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
