"""Fixed parameters of the keyword model's input, shared by training and serving."""

from .features import HOP, MEL_BINS, SAMPLE_RATE, frame_count

WINDOW_SECONDS = 1.5  # "previous tab" takes up to ~1.5 s in slow voices
WINDOW_SAMPLES = int(WINDOW_SECONDS * SAMPLE_RATE)
WINDOW_FRAMES = frame_count(WINDOW_SAMPLES)  # 148 frames of 10 ms
HOP_SECONDS = 0.1  # the streaming detector scores a window every 100 ms
HOP_FRAMES = int(HOP_SECONDS * SAMPLE_RATE) // HOP

COMMANDS = ("next_tab", "previous_tab", "close_tab", "new_tab", "go_back", "reload")
SILENCE, UNKNOWN = "_silence_", "_unknown_"
CLASSES = (SILENCE, UNKNOWN) + COMMANDS  # model output order
PHRASES = {
    "next_tab": "next tab",
    "previous_tab": "previous tab",
    "close_tab": "close tab",
    "new_tab": "new tab",
    "go_back": "go back",
    "reload": "reload",
}
__all__ = ["MEL_BINS", "SAMPLE_RATE", "WINDOW_SECONDS", "WINDOW_SAMPLES", "WINDOW_FRAMES", "HOP_SECONDS",
           "HOP_FRAMES", "COMMANDS", "CLASSES", "PHRASES", "SILENCE", "UNKNOWN"]
