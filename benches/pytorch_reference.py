#!/usr/bin/env python3
"""Side-by-side baseline for `triggerlab bench train`: the identical r2plus1d_tiny in PyTorch
(164,250 parameters with 10 classes), timed the same way: batch 8, 16 frames, 112² and 64²,
forward + backward + AdamW step, then inference, on 2 CPU threads.

Development tool only (TriggerLab runs no Python). Needs torch (CPU build):
    python3 benches/pytorch_reference.py
"""
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)


class Block(nn.Module):
    """(2+1)D block: 1×3×3 spatial conv + ReLU, then 3×1×1 temporal conv + ReLU, with bias."""

    def __init__(self, ci, co, ss, st):
        super().__init__()
        self.sp = nn.Conv3d(ci, co, (1, 3, 3), (1, ss, ss), (0, 1, 1))
        self.tp = nn.Conv3d(co, co, (3, 1, 1), (st, 1, 1), (1, 0, 0))

    def forward(self, x):
        return F.relu(self.tp(F.relu(self.sp(x))))


class R2plus1dTiny(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.blocks = nn.Sequential(
            Block(3, 16, 2, 1), Block(16, 32, 2, 2), Block(32, 64, 2, 2), Block(64, 128, 2, 2)
        )
        self.fc = nn.Linear(128, classes)

    def forward(self, x):  # B×3×T×H×W
        return self.fc(self.blocks(x).mean((2, 3, 4)))


def main():
    results = []
    for size in (112, 64):
        m = R2plus1dTiny()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)
        x = torch.randn(8, 3, 16, size, size)
        y = torch.randint(0, 10, (8,))

        def step():
            loss = F.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        n = 20 if size == 112 else 60
        t = time.perf_counter()
        for _ in range(n):
            step()
        train = n * 8 / (time.perf_counter() - t)
        with torch.no_grad():
            for _ in range(3):
                m(x)
            t = time.perf_counter()
            for _ in range(n):
                m(x)
            infer = n * 8 / (time.perf_counter() - t)
        results.append(dict(model="r2plus1d_tiny", batch=8, frames=16, size=size,
                            parameters=sum(p.numel() for p in m.parameters()),
                            train_clips_per_sec=train, infer_clips_per_sec=infer))
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "results": results}))


if __name__ == "__main__":
    main()
