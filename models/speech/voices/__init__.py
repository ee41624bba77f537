"""The text-to-speech engines, one module each behind the same interface, and the renderer.

An engine module has:
  NAME                 the `Job.engine` it renders;
  BATCH                jobs per render call (1; festival: up to 150 clips of ONE voice per process);
  available()          is it installed?
  prepare(voices)      raise MissingPackage naming the package to install when the engine or one of
                       `voices` is missing; one-time setup that must happen before the workers fork;
  render(jobs, workdir) one raw file per job in `workdir` (any format sox reads) or the reason it failed;
  sox_effects(job)     what sox applies to the raw file (pitch; tempo for festival's HTS voice).
Adding an engine is one new module here plus its entry in ENGINES.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from ..common import log
from ..workers import fork_pool
from . import espeak, festival, flite, kokoro, piper
from .job import Job, finish

ENGINES = {engine.NAME: engine for engine in (espeak, flite, festival, piper, kokoro)}


def prepare(jobs: list[Job]) -> None:
    """Check every engine and voice the jobs need (MissingPackage names the package to install)."""
    voices = defaultdict(set)
    for job in jobs:
        voices[job.engine].add(job.voice)
    for name, engine_voices in voices.items():
        ENGINES[name].prepare(engine_voices)


def render_batch(jobs: list[Job]) -> list[tuple[Job, str | None]]:
    """Render jobs of one engine (and one voice) into the cache: (job, error or None) each."""
    engine = ENGINES[jobs[0].engine]
    with tempfile.TemporaryDirectory(prefix=f"{engine.NAME}-") as tmp:
        try:
            raws = engine.render(jobs, Path(tmp))
        except Exception as exc:  # noqa: BLE001  (an engine crash fails its clips, reported; the run goes on)
            return [(job, f"{engine.NAME} failed: {exc}") for job in jobs]
        return [(job, raw if isinstance(raw, str) else finish(job, raw, engine.sox_effects(job)))
                for job, raw in zip(jobs, raws)]


def render_all(jobs: list[Job], workers: int = 2) -> dict[Job, str]:
    """Render every job not yet cached; returns {job: error} for the failures."""
    jobs = list(dict.fromkeys(jobs))
    todo = [j for j in jobs if not j.path.exists()]
    log.info("rendering %d clips (%d cached)", len(todo), len(jobs) - len(todo))
    errors: dict[Job, str] = {}
    if not todo:
        return errors
    singles, by_voice = [], defaultdict(list)
    for job in todo:
        if ENGINES[job.engine].BATCH > 1:
            by_voice[(job.engine, job.voice)].append(job)
        else:
            singles.append([job])
    batches = [voice_jobs[i: i + ENGINES[engine].BATCH] for (engine, _), voice_jobs in by_voice.items()
               for i in range(0, len(voice_jobs), ENGINES[engine].BATCH)]
    with fork_pool(workers) as pool, tqdm(total=len(todo), desc="tts", unit="clip", mininterval=2.0) as bar:
        pending = [pool.submit(render_batch, batch) for batch in batches]
        singles_done = pool.map(render_batch, singles, chunksize=8)
        for results in itertools.chain(singles_done, (batch.result() for batch in pending)):
            for job, error in results:
                if error:
                    errors[job] = error
                bar.update(1)
    if errors:
        log.warning("%d renders failed, e.g. %s", len(errors), next(iter(errors.values())))
    return errors
