"""PyTorch side-by-side for `yarn bench --threads N`: the same conv cases and passes (bench/conv.ts), at the same
thread counts (torch.set_num_threads). Usage: python3 bench/pytorch_conv.py [threads ...]  (default: 1 2).
Prints one JSON object per thread count; medians of 5 timed runs after 2 warm-ups, NCHW float32 on the CPU."""
import json
import sys
import time

import torch

CASES = [  # name, input NHWC as in conv.ts, kernel, out channels, stride, padding
    ('conv3x3 64->64 [4,64,64,64]', (4, 64, 64, 64), 3, 64, 1, 1),
    ('conv4x4s2 64->128 [4,64,64,64]', (4, 64, 64, 64), 4, 128, 2, 1),
]


def median_ms(fn, warmup=2, runs=5):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def bench(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    for name, (b, h, w, cin), k, cout, stride, pad in CASES:
        x = torch.randn(b, cin, h, w)
        weight = torch.randn(cout, cin, k, k) * 0.1
        y = torch.nn.functional.conv2d(x, weight, stride=stride, padding=pad)
        dy = torch.randn_like(y)
        flops = 2 * y.numel() * cin * k * k
        passes = {
            'forward': lambda: torch.nn.functional.conv2d(x, weight, stride=stride, padding=pad),
            'input': lambda: torch.nn.grad.conv2d_input(x.shape, weight, dy, stride=stride, padding=pad),
            'filter': lambda: torch.nn.grad.conv2d_weight(x, weight.shape, dy, stride=stride, padding=pad),
        }
        with torch.no_grad():
            for pass_name, fn in passes.items():
                ms = median_ms(fn)
                rows.append({'name': name, 'pass': pass_name, 'ms': round(ms, 1), 'gflops': round(flops / ms / 1e6, 1)})
    return {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'conv': rows}


if __name__ == '__main__':
    for t in [int(a) for a in sys.argv[1:]] or [1, 2]:
        print(json.dumps(bench(t)))
