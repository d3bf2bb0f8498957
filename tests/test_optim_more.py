"""Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop and Adafactor: trajectories, defaults and state
keys captured once from PyTorch 2.13 on a small least-squares problem (float64 and float32),
NumPy references of the documented rules, state_dict resumption and PyTorch's argument errors.
SparseAdam is not provided: dualgraph has no sparse gradients."""

import numpy as np
import pytest

import dualgraph as torch

A = np.sin(np.arange(12) * 0.9 + 0.2).reshape(4, 3)
Y = np.cos(np.arange(8) * 0.5).reshape(4, 2)


def problem(dtype=torch.float64):
    w = torch.tensor(np.linspace(-1, 1, 6).reshape(3, 2), dtype=dtype, requires_grad=True)
    b = torch.tensor([0.3, -0.2], dtype=dtype, requires_grad=True)
    return w, b


def loss_of(w, b, dtype=torch.float64):
    return ((torch.tensor(A, dtype=dtype) @ w + b - torch.tensor(Y, dtype=dtype)) ** 2).sum()


def run(name, kw, dtype=torch.float64, steps=6, opt=None, params=None):
    """Parameters (w then b, flat) after each of `steps` steps of sum((A w + b - Y)^2)."""
    w, b = params or problem(dtype)
    opt = opt or getattr(torch.optim, name)([w, b], **kw)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(w, b, dtype).backward()
        opt.step()
        traj.append(np.concatenate([np.ravel(w.tolist()), b.tolist()]))
    return traj, opt


# printed by PyTorch 2.13 for the same problem: (name, kwargs, after step 1, after step 6)
TORCH = [
    ('Adadelta', {},
     [-0.996837724034953, -0.596837723379331, -0.203162261950431, 0.196837725225939,
      0.596837723194431, 0.996837722680774, 0.296837760145868, -0.19683805177785],
     [-0.980268863970872, -0.580312991141512, -0.219155653431622, 0.180328918523237,
      0.580432246468254, 0.980319784120719, 0.281502396571465, -0.183869600834793]),
    ('Adadelta', {'lr': 0.5, 'rho': 0.8, 'eps': 0.0001, 'weight_decay': 0.1, 'maximize': True},
     [-1.011180019612133, -0.61118015034567, -0.188822328790007, 0.211179820894379,
      0.611180184512928, 1.01118027780756, 0.311172997724314, -0.211110462270097],
     [-1.075050671029437, -0.675807888543833, -0.118616888355094, 0.275557042142555,
      0.677141871532874, 1.07572956264896, 0.388365125055158, -0.304243054255957]),
    ('Adamax', {},
     [-0.998000000006549, -0.598000000005128, -0.201999999980064, 0.198000000008545,
      0.59800000000465, 0.998000000002937, 0.298000000030926, -0.198000000091299],
     [-0.988006790649064, -0.588022303237616, -0.211809499728865, 0.188025065392684,
      0.588060059681888, 0.988023483481558, 0.288393480297291, -0.189079732141725]),
    ('Adamax', {'lr': 0.05, 'betas': (0.8, 0.9), 'eps': 0.001, 'weight_decay': 0.1},
     [-0.950015847316694, -0.550012622843147, -0.249949198676041, 0.1500211720245,
      0.550011461740444, 0.950007234882826, 0.250073779335611, -0.150208280770532],
     [-0.672756915732501, -0.273011763401408, -0.387181544671325, -0.119056704813121,
      0.292608256342504, 0.668800046255968, 0.196035016581901, -0.162850634717073]),
    ('NAdam', {},
     [-0.997887096424249, -0.597887096422748, -0.202112903561608, 0.197887096426358,
      0.597887096422243, 0.997887096420433, 0.297887096450003, -0.197887096513783],
     [-0.99038524449171, -0.590392048467358, -0.209531933558311, 0.190393372140999,
      0.590408865564133, 0.990392613946045, 0.290564032253331, -0.190926357863381]),
    ('NAdam', {'lr': 0.05, 'momentum_decay': 0.1, 'weight_decay': 0.1},
     [-0.94714687664723, -0.547146876613125, -0.252853122982792, 0.147146876703557,
      0.547146876600846, 0.947146876556149, 0.247146877260706, -0.147146878690528],
     [-0.772783799187079, -0.372739911939773, -0.344339846078508, -0.017223018632008,
      0.387599387004351, 0.77655489011679, 0.210150411399201, -0.162785307304546]),
    ('NAdam', {'lr': 0.05, 'weight_decay': 0.1, 'decoupled_weight_decay': True, 'maximize': True},
     [-1.047822589393784, -0.649822589431299, -0.146177410959788, 0.251822589341061,
      0.649822589443935, 1.047822589489173, 0.351322588749933, -0.251822587155416],
     [-1.215554808709479, -0.832053174366066, 0.080241898877854, 0.442599392067773,
      0.838985874272451, 1.219649130458475, 0.58095441537873, -0.499859035909903]),
    ('RAdam', {},
     [-0.996945891727287, -0.596099927251378, -0.20100322631742, 0.197659393059648,
      0.595698660768608, 0.993190038039526, 0.299353303466333, -0.199780939432371],
     [-0.98479653565539, -0.580616342614817, -0.204957417157905, 0.188406506922776,
      0.57866533472058, 0.966235085894001, 0.296761633903643, -0.198886725629996]),
    ('RAdam', {'lr': 0.05, 'betas': (0.5, 0.6), 'weight_decay': 0.1},
     [-0.842294586364362, -0.40199636256891, -0.249161315870982, 0.081969652982407,
      0.38193303843041, 0.654501901976287, 0.266165173316673, -0.188046971618553],
     [-0.436573728908159, 0.020210813412019, -0.192879401172909, -0.005898744683409,
      0.049923101598368, 0.119314860020476, 0.171491650795117, -0.177930251928366]),
    ('RAdam', {'lr': 0.05, 'betas': (0.5, 0.6), 'weight_decay': 0.1,
     'decoupled_weight_decay': True},
     [-0.842294586364362, -0.40199636256891, -0.249161315870982, 0.081969652982407,
      0.38193303843041, 0.654501901976287, 0.266165173316673, -0.188046971618553],
     [-0.437816531833878, 0.018974248228325, -0.193170227350211, -0.005769294956736,
      0.050791740204038, 0.12072496310351, 0.171787662825029, -0.177946386377613]),
    ('ASGD', {},
     [-0.969457917955541, -0.56099867338553, -0.210032062949962, 0.176593731119652,
      0.55698600864752, 0.931899381917425, 0.293532734807889, -0.197809194372679],
     [-0.840109438037003, -0.401597741290225, -0.239620161066668, 0.092787131110562,
      0.390853772042037, 0.66830765710099, 0.266207756463179, -0.189124220030868]),
    ('ASGD', {'lr': 0.05, 'lambd': 0.1, 'alpha': 0.5, 't0': 2, 'weight_decay': 0.1},
     [-0.837294583939863, -0.398996359573722, -0.248161316588642, 0.080969651208716,
      0.378933035136255, 0.649501896753459, 0.264665172790143, -0.187046971425538],
     [-0.468216753625586, -0.035703419649206, -0.172837134922848, 0.028276099258485,
      0.11079024572414, 0.213408765965653, 0.171949555432032, -0.185615248674413]),
    ('Rprop', {},
     [-0.99, -0.59, -0.21, 0.19, 0.59, 0.99, 0.29, -0.19],
     [-0.9007008, -0.5007008, -0.2992992, 0.1007008, 0.5007008, 0.9007008, 0.2007008, -0.1708]),
    ('Rprop', {'lr': 0.05, 'etas': (0.3, 1.5), 'step_sizes': (0.01, 0.08), 'maximize': True},
     [-1.05, -0.65, -0.15, 0.25, 0.65, 1.05, 0.35, -0.25],
     [-1.445, -1.045, 0.245, 0.645, 1.045, 1.445, 0.745, -0.645]),
    ('Adafactor', {},
     [-0.992319094737928, -0.593568411628265, -0.204907903169309, 0.192491674151788,
      0.593347163986738, 0.993093383153555, 0.297450490243204, -0.197450490243204],
     [-0.955161351106248, -0.562572347175273, -0.227276781965658, 0.156417130586361,
      0.56162801946707, 0.959845297053395, 0.28551259910906, -0.186298741263723]),
    ('Adafactor', {'lr': 0.05, 'beta2_decay': -0.5, 'eps': (1e-05, 0.01), 'd': 1.5,
     'weight_decay': 0.1},
     [-0.956595473689641, -0.564842058141324, -0.223539515846547, 0.16145837075894,
      0.56373581993369, 0.960466915767776, 0.285752451216018, -0.186252451216018],
     [-0.770552911599069, -0.417688889849629, -0.289865855065337, 0.004187603893067,
      0.418682631935041, 0.794205630104569, 0.231602110359451, -0.160731123669391]),
    ('Adafactor', {'lr': 0.5, 'maximize': True},
     [-1.384045263103588, -0.921579418586763, 0.045395158465474, 0.575416292410602,
      0.932641800663104, 1.345330842322243, 0.42747548783982, -0.32747548783982],
     [-6.452266832737409, -6.57419860389697, 6.145772110608497, 5.821019440334986,
      6.578964640237214, 6.789749809294118, 2.644600684874071, -2.571854373245747]),
]

# float32 parameters and state (step, eta, mu, mu_product are float32 in PyTorch): after 6
F32 = [
    ('NAdam', {}, [-0.9903852939605713, -0.5903920531272888, -0.20953193306922913,
     0.1903933733701706, 0.5904088616371155, 0.9903926849365234, 0.29056403040885925,
     -0.19092635810375214]),
    ('ASGD', {'lr': 0.05, 'lambd': 0.1, 't0': 2}, [-0.48305708169937134, -0.03843555226922035,
     -0.18023385107517242, 0.026466427370905876, 0.1120741218328476, 0.2182517647743225,
     0.1772722750902176, -0.1872233897447586]),
    ('Adafactor', {}, [-0.9551613330841064, -0.5625723600387573, -0.2272767871618271,
     0.1564171463251114, 0.5616281032562256, 0.959845244884491, 0.28551265597343445,
     -0.18629874289035797]),
    ('Rprop', {}, [-0.9007008075714111, -0.500700831413269, -0.2992992401123047,
     0.10070080310106277, 0.500700831413269, 0.9007008075714111, 0.2007008194923401,
     -0.17080000042915344]),
]

# PyTorch's state keys for the matrix w and the vector b after one step
STATE_KEYS = {
    'Adadelta': (['acc_delta', 'square_avg', 'step'], ['acc_delta', 'square_avg', 'step']),
    'Adamax': (['exp_avg', 'exp_inf', 'step'], ['exp_avg', 'exp_inf', 'step']),
    'NAdam': (['exp_avg', 'exp_avg_sq', 'mu_product', 'step'], ['exp_avg', 'exp_avg_sq',
     'mu_product', 'step']),
    'RAdam': (['exp_avg', 'exp_avg_sq', 'step'], ['exp_avg', 'exp_avg_sq', 'step']),
    'ASGD': (['ax', 'eta', 'mu', 'step'], ['ax', 'eta', 'mu', 'step']),
    'Rprop': (['prev', 'step', 'step_size'], ['prev', 'step', 'step_size']),
    'Adafactor': (['col_var', 'row_var', 'step'], ['step', 'variance']),
}

# PyTorch's optimizer.defaults
DEFAULTS = {
    'Adadelta': {'lr': 1.0, 'rho': 0.9, 'eps': 1e-06, 'weight_decay': 0, 'maximize': False,
     'capturable': False, 'foreach': None, 'differentiable': False},
    'Adamax': {'lr': 0.002, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0, 'foreach': None,
     'maximize': False, 'differentiable': False, 'capturable': False},
    'NAdam': {'lr': 0.002, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0,
     'momentum_decay': 0.004, 'decoupled_weight_decay': False, 'maximize': False, 'foreach': None,
     'capturable': False, 'differentiable': False},
    'RAdam': {'lr': 0.001, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0,
     'maximize': False, 'foreach': None, 'capturable': False, 'decoupled_weight_decay': False,
     'differentiable': False},
    'ASGD': {'lr': 0.01, 'lambd': 0.0001, 'alpha': 0.75, 't0': 1000000.0, 'weight_decay': 0,
     'foreach': None, 'maximize': False, 'differentiable': False, 'capturable': False},
    'Rprop': {'lr': 0.01, 'etas': (0.5, 1.2), 'step_sizes': (1e-06, 50), 'foreach': None,
     'maximize': False, 'differentiable': False, 'capturable': False},
    'Adafactor': {'lr': 0.01, 'beta2_decay': -0.8, 'eps': (None, 0.001), 'd': 1.0,
     'weight_decay': 0.0, 'foreach': None, 'maximize': False},
}


@pytest.mark.parametrize("name,kw,first,last", TORCH, ids=lambda v: v if isinstance(v, str)
                         else None)
def test_trajectory_matches_pytorch(name, kw, first, last):
    traj, _ = run(name, kw)
    np.testing.assert_allclose(traj[0], first, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(traj[-1], last, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name,kw,last", F32, ids=[c[0] for c in F32])
def test_float32_trajectory_matches_pytorch(name, kw, last):
    traj, opt = run(name, kw, torch.float32)
    np.testing.assert_allclose(traj[-1], last, rtol=1e-6, atol=1e-7)
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert state["step"].dtype == torch.float32 and state["step"].item() == 6.0


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_defaults_and_state_keys(name):
    opt = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)])
    assert opt.defaults == DEFAULTS[name]
    _, opt = run(name, {}, steps=1)
    w, b = opt.param_groups[0]["params"]
    assert (sorted(opt.state[w]), sorted(opt.state[b])) == STATE_KEYS[name]


# PyTorch's load_state_dict casts floating state other than `step` to the parameter's dtype, so
# NAdam's float32 mu_product comes back float64 and the resumed run differs from an unbroken one
# by ~1e-10 (printed by PyTorch 2.13: 3 steps, state_dict, new optimizer, 3 more steps)
RESUMED_NADAM = [-0.772783799106558, -0.372739911858171, -0.344339846087601, -0.017223018702868,
                 0.387599386936566, 0.776554890039258, 0.210150411393324, -0.162785307312267]


@pytest.mark.parametrize("name,kw", [(c[0], c[1]) for c in TORCH[1::2]])
def test_state_dict_resumes_the_trajectory(name, kw):
    full, _ = run(name, kw, steps=6)
    w, b = problem()
    _, opt = run(name, kw, steps=3, params=(w, b))
    saved = opt.state_dict()
    fresh = getattr(torch.optim, name)([w, b], **kw)
    fresh.load_state_dict(saved)
    assert fresh.state[w]["step"].dtype == torch.float32
    rest, _ = run(name, kw, steps=3, opt=fresh, params=(w, b))
    if name == "NAdam":
        assert fresh.state[w]["mu_product"].dtype == torch.float64
        assert not np.allclose(full[-1], RESUMED_NADAM, rtol=1e-13, atol=1e-14)
        full[-1] = RESUMED_NADAM
    np.testing.assert_allclose(rest[-1], full[-1], rtol=1e-13, atol=1e-14)


# NumPy references written from the pseudo-code in PyTorch's docs ------------------------------
def numpy_run(update, steps=6):
    w, b = np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.3, -0.2])
    states = [{}, {}]
    for t in range(1, steps + 1):
        r = 2 * (A @ w + b - Y)
        grads = [A.T @ r, r.sum(0)]
        w, b = (update(p, g, s, t) for p, g, s in zip((w, b), grads, states))
    return np.concatenate([w.ravel(), b])


def adamax_rule(lr=2e-3, b1=0.9, b2=0.999, eps=1e-8):
    def update(p, g, s, t):
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g) + eps)
        return p - lr / (1 - b1 ** t) * s["m"] / s["u"]
    return update


def adadelta_rule(lr=1.0, rho=0.9, eps=1e-6):
    def update(p, g, s, t):
        s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
        delta = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
        s["u"] = rho * s.get("u", 0) + (1 - rho) * delta * delta
        return p - lr * delta
    return update


def rprop_rule(lr=0.01, etas=(0.5, 1.2), sizes=(1e-6, 50)):
    def update(p, g, s, t):
        prev, size = s.get("prev", np.zeros_like(g)), s.get("size", np.full_like(g, lr))
        prod = g * prev
        size = np.clip(size * np.where(prod > 0, etas[1], np.where(prod < 0, etas[0], 1.0)),
                       *sizes)
        g = np.where(prod < 0, 0.0, g)
        s["prev"], s["size"] = g, size
        return p - np.sign(g) * size
    return update


def radam_rule(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    rho_inf = 2 / (1 - b2) - 1

    def update(p, g, s, t):
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t <= 5:
            return p - lr * m_hat
        l_t = np.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + eps)
        r_t = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2)
                                                             * rho_t))
        return p - lr * m_hat * l_t * r_t
    return update


@pytest.mark.parametrize("name,rule,kw", [
    ("Adamax", adamax_rule(), {}), ("Adadelta", adadelta_rule(), {}),
    ("Rprop", rprop_rule(), {}), ("RAdam", radam_rule(), {}),
    ("RAdam", radam_rule(lr=0.05, b1=0.5, b2=0.6), dict(lr=0.05, betas=(0.5, 0.6))),
    ("Adamax", adamax_rule(0.05, 0.8, 0.9, 1e-3), dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3)),
])
def test_matches_documented_rule(name, rule, kw):
    np.testing.assert_allclose(run(name, kw)[0][-1], numpy_run(rule), rtol=1e-12, atol=1e-13)


def test_optimizers_minimize():
    design = np.hstack([A, np.ones((4, 1))])
    best = ((design @ np.linalg.lstsq(design, Y, rcond=None)[0] - Y) ** 2).sum()
    for name, kw in [("Adadelta", dict(eps=1e-3)), ("Adamax", dict(lr=0.05)),
                     ("NAdam", dict(lr=0.05)), ("RAdam", dict(lr=0.05)), ("ASGD", dict(lr=0.02)),
                     ("Rprop", {}), ("Adafactor", dict(lr=0.05))]:
        w, b = problem()
        start = loss_of(w, b).item()
        run(name, kw, steps=60, params=(w, b))
        assert loss_of(w, b).item() - best < 0.1 * (start - best), name


def test_argument_errors_and_refusals():
    p = [torch.zeros(2, requires_grad=True)]
    cases = [
        (lambda: torch.optim.Adadelta(p, lr=-1), "Invalid learning rate: -1"),
        (lambda: torch.optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
        (lambda: torch.optim.Adamax(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1"),
        (lambda: torch.optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value: -1"),
        (lambda: torch.optim.RAdam(p, eps=-1), "Invalid epsilon value: -1"),
        (lambda: torch.optim.ASGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda: torch.optim.Rprop(p, etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
        (lambda: torch.optim.Adafactor(p, beta2_decay=0.5),
         "beta2_decay should be <= 0 but is: 0.5"),
        (lambda: torch.optim.Adafactor(p, d=0.5), "Clipping threshold d should be >= 1"),
        (lambda: torch.optim.Adafactor(p, lr=-1), "Learning rate should be >= 0 but is: -1"),
        (lambda: torch.optim.Adafactor(p, eps=(-1, 1e-3)), "epsilon1 should be >= 0"),
        (lambda: torch.optim.NAdam(p, lr=torch.tensor([0.1, 0.2])),
         "Tensor lr must be 1-element"),
        (lambda: torch.optim.RAdam(p, differentiable=True), "differentiable=True is not "
                                                            "supported"),
        (lambda: torch.optim.ASGD(p, capturable=True), "capturable=True"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    assert not hasattr(torch.optim, "SparseAdam")  # no sparse gradients in dualgraph


def test_tensor_lr_and_param_groups():
    name, kw, _, last = TORCH[5]  # NAdam with lr=0.05
    traj, _ = run(name, {**kw, "lr": torch.tensor(0.05, dtype=torch.float64)})
    np.testing.assert_allclose(traj[-1], last, rtol=1e-13, atol=1e-14)
    w, b = problem()
    opt = torch.optim.Rprop([{"params": [w]}, {"params": [b], "lr": 0.05}])
    loss_of(w, b).backward()
    opt.step()
    assert np.allclose(np.abs(np.array(b.tolist()) - [0.3, -0.2]), 0.05)
    assert np.allclose(np.abs(np.array(w.tolist()) - np.linspace(-1, 1, 6).reshape(3, 2)), 0.01)
