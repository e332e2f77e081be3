#!/usr/bin/env python3
"""Side-by-side baseline for `triggerlab bench triggers`: straightforward NumPy implementations of
the same trigger formulas, timed the same way (8 clips x 16 frames, best of batched and per-frame).

Development tool only (TriggerLab runs no Python). Needs numpy:  python3 benches/numpy_reference.py
Prints one JSON object: {"results":[{"trigger","size","frames_per_sec","mode"}], "memcpy_gbytes_per_sec"}.
"""
import json
import time

import numpy as np

CLIPS, FRAMES = 8, 16
N = CLIPS * FRAMES


def timed(fn, frames, min_secs=0.3):
    fn()
    best = 0.0
    for _ in range(3):
        t0, it = time.perf_counter(), 0
        while True:
            fn()
            it += 1
            dt = time.perf_counter() - t0
            if dt >= min_secs:
                break
        best = max(best, it * frames / dt)
    return best


def best_of(batch_fn, frame_fn, batch):
    b = timed(lambda: batch_fn(batch), len(batch))
    f = timed(lambda: [frame_fn(x) for x in batch], len(batch))
    return (b, "batched") if b >= f else (f, "per_frame")


def badnets(x, size=16):
    out = x.copy()
    out[..., -size:, -size:, :] = 255
    return out


def make_blend(s, rng, alpha=0.2):
    t = rng.integers(0, 256, (s, s, 3), dtype=np.uint8).astype(np.float64)
    return lambda x: np.clip(np.rint((1 - alpha) * x + alpha * t), 0, 255).astype(np.uint8)


def make_sig(s, delta=40.0, f=6.0):
    row = delta * np.sin(2 * np.pi * np.arange(s) * f / s)
    return lambda x: np.clip(np.rint(x + row[:, None]), 0, 255).astype(np.uint8)


def cubic(t, a=-0.75):
    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], -1)


def upsample_bicubic(g, n):
    k = g.shape[-1]
    real = np.arange(n) * (k - 1) / (n - 1)
    i0 = np.floor(real).astype(int)
    w = cubic(real - i0)
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, k - 1)
    rows = np.einsum("ij,cijx->cix", w, g[:, idx, :])           # (2, n, k)
    return np.einsum("ij,cxij->cxi", w, rows[:, :, idx])        # (2, n, n)


def make_wanet(s, rng, k=4, strength=0.5):
    ins = rng.uniform(-1, 1, (2, k, k))
    ins = ins / np.mean(np.abs(ins))
    noise = upsample_bicubic(ins, s)
    lin = np.linspace(-1, 1, s)
    gx = np.clip(lin[None, :] + strength * noise[0] / s, -1, 1)
    gy = np.clip(lin[:, None] + strength * noise[1] / s, -1, 1)
    ix, iy = (gx + 1) / 2 * (s - 1), (gy + 1) / 2 * (s - 1)
    x0, y0 = np.floor(ix).astype(int), np.floor(iy).astype(int)
    fx, fy = ix - x0, iy - y0
    taps = []
    for dx, dy, w in [(0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)]:
        xx, yy = x0 + dx, y0 + dy
        ok = (xx >= 0) & (xx < s) & (yy >= 0) & (yy < s)
        taps.append((np.clip(yy, 0, s - 1), np.clip(xx, 0, s - 1), (w * ok)[..., None]))

    def apply(x):
        acc = sum(w * x[..., yy, xx, :] for yy, xx, w in taps)
        return np.clip(np.rint(acc), 0, 255).astype(np.uint8)

    return apply


def dct_matrix(n):
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    m = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    m[0] /= np.sqrt(2.0)
    return m


def make_ftrojan(s, window, magnitude=30.0):
    d = dct_matrix(window)
    pos = [(window // 2 - 1, window // 2 - 1), (window - 1, window - 1)]
    nb = s // window

    def apply(x):
        x = x.astype(np.float64)
        r, g, b = x[..., 0], x[..., 1], x[..., 2]
        y = 0.299 * r + 0.587 * g + 0.114 * b
        chans = [y, 0.713 * (r - y) + 128, 0.564 * (b - y) + 128]
        for c in (1, 2):
            blk = chans[c][..., : nb * window, : nb * window]
            shp = blk.shape
            blk = blk.reshape(shp[:-2] + (nb, window, nb, window)).swapaxes(-3, -2)
            coef = d @ blk @ d.T
            for (u, v) in pos:
                coef[..., u, v] += magnitude
            blk = (d.T @ coef @ d).swapaxes(-3, -2).reshape(shp)
            chans[c] = chans[c].copy()
            chans[c][..., : nb * window, : nb * window] = blk
        y, cr, cb = chans
        out = np.stack([y + 1.403 * (cr - 128), y - 0.714 * (cr - 128) - 0.344 * (cb - 128), y + 1.773 * (cb - 128)], -1)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    return apply


def main():
    rng = np.random.default_rng(0)
    results = []
    for s in (112, 224):
        batch = rng.integers(0, 256, (N, s, s, 3), dtype=np.uint8)
        fns = {
            "badnets": badnets,
            "blend": make_blend(s, rng),
            "sig": make_sig(s),
            "wanet": make_wanet(s, rng),
            "ftrojan": make_ftrojan(s, 16 if s <= 112 else 32),
        }
        for name, fn in fns.items():
            fps, mode = best_of(fn, fn, batch)
            results.append({"trigger": name, "size": s, "frames_per_sec": fps, "mode": mode})
    big = np.ones(256 * 1024 * 1024, dtype=np.uint8)
    dst = np.empty_like(big)
    t0, it = time.perf_counter(), 0
    while time.perf_counter() - t0 < 1.0:
        np.copyto(dst, big)
        it += 1
    gbs = 2 * big.nbytes * it / (time.perf_counter() - t0) / 1e9
    print(json.dumps({"results": results, "memcpy_gbytes_per_sec": gbs, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
