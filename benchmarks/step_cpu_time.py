"""CPU time of one training step (forward, backward, Adam) of a preset on ONE core: the engine in
one process against PyTorch with one thread, in alternating rounds, medians of CPU time
(``time.process_time``), so that the figure holds on a machine other programs are loading.

    python benchmarks/step_cpu_time.py [--preset vgg-small] [--batch 64] [--rounds 12]
                                       [--steps 3] [--layers] [--json]

``--layers`` adds the engine's forward and backward time per layer (medians; the layers then run
one by one, without the ReLU-and-pooling folding of a training pass, and the step figure with
them).  Set
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 in the environment as well (the
script limits both libraries itself, but a BLAS may read them at load time).
"""

import argparse
import json
import os
import statistics
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="vgg-small")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=3, help="steps per round")
    parser.add_argument("--layers", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import numpy as np

    from cnnviz.benchmark import torch_mirror
    from cnnviz.nn import Adam, SoftmaxCrossEntropy, build_preset
    from cnnviz.nn.threads import prepare_process

    prepare_process()
    import torch

    torch.set_num_threads(1)
    model = build_preset(args.preset, seed=0)
    model.layers[0].need_input_grad = False
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, *model.input_shape), dtype=np.float32)
    y = rng.integers(0, model.output_shape[0], args.batch)
    loss, opt = SoftmaxCrossEntropy(), Adam(lr=1e-3)
    net = torch_mirror(torch, model)
    topt = torch.optim.Adam(net.parameters(), lr=1e-3)
    tloss = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    clock = time.process_time
    per_layer = {"forward": [[] for _ in model.layers], "backward": [[] for _ in model.layers]}

    def numpy_step(record=False):
        if not record:  # as training runs it (a ReLU before max pooling folded into it)
            _, g = loss(model.forward(x, training=True), y)
            model.backward(g)
            opt.step(model.named_params(), model.named_grads())
            return
        h = x
        for i, layer in enumerate(model.layers):
            start = clock()
            h = layer.forward(h, True)
            if record:
                per_layer["forward"][i].append(clock() - start)
        _, g = loss(h, y)
        for i in reversed(range(len(model.layers))):
            start = clock()
            g = model.layers[i].backward(g)
            if record:
                per_layer["backward"][i].append(clock() - start)
        opt.step(model.named_params(), model.named_grads())

    def torch_step(record=False):
        topt.zero_grad(set_to_none=True)
        tloss(net(tx), ty).backward()
        topt.step()

    times = {"numpy": [], "torch": []}
    for r in range(args.rounds + 1):  # the first round warms up and is not counted
        for name, step in (("numpy", numpy_step), ("torch", torch_step)):
            step()
            start = clock()
            for _ in range(args.steps):
                step(record=args.layers and r > 0 and name == "numpy")
            if r:
                times[name].append((clock() - start) / args.steps)
    result = {"preset": args.preset, "batch": args.batch, "rounds": args.rounds,
              "numpy_step_s": statistics.median(times["numpy"]),
              "torch_step_s": statistics.median(times["torch"]),
              "torch": torch.__version__}
    result["ratio"] = result["numpy_step_s"] / result["torch_step_s"]
    if args.layers:
        result["layers"] = [{"layer": f"{i} {layer.kind}",
                             "forward_s": statistics.median(per_layer["forward"][i]),
                             "backward_s": statistics.median(per_layer["backward"][i])}
                            for i, layer in enumerate(model.layers)]
    if args.json:
        print(json.dumps(result))
        return 0
    if args.layers:
        for row in result["layers"]:
            print(f"{row['layer']:14s} forward {row['forward_s'] * 1e3:7.2f} ms   "
                  f"backward {row['backward_s'] * 1e3:7.2f} ms")
    print(f"{args.preset}, batch {args.batch}, Adam, one core (CPU time, median of "
          f"{args.rounds} alternating rounds of {args.steps} steps): numpy "
          f"{result['numpy_step_s'] * 1e3:.2f} ms, PyTorch {result['torch']} "
          f"{result['torch_step_s'] * 1e3:.2f} ms, time ratio numpy/torch {result['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
