"""Step 3: evaluate the int8 keyword model on held-out voices, tune thresholds, bless it.

Every number comes from the HOST's streaming detector (`host.speech.StreamDetector` over
`host.speech.KeywordSpotter`, the code that serves the model), fed in 100 ms chunks:
  * recall per command on clips of held-out voices (speakers never seen in training), clean
    and at 20 / 10 / 5 dB SNR (noise: white/pink/brown or held-out real sounds), each clip
    framed by 0.5-1.0 s before and 1.2 s after; a hit is an event for the right command
    between the phrase start and 1 s after its end;
  * latency = event time (end of the window that fired) - end of the phrase;
  * false accepts on near-miss phrases (any command event), clean and at 10 dB;
  * false triggers per hour on a long stream (>= 30 min) of held-out real human speech,
    TTS near misses and other sentences of held-out voices, music and ambient sounds,
    gaps, over a noise floor;
  * inference time per window with LiteRT (1 thread, p50/p95 after warm-up).
Thresholds are tuned on the VALIDATION voices only (a faithful replay of the detector over
recorded posteriors), then frozen for test: one set per sensitivity level a user can choose
(SENSITIVITY_RULES; "normal" is the published default), each measured on both splits. The same clips go to PocketSphinx keyphrase
spotting (PyPI pocketsphinx 5.1.1, its US English model) for a side-by-side baseline.
The model is blessed when the VALIDATION numbers meet the targets.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import augment
from .common import (CLASSES, COMMANDS, PHRASES, SAMPLE_RATE, SILENCE, UNKNOWN, WINDOW_FRAMES, ClipBank, log,
                     log_mel, run_dir, save_json, setup_logging)
from .workers import fork_pool

# ----------------------------------------------------------------------------- constants
SEED = 1
SNRS = [20, 10, 5]
LEAD_S, TAIL_S = (0.5, 1.0), 1.2
HIT_AFTER_END_S = 1.0
CHUNK_S = 0.1
SMOOTHING, REFRACTORY_S = 3, 1.0
STREAM_MIN_S = {"full": 31 * 60, "small": 90}
STREAM_FLOOR_DB = (-60.0, -42.0)  # noise floor under the long stream
THRESHOLD_GRID = sorted({round(float(t), 3) for t in np.concatenate([np.arange(0.30, 0.90, 0.05), np.arange(0.90, 0.995, 0.01)])})
TARGETS = {
    "recall_clean_min": 0.97, "recall_10db_min": 0.90, "required_commands": ["next_tab", "previous_tab"],
    "near_miss_false_accept_max": 0.02, "false_triggers_per_hour_max": 1.0,
    "latency_p90_s_max": 0.30, "inference_p95_ms_max": 1.0,
}
TUNE_FA_MAX = 0.01  # per command, on validation near misses (clean and 10 dB)
# The validation stream (~35 min) still bounds little with "no false trigger": take the
# HIGHEST feasible threshold whose validation recall is within this of the best one.
TUNE_RECALL_SLACK = 0.01
# The sensitivity levels a user can choose (host `sensitivity`, the extension's options), each tuned
# by the same rule under its own limits on validation: (near-miss false accepts max, false triggers
# per hour on the validation stream max, recall slack). "normal" is the published `thresholds`;
# "low" gives up a little recall for fewer mistaken switches, "high" takes the near-miss target and
# about two false triggers per command on the ~35 min stream for the recall of voices it misses.
SENSITIVITY_RULES = {
    "low": (0.005, 0.0, 0.02),
    "normal": (TUNE_FA_MAX, 0.0, TUNE_RECALL_SLACK),
    "high": (0.02, 3.5, 0.0),
}
STREAM_NEAR_MISSES_PER_HOUR = 120  # near-miss phrases mixed into the long stream (2 a minute)
POCKETSPHINX_THRESHOLDS = ["1e-20", "1e-30"]
POCKETSPHINX_MAX_NEAR_MISSES = 300  # clean near-miss clips sampled for the baseline (its CPU cost is high)
POCKETSPHINX_COMMANDS = ("next_tab", "previous_tab")  # the required commands (clean and 10 dB)
TIMING_WINDOWS, TIMING_WARMUP = 1000, 100


# ----------------------------------------------------------------------------- detector access
def host_detector_api():
    """The host's spotter/detector (required; the lab fails loudly if the API moved)."""
    from host.speech import DetectorSettings, KeywordSpotter, StreamDetector

    return KeywordSpotter, StreamDetector, DetectorSettings


def stream_events(spotter, thresholds: dict, audio: np.ndarray, commands=None) -> list[dict]:
    """Feed `audio` (16 kHz) to a fresh host StreamDetector in 100 ms chunks (`commands`: the
    enabled subset, None = all)."""
    _, StreamDetector, DetectorSettings = host_detector_api()
    settings = DetectorSettings(thresholds=thresholds, smoothing=SMOOTHING, refractory_s=REFRACTORY_S,
                                commands=tuple(commands) if commands else None)
    detector = StreamDetector(spotter, settings, source_rate=SAMPLE_RATE)
    step = int(CHUNK_S * SAMPLE_RATE)
    events = []
    for i in range(0, len(audio), step):
        events += detector.feed(audio[i: i + step])
    return events


def trace(spotter, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors of every window the detector scores (same frames, same ring, same times)."""
    from host.speech import HOP, HOP_FRAMES, SILENT_FRAME, WINDOW

    frames = log_mel(audio)
    padded = np.concatenate([np.tile(SILENT_FRAME, (WINDOW_FRAMES, 1)), frames])
    ends = np.arange(HOP_FRAMES, len(frames) + 1, HOP_FRAMES)
    probs = np.stack([spotter.probabilities_from_features(padded[e: e + WINDOW_FRAMES]) for e in ends]) \
        if len(ends) else np.zeros((0, len(CLASSES)), np.float32)
    times = (ends * HOP + (WINDOW - HOP)) / SAMPLE_RATE
    return probs, times


def replay(probs: np.ndarray, times: np.ndarray, thresholds: dict, command_index: dict) -> list[dict]:
    """`StreamDetector._score_window`'s rule over recorded posteriors (for fast tuning)."""
    events, quiet_until = [], -1.0
    if len(probs) == 0:
        return events
    kernel = np.ones(SMOOTHING) / SMOOTHING
    csum = np.cumsum(np.vstack([np.zeros((1, probs.shape[1])), probs]), axis=0)
    idx = np.arange(1, len(probs) + 1)
    lo = np.maximum(idx - SMOOTHING, 0)
    smoothed = (csum[idx] - csum[lo]) / (idx - lo)[:, None]
    del kernel
    cmd_names = list(command_index)
    cmd_cols = np.array([command_index[c] for c in cmd_names])
    scores = smoothed[:, cmd_cols]
    best = scores.argmax(1)
    best_score = scores[np.arange(len(scores)), best]
    per_command = np.array([thresholds.get(c, 0.8) for c in cmd_names])
    limits = per_command[best]
    # The re-arm latch: a command that fired stays silent until its own smoothed score has
    # dropped below its threshold once. last_below[i, c] = last window <= i where it had.
    index = np.arange(len(scores))[:, None]
    last_below = np.maximum.accumulate(np.where(scores < per_command, index, -1), axis=0)
    last_fire = np.full(len(cmd_names), -1)
    for i in np.flatnonzero(best_score >= limits):
        c = best[i]
        if times[i] < quiet_until or best_score[i] <= 0:
            continue
        if last_fire[c] >= 0 and last_below[i, c] < last_fire[c]:
            continue
        quiet_until = times[i] + REFRACTORY_S
        last_fire[c] = i
        events.append({"command": cmd_names[c], "score": float(best_score[i]), "time_s": float(times[i])})
    return events


# ----------------------------------------------------------------------------- test material
def frame_clip(clip: np.ndarray, rng: np.random.Generator, snr: float | None, sounds: list[np.ndarray]):
    """lead + clip + tail at a random level, noise at `snr` dB (None = clean).
    Returns (audio, phrase start s, phrase end s)."""
    lead = int(rng.uniform(*LEAD_S) * SAMPLE_RATE)
    tail = int(TAIL_S * SAMPLE_RATE)
    speech = clip * (augment.db_to_gain(rng.uniform(-20, -3)) / (np.max(np.abs(clip)) + 1e-9))
    audio = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(tail, np.float32)])
    if snr is not None:
        noise = augment.background(len(audio), rng, sounds)
        audio = augment.mix_at_snr(audio, noise, snr, augment.rms(speech))
    return augment.normalise_peak(audio), lead / SAMPLE_RATE, (lead + len(clip)) / SAMPLE_RATE


def conditions(bank: ClipBank, seed: int, near_miss_snrs=(None, 10)) -> list[dict]:
    """Every scored clip: commands x (clean + SNRS), near misses x near_miss_snrs."""
    sounds = [a for a, m in bank.items() if m["kind"] == "sound"]
    rng = np.random.default_rng(seed)
    items = []
    for audio, meta in bank.items():
        if meta["kind"] == "command":
            snrs = [None] + SNRS
        elif meta["kind"] == "near_miss":
            snrs = list(near_miss_snrs)
        else:
            continue
        for snr in snrs:
            framed, start, end = frame_clip(audio, rng, snr, sounds)
            items.append({"audio": framed, "start": start, "end": end, "snr": snr, **meta})
    return items


def long_stream(bank: ClipBank, seed: int, min_s: float) -> tuple[np.ndarray, dict]:
    """>= min_s of non-command audio: real speech, near misses, other sentences, sounds, gaps."""
    rng = np.random.default_rng(seed + 7)
    parts = {k: [(a, m.get("text", "")) for a, m in bank.items() if m["kind"] == k] for k in ("real", "near_miss", "other", "sound")}
    near = parts.pop("near_miss")
    sounds = [a for a, _ in parts["sound"]]
    pieces, seconds, segments = [], defaultdict(float), []
    rounds, position = 0, 0
    while sum(seconds.values()) < min_s or rounds == 0:
        order = [(k, a) for k in parts for a in parts[k]]
        order = [order[i] for i in rng.permutation(len(order))]
        # near misses at a fixed rate: about STREAM_NEAR_MISSES_PER_HOUR over this round's ~duration
        round_s = sum(len(a) for _, (a, _) in order) / SAMPLE_RATE * 1.6
        n_near = min(len(near), max(1, int(round(STREAM_NEAR_MISSES_PER_HOUR * round_s / 3600))))
        for i in (rng.choice(len(near), n_near, replace=False) if near else []):
            order.insert(int(rng.integers(len(order) + 1)), ("near_miss", near[i]))
        for kind, (audio, text) in order:
            if kind == "real" and len(audio) > 30 * SAMPLE_RATE:
                audio = audio[: 30 * SAMPLE_RATE]
            level = augment.db_to_gain(rng.uniform(-22, -3)) / (np.max(np.abs(audio)) + 1e-9)
            if kind == "sound":
                level = augment.db_to_gain(rng.uniform(-35, -10)) / (np.max(np.abs(audio)) + 1e-9)
            gap = np.zeros(int(rng.uniform(0.2, 1.5) * SAMPLE_RATE), np.float32)
            pieces += [audio * level, gap]
            segments.append((position / SAMPLE_RATE, (position + len(audio)) / SAMPLE_RATE, kind, text))
            position += len(audio) + len(gap)
            seconds[kind] += len(audio) / SAMPLE_RATE
            seconds["gap"] += len(gap) / SAMPLE_RATE
        rounds += 1
    stream = np.concatenate(pieces).astype(np.float32)
    floor = np.concatenate([augment.background(min(len(stream) - i, 60 * SAMPLE_RATE), rng, sounds)
                            * augment.db_to_gain(rng.uniform(*STREAM_FLOOR_DB))
                            for i in range(0, len(stream), 60 * SAMPLE_RATE)])
    stream = augment.normalise_peak(stream + floor)
    info = {"seconds": round(len(stream) / SAMPLE_RATE, 1), "rounds": rounds,
            "content_s": {k: round(v, 1) for k, v in seconds.items()}, "segments": segments}
    return stream, info


def explain(events: list[dict], segments: list) -> list[dict]:
    """What the stream was playing when each false trigger fired (the window's last 1.5 s)."""
    out = []
    for e in events:
        near = [f"{kind}: {text}" if text else kind for start, end, kind, text in segments
                if start < e["time_s"] and end > e["time_s"] - 1.5]
        out.append({**e, "content": near})
    return out


# ----------------------------------------------------------------------------- scoring
def score_clip_events(item: dict, events: list[dict]) -> dict:
    hit = [e for e in events if e["command"] == item["label"] and item["start"] <= e["time_s"] <= item["end"] + HIT_AFTER_END_S]
    return {"hit": bool(hit), "latency": hit[0]["time_s"] - item["end"] if hit else None,
            "false": [e["command"] for e in events if e["command"] != item["label"]]}


def summarise(items: list[dict], results: list[dict], stream_events: list, stream_s: float) -> dict:
    out = {"recall": {}, "latency_s": {}, "near_miss": {}, "confusions": defaultdict(int)}
    latencies = []
    for cmd in COMMANDS:
        out["recall"][cmd] = {}
        for snr in [None] + SNRS:
            sel = [r for it, r in zip(items, results) if it["kind"] == "command" and it["label"] == cmd and it["snr"] == snr]
            out["recall"][cmd]["clean" if snr is None else f"{snr}dB"] = round(np.mean([r["hit"] for r in sel]), 4) if sel else None
        lat = [r["latency"] for it, r in zip(items, results) if it["kind"] == "command" and it["label"] == cmd
               and it["snr"] is None and r["latency"] is not None]
        latencies += lat
        out["latency_s"][cmd] = {"p50": round(float(np.median(lat)), 3), "p90": round(float(np.percentile(lat, 90)), 3)} if lat else None
    for it, r in zip(items, results):
        if it["kind"] == "command":
            for wrong in r["false"]:
                out["confusions"][f"{it['label']}->{wrong}"] += 1
    out["confusions"] = dict(out["confusions"])
    out["latency_all_clean_s"] = ({"p50": round(float(np.median(latencies)), 3), "p90": round(float(np.percentile(latencies, 90)), 3),
                                   "max": round(float(np.max(latencies)), 3), "n": len(latencies)} if latencies else None)
    for snr in (None, 10):
        sel = [(it, r) for it, r in zip(items, results) if it["kind"] == "near_miss" and it["snr"] == snr]
        if sel:
            fired = [it["text"] for it, r in sel if r["false"]]
            by_text = defaultdict(int)
            for t in fired:
                by_text[t] += 1
            out["near_miss"]["clean" if snr is None else f"{snr}dB"] = {
                "clips": len(sel), "false_accepts": len(fired), "rate": round(len(fired) / len(sel), 4),
                "by_phrase": dict(sorted(by_text.items(), key=lambda kv: -kv[1]))}
    hours = stream_s / 3600
    out["stream"] = {"seconds": round(stream_s, 1), "false_triggers": len(stream_events),
                     "per_hour": round(len(stream_events) / hours, 2) if hours else None,
                     "events": [{"command": e["command"], "time_s": e["time_s"], "score": e["score"]} for e in stream_events[:20]]}
    return out


def by_engine(items, results) -> dict:
    """Clean recall per engine:voice (to see which held-out voices are hard)."""
    groups, per_command, false = defaultdict(list), defaultdict(lambda: defaultdict(list)), defaultdict(list)
    for it, r in zip(items, results):
        # espeak-ng variants as one group; a Kokoro clip's accent varies, its speaker (style) does not
        key = "espeak" if it["engine"] == "espeak" else it["speaker"] if it["engine"] == "kokoro" else f"{it['engine']}:{it['voice']}"
        if it["kind"] == "command" and it["snr"] is None:
            groups[key].append(r["hit"])
            per_command[key][it["label"]].append(r["hit"])
        elif it["kind"] == "near_miss" and it["snr"] is None:
            false[key].append(bool(r["false"]))
    return {k: {"recall": round(float(np.mean(v)), 4), "clips": len(v),
                "commands": {c: round(float(np.mean(h)), 4) for c, h in sorted(per_command[k].items())},
                "near_miss_false_accept": round(float(np.mean(false[k])), 4) if false[k] else None}
            for k, v in sorted(groups.items())}


# ----------------------------------------------------------------------------- tuning (validation only)
def tune_thresholds(items, traces, stream_trace, stream_s, command_index) -> tuple[dict, dict]:
    """Per command, the validation recall (clean + 10 dB), near-miss false accepts and stream false
    triggers at every threshold of the grid (other commands disabled while one is tuned), and the
    thresholds of every sensitivity level (`sensitivity_thresholds`). "normal", the published
    `thresholds`: among the thresholds with near-miss false accepts <= TUNE_FA_MAX and no false
    trigger on the validation stream, the highest one whose recall is within TUNE_RECALL_SLACK of
    the best. Returns (thresholds per level, the table)."""
    grids, table = {}, {}
    for cmd in COMMANDS:
        rows = []
        for t in THRESHOLD_GRID:
            th = {c: (t if c == cmd else 2.0) for c in COMMANDS}
            hits, fas, n_pos, n_nm = 0, 0, 0, 0
            lat = []
            for it, (p, tm) in zip(items, traces):
                if it["kind"] == "command" and it["label"] == cmd and it["snr"] in (None, 10):
                    r = score_clip_events(it, replay(p, tm, th, command_index))
                    hits += r["hit"]
                    n_pos += 1
                    if r["latency"] is not None and it["snr"] is None:
                        lat.append(r["latency"])
                elif it["kind"] == "near_miss":
                    n_nm += 1
                    fas += bool(replay(p, tm, th, command_index))
            ft = len(replay(*stream_trace, th, command_index))
            rows.append({"threshold": t, "recall": hits / max(n_pos, 1), "fa": fas / max(n_nm, 1), "stream_ft": ft,
                         "latency_p90": float(np.percentile(lat, 90)) if lat else None})
        grids[cmd] = rows
        table[cmd] = {"chosen": choose_threshold(rows, stream_s, *SENSITIVITY_RULES["normal"]),
                      "grid": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]}
    return sensitivity_thresholds(grids, stream_s), table


def choose_threshold(rows: list[dict], stream_s: float, fa_max: float, ft_per_hour_max: float, slack: float) -> dict:
    """The highest threshold whose recall is within `slack` of the best among the feasible rows
    (near-miss false accepts <= fa_max, stream false triggers <= ft_per_hour_max); none feasible:
    the top of the grid."""
    allowed = int(np.floor(ft_per_hour_max * stream_s / 3600 + 1e-9))
    feasible = [r for r in rows if r["fa"] <= fa_max and r["stream_ft"] <= allowed]
    if not feasible:
        return rows[-1]
    top = max(r["recall"] for r in feasible)
    return max((r for r in feasible if r["recall"] >= top - slack - 1e-9), key=lambda r: r["threshold"])


def sensitivity_thresholds(grids: dict, stream_s: float) -> dict:
    """Per level of SENSITIVITY_RULES, per command, the threshold chosen from that command's grid rows;
    "low" never below "normal" and "high" never above it, whatever the grid's noise."""
    levels = {level: {cmd: float(choose_threshold(rows, stream_s, *rule)["threshold"]) for cmd, rows in grids.items()}
              for level, rule in SENSITIVITY_RULES.items()}
    for cmd, normal in levels["normal"].items():
        levels["low"][cmd] = max(levels["low"][cmd], normal)
        levels["high"][cmd] = min(levels["high"][cmd], normal)
    return levels


def level_metrics(items, traces, stream_trace, stream_s, thresholds: dict, command_index: dict) -> dict:
    """What one threshold set gives over recorded posteriors (the detector's rule, replayed): recall
    per command, near-miss false accepts, stream false triggers, and the same with only the required
    commands enabled (the extension's default)."""
    results = [score_clip_events(it, replay(p, t, thresholds, command_index)) for it, (p, t) in zip(items, traces)]
    summary = summarise(items, results, replay(*stream_trace, thresholds, command_index), stream_s)
    required = {c: command_index[c] for c in TARGETS["required_commands"]}
    near = [(p, t) for it, (p, t) in zip(items, traces) if it["kind"] == "near_miss" and it["snr"] is None]
    required_ft = len(replay(*stream_trace, thresholds, required))
    return {
        "thresholds": thresholds,
        "recall": summary["recall"],
        "near_miss_false_accept": summary["near_miss"].get("clean", {}).get("rate"),
        "false_triggers_per_hour": summary["stream"]["per_hour"],
        "required_only": {
            "near_miss_false_accept": round(sum(bool(replay(p, t, thresholds, required)) for p, t in near) / len(near), 4)
            if near else None,
            "false_triggers_per_hour": round(required_ft / (stream_s / 3600), 2) if stream_s else None},
    }


# ----------------------------------------------------------------------------- PocketSphinx baseline
def _ps_decode(args) -> list[tuple[str, float]]:
    audio, threshold = args
    from pocketsphinx import Decoder

    global _PS_DECODERS
    try:
        _PS_DECODERS
    except NameError:
        _PS_DECODERS = {}
    decoder = _PS_DECODERS.get(threshold)
    if decoder is None:
        path = Path(f"/tmp/tabsense-kws-{threshold}.txt")
        path.write_text("".join(f"{p} /{threshold}/\n" for p in PHRASES.values()))
        decoder = _PS_DECODERS[threshold] = Decoder(kws=str(path), loglevel="FATAL")
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, False, True)
    decoder.end_utt()
    if decoder.hyp() is None:
        return []
    phrase_to_cmd = {p: c for c, p in PHRASES.items()}
    return [(phrase_to_cmd.get(s.word.strip(), s.word.strip()), s.end_frame / 100.0) for s in decoder.seg()]


def pocketsphinx_baseline(items, stream, workers: int) -> dict:
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        return {"available": False, "note": "pip install pocketsphinx==5.1.1 to run the baseline"}
    rng = np.random.default_rng(0)
    commands = [it for it in items if it["kind"] == "command" and it["snr"] in (None, 10) and it["label"] in POCKETSPHINX_COMMANDS]
    near = [it for it in items if it["kind"] == "near_miss" and it["snr"] is None]
    near = [near[i] for i in sorted(rng.permutation(len(near))[:POCKETSPHINX_MAX_NEAR_MISSES])]
    sel = commands + near
    out = {"available": True, "version": getattr(pocketsphinx, "__version__", "5.1.1"), "thresholds": {},
           "clips": {"commands": len(commands), "near_misses": len(near)}, "stream_s": round(len(stream) / SAMPLE_RATE, 1)}
    chunk = 60 * SAMPLE_RATE
    stream_chunks = [stream[i: i + chunk] for i in range(0, len(stream), chunk)]
    with fork_pool(workers) as pool:
        for threshold in POCKETSPHINX_THRESHOLDS:
            start = time.process_time()
            t0 = time.time()
            jobs = [(it["audio"], threshold) for it in sel]
            found = list(tqdm(pool.map(_ps_decode, jobs, chunksize=8), total=len(jobs), desc=f"pocketsphinx {threshold}",
                              mininterval=2.0))
            stream_found = list(pool.map(_ps_decode, [(c, threshold) for c in stream_chunks]))
            results = []
            for it, dets in zip(sel, found):
                events = [{"command": c, "time_s": t} for c, t in dets]
                results.append(score_clip_events(it, events) if it["kind"] == "command" else
                               {"hit": False, "latency": None, "false": [e["command"] for e in events]})
            recall = {}
            for cmd in POCKETSPHINX_COMMANDS:
                recall[cmd] = {}
                for snr in (None, 10):
                    r = [res["hit"] for it, res in zip(sel, results) if it["kind"] == "command" and it["label"] == cmd and it["snr"] == snr]
                    recall[cmd]["clean" if snr is None else "10dB"] = round(float(np.mean(r)), 4) if r else None
            nm = [bool(res["false"]) for it, res in zip(sel, results) if it["kind"] == "near_miss" and it["snr"] is None]
            n_stream = sum(len(d) for d in stream_found)
            audio_s = (sum(len(it["audio"]) for it in sel) + len(stream)) / SAMPLE_RATE
            out["thresholds"][threshold] = {
                "recall": recall, "near_miss_false_accept": round(float(np.mean(nm)), 4) if nm else None,
                "stream_false_triggers": n_stream, "per_hour": round(n_stream / (len(stream) / SAMPLE_RATE / 3600), 2),
                "wall_s": round(time.time() - t0, 1), "audio_s": round(audio_s, 1), "workers": workers,
                "cpu_ms_per_audio_s": round(1000 * (time.time() - t0) * workers / audio_s, 1)}
            del start
    return out


# ----------------------------------------------------------------------------- timing
def inference_timing(spotter, bank: ClipBank) -> dict:
    rng = np.random.default_rng(0)
    clips = [a for a, m in bank.items() if m["kind"] in ("command", "near_miss")] or [np.zeros(24000, np.float32)]
    windows = []
    for _ in range(64):
        w, _ = augment.place(clips[int(rng.integers(len(clips)))], rng)
        windows.append(w)
    feats = [log_mel(w) for w in windows]
    infer, total = [], []
    for i in range(TIMING_WARMUP + TIMING_WINDOWS):
        t0 = time.perf_counter()
        spotter.probabilities_from_features(feats[i % len(feats)])
        t1 = time.perf_counter()
        if i >= TIMING_WARMUP:
            infer.append(spotter.last_infer_ms)
            total.append((t1 - t0) * 1000)
    feat_ms = []
    for w in windows * 4:
        t0 = time.perf_counter()
        log_mel(w)
        feat_ms.append((time.perf_counter() - t0) * 1000)
    pct = lambda v, q: round(float(np.percentile(v, q)), 4)  # noqa: E731
    return {"threads": 1, "windows": TIMING_WINDOWS, "invoke_ms": {"p50": pct(infer, 50), "p95": pct(infer, 95)},
            "quantize_invoke_dequantize_ms": {"p50": pct(total, 50), "p95": pct(total, 95)},
            "log_mel_full_window_ms": {"p50": pct(feat_ms, 50), "p95": pct(feat_ms, 95)}}


# ----------------------------------------------------------------------------- main
def run_split(spotter, bank, seed, mode, thresholds=None, command_index=None):
    items = conditions(bank, seed)
    stream, stream_info = long_stream(bank, seed, STREAM_MIN_S[mode])
    return items, stream, stream_info


def evaluate(small: bool = False, seed: int = SEED, model_path: Path | None = None, workers: int = 2,
             baseline: bool = True) -> dict:
    mode = "small" if small else "full"
    out = run_dir(small)
    model_path = Path(model_path or out / "kws_int8.tflite")
    labels_path = out / "labels.txt"
    labels_path.write_text("\n".join(CLASSES) + "\n")
    KeywordSpotter, _, _ = host_detector_api()
    spotter = KeywordSpotter(model_path, labels_path, num_threads=1)
    command_index = spotter.command_index
    start = time.time()

    # validation: record posteriors once, tune thresholds by replay
    val_bank = ClipBank.load(out / "eval-val.npz")
    val_items = conditions(val_bank, seed)
    val_stream, val_stream_info = long_stream(val_bank, seed, STREAM_MIN_S[mode])
    val_traces = [trace(spotter, it["audio"]) for it in tqdm(val_items, desc="val posteriors", mininterval=2.0)]
    val_stream_trace = trace(spotter, val_stream)
    levels, tuning = tune_thresholds(val_items, val_traces, val_stream_trace, len(val_stream) / SAMPLE_RATE, command_index)
    thresholds = levels["normal"]
    log.info("thresholds (validation): %s", thresholds)
    val_results = [score_clip_events(it, replay(p, t, thresholds, command_index)) for it, (p, t) in zip(val_items, val_traces)]
    val_stream_events = replay(*val_stream_trace, thresholds, command_index)
    validation = summarise(val_items, val_results, val_stream_events, len(val_stream) / SAMPLE_RATE)
    validation["stream"]["content_s"] = val_stream_info["content_s"]
    validation["stream"]["events"] = explain(val_stream_events[:40], val_stream_info["segments"])
    validation["by_voice"] = by_engine(val_items, val_results)

    # check the replay against the host detector on a sample of validation clips
    sample = val_items[:: max(1, len(val_items) // 60)]
    mismatches = sum(
        [(e["command"], round(e["time_s"], 2)) for e in stream_events(spotter, thresholds, it["audio"])]
        != [(e["command"], round(e["time_s"], 2)) for e in replay(*trace(spotter, it["audio"]), thresholds, command_index)]
        for it in sample)

    # test: the host's streaming detector, thresholds frozen
    test_bank = ClipBank.load(out / "eval-test.npz")
    test_items = conditions(test_bank, seed + 1)
    test_results = [score_clip_events(it, stream_events(spotter, thresholds, it["audio"]))
                    for it in tqdm(test_items, desc="test clips (host detector)", mininterval=2.0)]
    stream, stream_info = long_stream(test_bank, seed + 1, STREAM_MIN_S[mode])
    log.info("test stream: %.1f min", len(stream) / SAMPLE_RATE / 60)
    t0 = time.time()
    test_stream_events = stream_events(spotter, thresholds, stream)
    stream_wall = time.time() - t0
    test = summarise(test_items, test_results, test_stream_events, len(stream) / SAMPLE_RATE)
    test["stream"]["content_s"] = stream_info["content_s"]
    test["stream"]["events"] = explain(test_stream_events[:40], stream_info["segments"])
    test["stream"]["rounds"] = stream_info["rounds"]
    test["stream"]["detector_wall_s"] = round(stream_wall, 1)
    test["stream"]["detector_ms_per_audio_s"] = round(1000 * stream_wall / (len(stream) / SAMPLE_RATE), 2)
    test["by_voice"] = by_engine(test_items, test_results)
    test["required_only"] = required_only(spotter, thresholds, test_items, stream)
    # every sensitivity level on both splits, replayed over posteriors recorded once
    test_traces = [trace(spotter, it["audio"]) for it in tqdm(test_items, desc="test posteriors", mininterval=2.0)]
    test_stream_trace = trace(spotter, stream)
    sensitivity = {level: {
        "validation": level_metrics(val_items, val_traces, val_stream_trace, len(val_stream) / SAMPLE_RATE, th, command_index),
        "test": level_metrics(test_items, test_traces, test_stream_trace, len(stream) / SAMPLE_RATE, th, command_index),
    } for level, th in levels.items()}
    timing = inference_timing(spotter, test_bank)

    verdict = bless(validation, timing)
    test_verdict = bless(test, timing)
    report = {
        "model": {"path": str(model_path), "bytes": model_path.stat().st_size},
        "mode": mode, "seed": seed, "targets": TARGETS,
        "detector": {"smoothing": SMOOTHING, "refractory_s": REFRACTORY_S, "chunk_s": CHUNK_S,
                     "replay_mismatches": f"{mismatches}/{len(sample)}"},
        "thresholds": thresholds, "sensitivity_thresholds": levels, "sensitivity": sensitivity,
        "validation": validation, "test": test, "timing": timing,
        "blessed": verdict["ok"], "blessing": verdict, "test_meets_targets": test_verdict,
        "tuning": {c: t["chosen"] for c, t in tuning.items()},
        "counts": {"val_items": len(val_items), "test_items": len(test_items)},
    }
    if baseline:  # the same clips; the first STREAM_MIN_S of the same stream
        report["pocketsphinx"] = pocketsphinx_baseline(test_items, stream[: int(STREAM_MIN_S[mode] * SAMPLE_RATE)], workers)
    report["seconds"] = round(time.time() - start, 1)
    save_json(model_path.parent / "report.json", report)  # the run folder, or beside a --model file
    save_json(model_path.parent / "tuning.json", tuning)
    return report


def required_only(spotter, thresholds: dict, items: list[dict], stream: np.ndarray) -> dict:
    """False accepts and triggers when only the required commands are enabled (the
    `commands` filter a user can set): what "next tab" / "previous tab" alone would cost."""
    commands = TARGETS["required_commands"]
    near = [it for it in items if it["kind"] == "near_miss" and it["snr"] is None]
    false = sum(bool(stream_events(spotter, thresholds, it["audio"], commands)) for it in near)
    events = stream_events(spotter, thresholds, stream, commands)
    hours = len(stream) / SAMPLE_RATE / 3600
    return {"commands": commands, "near_miss_clips": len(near),
            "near_miss_false_accept": round(false / len(near), 4) if near else None,
            "stream_false_triggers": len(events), "per_hour": round(len(events) / hours, 2) if hours else None}


def bless(metrics: dict, timing: dict) -> dict:
    """Targets check; `metrics` is a `summarise` result."""
    checks = {}
    for cmd in TARGETS["required_commands"]:
        checks[f"{cmd} recall clean >= {TARGETS['recall_clean_min']}"] = (metrics["recall"][cmd]["clean"] or 0) >= TARGETS["recall_clean_min"]
        checks[f"{cmd} recall 10 dB >= {TARGETS['recall_10db_min']}"] = (metrics["recall"][cmd]["10dB"] or 0) >= TARGETS["recall_10db_min"]
    nm = metrics["near_miss"].get("clean", {}).get("rate", 1.0)
    checks[f"near-miss false accepts <= {TARGETS['near_miss_false_accept_max']:.0%}"] = nm <= TARGETS["near_miss_false_accept_max"]
    checks[f"false triggers per hour <= {TARGETS['false_triggers_per_hour_max']}"] = (
        metrics["stream"]["per_hour"] is not None and metrics["stream"]["per_hour"] <= TARGETS["false_triggers_per_hour_max"])
    lat = metrics.get("latency_all_clean_s") or {}
    checks[f"latency p90 <= {TARGETS['latency_p90_s_max']} s"] = lat.get("p90", 9) <= TARGETS["latency_p90_s_max"]
    checks[f"inference p95 <= {TARGETS['inference_p95_ms_max']} ms"] = timing["invoke_ms"]["p95"] <= TARGETS["inference_p95_ms_max"]
    return {"ok": all(checks.values()), "checks": checks}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    setup_logging()
    r = evaluate(args.small, args.seed, args.model, baseline=not args.no_baseline)
    t = r["test"]
    print(f"evaluate (test voices): recall clean next {t['recall']['next_tab']['clean']} prev {t['recall']['previous_tab']['clean']}, "
          f"10 dB next {t['recall']['next_tab']['10dB']} prev {t['recall']['previous_tab']['10dB']}; near-miss FA "
          f"{t['near_miss'].get('clean', {}).get('rate')}; {t['stream']['per_hour']} false triggers/h over "
          f"{t['stream']['seconds'] / 60:.1f} min; latency {t['latency_all_clean_s']}; invoke p95 "
          f"{r['timing']['invoke_ms']['p95']} ms; blessed {r['blessed']}")


if __name__ == "__main__":
    main()
