#!/usr/bin/env python3
"""Writes the reference fixtures the Swift tests check atx against (`make fixtures`).

Each case is computed from the formulas of docs/protocol.md in float64 and stored as float32. Weights
are not stored: they come from the counter-based generator of weights.py, which the tests
reimplement; what is stored is the input batch, its labels, the teachers' BN running
statistics (calibrated, so eval mode differs from train mode) and every expected value.
Before a case is written, the same computation in float32 must agree with the float64 one
(relative error below 1e-5 on forward values and 1e-4 on gradients); otherwise the case is
re-seeded (seed + 1000) until it does.

Usage: make_fixtures.py [--out DIR] [--only NAME ...]
"""

import argparse
import json
import os
import struct
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weights  # noqa: E402
from models import Network  # noqa: E402

HYPER = {  # docs/protocol.md defaults (β of F-ActT and of the gradient methods are atx's assumptions)
    "ce": {},
    "at": {"beta": 1000.0},
    "kd": {"temperature": 4.0, "alpha": 0.9},
    "at+kd": {"beta": 1000.0, "temperature": 4.0, "alpha": 0.9},
    "factt": {"beta": 1000.0},
    "grad-at": {"beta": 2000.0},
    "min-l2": {"beta": 2000.0},
    "symmetry": {"beta": 2000.0},
}
SPATIAL = 32
CALIBRATION_BATCH = 8
RESEED_STEP = 1000
MAX_ATTEMPTS = 20
FORWARD_TOLERANCE = 1e-5   # float32 vs float64, max |a − b| / max |b|
GRADIENT_TOLERANCE = 1e-4  # float32 vs float64, ‖a − b‖ / ‖b‖
TERM_SHARE_MIN = 1e-2      # a transfer term must move the gradient by at least this much


@dataclass(frozen=True)
class Case:
    student: str
    method: str
    teacher: str = ""
    mapping: str = "sum2"
    batch: int = 2
    in_channels: int = 3
    seed: int = 1
    groups: bool = False  # store the full group outputs (large) besides the attention maps
    beta: float = None    # overrides the method's default β
    spatial: int = SPATIAL
    num_classes: int = 10
    at_groups: tuple = None  # AT on these 0-based groups only (None: all)
    fine_tuning: bool = False  # Table 4's freezing: every BN fixed, the stem and the first group frozen
    sampled: bool = False  # gradients above FULL_GRADIENT_MAX elements as a sample and the norm (ResNets)
    kd_form: str = None    # KD's form: "2017" (a28b02e) or "2018" (4133ac5); None: 2018, written before forms existed

    @property
    def hyper(self):
        h = dict(HYPER[self.method])
        if self.beta is not None:
            h["beta"] = self.beta
        return h

    @property
    def form(self):
        return self.kd_form or "2018"

    @property
    def file_name(self):
        tag = {"at+kd": "atkd"}.get(self.method, self.method)
        if self.mapping != "sum2":
            tag += "-" + self.mapping
        if self.kd_form is not None:
            tag += "-" + self.kd_form
        return f"{self.student}_{tag}" + (f"_{self.teacher}" if self.teacher else "") + ".safetensors"


# Every model, method and mapping the tests need; odd batches, 1-channel inputs, teachers
# of other depths and widths. Students are the small models (their gradients are stored).
CASES = [
    Case("wrn-16-1", "ce", batch=2, in_channels=1, seed=1, groups=True),
    Case("wrn-16-1", "at", "wrn-16-2", batch=3, seed=2),
    Case("wrn-16-1", "at", "wrn-16-2", mapping="sum4", batch=2, in_channels=1, seed=4),
    Case("wrn-16-1", "at", "wrn-40-2", mapping="max1", batch=2, seed=5),
    Case("wrn-16-1", "at+kd", "wrn-40-1", mapping="sum1", batch=5, seed=6),
    # β_F = 1000 moves the student's gradient by only ~3 %; a larger β makes the check bite.
    Case("wrn-16-1", "factt", "wrn-40-2", batch=2, seed=7, beta=30000.0),
    Case("nin-thin", "kd", "nin-wide", batch=3, seed=8),
    Case("nin-thin-nobn", "grad-at", "nin-wide", batch=3, seed=10),
    Case("nin-thin-nobn", "min-l2", batch=2, in_channels=1, seed=11, groups=True),
    Case("nin-thin-nobn", "symmetry", batch=3, seed=12),
    # Table 4: fine-tuning with frozen BN, stem and layer1; AT on layer3 and layer4. Every BN is in
    # eval mode, so 64×64 with batch 2 is well conditioned (train-mode BN at layer4's 2×2 is not).
    Case("resnet-18", "at", "resnet-34", batch=2, seed=13, groups=True, spatial=64, num_classes=5,
         at_groups=(2, 3), fine_tuning=True, sampled=True),
    # KD as the code of January 2017 computed it (the paper grids' default), beside the 2018 cases above.
    Case("nin-thin", "kd", "nin-wide", batch=3, seed=8, kd_form="2017"),
    Case("wrn-16-1", "at+kd", "wrn-40-1", mapping="sum1", batch=5, seed=6, kd_form="2017"),
    # Table 3's networks: no ReLU before pooling; activation-based AT on the conv outputs from the BN
    # teacher without it, the gradient methods and KD from the 1M NIN-wide.
    Case("nin-thin-nobn-nopoolrelu", "at", "nin-wide-nopoolrelu", batch=3, seed=14, groups=True),
    Case("nin-thin-nobn-nopoolrelu", "grad-at", "nin-wide", batch=2, seed=15),
    Case("nin-thin-nobn-nopoolrelu", "kd", "nin-wide", batch=2, in_channels=1, seed=16, kd_form="2017"),
]

FULL_GRADIENT_MAX = 4096  # larger gradients are stored as a sample of elements and their L2 norm
GRADIENT_SAMPLE = 256


def frozen(case, name):
    """True for a parameter Table 4's freezing fixes (BN affine parameters, the stem, layer1)."""
    if not case.fine_tuning:
        return False
    module = name.rsplit(".", 1)[0]
    is_bn = module.split(".")[-1].startswith("bn") or module.endswith("downsample.1")
    return is_bn or name.startswith(("conv1.", "bn1.", "layer1."))


def trainable(case, net):
    return [k for k in net.parameter_names if not frozen(case, k)]


# -- the computation -----------------------------------------------------------------------

def generated(net, role, seed):
    """float32 numpy arrays of every tensor of `net` from the counter-based generator."""
    return {t.name: weights.values(seed, f"{role}.{t.name}", t.kind, t.shape) for t in net.tensors}


def calibrate(net, params, seed, in_channels, spatial=SPATIAL):
    """The teacher's running statistics: the batch statistics of a calibration batch
    (a train-mode forward with momentum 1), computed in float64, rounded to float32."""
    x = torch.from_numpy(weights.values(seed, "calibration", "input", (CALIBRATION_BATCH, in_channels, spatial, spatial)))
    p = {k: torch.from_numpy(v).double() for k, v in params.items()}
    buffers = {k: torch.zeros(v.shape, dtype=torch.float64) if k.endswith("mean") else torch.ones(v.shape, dtype=torch.float64)
               for k, v in params.items() if k.endswith((".running_mean", ".running_var"))}
    net.bn_momentum = 1.0
    with torch.no_grad():
        net.forward(p, buffers, x.double(), train=True)
    net.bn_momentum = 0.1
    return {k: v.numpy().astype(np.float32) for k, v in buffers.items()}


def attention(a, mapping):
    """Per-sample L2-normalised attention map [B, H·W] of an activation [B, C, H, W]."""
    if mapping == "sum1":
        m = a.abs().sum(1)
    elif mapping == "sum2":
        m = a.pow(2).sum(1)
    elif mapping == "sum4":
        m = a.pow(4).sum(1)
    elif mapping == "max1":
        m = a.abs().amax(1)
    else:
        raise ValueError(mapping)
    return F.normalize(m.flatten(1), dim=1, eps=1e-12)


def at_loss(s_groups, t_groups, mapping, groups=None):
    chosen = range(len(s_groups)) if groups is None else groups
    return sum((attention(s_groups[g], mapping) - attention(t_groups[g], mapping)).pow(2).mean() for g in chosen)


def kd_loss(s, t, labels, temperature, alpha, form):
    """KD in its two published forms (docs/protocol.md §2). 2017: the official code at a28b02e,
    `F.kl_div(...) * (T*T * 2. * alpha)` with F.kl_div's then default mean over all B·K elements
    (spelled out: the sum over the elements divided by their number); 2018: 4133ac5, the KL summed
    and divided by the batch size."""
    log_p, q = F.log_softmax(s / temperature, 1), F.softmax(t / temperature, 1)
    if form == "2017":
        kl_term = F.kl_div(log_p, q, reduction="sum") / log_p.numel() * (temperature * temperature * 2.0 * alpha)
    else:
        kl = F.kl_div(log_p, q, reduction="sum") / s.shape[0]
        kl_term = alpha * temperature ** 2 * kl
    return kl_term + (1 - alpha) * F.cross_entropy(s, labels)


def factt_loss(s_groups, t_groups, adapters):
    total = 0
    for g, (s, t) in enumerate(zip(s_groups, t_groups)):
        if g in adapters:
            s = F.conv2d(s, adapters[g])
        total = total + (F.normalize(s.flatten(1), dim=1) - F.normalize(t.flatten(1), dim=1)).pow(2).mean()
    return total


class Setup:
    """The float32 data of one case and seed: weights, inputs, labels, teacher statistics."""

    def __init__(self, case, seed):
        self.case, self.seed = case, seed
        self.student = Network(case.student, case.in_channels, case.num_classes)
        self.teacher = Network(case.teacher, case.in_channels, case.num_classes) if case.teacher else None
        self.s_tensors = generated(self.student, "student", seed)
        if case.fine_tuning:
            # A pretrained network's statistics fit its activations: calibrate the student's too.
            self.s_tensors.update(calibrate(self.student, self.s_tensors, seed + 500, case.in_channels, case.spatial))
            self.student.frozen_bn = True
        self.t_tensors = {}
        if self.teacher:
            self.t_tensors = generated(self.teacher, "teacher", seed)
            self.t_tensors.update(calibrate(self.teacher, self.t_tensors, seed, case.in_channels, case.spatial))
        shape = (case.batch, case.in_channels, case.spatial, case.spatial)
        self.input = weights.values(seed, "input", "input", shape)
        self.labels = weights.labels(seed, case.batch, case.num_classes)
        self.adapters = {}
        if case.method == "factt":
            s_ch = self.group_channels(self.student)
            t_ch = self.group_channels(self.teacher)
            for g, (cs, ct) in enumerate(zip(s_ch, t_ch)):
                if cs != ct:
                    self.adapters[g] = weights.values(seed, f"adapter.{g}", "conv", (ct, cs, 1, 1))

    def group_channels(self, net):
        if net.family == "wrn":
            return net.widths
        return [net.widths[2], net.widths[5], net.widths[8]]


def compute(setup, dtype):
    """Every expected value of the case in `dtype`: {name: tensor} and the gradient-term share."""
    case = setup.case
    h = case.hyper

    def tensors(arrays):
        return {k: torch.from_numpy(v).to(dtype) for k, v in arrays.items()}

    s_all = tensors(setup.s_tensors)
    s_params = {k: s_all[k].requires_grad_(not frozen(case, k)) for k in setup.student.parameter_names}
    s_buffers = {k: s_all[k].clone() for k in setup.student.buffer_names}
    adapters = {g: torch.from_numpy(a).to(dtype).requires_grad_(True) for g, a in setup.adapters.items()}
    if setup.teacher:
        t_all = tensors(setup.t_tensors)
        t_params = {k: t_all[k] for k in setup.teacher.parameter_names}
        t_buffers = {k: t_all[k] for k in setup.teacher.buffer_names}
    x = torch.from_numpy(setup.input).to(dtype)
    labels = torch.from_numpy(setup.labels)
    out, parts = {}, {}
    extra = None  # the non-CE part of the loss, to measure its share of the gradient

    if case.method in ("grad-at", "min-l2", "symmetry"):
        xs = x.clone().requires_grad_(True)
        logits, groups = setup.student.forward(s_params, s_buffers, xs, train=True)
        ce = F.cross_entropy(logits, labels)
        j = torch.autograd.grad(ce, xs, create_graph=True)[0]
        if case.method == "grad-at":
            xt = x.clone().requires_grad_(True)
            t_logits, _ = setup.teacher.forward(t_params, t_buffers, xt, train=False)
            jt = torch.autograd.grad(F.cross_entropy(t_logits, labels), xt)[0]
            out["expected.teacher.logits"] = t_logits.detach()
            out["expected.teacher.input_grad"] = jt
            diff = j - jt
        elif case.method == "min-l2":
            diff = j
        else:
            xf = x.flip(3).requires_grad_(True)
            f_logits, _ = setup.student.forward(s_params, s_buffers, xf, train=True)
            jf = torch.autograd.grad(F.cross_entropy(f_logits, labels), xf, create_graph=True)[0]
            diff = j - jf.flip(3)
        penalty = diff.pow(2).sum()
        parts = {"ce": ce, "penalty": penalty}
        extra = h["beta"] / 2 * penalty
        loss = ce + extra
        out["expected.input_grad"] = j.detach()
    else:
        logits, groups = setup.student.forward(s_params, s_buffers, x, train=True)
        ce = F.cross_entropy(logits, labels)
        parts = {"ce": ce}
        loss = ce
        if setup.teacher:
            with torch.no_grad():
                t_logits, t_groups = setup.teacher.forward(t_params, t_buffers, x, train=False)
            out["expected.teacher.logits"] = t_logits
        if case.method == "at":
            parts["at"] = at_loss(groups, t_groups, case.mapping, case.at_groups)
            extra = h["beta"] * parts["at"]
            loss = ce + extra
        elif case.method == "kd":
            parts["kd"] = kd_loss(logits, t_logits, labels, h["temperature"], h["alpha"], case.form)
            extra = parts["kd"] - ce
            loss = parts["kd"]
        elif case.method == "at+kd":
            parts["kd"] = kd_loss(logits, t_logits, labels, h["temperature"], h["alpha"], case.form)
            parts["at"] = at_loss(groups, t_groups, case.mapping)
            extra = h["beta"] * parts["at"]
            loss = parts["kd"] + extra
        elif case.method == "factt":
            parts["factt"] = factt_loss(groups, t_groups, adapters)
            extra = h["beta"] * parts["factt"]
            loss = ce + extra

    leaves = [s_params[k] for k in trainable(case, setup.student)] + [adapters[g] for g in sorted(adapters)]
    names = [f"expected.grad.{k}" for k in trainable(case, setup.student)] + [f"expected.grad.adapter.{g}" for g in sorted(adapters)]
    grads = torch.autograd.grad(loss, leaves, retain_graph=extra is not None)
    share = None
    if extra is not None:
        # ‖∇ extra‖ / ‖∇ loss‖: how much an implementation that got the term wrong would miss.
        e_grads = torch.autograd.grad(extra, leaves, allow_unused=True)
        num = sum(float(g.pow(2).sum()) for g in e_grads if g is not None)
        den = sum(float(g.pow(2).sum()) for g in grads)
        share = (num / den) ** 0.5
    out.update({n: g for n, g in zip(names, grads)})
    out["expected.logits"] = logits.detach()
    for g, a in enumerate(groups):
        if case.groups:
            out[f"expected.group.{g}"] = a.detach()
        out[f"expected.attention.{g}"] = attention(a.detach(), case.mapping)
    for k, v in s_buffers.items():
        out[f"expected.student.{k}"] = v
    out["expected.loss"] = loss.detach().reshape(1)
    for k, v in parts.items():
        out[f"expected.loss.{k}"] = v.detach().reshape(1)
    return out, share


def conditioning(ref, f32):
    """Worst float32-vs-float64 errors: (forward, gradients, name of the worst tensor)."""
    worst_f, worst_g, where = 0.0, 0.0, ""
    for name, r in ref.items():
        a, r = f32[name].double(), r.double()
        if "grad" in name:
            err = float((a - r).norm() / max(float(r.norm()), 1e-300))
            if err / GRADIENT_TOLERANCE > max(worst_f / FORWARD_TOLERANCE, worst_g / GRADIENT_TOLERANCE):
                where = name
            worst_g = max(worst_g, err)
        else:
            err = float((a - r).abs().max() / max(float(r.abs().max()), 1e-300))
            if err / FORWARD_TOLERANCE > max(worst_f / FORWARD_TOLERANCE, worst_g / GRADIENT_TOLERANCE):
                where = name
            worst_f = max(worst_f, err)
    return worst_f, worst_g, where


# -- the file --------------------------------------------------------------------------------

def write_safetensors(path, floats, int64s, metadata):
    """A safetensors file with a deterministic layout: I64 tensors, then F32, each sorted by
    name; header keys sorted, padded with spaces to a multiple of 8 bytes."""
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for dtype, items in (("I64", int64s), ("F32", floats)):
        for name in sorted(items):
            data = np.ascontiguousarray(items[name], dtype="<i8" if dtype == "I64" else "<f4").tobytes()
            header[name] = {"dtype": dtype, "shape": list(np.shape(items[name])), "data_offsets": [offset, offset + len(data)]}
            chunks.append(data)
            offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def make(case, out_dir):
    seed = case.seed
    for attempt in range(MAX_ATTEMPTS):
        setup = Setup(case, seed)
        ref, share = compute(setup, torch.float64)
        f32, _ = compute(setup, torch.float32)
        worst_f, worst_g, where = conditioning(ref, f32)
        ok = worst_f < FORWARD_TOLERANCE and worst_g < GRADIENT_TOLERANCE
        print(f"  seed {seed}: float32 vs float64 forward {worst_f:.1e}, gradients {worst_g:.1e}"
              + (f", term share {share:.2f}" if share is not None else "")
              + ("" if ok else f"  (ill-conditioned at {where}: re-seeding)"), flush=True)
        if ok:
            break
        seed += RESEED_STEP
    else:
        raise SystemExit(f"{case.file_name}: no well-conditioned seed in {MAX_ATTEMPTS} attempts")
    if share is not None and share < TERM_SHARE_MIN:
        raise SystemExit(f"{case.file_name}: the {case.method} term moves the gradient by only {share:.1e}")

    floats = {k: v.numpy().astype(np.float32) for k, v in ref.items()}
    int64s = {"labels": setup.labels}
    for name in [k for k in floats if case.sampled and k.startswith("expected.grad.") and floats[k].size > FULL_GRADIENT_MAX]:
        # A large gradient: its L2 norm (float64) and a fixed sample of elements the generator picks.
        full = ref[name].flatten()
        index = (weights.raw_bits(seed, "sample." + name[len("expected.grad."):], GRADIENT_SAMPLE) % np.uint64(full.numel())).astype(np.int64)
        del floats[name]
        floats[name + ".sample"] = full[torch.from_numpy(index)].numpy().astype(np.float32)
        floats[name + ".norm"] = np.array([float(full.norm())], dtype=np.float32)
        int64s[name + ".index"] = index
    if case.fine_tuning:
        floats = {k: v for k, v in floats.items() if not k.startswith("expected.student.")} | {
            f"student.{k}": setup.s_tensors[k] for k in setup.student.buffer_names}   # calibrated, stored
        for k in setup.student.buffer_names:
            floats[f"expected.student.{k}"] = ref[f"expected.student.{k}"].numpy().astype(np.float32)
    floats["input"] = setup.input
    for k in setup.teacher.buffer_names if setup.teacher else []:
        floats[f"teacher.{k}"] = setup.t_tensors[k]
    metadata = {
        "student": case.student, "teacher": case.teacher, "method": case.method, "mapping": case.mapping,
        "in_channels": str(case.in_channels), "num_classes": str(case.num_classes),
        "student_params": str(setup.student.parameter_count),
        "teacher_params": str(setup.teacher.parameter_count if setup.teacher else 0),
        "seed": str(seed), "weights": "counter-v1", "generator": "reference/make_fixtures.py",
    }
    metadata.update({k: repr(v) for k, v in case.hyper.items()})
    if case.at_groups is not None:
        metadata["groups"] = ",".join(map(str, case.at_groups))
    if case.kd_form is not None:
        metadata["kd_form"] = case.kd_form
    if case.fine_tuning:
        metadata["freeze"] = "bn,stem,0"
    write_safetensors(os.path.join(out_dir, case.file_name), floats, int64s, metadata)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "fixtures"))
    parser.add_argument("--only", nargs="*", help="file names (or prefixes) of the cases to write")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    cases = [c for c in CASES if not args.only or any(c.file_name.startswith(o) for o in args.only)]
    for case in cases:
        print(case.file_name, flush=True)
        make(case, args.out)
    if not args.only:
        # The list the tests hold the folder to: every case listed must be there and checked.
        with open(os.path.join(args.out, "MANIFEST"), "w") as f:
            f.write("".join(c.file_name + "\n" for c in CASES))
    total = sum(os.path.getsize(os.path.join(args.out, c.file_name)) for c in CASES if os.path.exists(os.path.join(args.out, c.file_name)))
    print(f"{len(cases)} fixtures written to {args.out}; all fixtures {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
