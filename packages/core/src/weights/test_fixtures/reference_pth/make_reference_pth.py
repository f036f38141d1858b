"""Writes G_tiny.pth and D_tiny.pth: state_dicts with the reference FaceShifter's keys and shapes (names.json, from
names.ts) at a small config, saved as taotaonice/FaceShifter saves G_latest.pth / D_latest.pth
(`torch.save(G.state_dict(), ...)`). Values are seeded random float32; BatchNorm counters int64.
`/usr/bin/python3 packages/core/src/weights/test_fixtures/reference_pth/make_reference_pth.py`
"""
import collections
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
names = json.load(open(os.path.join(HERE, 'names.json')))
g = torch.Generator().manual_seed(13)
for network, file in (('aei', 'G_tiny.pth'), ('discriminator', 'D_tiny.pth')):
    sd = collections.OrderedDict()
    for t in names[network]:
        if t['name'].endswith('num_batches_tracked'):
            sd[t['name']] = torch.tensor(4000, dtype=torch.int64)
        elif t['name'].endswith('running_var'):
            sd[t['name']] = torch.rand(t['shape'], generator=g) + 0.5
        else:
            sd[t['name']] = torch.randn(t['shape'], generator=g) * 0.1
    torch.save(sd, os.path.join(HERE, file))
    print(file, os.path.getsize(os.path.join(HERE, file)), 'bytes')
