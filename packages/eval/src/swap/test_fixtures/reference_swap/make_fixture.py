"""The whole swap of the public PyTorch reference (taotaonice/FaceShifter), run here on seeded random weights, for
reference_swap.test.ts to compare `yarn swap --weights G_small.pth --id-weights ir_se_small.pth` with. CI never
runs this; the outputs are committed. From the repository root:
`/usr/bin/python3 packages/eval/src/swap/test_fixtures/reference_swap/make_fixture.py`
(after `names.ts`, which writes names.json: the keys and shapes the project maps the reference's AEI-Net to).

Transcribed below from the reference's public code, at reduced width (every channel count / 32) and c_id 32:
- network/AEI_Net.py and network/AADLayer.py (its last version: 1×1 γ/β convs with bias, a 1-channel mask conv,
  AAD3/conv3 only where cin != cout, the residual always added, tanh): loaded with strict=True from a state_dict
  whose keys and shapes are names.json's, so the project's names are the reference modules' names;
- face_modules/mtcnn_pytorch/src/align_trans.py warp_and_crop_face with get_reference_facial_points(
  default_square=True), and matlab_cp2tform.py's similarity (its in-place reflection of xy included);
- inference_demo.py: cv2.imread, [:, :, ::-1] to RGB before the alignment, ToTensor + Normalize(0.5, 0.5),
  ArcFace on F.interpolate(X[:, :, 19:237, 19:237], (112, 112), bilinear, align_corners=True), G(Xt, embeds);
- online_preview.py: the swap warped back with trans_inv and blended with its radial mask (dilated 40 times).
The identity network is InsightFace_Pytorch's Backbone (ir_se) of packages/core/src/identity/test_fixtures
(ir_se_small.pth, 32-d), whose forward the reference ends with l2_norm.

The reference's inference scripts feed the networks RGB (the [:, :, ::-1] after cv2.imread) while its last
training Dataset feeds cv2.imread's BGR unconverted; both orders are written (`rgb` = inference_demo.py as it is,
`bgr` = the same with the training Dataset's order), so both of `yarn swap`'s --channels are checked.

Writes: G_small.pth; points.json (the --landmarks file, pixel-index convention); reference.json (the template points,
transforms, embeddings, and the mask); aligned_source.png / aligned_target.png (cv2's crops, RGB);
swap_<order>.f32 (the 256×256×3 HWC RGB float output of G in [-1, 1]); pasted_<order>.png (online_preview's blend).
"""
import collections
import importlib.util
import json
import math
import os

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from numpy.linalg import inv, lstsq, norm
from numpy.linalg import matrix_rank as rank
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '../../../../../..'))
FACES = os.path.join(REPO, 'datasets/embedded/faces')
SOURCE = os.path.join(FACES, 'face-api-sample1_f1.png')
TARGET = os.path.join(FACES, 'human-faceid_f0.png')
W = 1 / 32
C_ID = 32


def ch(c):
    return max(1, int(round(c * W)))


# ---- network/AADLayer.py --------------------------------------------------------------------------------------
class AADLayer(nn.Module):
    def __init__(self, c_x, attr_c, c_id):
        super().__init__()
        self.c_x = c_x
        self.conv1 = nn.Conv2d(attr_c, c_x, kernel_size=1, stride=1, padding=0, bias=True)
        self.conv2 = nn.Conv2d(attr_c, c_x, kernel_size=1, stride=1, padding=0, bias=True)
        self.fc1 = nn.Linear(c_id, c_x)
        self.fc2 = nn.Linear(c_id, c_x)
        self.norm = nn.InstanceNorm2d(c_x, affine=False)
        self.conv_h = nn.Conv2d(c_x, 1, kernel_size=1, stride=1, padding=0, bias=True)

    def forward(self, h_in, z_attr, z_id):
        h = self.norm(h_in)
        gamma_attr = self.conv1(z_attr)
        beta_attr = self.conv2(z_attr)
        gamma_id = self.fc1(z_id)
        beta_id = self.fc2(z_id)
        A = gamma_attr * h + beta_attr
        gamma_id = gamma_id.reshape(h.shape[0], self.c_x, 1, 1).expand_as(h)
        beta_id = beta_id.reshape(h.shape[0], self.c_x, 1, 1).expand_as(h)
        I = gamma_id * h + beta_id
        M = torch.sigmoid(self.conv_h(h))
        return (torch.ones_like(M) - M) * A + M * I


class AAD_ResBlk(nn.Module):
    def __init__(self, cin, cout, c_attr, c_id):
        super().__init__()
        self.cin = cin
        self.cout = cout
        self.AAD1 = AADLayer(cin, c_attr, c_id)
        self.conv1 = nn.Conv2d(cin, cin, kernel_size=3, stride=1, padding=1, bias=False)
        self.relu1 = nn.ReLU(inplace=True)
        self.AAD2 = AADLayer(cin, c_attr, c_id)
        self.conv2 = nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=False)
        self.relu2 = nn.ReLU(inplace=True)
        if cin != cout:
            self.AAD3 = AADLayer(cin, c_attr, c_id)
            self.conv3 = nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=False)
            self.relu3 = nn.ReLU(inplace=True)

    def forward(self, h, z_attr, z_id):
        x = self.conv1(self.relu1(self.AAD1(h, z_attr, z_id)))
        x = self.conv2(self.relu2(self.AAD2(x, z_attr, z_id)))
        if self.cin != self.cout:
            h = self.conv3(self.relu3(self.AAD3(h, z_attr, z_id)))
        return x + h


# ---- network/AEI_Net.py ---------------------------------------------------------------------------------------
def conv4x4(in_c, out_c):
    return nn.Sequential(nn.Conv2d(in_c, out_c, 4, 2, 1, bias=False), nn.BatchNorm2d(out_c), nn.LeakyReLU(0.1, inplace=True))


class deconv4x4(nn.Module):
    def __init__(self, in_c, out_c):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_c, out_c, 4, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_c)
        self.lrelu = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, input, skip):
        return torch.cat((self.lrelu(self.bn(self.deconv(input))), skip), dim=1)


class MLAttrEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        c = [ch(32), ch(64), ch(128), ch(256), ch(512), ch(1024)]
        self.conv1 = conv4x4(3, c[0])
        self.conv2 = conv4x4(c[0], c[1])
        self.conv3 = conv4x4(c[1], c[2])
        self.conv4 = conv4x4(c[2], c[3])
        self.conv5 = conv4x4(c[3], c[4])
        self.conv6 = conv4x4(c[4], c[5])
        self.conv7 = conv4x4(c[5], c[5])
        self.deconv1 = deconv4x4(c[5], c[5])
        self.deconv2 = deconv4x4(2 * c[5], c[4])
        self.deconv3 = deconv4x4(2 * c[4], c[3])
        self.deconv4 = deconv4x4(2 * c[3], c[2])
        self.deconv5 = deconv4x4(2 * c[2], c[1])
        self.deconv6 = deconv4x4(2 * c[1], c[0])

    def forward(self, Xt):
        feat1 = self.conv1(Xt)
        feat2 = self.conv2(feat1)
        feat3 = self.conv3(feat2)
        feat4 = self.conv4(feat3)
        feat5 = self.conv5(feat4)
        feat6 = self.conv6(feat5)
        z_attr1 = self.conv7(feat6)
        z_attr2 = self.deconv1(z_attr1, feat6)
        z_attr3 = self.deconv2(z_attr2, feat5)
        z_attr4 = self.deconv3(z_attr3, feat4)
        z_attr5 = self.deconv4(z_attr4, feat3)
        z_attr6 = self.deconv5(z_attr5, feat2)
        z_attr7 = self.deconv6(z_attr6, feat1)
        z_attr8 = F.interpolate(z_attr7, scale_factor=2, mode='bilinear', align_corners=True)
        return z_attr1, z_attr2, z_attr3, z_attr4, z_attr5, z_attr6, z_attr7, z_attr8


class AADGenerator(nn.Module):
    def __init__(self, c_id):
        super().__init__()
        k = ch(1024)
        self.up1 = nn.ConvTranspose2d(c_id, k, kernel_size=2, stride=1, padding=0)
        self.AADBlk1 = AAD_ResBlk(k, k, k, c_id)
        self.AADBlk2 = AAD_ResBlk(k, k, 2 * k, c_id)
        self.AADBlk3 = AAD_ResBlk(k, k, 2 * ch(512), c_id)
        self.AADBlk4 = AAD_ResBlk(k, ch(512), 2 * ch(256), c_id)
        self.AADBlk5 = AAD_ResBlk(ch(512), ch(256), 2 * ch(128), c_id)
        self.AADBlk6 = AAD_ResBlk(ch(256), ch(128), 2 * ch(64), c_id)
        self.AADBlk7 = AAD_ResBlk(ch(128), ch(64), 2 * ch(32), c_id)
        self.AADBlk8 = AAD_ResBlk(ch(64), 3, 2 * ch(32), c_id)

    def forward(self, z_attr, z_id):
        m = self.up1(z_id.reshape(z_id.shape[0], -1, 1, 1))
        for i in range(1, 8):
            m = F.interpolate(getattr(self, f'AADBlk{i}')(m, z_attr[i - 1], z_id), scale_factor=2, mode='bilinear', align_corners=True)
        return torch.tanh(self.AADBlk8(m, z_attr[7], z_id))


class AEI_Net(nn.Module):
    def __init__(self, c_id):
        super().__init__()
        self.encoder = MLAttrEncoder()
        self.generator = AADGenerator(c_id)

    def forward(self, Xt, z_id):
        attr = self.encoder(Xt)
        return self.generator(attr, z_id), attr


# ---- mtcnn_pytorch/src/matlab_cp2tform.py and align_trans.py --------------------------------------------------
def tformfwd(trans, uv):
    uv = np.hstack((uv, np.ones((uv.shape[0], 1))))
    return np.dot(uv, trans)[:, 0:-1]


def findNonreflectiveSimilarity(uv, xy):
    K = 2
    M = xy.shape[0]
    x = xy[:, 0].reshape((-1, 1))
    y = xy[:, 1].reshape((-1, 1))
    X = np.vstack((np.hstack((x, y, np.ones((M, 1)), np.zeros((M, 1)))), np.hstack((y, -x, np.zeros((M, 1)), np.ones((M, 1))))))
    U = np.vstack((uv[:, 0].reshape((-1, 1)), uv[:, 1].reshape((-1, 1))))
    if rank(X) < 2 * K:
        raise Exception('cp2tform:twoUniquePointsReq')
    r = np.squeeze(lstsq(X, U, rcond=None)[0])
    sc, ss, tx, ty = r
    Tinv = np.array([[sc, -ss, 0], [ss, sc, 0], [tx, ty, 1]])
    T = inv(Tinv)
    T[:, 2] = np.array([0, 0, 1])
    return T, Tinv


def findSimilarity(uv, xy):
    trans1, trans1_inv = findNonreflectiveSimilarity(uv, xy)
    xyR = xy  # the reference reflects xy in place: the comparison below sees the reflected points
    xyR[:, 0] = -1 * xyR[:, 0]
    trans2r, _ = findNonreflectiveSimilarity(uv, xyR)
    trans2 = np.dot(trans2r, np.array([[-1, 0, 0], [0, 1, 0], [0, 0, 1]]))
    norm1 = norm(tformfwd(trans1, uv) - xy)
    norm2 = norm(tformfwd(trans2, uv) - xy)
    if norm1 <= norm2:
        return trans1, trans1_inv, False
    return trans2, inv(trans2), True


def get_similarity_transform_for_cv2(src_pts, dst_pts):
    trans, trans_inv, reflective = findSimilarity(src_pts, dst_pts.copy())
    return trans[:, 0:2].T, trans_inv[:, 0:2].T, reflective


REFERENCE_FACIAL_POINTS = [[30.29459953, 51.69630051], [65.53179932, 51.50139999], [48.02519989, 71.73660278], [33.54930115, 92.3655014], [62.72990036, 92.20410156]]


def get_reference_facial_points_square():
    tmp_5pts = np.array(REFERENCE_FACIAL_POINTS)
    tmp_crop_size = np.array((96, 112))
    size_diff = max(tmp_crop_size) - tmp_crop_size
    return tmp_5pts + size_diff / 2


def warp_and_crop_face(src_img, facial_pts, reference_pts, crop_size):
    ref_pts = np.float32(reference_pts)
    ref_pts = (ref_pts - 112 / 2) * 0.85 + 112 / 2
    ref_pts *= crop_size[0] / 112.
    src_pts = np.float32(facial_pts)
    tfm, tfm_inv, reflective = get_similarity_transform_for_cv2(src_pts, ref_pts)
    assert not reflective, 'the fixture points should not pick the reflective similarity'
    return cv2.warpAffine(src_img, tfm, (crop_size[0], crop_size[1])), tfm, tfm_inv, ref_pts


# ---- the fixture ----------------------------------------------------------------------------------------------
def seeded_state_dict(names, seed):
    g = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()
    for t in names:
        n, shape = t['name'], t['shape']
        if n.endswith('num_batches_tracked'):
            sd[n] = torch.tensor(1000, dtype=torch.int64)
        elif n.endswith('running_var'):
            sd[n] = torch.rand(shape, generator=g) + 0.5
        elif n.endswith('running_mean') or n.endswith('.bias'):
            sd[n] = torch.randn(shape, generator=g) * 0.1
        elif len(shape) == 1:  # BatchNorm scale
            sd[n] = torch.rand(shape, generator=g) + 0.5
        else:
            fan_in = shape[1] * (shape[2] * shape[3] if len(shape) == 4 else 1)
            if 'up1' in n or 'deconv' in n:  # ConvTranspose2d: IOHW, the fan-in is over I
                fan_in = shape[0] * shape[2] * shape[3] / 4
            sd[n] = torch.randn(shape, generator=g) * math.sqrt(2.0 / fan_in)
    return sd


def identity_backbone():
    spec = importlib.util.spec_from_file_location('idfx', os.path.join(REPO, 'packages/core/src/identity/test_fixtures/make_identity_fixtures.py'))
    idfx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(idfx)
    net = idfx.NETS['ir_se']()
    net.load_state_dict(torch.load(os.path.join(REPO, 'packages/core/src/identity/test_fixtures/ir_se_small.pth')), strict=True)
    return net.eval()


def main():
    names = json.load(open(os.path.join(HERE, 'names.json')))['aei']
    G = AEI_Net(C_ID)
    G.load_state_dict(seeded_state_dict(names, 21), strict=True)
    G.eval()
    torch.save(G.state_dict(), os.path.join(HERE, 'G_small.pth'))
    arcface = identity_backbone()
    test_transform = lambda a: (torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float() / 255 - 0.5) / 0.5

    # 5 points (pixel-index: cv2/MTCNN's convention) on the two 256² photos: the source's where its FFHQ-aligned crop
    # puts them, the target's turned 9° and moved, so the warp resamples.
    ffhq = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043], [313.08905, 371.15118]]) / 2 - 0.5
    a = math.radians(9)
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    points = {'source': ffhq.round(3).tolist(), 'target': ((ffhq - 128) @ R.T * 0.93 + [131.5, 125.0]).round(3).tolist()}
    json.dump({'convention': 'pixel-index', **points}, open(os.path.join(HERE, 'points.json'), 'w'), indent=1)

    reference = get_reference_facial_points_square()
    out = {'points': points, 'template256': None, 'orders': {}}
    Xs_raw = cv2.imread(SOURCE)
    Xt_raw = cv2.imread(TARGET)
    # inference_demo.py: the alignment is run on the RGB image.
    Xs_rgb, tfm_s, _, ref_pts = warp_and_crop_face(Xs_raw[:, :, ::-1].copy(), points['source'], reference, (256, 256))
    Xt_rgb, tfm_t, tfm_t_inv, _ = warp_and_crop_face(Xt_raw[:, :, ::-1].copy(), points['target'], reference, (256, 256))
    out['template256'] = ref_pts.astype(float).tolist()
    out['transforms'] = {'source': tfm_s.tolist(), 'target': tfm_t.tolist(), 'targetInverse': tfm_t_inv.tolist()}
    cv2.imwrite(os.path.join(HERE, 'aligned_source.png'), Xs_rgb[:, :, ::-1])
    cv2.imwrite(os.path.join(HERE, 'aligned_target.png'), Xt_rgb[:, :, ::-1])

    # online_preview.py's blend mask.
    mask = np.zeros([256, 256], dtype=np.float64)
    for i in range(256):
        for j in range(256):
            mask[i, j] = 1 - min(np.sqrt((i - 128) ** 2 + (j - 128) ** 2) / 128, 1)
    mask = cv2.dilate(mask, None, iterations=40)
    H, Wd = Xt_raw.shape[:2]
    mask_ = np.expand_dims(cv2.warpAffine(mask, tfm_t_inv, (Wd, H), borderValue=(0, 0, 0)), 2)

    for order in ('rgb', 'bgr'):
        flip = (lambda a: a) if order == 'rgb' else (lambda a: a[:, :, ::-1])
        Xs = test_transform(flip(Xs_rgb)).unsqueeze(0)
        Xt = test_transform(flip(Xt_rgb)).unsqueeze(0)
        with torch.no_grad():
            embeds = F.normalize(arcface(F.interpolate(Xs[:, :, 19:237, 19:237], (112, 112), mode='bilinear', align_corners=True)), dim=1)
            Yt, _ = G(Xt, embeds)
        y = Yt.squeeze(0).permute(1, 2, 0).numpy()  # HWC in the fed order
        y_rgb = np.ascontiguousarray(flip(y)).astype(np.float32)
        y_rgb.tofile(os.path.join(HERE, f'swap_{order}.f32'))
        # online_preview.py: Yt (as RGB, ×0.5 + 0.5) to BGR, warped back, blended into the BGR frame.
        Yt_img = (y_rgb * 0.5 + 0.5)[:, :, ::-1]
        back = cv2.warpAffine(Yt_img, tfm_t_inv, (Wd, H), borderValue=(0, 0, 0))
        pasted = mask_ * back + (1 - mask_) * (Xt_raw.astype(np.float64) / 255.0)
        cv2.imwrite(os.path.join(HERE, f'pasted_{order}.png'), np.clip(np.round(pasted * 255), 0, 255).astype(np.uint8))
        out['orders'][order] = {'embedding': embeds[0].tolist()}
    json.dump(out, open(os.path.join(HERE, 'reference.json'), 'w'))
    np.clip(mask_[:, :, 0], 0, 1).astype(np.float32).tofile(os.path.join(HERE, 'paste_mask.f32'))
    for f in sorted(os.listdir(HERE)):
        print(f, os.path.getsize(os.path.join(HERE, f)))


if __name__ == '__main__':
    main()
