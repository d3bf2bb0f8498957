"""The layers of `dg.nn`."""

from .activation import (ELU, GELU, Identity, LeakyReLU, LogSigmoid, LogSoftmax, ReLU, SiLU,
                         Sigmoid, Softmax, Softplus, Tanh)
from .container import ModuleDict, ModuleList, Sequential
from .dropout import Dropout
from .flatten import Flatten
from .linear import Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, L1Loss, MSELoss,
                   NLLLoss, SmoothL1Loss)
