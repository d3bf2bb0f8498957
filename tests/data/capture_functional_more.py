"""Captures tests/data/functional_more_torch.json from PyTorch 2.13 (run once with a Python that
has torch: python tests/data/capture_functional_more.py). Not a test; the tests never import torch.
Inputs are sin(0.7 i + 0.3) in the given shape; grads are of sum(y * w), w likewise built."""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

def inp(shape, dt=torch.float64):
    n = int(np.prod(shape)); return torch.tensor(np.sin(np.arange(n) * 0.7 + 0.3).reshape(shape), dtype=dt)
def r(t, nd=9): return [round(float(v), nd) for v in t.detach().flatten().tolist()]
out = {}
PAD = [((1,2,3),(2,1),"reflect"),((1,2,3),(-1,2),"reflect"),((2,3,4),(1,2,2,1),"reflect"),
       ((1,2,3),(3,1),"replicate"),((1,2,3),(-1,2),"replicate"),((1,3,3),(1,1,2,0),"replicate"),
       ((1,2,3),(3,2),"circular"),((1,2,3),(-1,2),"circular"),((1,1,3,3),(1,2,1,0),"circular"),
       ((2,2,2,3),(1,1,1,1,1,1),"reflect"),((1,2,2,2,3),(0,1,1,0,1,1),"replicate"),
       ((2,3),(1,2),"constant"),((2,3),(-1,2,1,-1),"constant"),((2,3,4),(1,1,0,0,2,1),"constant")]
res = []
for shape, p, mode in PAD:
    x = inp(shape).requires_grad_()
    y = F.pad(x, p, mode=mode, value=(1.5 if mode=="constant" else None))
    w = inp(tuple(y.shape)) * 2 + 0.1
    (y * w).sum().backward()
    res.append([list(shape), list(p), mode, list(y.shape), r(y), r(x.grad)])
out["pad"] = res
INTERP = [((1,2,5),dict(size=3,mode="nearest")),((1,1,3,4),dict(size=(5,7),mode="nearest")),
          ((1,1,3,4),dict(scale_factor=1.5,mode="nearest")),((1,1,4,5),dict(size=(3,7),mode="nearest-exact")),
          ((1,2,5),dict(size=8,mode="linear")),((1,2,5),dict(size=8,mode="linear",align_corners=True)),
          ((2,1,3,4),dict(size=(5,3),mode="bilinear")),((1,1,3,4),dict(size=(5,3),mode="bilinear",align_corners=True)),
          ((1,1,3,4),dict(scale_factor=2,mode="bilinear")),((1,1,3,4),dict(scale_factor=(1.7,0.6),mode="bilinear")),
          ((1,1,3,4),dict(scale_factor=1.7,mode="bilinear",recompute_scale_factor=True)),
          ((1,1,4,5),dict(size=(6,3),mode="bicubic")),((1,1,4,5),dict(size=(6,3),mode="bicubic",align_corners=True)),
          ((1,1,4,4),dict(scale_factor=2,mode="bicubic")),
          ((1,1,5,7),dict(size=(2,3),mode="area")),((1,2,7),dict(scale_factor=0.5,mode="area")),
          ((1,1,2,3,4),dict(size=(3,2,5),mode="trilinear")),((1,1,2,3,4),dict(scale_factor=2,mode="nearest"))]
res = []
for shape, kw in INTERP:
    for dt in (torch.float64, torch.float32):
        x = inp(shape, dt).requires_grad_()
        y = F.interpolate(x, **kw)
        w = inp(tuple(y.shape), dt) * 2 + 0.1
        (y * w).sum().backward()
        res.append([list(shape), kw, str(dt).split(".")[1], list(y.shape), r(y), r(x.grad)])
out["interpolate"] = res
res = []
def sdpa_case(qs, ks, vs, mask, kw):
    q, k, v = inp(qs).requires_grad_(), (inp(ks) * 0.9 - 0.2).requires_grad_(), (inp(vs) + 0.5).requires_grad_()
    m = None
    if mask == "bool":
        m = torch.tensor(np.arange(qs[-2] * ks[-2]).reshape(qs[-2], ks[-2]) % 3 != 1); m[1] = False
    elif mask == "float":
        m = inp((qs[-2], ks[-2])) * 0.5; m[0, 1] = float("-inf"); m[1] = float("-inf")
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw)
    w = inp(tuple(y.shape)) * 2 + 0.1
    (y * w).sum().backward()
    res.append([qs, ks, vs, mask, kw, list(y.shape), r(y), r(q.grad), r(k.grad), r(v.grad)])
sdpa_case([2,3,4],[2,5,4],[2,5,6],None,{})
sdpa_case([2,3,4],[2,5,4],[2,5,6],"bool",{})
sdpa_case([2,3,4],[2,5,4],[2,5,6],"float",{"scale":0.3})
sdpa_case([1,2,5,4],[1,2,3,4],[1,2,3,2],None,{"is_causal":True})
sdpa_case([1,2,3,4],[1,2,5,4],[1,2,5,2],None,{"is_causal":True})
sdpa_case([1,4,3,2],[1,2,5,2],[1,2,5,3],None,{"enable_gqa":True})
sdpa_case([3,4],[5,4],[5,2],"bool",{})
out["sdpa"] = res
res = []
for shape, kw in [((2,3),{}),((2,3),{"p":1,"dim":0}),((2,3),{"p":float("inf"),"dim":-1}),((3,2,2),{"p":3.0,"eps":0.5})]:
    x = inp(shape).requires_grad_()
    y = F.normalize(x, **kw); w = inp(tuple(y.shape)) + 0.1; (y*w).sum().backward()
    res.append([list(shape), kw, r(y), r(x.grad)])
out["normalize"] = res
res = []
for s1, s2, kw in [((2,3),(2,3),{}),((2,1),(2,3),{}),((4,3),(3,),{"dim":-1}),((2,3),(2,3),{"dim":0,"eps":0.9})]:
    a, b = inp(s1).requires_grad_(), (inp(s2) * -1.3 + 0.2).requires_grad_()
    y = F.cosine_similarity(a, b, **kw); w = inp(tuple(y.shape)) + 0.1; (y*w).sum().backward()
    res.append([list(s1), list(s2), kw, list(y.shape), r(y), r(a.grad), r(b.grad)])
a = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True); b = inp((2, 3))
y = F.cosine_similarity(a, b); y.sum().backward()
res.append([[2,3],"zeros",{}, list(y.shape), r(y), r(a.grad), []])
out["cosine"] = res
json.dump(out, open(os.path.join(os.path.dirname(__file__), "functional_more_torch.json"), "w"))
