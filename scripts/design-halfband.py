#!/usr/bin/env python3
"""Design the 67-tap equiripple half-band FIR used by src/audio/halfband.ts.

Method (Vaidyanathan & Nguyen half-band trick): design a 34-tap Type II
equiripple filter g with Parks-McClellan (scipy.signal.remez) on the single
band [0, 2*fp] (desired gain 1) with the other edge at fs/2 (a Type II filter
is forced to zero at Nyquist). Interleave: h[2k] = g[k]/2 (k = 0..33, i.e. the
taps at odd offsets from the centre 33), h[33] = 0.5, all other taps 0.
The result is an exact half-band filter: taps at even offsets from the centre
(other than the centre) are zero, symmetric, with passband ripple == stopband
ripple (delta) and edges fp and fs/2 - fp.

Usage: python3 scripts/design-halfband.py  (prints a TypeScript array + measured figures)
"""
import numpy as np
from scipy import signal

FS = 16000.0
FP = 3400.0
N = 67                      # taps; must be 4k+3
M = (N + 1) // 2            # 34 taps for the prototype g
assert N % 4 == 3

# Prototype on normalised frequency (fs=1): band [0, 2*fp/fs], Type II (even length)
g = signal.remez(M, [0, 2 * FP / FS], [1], fs=1.0)
h = np.zeros(N)
h[0::2] = g / 2.0           # 34 taps at positions 0,2,...,66 (odd offsets from the centre 33)
h[(N - 1) // 2] = 0.5
# Check structure: positions with even offset from centre (33) other than centre are zero
c = (N - 1) // 2
for i in range(N):
    if i != c and (i - c) % 2 == 0:
        assert h[i] == 0.0
assert np.allclose(h, h[::-1])

w, H = signal.freqz(h, worN=2 ** 16, fs=FS)
mag = np.abs(H)
pb = mag[w <= FP]
sb = mag[w >= FS / 2 - FP]
ripple_db = 20 * np.log10(pb.max()) , 20 * np.log10(pb.min())
rej_db = -20 * np.log10(sb.max())
print(f"// passband 0-{FP:.0f} Hz: max {ripple_db[0]:+.6f} dB, min {ripple_db[1]:+.6f} dB")
print(f"// stopband {FS/2-FP:.0f}-{FS/2:.0f} Hz: rejection {rej_db:.2f} dB")
print(f"// DC gain {mag[0]:.12f}, sum(h) {h.sum():.15f}")
# Non-zero half (centre excluded): h[c-1], h[c-3], ..., h[0]
half = [h[c - 1 - 2 * k] for k in range(M // 2)]
print("export const HALFBAND_SIDE_TAPS = Float64Array.of(")
for k, v in enumerate(half):
    print(f"  {float(v)!r}, // h[c±{2*k+1}]")
print(");")
