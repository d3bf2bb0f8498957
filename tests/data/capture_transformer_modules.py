"""Captures tests/data/transformer_modules_torch.json from PyTorch 2.13 (run once with a Python
that has torch). Not a test; the tests never import torch. Every parameter is set from its
state-dict position k as 0.3 * sin(0.37 * i + k) (i its flat index), inputs as sin(0.7 i + 0.3);
gradients are of sum(y * w), w = 0.5 * cos(0.3 i) in y's shape."""
import json
import os

import numpy as np
import torch


def inp(shape):
    n = int(np.prod(shape))
    return torch.tensor(np.sin(np.arange(n) * 0.7 + 0.3).reshape(shape), dtype=torch.float64)


def weight(shape):
    n = int(np.prod(shape))
    return torch.tensor(0.5 * np.cos(np.arange(n) * 0.3).reshape(shape), dtype=torch.float64)


def fill(module):
    with torch.no_grad():
        for k, (name, p) in enumerate(module.state_dict().items()):
            n = p.numel()
            p.copy_(torch.tensor(0.3 * np.sin(np.arange(n) * 0.37 + k)).reshape(p.shape))
    return module


def r(t):
    return [round(float(v), 10) for v in t.detach().flatten().tolist()]


def keys(module):
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


out = {}
E, H, FF = 8, 2, 12
causal = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
pad = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])

cases = []
for norm_first in (False, True):
    for act in ("relu", "gelu"):
        layer = fill(torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation=act,
                                                      batch_first=True, norm_first=norm_first,
                                                      dtype=torch.float64))
        tgt, mem = inp((2, 4, E)).requires_grad_(), inp((2, 5, E)) * 0.5
        y = layer(tgt, mem, tgt_mask=causal, memory_key_padding_mask=pad)
        (y * weight(y.shape)).sum().backward()
        cases.append([norm_first, act, r(y), r(tgt.grad), r(layer.linear1.weight.grad)])
out["decoder_layer"] = cases
out["decoder_layer_keys"] = keys(layer)

enc_layer = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True,
                                             dtype=torch.float64)
enc = fill(torch.nn.TransformerEncoder(enc_layer, 2, norm=torch.nn.LayerNorm(E, dtype=torch.float64)))
src = inp((2, 5, E))
y_train = enc(src, src_key_padding_mask=pad)
enc.eval()
with torch.no_grad():
    y_eval = enc(src, src_key_padding_mask=pad)
    y_mask = enc(src, mask=torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64))
out["encoder"] = [r(y_train), r(y_eval), r(y_mask)]
out["encoder_keys"] = keys(enc)

model = fill(torch.nn.Transformer(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=1,
                                  dim_feedforward=FF, dropout=0.0, dtype=torch.float64))
src, tgt = inp((5, 2, E)), (inp((4, 2, E)) * 0.7).requires_grad_()
y = model(src, tgt, tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad)
(y * weight(y.shape)).sum().backward()
out["transformer"] = [r(y), r(tgt.grad), r(model.encoder.layers[0].self_attn.in_proj_weight.grad),
                      r(model.decoder.layers[0].multihead_attn.out_proj.weight.grad)]
out["transformer_keys"] = keys(model)
out["transformer_default_keys"] = keys(torch.nn.Transformer())
json.dump(out, open(os.path.join(os.path.dirname(__file__), "transformer_modules_torch.json"), "w"))
