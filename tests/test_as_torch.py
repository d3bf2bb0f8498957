"""`dualgraph as-torch`: an unmodified PyTorch script runs on dualgraph through an import hook
that only that command installs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dualgraph


def _run(tmp_path, source: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "dualgraph.cli", "as-torch", str(script), *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_a_pytorch_script_runs_unmodified(tmp_path):
    out = _run(tmp_path, """
        import sys
        import torch
        import torch.nn as nn
        from torch.autograd import Variable
        x = Variable(torch.ones(3, 4), requires_grad=True)
        z = torch.mean((x + 2).pow(3))
        z.backward()
        print(z)
        print(x.grad[0])
        print(torch.__name__, nn.__name__, sys.argv[1:])
    """, "--flag", "7")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "tensor(27., grad_fn=<MeanBackward0>)", "tensor([2.2500, 2.2500, 2.2500, 2.2500])",
        "dualgraph dualgraph.nn ['--flag', '7']"]


def test_missing_names_and_modules_are_named(tmp_path):
    out = _run(tmp_path, "import torch.fancy_missing_module\n")
    assert out.returncode != 0 and "dualgraph has no module 'dualgraph.fancy_missing_module'" \
        in out.stderr
    out = _run(tmp_path, "import torch\ntorch.fancy_missing_function()\n")
    assert out.returncode != 0
    assert "dualgraph does not implement torch.fancy_missing_function" in out.stderr


def test_importing_dualgraph_installs_no_hook():
    assert not any(type(f).__name__ == "TorchAliasFinder" for f in sys.meta_path)
    assert dualgraph.__name__ == "dualgraph"
