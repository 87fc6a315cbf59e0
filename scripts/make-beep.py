#!/usr/bin/env python3
"""Writes static/beep.wav: the console's alarm sound (two short rising tones).

Generated rather than downloaded so the project owns it; deterministic, so running it again
gives the same file. Usage: python3 scripts/make-beep.py [OUT]
"""
import math
import struct
import sys
import wave

RATE = 22050


def tone(freq, seconds, volume=0.55):
    count = int(RATE * seconds)
    attack, release = int(RATE * 0.008), int(RATE * 0.04)
    samples = []
    for i in range(count):
        envelope = min(1.0, i / attack, (count - i) / release)
        # A little third harmonic makes it cut through on small speakers.
        value = math.sin(2 * math.pi * freq * i / RATE) + 0.25 * math.sin(2 * math.pi * 3 * freq * i / RATE)
        samples.append(volume * envelope * value / 1.25)
    return samples


def silence(seconds):
    return [0.0] * int(RATE * seconds)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "static/beep.wav"
    samples = tone(880, 0.12) + silence(0.05) + tone(1320, 0.18)
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(b"".join(struct.pack("<h", int(max(-1, min(1, s)) * 32767)) for s in samples))


if __name__ == "__main__":
    main()
