"""The `tabsense` command line, run as a user runs it."""

from __future__ import annotations

import json
import subprocess

from support import PYTHON, REPO, TINY_MODEL, sample


def tabsense(env, *args, check=False):
    return subprocess.run([PYTHON, "-m", "host.cli", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=check)


def test_classify_json_one_line_per_file(host_env, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(sample("tench").read_bytes()[:500])
    run = tabsense(host_env, "classify", "--json", "--top-k", "3", str(sample("tench")), str(broken), str(tmp_path / "nope.png"))
    assert run.returncode == 1  # some files failed
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [l["file"] for l in lines] == [str(sample("tench")), str(broken), str(tmp_path / "nope.png")]
    good, bad, missing = lines
    assert set(good) == {"file", "labels", "model", "timing_ms"}
    assert good["labels"][0] == {"label": "tench", "index": 0, "score": good["labels"][0]["score"]}
    assert len(good["labels"]) == 3
    assert bad["error"]["code"] == "image_truncated"
    assert missing["error"]["code"] == "file_unreadable"


def test_classify_with_another_model(host_env):
    run = tabsense(host_env, "classify", "--json", "--model", TINY_MODEL, str(sample("volcano")), check=True)
    assert json.loads(run.stdout)["model"]["name"] == TINY_MODEL


def test_models_list_json(host_env):
    rows = [json.loads(l) for l in tabsense(host_env, "models", "list", "--json", check=True).stdout.splitlines()]
    default = next(r for r in rows if r["default"])
    assert default["name"] == "mobilenet_v2_1.0_224_quant"
    assert {"name", "version", "bytes", "quantization", "derived_from", "blessed", "available"} <= set(default)


def test_fetch_verify_and_doctor_on_a_damaged_install(host_env, tmp_path):
    env = dict(host_env, TABSENSE_HOME=str(tmp_path))
    doctor = tabsense(env, "doctor")
    assert doctor.returncode == 1 and "not installed" in doctor.stdout and "tabsense models fetch" in doctor.stdout

    fetch = tabsense(env, "models", "fetch", "--from", str(REPO.parent / "shared" / "models"))
    assert fetch.returncode == 0, fetch.stderr
    assert tabsense(env, "models", "verify").returncode == 0

    model = tmp_path / "models" / TINY_MODEL / "1" / f"{TINY_MODEL}.tflite"
    data = bytearray(model.read_bytes())
    data[-100] ^= 1
    model.write_bytes(bytes(data))
    verify = tabsense(env, "models", "verify")
    assert verify.returncode == 1 and "corrupt" in verify.stdout
    doctor = tabsense(env, "doctor")
    assert doctor.returncode == 1
    assert f"{TINY_MODEL} v1: damaged" in doctor.stdout and f"--force {TINY_MODEL}" in doctor.stdout
    classify = tabsense(env, "classify", "--json", "--model", TINY_MODEL, str(sample("tench")))
    assert classify.returncode == 2 and "damaged" in classify.stderr


def test_evaluate_reports_top1_on_sample_images(host_env):
    run = tabsense(host_env, "evaluate", "--resize", "center_crop", "--limit", "40", check=True)
    row = next(l for l in run.stdout.splitlines() if l.startswith("| center_crop"))
    top1 = float(row.split("|")[2])
    assert top1 >= 0.8


def test_unknown_model_exits_with_a_clear_message(host_env):
    run = tabsense(host_env, "classify", "--model", "nope", str(sample("tench")))
    assert run.returncode == 2 and "No model named 'nope'" in run.stderr and "Traceback" not in run.stderr
