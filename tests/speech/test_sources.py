"""Every data source is either found or named: a missing Debian package stops the speech data
generator with the package to install, before anything is rendered."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from models.speech import corpora, generate, voices
from models.speech.missing import MissingPackage
from models.speech.voices import espeak, festival, flite, job as voice_job


def test_every_corpus_gives_its_files():
    speech = Counter(r.source for r in corpora.real_speech_files())
    sounds = Counter(r.source for r in corpora.sound_files())
    # the Debian packages' file counts (transcripts with a command would be dropped: none has one)
    assert speech == {"asterisk": 568, "fillets": 192, "librivox": 5, "freedesktop-voice": 8}
    assert sounds == {"sonic-pi": 165, "freedesktop": 27}


@pytest.mark.parametrize("corpus", corpora.SPEECH + corpora.SOUNDS, ids=lambda c: c.name)
def test_a_missing_corpus_names_its_package(corpus, tmp_path):
    absent = dataclasses.replace(corpus, directory=tmp_path / "absent")
    with pytest.raises(MissingPackage) as error:
        absent.recordings()
    assert str(error.value) == f"No clips found in {tmp_path / 'absent'}: install the Debian package {corpus.package}"
    empty = dataclasses.replace(corpus, directory=tmp_path)  # installed folder, no files of the corpus
    with pytest.raises(MissingPackage, match=f"install the Debian package {corpus.package}$"):
        empty.recordings()


def test_missing_transcripts_name_their_package(tmp_path, monkeypatch):
    monkeypatch.setattr(corpora, "ASTERISK_TEXT", tmp_path / "core-sounds-en.txt.gz")
    with pytest.raises(MissingPackage) as error:
        corpora.real_speech_files()
    assert str(error.value) == (f"No asterisk prompt transcripts at {tmp_path / 'core-sounds-en.txt.gz'}: "
                                "install the Debian package asterisk-core-sounds-en")


@pytest.mark.parametrize("engine, command, package", [(espeak, "espeak-ng", "espeak-ng"), (flite, "flite", "flite"),
                                                      (festival, "festival", "festival")], ids=["espeak", "flite", "festival"])
def test_a_missing_engine_names_its_package(engine, command, package, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not engine.available()
    with pytest.raises(MissingPackage) as error:
        engine.prepare(set())
    assert str(error.value) == f"{command} is not on PATH: install the Debian package {package}"


def test_a_missing_festival_voice_names_its_package(tmp_path, monkeypatch):
    festival.prepare(set(festival.VOICES))  # all installed here
    monkeypatch.setattr(festival, "VOICE_ROOT", tmp_path)
    with pytest.raises(MissingPackage) as error:
        festival.prepare({"ked_diphone"})
    assert str(error.value) == (f"No festival voice ked_diphone at {tmp_path / 'english/ked_diphone'}: "
                                "install the Debian package festvox-kdlpc16k")


def test_missing_espeak_variants_name_their_package(tmp_path, monkeypatch):
    monkeypatch.setattr(espeak, "VARIANT_DIRS", (str(tmp_path / "espeak-ng-data/voices/!v"),))
    espeak.variants.cache_clear()
    try:
        with pytest.raises(MissingPackage) as error:
            espeak.variants()
    finally:
        espeak.variants.cache_clear()
    assert str(error.value) == (f"No espeak-ng voice variants found in {tmp_path / 'espeak-ng-data/voices/!v'}: "
                                "install the Debian package espeak-ng-data")
    monkeypatch.undo()
    assert len(espeak.variants()) > 90  # the real ones again


def test_a_flite_voice_it_lacks_is_named():
    flite.prepare({"kal", "kal16", "slt", "rms", "awb"})
    with pytest.raises(MissingPackage, match="flite has no voice 'nobody'"):
        flite.prepare({"nobody"})


def test_generate_stops_before_rendering_when_a_corpus_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(voice_job, "TTS_CACHE", tmp_path / "tts")
    monkeypatch.setattr(corpora, "SPEECH", [dataclasses.replace(c, directory=tmp_path / c.name) if c.name == "fillets"
                                            else c for c in corpora.SPEECH])
    with pytest.raises(MissingPackage) as error:
        generate.generate("small", 3, workers=1, out_dir=tmp_path)
    assert str(error.value) == f"No clips found in {tmp_path / 'fillets'}: install the Debian package fillets-ng-data"
    assert not (tmp_path / "tts").exists() and not list(tmp_path.glob("*.npz"))


def test_every_engine_has_the_render_interface():
    for name, engine in voices.ENGINES.items():
        assert engine.NAME == name and engine.BATCH >= 1
        for function in ("available", "prepare", "render", "sox_effects"):
            assert callable(getattr(engine, function)), (name, function)
