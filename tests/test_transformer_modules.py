"""nn.TransformerDecoderLayer / TransformerEncoder / TransformerDecoder / Transformer against
PyTorch 2.13 (state-dict keys and shapes, outputs and gradients captured once by
tests/data/capture_transformer_modules.py), plus NonDynamicallyQuantizableLinear,
LSTM.flatten_parameters, full backward hooks and DataParallel."""

import json
import os
import warnings

import numpy as np
import pytest

import dualgraph as torch
import dualgraph.nn as nn

with open(os.path.join(os.path.dirname(__file__), "data", "transformer_modules_torch.json")) as f:
    REF = json.load(f)

E, H, FF = 8, 2, 12


def inp(shape):
    n = int(np.prod(shape))
    return torch.tensor(np.sin(np.arange(n) * 0.7 + 0.3).reshape(shape), dtype=torch.float64)


def weight(shape):
    n = int(np.prod(shape))
    return torch.tensor(0.5 * np.cos(np.arange(n) * 0.3).reshape(shape), dtype=torch.float64)


def fill(module):
    """The capture's parameters: state-dict entry k is 0.3 sin(0.37 i + k)."""
    state = {}
    for k, (name, p) in enumerate(module.state_dict().items()):
        n = int(np.prod(p.shape))
        state[name] = torch.tensor(0.3 * np.sin(np.arange(n) * 0.37 + k).reshape(tuple(p.shape)),
                                   dtype=torch.float64)
    module.load_state_dict(state)
    return module


def keys(module):
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


def close(got, want, tol=1e-9):
    np.testing.assert_allclose(np.array(got.detach().tolist()).ravel(), want, rtol=tol, atol=tol)


def causal(n):
    return nn.Transformer.generate_square_subsequent_mask(n, dtype=torch.float64)


PAD = [[False, False, False, True, True], [False] * 5]


def quiet(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


def test_state_dict_keys_match_pytorch():
    layer = nn.TransformerDecoderLayer(E, H, FF, batch_first=True, dtype=torch.float64)
    assert keys(layer) == REF["decoder_layer_keys"]
    enc = quiet(lambda: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(E, H, FF, batch_first=True), 2, norm=nn.LayerNorm(E)))
    assert keys(enc) == REF["encoder_keys"]
    model = quiet(lambda: nn.Transformer(d_model=E, nhead=H, num_encoder_layers=2,
                                         num_decoder_layers=1, dim_feedforward=FF))
    assert keys(model) == REF["transformer_keys"]
    assert keys(quiet(nn.Transformer)) == REF["transformer_default_keys"]


@pytest.mark.parametrize("case", REF["decoder_layer"], ids=lambda c: f"norm_first={c[0]}-{c[1]}")
def test_decoder_layer_matches_pytorch(case):
    norm_first, act, want, want_tgt, want_w = case
    layer = fill(nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation=act,
                                            batch_first=True, norm_first=norm_first,
                                            dtype=torch.float64))
    tgt, mem = inp((2, 4, E)).requires_grad_(), inp((2, 5, E)) * 0.5
    y = layer(tgt, mem, tgt_mask=causal(4), memory_key_padding_mask=torch.tensor(PAD))
    close(y, want)
    (y * weight(tuple(y.shape))).sum().backward()
    close(tgt.grad, want_tgt)
    close(layer.linear1.weight.grad, want_w)


def test_encoder_matches_pytorch_and_zeroes_padding_like_its_fast_path():
    want_train, want_eval, want_mask = REF["encoder"]
    enc = fill(nn.TransformerEncoder(
        nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True, dtype=torch.float64),
        2, norm=nn.LayerNorm(E, dtype=torch.float64)))
    src, pad = inp((2, 5, E)), torch.tensor(PAD)
    close(enc(src, src_key_padding_mask=pad), want_train)
    enc.eval()
    with torch.no_grad():
        y = enc(src, src_key_padding_mask=pad)
        close(y, want_eval)  # PyTorch's nested-tensor path: padded rows are norm(0)
        close(enc(src, mask=causal(5)), want_mask)
    assert not np.allclose(want_train, want_eval)
    close(enc(src, src_key_padding_mask=pad), want_train)  # autograd on: no fast path
    enc.requires_grad_(False)
    close(enc(src, src_key_padding_mask=pad), want_eval)  # grad enabled, nothing requires it
    enc.layers[0].linear1.weight.requires_grad_(True)
    close(enc(src, src_key_padding_mask=pad), want_train)
    enc.requires_grad_(False)
    with torch.no_grad():
        traced = torch.jit.trace(lambda s: enc(s, src_key_padding_mask=pad), src)
        close(traced(src), want_eval)
        # padding first is not "left aligned": PyTorch's slow path, no zeros
        first = torch.tensor([[True, False, False, False, False], [False] * 5])
        assert not enc._dropped(first).any().item()
        assert enc._dropped(pad).long().sum().item() == 2


def test_transformer_matches_pytorch():
    want_y, want_tgt, want_in_proj, want_out_proj = REF["transformer"]
    model = fill(quiet(lambda: nn.Transformer(d_model=E, nhead=H, num_encoder_layers=2,
                                              num_decoder_layers=1, dim_feedforward=FF,
                                              dropout=0.0, dtype=torch.float64)))
    src, tgt = inp((5, 2, E)), (inp((4, 2, E)) * 0.7).requires_grad_()
    pad = torch.tensor(PAD)
    y = model(src, tgt, tgt_mask=causal(4), src_key_padding_mask=pad,
              memory_key_padding_mask=pad)
    close(y, want_y)
    (y * weight(tuple(y.shape))).sum().backward()
    close(tgt.grad, want_tgt)
    close(model.encoder.layers[0].self_attn.in_proj_weight.grad, want_in_proj)
    close(model.decoder.layers[0].multihead_attn.out_proj.weight.grad, want_out_proj)


def test_transformer_construction_init_and_errors():
    with pytest.warns(UserWarning, match="enable_nested_tensor is True, but self.use_nested_"
                                         "tensor is False because encoder_layer.self_attn."
                                         "batch_first was not True"):
        model = nn.Transformer(d_model=E, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=FF)
    # xavier_uniform_ on every matrix: |w| <= sqrt(6 / (fan_in + fan_out))
    w = np.array(model.encoder.layers[0].linear1.weight.tolist())
    assert np.abs(w).max() <= np.sqrt(6 / (E + FF)) and np.abs(w).max() > 0.5 * np.sqrt(6 / 20)
    assert model.d_model == E and model.nhead == H and not model.batch_first
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(torch.randn(5, 2, E), torch.randn(4, 3, E))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to "
                                           "d_model"):
        model(torch.randn(5, 2, E), torch.randn(4, 2, 4))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(E, H, activation="tanh")
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.tolist() == [[0.0, -np.inf, -np.inf], [0.0, 0.0, -np.inf], [0.0, 0.0, 0.0]]
    layer = nn.TransformerEncoderLayer(E, H, activation=nn.GELU(), batch_first=True)
    assert layer.activation_relu_or_gelu == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # batch_first, even heads, relu: PyTorch does not warn
        nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, batch_first=True), 2)


def test_transformer_trains_and_traces():
    torch.manual_seed(0)
    model = quiet(lambda: nn.Transformer(d_model=E, nhead=H, num_encoder_layers=1,
                                         num_decoder_layers=1, dim_feedforward=FF,
                                         dropout=0.0, batch_first=True))
    src, tgt = torch.randn(3, 5, E), torch.randn(3, 4, E)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = ((model(src, tgt, tgt_mask=mask) - tgt) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    traced = torch.jit.trace(lambda s, t: model(s, t, tgt_mask=mask), (src, tgt))
    np.testing.assert_allclose(np.array(traced(src, tgt).tolist()),
                               np.array(model(src, tgt, tgt_mask=mask).tolist()),
                               rtol=1e-5, atol=1e-5)


def test_non_dynamically_quantizable_linear_and_flatten_parameters():
    from dualgraph.nn.modules.linear import NonDynamicallyQuantizableLinear
    mha = nn.MultiheadAttention(E, H)
    assert type(mha.out_proj) is NonDynamicallyQuantizableLinear
    assert isinstance(mha.out_proj, nn.Linear)
    assert repr(mha.out_proj) == ("NonDynamicallyQuantizableLinear(in_features=8, "
                                  "out_features=8, bias=True)")
    lstm = nn.LSTM(3, 4, num_layers=2)
    x = torch.randn(5, 2, 3)
    before = lstm(x)[0].tolist()
    assert lstm.flatten_parameters() is None  # PyTorch on the CPU: nothing to pack
    assert lstm(x)[0].tolist() == before


# ------------------------------------------------------------------------ full backward hooks

class Scale(nn.Module):
    """y = a * w + b (two positional tensor inputs, one output)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([2.0, 3.0]))

    def forward(self, a, b, flag=None):
        return a * self.w + b * b


def test_full_backward_hook_sees_grad_input_and_grad_output():
    m = Scale()
    calls = []
    m.register_full_backward_pre_hook(lambda mod, go: calls.append(("pre", go[0].tolist())))
    m.register_full_backward_hook(
        lambda mod, gi, go: calls.append(("full", [None if g is None else g.tolist()
                                                   for g in gi], go[0].tolist())))
    a = torch.tensor([1.0, 1.0], requires_grad=True)
    b = torch.tensor([0.5, -1.0], requires_grad=True)
    y = m(a, b, "x")
    (y * torch.tensor([10.0, 100.0])).sum().backward()
    assert calls[0] == ("pre", [10.0, 100.0])
    # grad_input: d/da = g * w, d/db = g * 2b; the non-tensor arg gets None
    assert calls[1] == ("full", [[20.0, 300.0], [10.0, -200.0], None], [10.0, 100.0])


def test_full_backward_hook_grad_input_is_this_call_only_and_replaceable():
    m = Scale()
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(gi[0].tolist()))
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    (m(a, torch.zeros(2)).sum() + (a * 5).sum()).backward()
    assert seen == [[2.0, 3.0]]  # not the total 7, 8
    assert a.grad.tolist() == [7.0, 8.0]
    m2 = Scale()
    m2.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0 + 1, None))
    a.grad = None
    m2(a, torch.zeros(2)).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    m3 = Scale()
    handle = m3.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
    a.grad = None
    m3(a, torch.zeros(2)).sum().backward()
    assert a.grad.tolist() == [6.0, 9.0] and m3.w.grad.tolist() == [3.0, 6.0]
    handle.remove()
    a.grad = None
    m3(a, torch.zeros(2)).sum().backward()
    assert a.grad.tolist() == [2.0, 3.0]


def test_full_backward_hook_without_input_grads_and_order():
    lin = nn.Linear(3, 2)
    order = []
    lin.register_full_backward_hook(lambda m, gi, go: order.append(("second", gi)))
    lin.register_full_backward_hook(lambda m, gi, go: order.append(("first", gi)), prepend=True)
    with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are "
                                         "computed with respect to module outputs"):
        lin(torch.randn(4, 3)).sum().backward()
    assert [o[0] for o in order] == ["first", "second"] and order[0][1] == (None,)
    assert lin.weight.grad is not None
    with torch.no_grad():  # no autograd: no hooks, no extra nodes
        assert lin(torch.randn(4, 3)).grad_fn is None
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of "
                                           "grad_input, got 2, but expected 1"):
        lin2 = nn.Linear(3, 2)
        lin2.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
        lin2(torch.randn(4, 3, requires_grad=True)).sum().backward()


# ------------------------------------------------------------------------------- DataParallel

def test_data_parallel_on_cpu():
    lin = nn.Linear(2, 3)
    dp = nn.DataParallel(lin)
    assert nn.parallel.DataParallel is nn.DataParallel
    assert dp.device_ids == [] and dp.module is lin
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    x = torch.randn(4, 2)
    assert dp(x).tolist() == lin(x).tolist()
    assert repr(dp) == ("DataParallel(\n  (module): Linear(in_features=2, out_features=3, "
                        "bias=True)\n)")
    other = nn.DataParallel(nn.Linear(2, 3))
    other.load_state_dict(dp.state_dict())
    assert other(x).tolist() == dp(x).tolist()
    dp(x).sum().backward()
    assert lin.weight.grad is not None


class Pair(nn.Module):
    def forward(self, a, k):
        return a * k, "tag", a.detach()


def test_full_backward_hooks_pack_grad_output_per_top_level_output():
    m = Pair()
    seen = []
    m.register_full_backward_pre_hook(lambda mod, go: seen.append(("pre", go)))
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(("full", gi, go)))
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    y, tag, d = m(a, 3)
    assert tag == "tag" and not d.requires_grad
    y.sum().backward()
    pre, full = seen
    assert pre[1][0].tolist() == [1.0, 1.0] and pre[1][1:] == (None, None)
    assert full[1][0].tolist() == [3.0, 3.0] and full[1][1] is None
    assert len(full[2]) == 3
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda mod, gi, go: (torch.zeros(1),))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="no input requires "
                                                  "gradient should always return None"):
        lin(torch.ones(1, 2)).sum().backward()


def test_full_backward_hook_refuses_in_place_change_of_its_input():
    relu = nn.ReLU(inplace=True)  # PyTorch refuses this too (a view of the hook's function)
    relu.register_full_backward_hook(lambda m, gi, go: None)
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="may not be modified in place"):
        relu(x * 1)
