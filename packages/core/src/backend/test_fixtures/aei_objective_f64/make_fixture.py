"""Float64 reference of the issue-11 objective (test_utils/aei_objective.ts), for gradient_f64.test.ts.

AEI-Net and the multi-scale discriminator are re-implemented here in PyTorch, float64, and run on the exact float32
weights and inputs the seeded tfjs builders make (dump_case.ts writes them). Written out:
- the float64 loss, and per variable the gradient's norm and its projections on 8 fixed +-1 vectors (the same hash as
  aei_objective.ts's projectionSign), plus, for biases, the condition of the sum that makes their gradient;
- the pins: every element of a kink input (Relu, LeakyRelu, Abs) within `band` (relative to that tensor's largest
  value) of 0, with its float64 value. float32 forward values carry errors of ~1e-6 relative, so the side of 0 such an
  element falls on, and with it the slope its gradient takes, is rounding; the test moves them to float64's side.
- fingerprints (sum, sum of squares) of every weight and input, so that a changed initialiser is caught as such.

  node --import tsx packages/core/src/backend/test_fixtures/aei_objective_f64/dump_case.ts regression squared wasm /tmp/t
  /usr/bin/python3 packages/core/src/backend/test_fixtures/aei_objective_f64/make_fixture.py /tmp/t --out .../squared.json
  (and the same for l1-hinge)
  ... make_fixture.py /tmp/t --compare /tmp/other_backend_dump ...   (per-variable report against float64)

Needs Debian's python3-torch; CI only reads the JSON it writes.
"""
import argparse
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
MASK = 0xFFFFFFFF
PROJECTIONS = 8


def load(prefix):
    meta = json.load(open(prefix + '.json'))
    raw = np.fromfile(prefix + '.bin', dtype=np.float32)
    arrays, o = {}, 0
    for a in meta['arrays']:
        arrays[a['name']] = raw[o:o + a['n']].reshape(a['shape'])
        o += a['n']
    return meta, arrays


def projection_signs(n):
    """The +-1 vectors of aei_objective.ts's projectionSign, as an (8, n) array."""
    i = np.arange(n, dtype=np.uint64)
    rows = []
    for j in range(PROJECTIONS):
        h = (i * 0x9E3779B1 + (j + 1) * 0x85EBCA77) & MASK
        h = (h ^ (h >> 15)) & MASK
        h = (h * 0x2C1B3C6D) & MASK
        h = (h ^ (h >> 12)) & MASK
        rows.append(np.where(h & 1, 1.0, -1.0))
    return np.stack(rows)


class Model:
    """The float64 forward pass. Records every kink call (kind, float64 input in NHWC) in call order, and every
    bias-like addition (the tensor whose gradient entries sum to that bias's gradient)."""

    def __init__(self, arrays, branches=None):
        self.P = {k[2:]: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in arrays.items() if k.startswith('w:')}
        self.kinks = []
        self.branches = branches  # optional: per kink call (in this model's order), the bool mask x > 0 to use
        self.sums = {}  # bias name -> (tensor with retained grad, reduce dims)

    def W(self, name):  # HWIO (or [k, k, out, in] for transposed convs) -> torch's layouts
        return self.P[name].permute(3, 2, 0, 1).contiguous()

    def kink(self, kind, x, alpha):
        nhwc = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
        self.kinks.append((kind, nhwc))
        if self.branches is not None:
            m = torch.tensor(self.branches[len(self.kinks) - 1])
            m = m.permute(0, 3, 1, 2).contiguous() if x.dim() == 4 else m
        else:
            m = x > 0
        return torch.where(m, x, -x) if kind == 'Abs' else torch.where(m, x, alpha * x)

    def bias(self, y, name, dims):
        out = y + (self.P[name].view(1, -1, 1, 1) if y.dim() == 4 else self.P[name])
        out.retain_grad()
        self.sums[name] = (out, dims)
        return out

    def conv(self, x, name, stride=1, padding=0, bias=True):
        y = F.conv2d(x, self.W(name + '/kernel'), stride=stride, padding=padding)
        return self.bias(y, name + '/bias', (0, 2, 3)) if bias else y

    def bn(self, x, pre):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        y = (x - mean) / torch.sqrt(var + 1e-5) * self.P[pre + '/gamma'].view(1, -1, 1, 1)
        return self.bias(y, pre + '/beta', (0, 2, 3))

    @staticmethod
    def inorm(x):
        c = x - x.mean(dim=(2, 3), keepdim=True)
        return c / torch.sqrt((c ** 2).mean(dim=(2, 3), keepdim=True) + 1e-5)

    @staticmethod
    def up2(x):
        return F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=True)

    def count(self, fmt):
        n = 1
        while fmt.format(n) in self.P:
            n += 1
        return n - 1

    def encoder(self, x):
        downs = []
        for i in range(1, self.count('encoder.conv{}.0/kernel') + 1):
            x = F.conv2d(x, self.W(f'encoder.conv{i}.0/kernel'), stride=2, padding=1)
            x = self.kink('LeakyRelu', self.bn(x, f'encoder.conv{i}.1'), 0.1)
            downs.append(x)
        outs = [x]
        for u in range(1, self.count('encoder.deconv{}.deconv/kernel') + 1):
            y = F.conv_transpose2d(x, self.W(f'encoder.deconv{u}.deconv/kernel'), stride=2, padding=1)
            y = self.kink('LeakyRelu', self.bn(y, f'encoder.deconv{u}.bn'), 0.1)
            x = torch.cat([y, downs[len(downs) - 1 - u]], 1)
            outs.append(x)
        outs.append(self.up2(x))
        return outs

    def aad(self, h, zatt, zid, pre):
        hb = self.inorm(h)
        a = self.conv(zatt, pre + '/conv1') * hb + self.conv(zatt, pre + '/conv2')
        dense = lambda n: self.bias(zid @ self.P[f'{pre}/{n}/kernel'], f'{pre}/{n}/bias', (0,))[:, :, None, None]
        i = dense('fc1') * hb + dense('fc2')
        m = torch.sigmoid(self.conv(hb, pre + '/conv_h'))
        return a + m * (i - a)

    def resblk(self, h, zatt, zid, pre):
        def branch(i, x):
            return F.conv2d(self.kink('Relu', self.aad(x, zatt, zid, f'{pre}/AAD{i}'), 0.0), self.W(f'{pre}/conv{i}/kernel'), padding=1)
        x = branch(2, branch(1, h))
        return x + (branch(3, h) if f'{pre}/AAD3/conv1/kernel' in self.P else h)

    def generator(self, zid, zatts):
        y = F.conv_transpose2d(zid[:, :, None, None], self.W('generator.up1/kernel'))
        h = self.bias(y, 'generator.up1/bias', (0, 2, 3))
        blocks = self.count('generator.AADBlk{}/conv1/kernel')
        for k in range(1, blocks + 1):
            h = self.resblk(h, zatts[k - 1], zid, f'generator.AADBlk{k}')
            if k < blocks:
                h = self.up2(h)
        return torch.tanh(h)

    def patchgan(self, x, pre):
        idx = sorted(int(k[len(pre) + 1:].split('/')[0]) for k in self.P if k.startswith(pre + '.') and k.endswith('/kernel'))
        n_layers = len(idx) - 2
        for n, i in enumerate(idx):
            last = n == len(idx) - 1
            stride = 2 if n <= n_layers - 1 else 1
            x = self.conv(F.pad(x, (2, 2, 2, 2)), f'{pre}.{i}', stride=stride)
            if 0 < n and not last:
                x = self.inorm(x)
            if not last:
                x = self.kink('LeakyRelu', x, 0.2)
        return x

    def discriminator(self, x):
        num_d = len({k.split('.')[1] for k in self.P if k.startswith('discriminator.layer')})
        outs = []
        for s in range(num_d):
            if s > 0:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            outs.append(self.patchgan(x, f'discriminator.layer{num_d - 1 - s}'))
        return outs

    def objective(self, arrays, variant):
        xt = torch.tensor(arrays['in:xt'].astype(np.float64)).permute(0, 3, 1, 2)
        zid = torch.tensor(arrays['in:zid'].astype(np.float64))
        zt = self.encoder(xt)
        swap = self.generator(zid, zt)
        zs = self.encoder(swap)
        att = sum(((a - b) ** 2).mean() for a, b in zip(zt, zs))
        judged = self.discriminator(swap)
        if variant == 'squared':
            return (swap ** 2).mean() + att + sum(o.mean() for o in judged)
        adv = sum(self.kink('Relu', 1 + o, 0.0).mean() for o in judged)
        return self.kink('Abs', swap, 0.0).mean() + att + adv


def order(model, arrays):
    """Pairs each float64 kink call with the tfjs call (same kernel and shape, closest values) it corresponds to:
    tfjs runs the layers in its own topological order. Returns tfjs call indices and the forward mismatch."""
    tf_calls = [(k.split(':')[2], v) for k, v in arrays.items() if k.startswith('kink:')]
    if len(tf_calls) != len(model.kinks):
        sys.exit(f'{len(model.kinks)} kink calls in float64, {len(tf_calls)} in the dump: the two objectives differ')
    used, pairing, worst = set(), [], 0.0
    for kind, x in model.kinks:
        x = x.detach().numpy()
        best = None
        for i, (k, v) in enumerate(tf_calls):
            if i in used or k != kind or list(v.shape) != list(x.shape):
                continue
            e = np.abs(v - x).max() / max(np.abs(x).max(), 1e-30)
            if best is None or e < best[0]:
                best = (e, i)
        if best is None:
            sys.exit(f'no tfjs kink call matches a float64 {kind} of shape {list(x.shape)}')
        used.add(best[1])
        pairing.append(best[1])
        worst = max(worst, best[0])
    return pairing, worst, tf_calls


def run(arrays, variant, branches=None):
    m = Model(arrays, branches)
    loss = m.objective(arrays, variant)
    loss.backward()
    return m, loss.item()


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dump')
    ap.add_argument('--out')
    ap.add_argument('--band', type=float, default=1e-4)
    ap.add_argument('--compare', nargs='*', default=[])
    args = ap.parse_args()
    meta, arrays = load(args.dump)
    variant = meta['variant']
    model, loss = run(arrays, variant)
    pairing, fwd_err, tf_calls = order(model, arrays)
    print(f"{meta['case']} {variant}: float64 loss {loss:.9g}, {meta['backend']} float32 loss {float(arrays['loss']):.9g}; "
          f"{len(pairing)} kink calls, float32 forward error at kinks {fwd_err:.1e} (max |diff| / max |x| per tensor)")

    pins, nearest, flips = [], [], 0
    for (kind, x), call in zip(model.kinks, pairing):
        x = x.detach().numpy()
        flat = x.reshape(-1)
        f32 = tf_calls[call][1].reshape(-1)
        close = np.nonzero(np.abs(flat) < args.band * np.abs(flat).max())[0]
        flipped = np.nonzero((flat > 0) != (f32 > 0))[0]
        if not set(flipped.tolist()) <= set(close.tolist()):
            sys.exit(f'kink call {call}: float32 and float64 disagree on the side of 0 outside the band; widen --band')
        flips += len(flipped)
        nearest.append(float(np.abs(flat).min() / np.abs(flat).max()))
        if len(close):
            pins.append({'call': call, 'kernel': kind, 'shape': list(x.shape), 'index': close.tolist(), 'value': flat[close].tolist()})
    pins.sort(key=lambda p: p['call'])
    n_kink = sum(x.numel() for _, x in model.kinks)
    print(f"  {n_kink} kink elements; {sum(len(p['index']) for p in pins)} within {args.band:g} x max of 0 (pinned); "
          f"{flips} on the other side of 0 in {meta['backend']}'s float32; nearest |x| / max |x| = {min(nearest):.1e}")

    grads, conditions = {}, {}
    for name, p in model.P.items():
        g = p.grad.detach().numpy().reshape(-1)
        entry = {'norm': float(np.linalg.norm(g)), 'projections': (projection_signs(g.size) @ g).tolist()}
        if name in model.sums:
            out, dims = model.sums[name]
            terms = out.grad.detach()
            signed = terms.sum(dim=dims).numpy()
            absolute = terms.abs().sum(dim=dims).numpy()
            # Its float32 error scales with the sum of |terms|, not with the (cancelling) result.
            entry['termScale'] = float(np.linalg.norm(absolute))
            entry['condition'] = float(np.linalg.norm(absolute) / max(np.linalg.norm(signed), 1e-300))
            conditions[name] = entry['condition']
        grads[name] = entry
    worst = sorted(((k, v) for k, v in conditions.items() if grads[k]['norm'] >= 1e-9 * grads[k]['termScale']), key=lambda kv: -kv[1])[:4]
    print('  worst-conditioned bias sums: ' + ', '.join(f'{k} {v:.3g}' for k, v in worst))

    if args.out:
        fingerprints = {k: [float(v.astype(np.float64).sum()), float((v.astype(np.float64) ** 2).sum())]
                        for k, v in arrays.items() if k.startswith('w:') or k.startswith('in:')}
        json.dump({
            'about': 'Float64 reference of aei_objective.ts for gradient_f64.test.ts; made by make_fixture.py (see there).',
            'case': meta['case'], 'variant': variant, 'spec': meta['spec'], 'band': args.band,
            'lossFloat64': loss, 'kinkElements': n_kink, 'pins': pins, 'fingerprints': fingerprints, 'gradients': grads,
        }, open(args.out, 'w'), separators=(',', ':'))
        print('  wrote', args.out)

    # Each backend against float64: with float64's own branches, and with the branches that backend's float32 took.
    for prefix in [args.dump] + args.compare:
        m2, a2 = load(prefix)
        branches = None if not any(k.startswith('kink:') for k in a2) else [a2[k].reshape(x.shape) > 0 for (kind, x), k in
                    ((kx, f'kink:{c}:{kx[0]}') for kx, c in zip(model.kinks, pairing))]
        same = run(arrays, variant, branches)[0] if branches else None
        for label, ref in (('float64 branches', model), (f"{m2['backend']}'s branches", same)):
            if ref is None:
                continue
            rows = []
            for name, p in ref.P.items():
                g64 = p.grad.detach().numpy().reshape(-1)
                g32 = a2['g:' + name].astype(np.float64).reshape(-1)
                if name in model.sums and grads[name]['norm'] < 1e-9 * grads[name]['termScale']:
                    rows.append((float(np.linalg.norm(g32 - g64)) / grads[name]['termScale'], name + ' (exact 0; / term scale)'))
                else:
                    rows.append((rel_l2(g32, g64), name))
            rows.sort(reverse=True)
            groups = {}
            for r, n in rows:
                gname = 'D.' + n.split('.')[1] if n.startswith('discriminator') else n.split('.')[0]
                groups[gname] = max(groups.get(gname, 0), r)
            print(f"  {m2['backend']} float32 vs float64 with {label}: " + ', '.join(f'{k} {v:.1e}' for k, v in sorted(groups.items()))
                  + ' | worst: ' + ', '.join(f'{n} {r:.1e}' for r, n in rows[:3]))


if __name__ == '__main__':
    main()
