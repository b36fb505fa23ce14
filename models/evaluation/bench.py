"""Model-only CPU/GPU speed and bf16 accuracy bench. Prints figures; asserts nothing.

    python -m models.evaluation.bench [--checkpoint models/checkpoints/nafunet.pt] [--sizes 256,512,1024]

For each size: megapixels per second for fp32 and bf16 autocast, contiguous and channels_last;
then how far bf16 output drifts from fp32 on synthetic blurred text (PSNR of bf16 vs fp32,
and PSNR of each vs the sharp target), so the faster mode is only chosen if it is accurate.
Run it with the allocator the server uses (``make bench`` sets LD_PRELOAD to tcmalloc).
"""
import argparse
import os
import time

import torch

from models import DEFAULT_MODEL, build_model, default_checkpoint, load_checkpoint
from models.data.synth import SynthConfig, make_batch
from models.evaluation.metrics import psnr


def load(args, device):
    path = args.checkpoint or default_checkpoint(args.model)
    if os.path.exists(path):
        return load_checkpoint(path, device), str(path)
    return build_model(args.model).to(device).eval(), "random weights (no checkpoint: speed does not depend on weights)"


@torch.no_grad()
def run(model, x, sigma, bf16):
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        return model(x, sigma).float()


def megapixels_per_second(model, x, sigma, bf16, repeats):
    run(model, x, sigma, bf16)  # warm-up
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(model, x, sigma, bf16)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return x.shape[-1] * x.shape[-2] / 1e6 / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model, source = load(args, device)
    print(f"model {args.model}: {source}; device {device}, torch threads {torch.get_num_threads()}, "
          f"LD_PRELOAD={os.environ.get('LD_PRELOAD', '-')}")
    print(f"{'size':>10} {'fp32':>8} {'fp32 cl':>8} {'bf16':>8} {'bf16 cl':>8}   (megapixels/s, best of {args.repeats})")
    sigma = torch.tensor([2.0], device=device)
    for size in (int(s) for s in args.sizes.split(",")):
        x = torch.rand(1, 3, size, size, device=device)
        figures = []
        for channels_last in (False, True):
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            m, xx = model.to(memory_format=fmt), x.to(memory_format=fmt)
            figures += [(channels_last, bf16, megapixels_per_second(m, xx, sigma, bf16, args.repeats))
                        for bf16 in (False, True)]
        ordered = [f for cl in (False, True) for f in figures if f[0] == cl]
        print(f"{size:>4}x{size:<5} " + " ".join(f"{mp:8.2f}" for _, _, mp in ordered))
    model = model.to(memory_format=torch.contiguous_format)

    blurred, sharp, sigma = make_batch(12345, 0, 32, SynthConfig(patch=128, p_sharp=0.0))
    blurred, sharp, sigma = blurred.to(device), sharp.to(device), sigma.to(device)
    fp32 = run(model, blurred, sigma, False).clamp(0, 1)
    bf16 = run(model, blurred, sigma, True).clamp(0, 1)
    print(f"bf16 vs fp32 output: PSNR {psnr(bf16, fp32).mean().item():.2f} dB; vs sharp: fp32 "
          f"{psnr(fp32, sharp).mean().item():.2f} dB, bf16 {psnr(bf16, sharp).mean().item():.2f} dB, "
          f"input {psnr(blurred, sharp).mean().item():.2f} dB (32 synthetic 128^2 patches)")


if __name__ == "__main__":
    main()
