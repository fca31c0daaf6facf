"""`nmfuse audio --batch-size` on 20 minutes of sound: the resident memory stays bounded
by the batch (the whole spectrogram would take ~230 MB; the whole-sound path peaks at
~640 MB here), and every component's WAV is as long as the sound.

Usage: audio_streamed.py NMFUSE WORK_DIR
"""
import math
import os
import resource
import shutil
import struct
import subprocess
import sys
import wave

nmfuse, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
sound = os.path.join(work, "long.wav")
rate, seconds = 8000, 1200
second = bytearray()  # three notes taking turns, a second repeated: the same bytes each time
for i in range(rate):
    hz = (262, 330, 392)[(i * 3) // rate]
    second += struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
with wave.open(sound, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    for _ in range(seconds):
        w.writeframes(bytes(second))

out = os.path.join(work, "out")
subprocess.run([nmfuse, "audio", sound, "--rank", "3", "--batch-size", "512", "--max-iter", "30",
                "--quiet", "--out", out], check=True)
peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
# A batch of 512 frames × 513 bins in complex float, three copies, is ~6 MiB; H and the
# thumbnail under 1 MiB; the process itself (libraries, BLAS buffers) ~40 MiB.
bound_mib = 100
print("20 min of sound streamed in batches of 512 frames: peak resident %.0f MiB (bound %d)"
      % (peak_mib, bound_mib))
if peak_mib > bound_mib:
    sys.exit("FAIL: the streamed run's memory grew with the sound")
for name in ["W.npy", "H.npy", "spectrogram.png", "summary.json"] + ["components/component_%d.wav" % t for t in range(3)]:
    if not os.path.exists(os.path.join(out, name)):
        sys.exit("FAIL: no " + name)
for t in range(3):
    with wave.open(os.path.join(out, "components", "component_%d.wav" % t)) as w:
        if w.getnframes() != rate * seconds:
            sys.exit("FAIL: component %d holds %d samples, not %d" % (t, w.getnframes(), rate * seconds))
print("W.npy, H.npy, spectrogram.png, summary.json and 3 components of %d samples each" % (rate * seconds))
