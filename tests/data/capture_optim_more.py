"""Prints the reference numbers in tests/test_optim_more.py from PyTorch 2.13 (run once with a
Python that has torch; not a test). The resumed-NAdam numbers come from the same problem: 3 steps,
state_dict, a new optimizer, load_state_dict, 3 more steps."""
import numpy as np, torch
A = torch.tensor(np.sin(np.arange(12) * 0.9 + 0.2).reshape(4, 3))
Y = torch.tensor(np.cos(np.arange(8) * 0.5).reshape(4, 2))
CASES = [
 ("Adadelta", {}), ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
 ("Adamax", {}), ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1)),
 ("NAdam", {}), ("NAdam", dict(lr=0.05, momentum_decay=0.1, weight_decay=0.1)),
 ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
 ("RAdam", {}), ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1)),
 ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1, decoupled_weight_decay=True)),
 ("ASGD", {}), ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=2, weight_decay=0.1)),
 ("Rprop", {}), ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(0.01, 0.08), maximize=True)),
 ("Adafactor", {}), ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-5, 1e-2), d=1.5, weight_decay=0.1)),
 ("Adafactor", dict(lr=0.5, maximize=True)),
]
def run(name, kw, dtype=torch.float64, steps=6):
    w = torch.tensor(np.linspace(-1, 1, 6).reshape(3, 2), dtype=dtype, requires_grad=True)
    b = torch.tensor([0.3, -0.2], dtype=dtype, requires_grad=True)
    opt = getattr(torch.optim, name)([w, b], **kw)
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((A.to(dtype) @ w + b - Y.to(dtype)) ** 2).sum()
        loss.backward()
        opt.step()
        traj.append([float(v) for v in torch.cat([w.detach().flatten(), b.detach()]).tolist()])
    st = opt.state[w]
    return traj, sorted(st), opt
print("TORCH = [")
for name, kw in CASES:
    traj, keys, opt = run(name, kw)
    print(f"    ({name!r}, {kw!r},")
    print(f"     {[round(v, 15) for v in traj[0]]!r},")
    print(f"     {[round(v, 15) for v in traj[-1]]!r}),")
print("]")
print("STATE_KEYS = {")
for name in ["Adadelta","Adamax","NAdam","RAdam","ASGD","Rprop","Adafactor"]:
    _, keys, opt = run(name, {}, steps=1)
    st = opt.state[opt.param_groups[0]["params"][1]]
    print(f"    {name!r}: ({keys!r}, {sorted(st)!r}),")
print("}")
print("F32 = [")
for name, kw in [("NAdam", {}), ("ASGD", dict(lr=0.05, lambd=0.1, t0=2)), ("Adafactor", {}), ("Rprop", {})]:
    traj, _, _ = run(name, kw, torch.float32)
    print(f"    ({name!r}, {kw!r}, {[float(np.float32(v)) for v in traj[-1]]!r}),")
print("]")
print("DEFAULTS = {")
for name in ["Adadelta","Adamax","NAdam","RAdam","ASGD","Rprop","Adafactor"]:
    opt = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)])
    print(f"    {name!r}: {opt.defaults!r},")
print("}")

# the resumed runs (RESUMED_NADAM in the test; ASGD resumes exactly)
for name, kw in [("NAdam", dict(lr=0.05, momentum_decay=0.1, weight_decay=0.1)), ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=2, weight_decay=0.1))]:
    w = torch.tensor(np.linspace(-1, 1, 6).reshape(3, 2), requires_grad=True)
    b = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([w, b], **kw)
    for i in range(6):
        if i == 3:
            sd = opt.state_dict(); opt = getattr(torch.optim, name)([w, b], **kw); opt.load_state_dict(sd)
            print(name, {k: v.dtype for k, v in opt.state[w].items()})
        opt.zero_grad(); ((A @ w + b - Y) ** 2).sum().backward(); opt.step()
    print([round(float(v), 15) for v in torch.cat([w.detach().flatten(), b.detach()]).tolist()])
