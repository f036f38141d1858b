"""Writes the .pth fixtures of pth.test.ts with PyTorch (Debian's python3-torch 1.13): run from the repository root,
`/usr/bin/python3 packages/core/src/weights/test_fixtures/pth/make_pth_fixtures.py`. CI never runs it; the files it
writes are committed. Tensor values follow a formula exact in every float dtype (multiples of 1/16 in [-2, 2)), and
expected.json records what torch itself reads back (dtype, shape, values in row-major order) for every tensor.
"""
import collections
import json
import os
import pickle
import sys

import torch

OUT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def pattern(k, shape, dtype):
    n = 1
    for d in shape:
        n *= d
    idx = torch.arange(n, dtype=torch.int64)
    v = ((idx * 37 + k * 101) % 64)
    if dtype.is_floating_point:
        return (v.to(torch.float64) / 16 - 2).to(dtype).reshape(shape)
    if dtype == torch.bool:
        return (v % 2 == 1).reshape(shape)
    return (v - 32).to(dtype).reshape(shape) if dtype != torch.uint8 else v.to(dtype).reshape(shape)


def state_dict():
    sd = collections.OrderedDict()
    sd['conv.weight'] = pattern(0, (4, 3, 3, 3), torch.float32)
    sd['bn.weight'] = pattern(1, (4,), torch.float32)
    sd['bn.running_var'] = pattern(2, (4,), torch.float32).abs() + 0.5
    sd['bn.num_batches_tracked'] = torch.tensor(12345, dtype=torch.int64)
    sd['half.weight'] = pattern(3, (2, 5), torch.float16)
    sd['bf16.weight'] = pattern(4, (3, 2), torch.bfloat16)
    sd['double.weight'] = pattern(5, (2, 2), torch.float64)
    sd['int32.buffer'] = pattern(6, (3,), torch.int32)
    sd['uint8.buffer'] = pattern(7, (4,), torch.uint8)
    sd['bool.buffer'] = pattern(8, (5,), torch.bool)
    sd['scalar.float'] = torch.tensor(0.25, dtype=torch.float32)
    sd['empty'] = torch.zeros(0, 3)
    base = pattern(9, (6, 4), torch.float32)
    sd['view.base'] = base
    sd['view.transposed'] = base.t()  # shares base's storage, strides (1, 4)
    sd['view.slice'] = base[2:5, 1:3]  # storage offset 9, strides (4, 1)
    sd['view.stepped'] = base[::2, ::3]  # strides (8, 3)
    sd['view.expanded'] = pattern(10, (1, 3), torch.float32).expand(2, 3)  # stride 0 along dim 0
    # The _metadata attribute every nn.Module.state_dict() carries (restored with BUILD on the OrderedDict).
    sd._metadata = collections.OrderedDict([('', {'version': 1}), ('bn', {'version': 2})])
    return sd


def describe(sd):
    out = {}
    for k, t in sd.items():
        c = t.contiguous()
        if c.dtype == torch.bfloat16:
            vals = c.float().flatten().tolist()
        elif c.dtype == torch.bool:
            vals = [int(b) for b in c.flatten().tolist()]
        else:
            vals = c.flatten().tolist()
        out[k] = {'dtype': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape), 'values': vals}
    return out


def save(obj, name, **kw):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **kw)
    print(f'{name}: {os.path.getsize(path)} bytes')


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def main():
    sd = state_dict()
    expected = {'state_dict': describe(sd)}
    save(sd, 'state_dict_zip.pth')
    save(sd, 'state_dict_legacy.pth', _use_new_zipfile_serialization=False)
    save(sd, 'state_dict_zip_proto4.pth', pickle_protocol=4)

    # A training checkpoint wrapping a DataParallel model's state_dict ('module.' prefix), with an optimizer state.
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.PReLU(4))
    with torch.no_grad():
        for i, (_, p) in enumerate(net.state_dict().items()):
            if p.dtype.is_floating_point:
                p.copy_(pattern(20 + i, tuple(p.shape), p.dtype))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(1, 3, 5, 5)).sum().backward()
    opt.step()
    inner = collections.OrderedDict((f'module.{k}', v) for k, v in net.state_dict().items())
    inner._metadata = collections.OrderedDict()
    ckpt = {'epoch': 7, 'arch': 'tiny', 'best_acc': 0.5, 'flags': (True, False, None), 'state_dict': inner, 'optimizer': opt.state_dict()}
    save(ckpt, 'wrapped_checkpoint.pth')
    save(ckpt, 'wrapped_checkpoint_legacy.pth', _use_new_zipfile_serialization=False)
    expected['wrapped'] = describe(collections.OrderedDict((k[len('module.'):], v) for k, v in inner.items()))
    # Two candidate state_dicts: the reader must ask which one.
    save({'G': inner, 'D': collections.OrderedDict(list(inner.items())[:2])}, 'two_state_dicts.pth')

    # nn.Parameter values (saved through torch._utils._rebuild_parameter), as a dict of parameters holds them.
    params = collections.OrderedDict([('a', torch.nn.Parameter(pattern(30, (2, 3), torch.float32))), ('b', torch.nn.Parameter(pattern(31, (4,), torch.float32), requires_grad=False))])
    save(params, 'parameters.pth')
    expected['parameters'] = describe(collections.OrderedDict((k, v.detach()) for k, v in params.items()))

    # Hostile files: importing any of them must run nothing and name the global.
    save({'w': sd['conv.weight'], 'payload': Evil(os.system, 'echo pwned > /tmp/faceshifter-pwned')}, 'evil_os_system.pth')
    save({'w': sd['conv.weight'], 'payload': Evil(eval, '__import__("os").system("echo pwned")')}, 'evil_eval.pth')
    save(collections.OrderedDict([('w', sd['conv.weight']), ('x', Evil(os.system, 'id'))]), 'evil_legacy.pth', _use_new_zipfile_serialization=False)
    import subprocess
    save({'state_dict': {'w': sd['conv.weight']}, 'payload': Evil(subprocess.Popen, ['id'])}, 'evil_nested_popen.pth', pickle_protocol=4)
    # A whole module instead of its state_dict: refused (it would need the class's code), with the fix.
    save(torch.nn.Conv2d(3, 4, 1), 'whole_module.pth')
    # A bare pickle (not a torch file) with STACK_GLOBAL (protocol 4).
    with open(os.path.join(OUT, 'evil_plain.pkl'), 'wb') as f:
        pickle.dump({'a': Evil(os.system, 'id')}, f, protocol=4)

    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump({'torch': torch.__version__, **expected}, f, indent=0)


if __name__ == '__main__':
    sys.exit(main())
