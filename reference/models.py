"""PyTorch versions of the networks atx trains (docs/protocol.md §5), written from the formulas there.

A model is a list of named tensors (the official attention-transfer names, so an atx
checkpoint loads one to one) and a functional forward over dictionaries of those tensors:

    net = Network("wrn-16-1", in_channels=3, num_classes=10)
    logits, groups = net.forward(params, buffers, x, train=True)

`params` maps each learnable parameter name to a tensor; `buffers` maps BN running
statistics and is updated in place by a training-mode forward (momentum 0.1, unbiased
variance, as torch's batch norm does). `groups` are the three activations attention
transfer matches. Any floating dtype works; the fixtures use float64 and float32.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

BN_MOMENTUM = 0.1
BN_EPS = 1e-5

NIN_WIDE = [192, 160, 96, 192, 192, 192, 192, 192, 192]
NIN_THIN = [86, 72, 43, 86, 86, 86, 86, 86, 86]
NIN_KERNELS = [5, 1, 1, 5, 1, 1, 3, 1, 1]


@dataclass(frozen=True)
class Tensor:
    """One named tensor of a network. `kind` says how it is initialised and whether it is a
    learnable parameter: conv, conv_bias, bn_weight, bn_bias, fc_weight, fc_bias are
    parameters; running_mean, running_var are buffers."""

    name: str
    shape: tuple
    kind: str

    @property
    def is_buffer(self):
        return self.kind in ("running_mean", "running_var")

    @property
    def fan_in(self):
        n = 1
        for d in self.shape[1:]:
            n *= d
        return n


def _bn(name, channels):
    return [Tensor(name + ".weight", (channels,), "bn_weight"),
            Tensor(name + ".bias", (channels,), "bn_bias"),
            Tensor(name + ".running_mean", (channels,), "running_mean"),
            Tensor(name + ".running_var", (channels,), "running_var")]


RESNET_BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}
RESNET_WIDTHS = [64, 128, 256, 512]


class Network:
    """WRN-d-k (`wrn-D-K`), network-in-network (`nin-wide`, `nin-thin`, `-nobn` variants) or
    torchvision's ResNet-18/34 (`resnet-18`, `resnet-34`, torchvision's tensor names).

    `frozen_bn`: every BN layer uses and keeps its running statistics, in training too (Table 4's
    fine-tuning); `frozen_prefixes`: modules whose parameters get no gradient."""

    def __init__(self, name, in_channels=3, num_classes=10):
        self.name = name
        self.bn_momentum = BN_MOMENTUM
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.frozen_bn = False
        parts = name.split("-")
        if name in ("resnet-18", "resnet-34"):
            self.family = "resnet"
            self.blocks = RESNET_BLOCKS[int(parts[1])]
            self.tensors = self._resnet_tensors()
            return
        if len(parts) == 3 and parts[0] == "wrn":
            depth, k = int(parts[1]), int(parts[2])
            if depth < 10 or (depth - 4) % 6 != 0:
                raise ValueError(f"{name}: depth {depth} is not 6n+4")
            self.family = "wrn"
            self.blocks = (depth - 4) // 6
            self.widths = [16 * k, 32 * k, 64 * k]
        elif name in ("nin-wide", "nin-wide-nobn", "nin-thin", "nin-thin-nobn", "nin-thin-nobn-nopoolrelu", "nin-wide-nopoolrelu"):
            self.family = "nin"
            self.widths = NIN_WIDE if name.startswith("nin-wide") else NIN_THIN
            self.batch_norm = "-nobn" not in name
            # Table 3's networks have no ReLU after a block's last conv, the one before its pool.
            self.relu_before_pool = not name.endswith("-nopoolrelu")
        else:
            raise ValueError(f"unknown model {name}")
        self.tensors = self._wrn_tensors() if self.family == "wrn" else self._nin_tensors()

    # -- tensor lists ------------------------------------------------------------------

    def _wrn_tensors(self):
        out = [Tensor("conv0", (16, self.in_channels, 3, 3), "conv")]
        cin = 16
        for g, width in enumerate(self.widths):
            for b in range(self.blocks):
                base = f"group{g}.block{b}"
                ni = cin if b == 0 else width
                out.append(Tensor(base + ".conv0", (width, ni, 3, 3), "conv"))
                out.append(Tensor(base + ".conv1", (width, width, 3, 3), "conv"))
                out += _bn(base + ".bn0", ni)
                out += _bn(base + ".bn1", width)
                if ni != width:
                    out.append(Tensor(base + ".convdim", (width, ni, 1, 1), "conv"))
            cin = width
        out += _bn("bn", self.widths[2])
        out.append(Tensor("fc.weight", (self.num_classes, self.widths[2]), "fc_weight"))
        out.append(Tensor("fc.bias", (self.num_classes,), "fc_bias"))
        return out

    def _nin_tensors(self):
        out, cin = [], self.in_channels
        for i in range(9):
            base, cout, k = f"block{i // 3}", self.widths[i], NIN_KERNELS[i]
            out.append(Tensor(f"{base}.conv{i % 3}", (cout, cin, k, k), "conv"))
            if self.batch_norm:
                out += _bn(f"{base}.bn{i % 3}", cout)
            else:
                out.append(Tensor(f"{base}.conv{i % 3}.bias", (cout,), "conv_bias"))
            cin = cout
        out.append(Tensor("fc.weight", (self.num_classes, self.widths[8]), "fc_weight"))
        out.append(Tensor("fc.bias", (self.num_classes,), "fc_bias"))
        return out

    def _resnet_tensors(self):
        def bn(name, c):
            return [Tensor(name + ".weight", (c,), "bn_weight"), Tensor(name + ".bias", (c,), "bn_bias"),
                    Tensor(name + ".running_mean", (c,), "running_mean"), Tensor(name + ".running_var", (c,), "running_var")]
        out = [Tensor("conv1.weight", (64, self.in_channels, 7, 7), "conv")] + bn("bn1", 64)
        cin = 64
        for g, width in enumerate(RESNET_WIDTHS):
            for b in range(self.blocks[g]):
                base, stride = f"layer{g + 1}.{b}", (2 if b == 0 and g > 0 else 1)
                out.append(Tensor(base + ".conv1.weight", (width, cin, 3, 3), "conv"))
                out += bn(base + ".bn1", width)
                out.append(Tensor(base + ".conv2.weight", (width, width, 3, 3), "conv"))
                out += bn(base + ".bn2", width)
                if stride != 1 or cin != width:
                    out.append(Tensor(base + ".downsample.0.weight", (width, cin, 1, 1), "conv"))
                    out += bn(base + ".downsample.1", width)
                cin = width
        out.append(Tensor("fc.weight", (self.num_classes, cin), "fc_weight"))
        out.append(Tensor("fc.bias", (self.num_classes,), "fc_bias"))
        return out

    @property
    def parameter_names(self):
        return [t.name for t in self.tensors if not t.is_buffer]

    @property
    def buffer_names(self):
        return [t.name for t in self.tensors if t.is_buffer]

    @property
    def parameter_count(self):
        return sum(t.fan_in * t.shape[0] for t in self.tensors if not t.is_buffer)

    # -- forward -----------------------------------------------------------------------

    def forward(self, params, buffers, x, train):
        """Returns (logits, [group0, group1, group2])."""
        if self.family == "wrn":
            return self._wrn_forward(params, buffers, x, train)
        if self.family == "resnet":
            return self._resnet_forward(params, buffers, x, train)
        return self._nin_forward(params, buffers, x, train)

    def _batch_norm(self, params, buffers, name, x, train):
        return F.batch_norm(x, buffers[name + ".running_mean"], buffers[name + ".running_var"],
                            params[name + ".weight"], params[name + ".bias"],
                            training=train and not self.frozen_bn, momentum=self.bn_momentum, eps=BN_EPS)

    def _resnet_forward(self, p, buf, x, train):
        """torchvision's ResNet with basic blocks; the groups are layer1 … layer4's outputs."""
        def bn(name, t):
            return self._batch_norm(p, buf, name, t, train)

        x = F.max_pool2d(F.relu(bn("bn1", F.conv2d(x, p["conv1.weight"], stride=2, padding=3))), 3, 2, 1)
        groups = []
        for g in range(4):
            for b in range(self.blocks[g]):
                base, stride = f"layer{g + 1}.{b}", (2 if b == 0 and g > 0 else 1)
                y = F.relu(bn(base + ".bn1", F.conv2d(x, p[base + ".conv1.weight"], stride=stride, padding=1)))
                z = bn(base + ".bn2", F.conv2d(y, p[base + ".conv2.weight"], padding=1))
                if base + ".downsample.0.weight" in p:
                    x = bn(base + ".downsample.1", F.conv2d(x, p[base + ".downsample.0.weight"], stride=stride))
                x = F.relu(z + x)
            groups.append(x)
        return F.linear(x.mean((2, 3)), p["fc.weight"], p["fc.bias"]), groups

    def _wrn_forward(self, p, buf, x, train):
        def bn_relu(name, t):
            return F.relu(self._batch_norm(p, buf, name, t, train))

        x = F.conv2d(x, p["conv0"], padding=1)
        groups = []
        for g in range(3):
            for b in range(self.blocks):
                base, stride = f"group{g}.block{b}", (2 if b == 0 and g > 0 else 1)
                o1 = bn_relu(base + ".bn0", x)
                y = F.conv2d(o1, p[base + ".conv0"], stride=stride, padding=1)
                z = F.conv2d(bn_relu(base + ".bn1", y), p[base + ".conv1"], padding=1)
                if base + ".convdim" in p:
                    x = z + F.conv2d(o1, p[base + ".convdim"], stride=stride)
                else:
                    x = z + x
            groups.append(x)  # the raw residual sum, before the next BN-ReLU
        o = bn_relu("bn", x)
        pooled = F.avg_pool2d(o, o.shape[2], 1).flatten(1)
        return F.linear(pooled, p["fc.weight"], p["fc.bias"]), groups

    def _nin_forward(self, p, buf, x, train):
        groups = []
        for b in range(3):
            for j in range(3):
                name, k = f"block{b}.conv{j}", NIN_KERNELS[3 * b + j]
                x = F.conv2d(x, p[name], p.get(name + ".bias"), padding=k // 2)
                if j == 2 and not self.relu_before_pool:
                    groups.append(x)  # the last conv's own output, before its BN ("outputs of convolutional layers")
                if self.batch_norm:
                    x = self._batch_norm(p, buf, f"block{b}.bn{j}", x, train)
                if j < 2 or self.relu_before_pool:
                    x = F.relu(x)
            if self.relu_before_pool:
                groups.append(x)  # after the block's last ReLU, before its pool
            if b == 0:
                x = F.max_pool2d(x, 3, 2, 1)
            elif b == 1:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            else:
                x = x.mean((2, 3))
        return F.linear(x, p["fc.weight"], p["fc.bias"]), groups
