"""`dg.utils.tensorboard`: TensorBoard event files from dualgraph, as `torch.utils.tensorboard`.

Needs the `tensorboard` extra (`pip install "dualgraph[tensorboard]"`): the event protos and
the event file writer are TensorBoard's own, and Pillow encodes images. See docs/TENSORBOARD.md.
"""

try:
    import tensorboard  # noqa: F401
except ImportError:
    raise ImportError("dualgraph.utils.tensorboard needs the `tensorboard` package; install it "
                      "with: pip install 'dualgraph[tensorboard]'") from None

from .writer import FileWriter, SummaryWriter  # noqa: E402

__all__ = ["SummaryWriter", "FileWriter"]
