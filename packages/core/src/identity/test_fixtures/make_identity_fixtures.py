"""Parity fixtures for the InsightFace identity networks (insightface_ir.ts, iresnet.ts), made with PyTorch
(Debian's python3-torch 1.13); CI never runs this, the files are committed. From the repository root:
`/usr/bin/python3 packages/core/src/identity/test_fixtures/make_identity_fixtures.py`

The two architectures are transcribed below, parameterised by width and depth, from the public PyTorch code:
- InsightFace_Pytorch `model.py` `Backbone(num_layers, drop_ratio, mode)` (ir / ir_se), the network of
  `model_ir_se50.pth` that taotaonice/FaceShifter trains with;
- insightface `recognition/arcface_torch/backbones/iresnet.py` `IResNet` (iresnet18..200), the network of the
  arcface_torch ArcFace and CosFace releases (`backbone.pth`).

Writes:
- ir_se_small.pth, ir_small.pth, iresnet_small.pth: seeded state_dicts at reduced width/depth (BatchNorm statistics,
  PReLU slopes and the final BatchNorm1d scale randomised, so each of them matters);
- parity_io.pth: inputs (stored as float16, so that both sides see the same float32 values), the raw embeddings in
  eval mode, their L2-normalised form, and the input gradient of sum(normalised * v) for a stored v; for ir_se also a
  256² input through taotaonice's preprocessing (crop [19:237], bilinear align_corners=True to 112);
- full_size.json: every key and shape of the full-size state_dicts, and their parameter counts, for the shape checks.
"""
import collections
import json
import os

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- InsightFace_Pytorch Backbone (ir / ir_se) --------------------------------------------------------------
class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class SEModule(nn.Module):
    def __init__(self, channels, reduction):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, padding=0, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, padding=0, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BottleneckIR(nn.Module):
    def __init__(self, in_channel, depth, stride, se):
        super().__init__()
        if in_channel == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_channel, depth, (1, 1), stride, bias=False), nn.BatchNorm2d(depth))
        layers = [nn.BatchNorm2d(in_channel), nn.Conv2d(in_channel, depth, (3, 3), (1, 1), 1, bias=False), nn.PReLU(depth),
                  nn.Conv2d(depth, depth, (3, 3), stride, 1, bias=False), nn.BatchNorm2d(depth)]
        if se:
            layers.append(SEModule(depth, 16))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


IR_UNITS = {50: [3, 4, 14, 3], 100: [3, 13, 30, 3], 152: [3, 8, 36, 3]}


class Backbone(nn.Module):
    def __init__(self, units, mode, channels=(64, 128, 256, 512), embedding=512, drop_ratio=0.6):
        super().__init__()
        stem = channels[0]
        self.input_layer = nn.Sequential(nn.Conv2d(3, stem, (3, 3), 1, 1, bias=False), nn.BatchNorm2d(stem), nn.PReLU(stem))
        self.output_layer = nn.Sequential(nn.BatchNorm2d(channels[-1]), nn.Dropout(drop_ratio), Flatten(),
                                          nn.Linear(channels[-1] * 7 * 7, embedding), nn.BatchNorm1d(embedding))
        modules = []
        in_channel = stem
        for depth, n in zip(channels, units):
            for i in range(n):
                modules.append(BottleneckIR(in_channel if i == 0 else depth, depth, 2 if i == 0 else 1, mode == 'ir_se'))
            in_channel = depth
        self.body = nn.Sequential(*modules)

    def forward(self, x):
        x = self.output_layer(self.body(self.input_layer(x)))
        return x  # the reference returns l2_norm(x): normalised below, beside the raw values


# ---- insightface arcface_torch IResNet ------------------------------------------------------------------------
class IBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = self.downsample(x) if self.downsample is not None else x
        return out + identity


IRESNET_LAYERS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 14, 3], 100: [3, 13, 30, 3], 200: [6, 26, 60, 6]}


class IResNet(nn.Module):
    def __init__(self, layers, channels=(64, 128, 256, 512), embedding=512, dropout=0.0):
        super().__init__()
        self.inplanes = channels[0]
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes, eps=1e-05)
        self.prelu = nn.PReLU(self.inplanes)
        self.layer1 = self._make_layer(channels[0], layers[0])
        self.layer2 = self._make_layer(channels[1], layers[1])
        self.layer3 = self._make_layer(channels[2], layers[2])
        self.layer4 = self._make_layer(channels[3], layers[3])
        self.bn2 = nn.BatchNorm2d(channels[3], eps=1e-05)
        self.dropout = nn.Dropout(p=dropout, inplace=True)
        self.fc = nn.Linear(channels[3] * 7 * 7, embedding)
        self.features = nn.BatchNorm1d(embedding, eps=1e-05)

    def _make_layer(self, planes, blocks, stride=2):
        downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes, eps=1e-05))
        layers = [IBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(IBasicBlock(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.prelu(self.bn1(self.conv1(x)))))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


def randomise(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in net.named_modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(1000)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5)
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    net.eval()
    return net


SMALL = {'channels': (16, 24, 32, 40), 'embedding': 32}
NETS = {
    'ir_se': lambda: Backbone([2, 2, 1, 1], 'ir_se', **SMALL),
    'ir': lambda: Backbone([2, 2, 1, 1], 'ir', **SMALL),
    'iresnet': lambda: IResNet([2, 1, 2, 1], **SMALL),
}


def main():
    torch.manual_seed(0)
    io = collections.OrderedDict()
    g = torch.Generator().manual_seed(1)
    x112 = (torch.rand(2, 3, 112, 112, generator=g) * 2 - 1).half()
    x256 = (torch.rand(1, 3, 256, 256, generator=g) * 2 - 1).half()
    io['input112'] = x112
    io['input256'] = x256
    v = torch.randn(SMALL['embedding'], generator=g)
    io['v'] = v
    for seed, (name, make) in enumerate(NETS.items()):
        net = randomise(make(), 10 + seed)
        torch.save(net.state_dict(), os.path.join(HERE, f'{name}_small.pth'))
        x = x112.float().clone().requires_grad_(True)
        raw = net(x)
        z = F.normalize(raw, dim=1)
        (z * v).sum().backward()
        io[f'{name}.raw'] = raw.detach()
        io[f'{name}.embedding'] = z.detach()
        io[f'{name}.grad'] = x.grad[:1].clone()
        if name == 'ir_se':
            with torch.no_grad():
                # taotaonice/FaceShifter: arcface(F.interpolate(Xs[:, :, 19:237, 19:237], [112, 112], mode='bilinear', align_corners=True))
                io['ir_se.embedding256'] = F.normalize(net(F.interpolate(x256.float()[:, :, 19:237, 19:237], [112, 112], mode='bilinear', align_corners=True)), dim=1)
    # What a user does to check weights against PyTorch (`yarn identity-embed --aligned-112`): a 112² RGB PNG, read
    # with PIL and fed as (p/255 - 0.5)/0.5, as arcface_torch's inference.py feeds it.
    import numpy as np
    from PIL import Image
    yy, xx = np.mgrid[0:112, 0:112]
    rgb = np.stack([(xx * 2 + yy) % 256, (yy * 3 + 40) % 256, ((xx - yy) * 5) % 256], -1).astype(np.uint8)
    Image.fromarray(rgb).save(os.path.join(HERE, 'face112.png'))
    png = torch.from_numpy(np.asarray(Image.open(os.path.join(HERE, 'face112.png')).convert('RGB')).copy()).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        net = randomise(NETS['iresnet'](), 12)
        io['iresnet.png_embedding'] = F.normalize(net(png.div(255).sub(0.5).div(0.5)), dim=1)
    torch.save(io, os.path.join(HERE, 'parity_io.pth'))

    full = {}
    for name, make in [('arcface-ir-se50', lambda: Backbone(IR_UNITS[50], 'ir_se')), ('arcface-ir100', lambda: Backbone(IR_UNITS[100], 'ir')),
                       ('arcface-ir-se152', lambda: Backbone(IR_UNITS[152], 'ir_se')),
                       ('iresnet50', lambda: IResNet(IRESNET_LAYERS[50])), ('iresnet100', lambda: IResNet(IRESNET_LAYERS[100])),
                       ('iresnet18', lambda: IResNet(IRESNET_LAYERS[18]))]:
        net = make()
        sd = net.state_dict()
        full[name] = {
            'keys': [[k, list(t.shape)] for k, t in sd.items()],
            'parameters': sum(p.numel() for p in net.parameters()),
        }
        del net
    with open(os.path.join(HERE, 'full_size.json'), 'w') as f:
        json.dump(full, f)
    for f in sorted(os.listdir(HERE)):
        print(f, os.path.getsize(os.path.join(HERE, f)))
    for k, v in full.items():
        print(k, len(v['keys']), 'tensors', v['parameters'], 'parameters')


if __name__ == '__main__':
    main()
