"""`dg.nn`: modules, layers, losses, initializers (PyTorch's torch.nn API)."""

from . import functional, init, utils
from .module import Module
from .modules import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, ELU, Flatten, GELU,
                      Identity, KLDivLoss, L1Loss, LeakyReLU, Linear, LogSigmoid, LogSoftmax,
                      ModuleDict, ModuleList, MSELoss, NLLLoss, ReLU, Sequential, SiLU, Sigmoid,
                      SmoothL1Loss, Softmax, Softplus, Tanh)
from .modules import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Bilinear, Conv1d,
                      Conv2d, ConvTranspose2d, Embedding, GroupNorm, LayerNorm, MaxPool2d, RMSNorm)
from .modules import SyncBatchNorm
from .modules import (GRU, LSTM, RNN, GRUCell, LSTMCell, MultiheadAttention, RNNBase, RNNCell,
                      RNNCellBase, TransformerEncoderLayer)
from .modules import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                      TransformerEncoder)
from .modules import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d,
                      ConstantPad3d, CosineSimilarity, ReflectionPad1d, ReflectionPad2d,
                      ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                      Upsample, UpsamplingBilinear2d, UpsamplingNearest2d, ZeroPad1d, ZeroPad2d,
                      ZeroPad3d)
from .parameter import Parameter
from . import parallel
from .parallel import DataParallel
