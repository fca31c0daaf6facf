"""Data sets nmfuse generates."""
from . import _nmfuse


def load_swimmer():
    """The swimmer set (Donoho & Stodden 2003): 256 stick figures of 32×32 pixels as a
    float32 array of 256 images × 1024 pixels. A torso and four limbs, each limb in one
    of four positions, every combination once: 17 parts that share no pixel."""
    return _nmfuse.swimmer_images()


def swimmer_parts():
    """The swimmer set's 17 parts as 17 × 1024 pixels: the torso, then limb l in
    position p in row 1 + 4·l + p."""
    return _nmfuse.swimmer_parts()
