"""A VGG-16-shaped network (138 million parameters, 3x224x224, 1,000 classes; random weights)
exported from PyTorch and opened by cnnviz: time to read and convert, to check against onnx's
reference evaluator (one image), one forward pass, and the peak memory; then the time from a new
input (a photo) to its prediction in the engine as the window computes it (the image converted
by the input contract and every layer's output kept, one BLAS thread), against PyTorch's forward
pass of the same network in the same run (one thread, and two), in alternating rounds.

    python benchmarks/onnx_vgg16.py [--file /tmp/vgg16.onnx] [--keep] [--json] [--rounds 3]
                                    [--window]

``--window`` also opens the file in the real window (offscreen, 1366x768) and times, with a
10 ms timer probing the GUI thread: opening it (read, self-check and first pass in the file
worker) and a new image's prediction (its pass in the worker thread), each with the longest
time the GUI thread did not answer.

Needs PyTorch (the exporter) and onnx. The export writes 553 MB (a file given with ``--file``
that exists already is used as it is).
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16(torch):
    nn = torch.nn
    layers, channels = [], 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True),
                         nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(4096, 1000)).eval()


def photo(seed: int = 0):
    """A 400x300 RGB picture (smooth colours and noise), as an opened image."""
    import numpy as np

    from cnnviz.data import LoadedImage
    from cnnviz.session import ImageInput

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:300, 0:400] / 300.0
    pixels = np.stack([np.sin(3 * xx + seed), np.cos(2 * yy), xx * yy], axis=-1)
    pixels = (pixels - pixels.min()) / np.ptp(pixels) * 200 + rng.random((300, 400, 3)) * 55
    return ImageInput(LoadedImage(pixels.astype(np.float32) / 255.0, "RGB", (400, 300),
                                  Path(f"photo{seed}.png")))


def input_to_prediction(converted, net, torch, rounds: int) -> dict:
    """Median times, in alternating rounds: a new photo to its trace and probabilities in the
    engine (as the window's worker computes it), and PyTorch's forward pass (1 and 2 threads)."""
    import statistics

    from cnnviz.nn.contract import default_contract
    from cnnviz.session import compute_trace

    model = converted.model
    contract = default_contract(model.input_shape, model.output_shape)  # as the file has none
    times = {"engine_input_to_prediction_s": [], "torch_forward_1_thread_s": [],
             "torch_forward_2_threads_s": []}
    before = torch.get_num_threads()
    for r in range(rounds):
        source = photo(r)
        started = time.perf_counter()
        trace = compute_trace(model.sharing_weights(), source, 0, 0, contract)
        times["engine_input_to_prediction_s"].append(time.perf_counter() - started)
        x = torch.from_numpy(trace.network_input[None].copy())
        for count, key in ((1, "torch_forward_1_thread_s"), (2, "torch_forward_2_threads_s")):
            torch.set_num_threads(count)
            with torch.no_grad():
                started = time.perf_counter()
                net(x)
                times[key].append(time.perf_counter() - started)
        torch.set_num_threads(before)
    figures = {key: statistics.median(values) for key, values in times.items()}
    figures["engine_over_torch_1_thread"] = (figures["engine_input_to_prediction_s"]
                                             / figures["torch_forward_1_thread_s"])
    return figures


def window_figures(path: Path) -> dict:
    """Open ``path`` in the real window (offscreen) and change its input once; the times and
    the GUI thread's longest silence."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))
    from PySide6.QtCore import QEventLoop, QTimer
    from screenshots import open_main_window

    scratch = Path(tempfile.mkdtemp(prefix="cnnviz-vgg16-"))
    window = open_main_window(str(scratch), (1366, 768))
    document = window.document
    last, gaps = [time.perf_counter()], []

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    probe = QTimer(interval=10)
    probe.timeout.connect(tick)
    probe.start()

    def wait(condition, timeout_s=300.0):
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not finish in time")
            loop = QEventLoop()
            QTimer.singleShot(10, loop.quit)
            loop.exec()

    def settle(seconds):
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    figures = {}
    gaps.clear()
    last[0] = started = time.perf_counter()
    if not window.open_network(path, ask=False):
        raise RuntimeError("the window did not open the network")
    wait(lambda: not document.computing)
    figures["window_open_s"] = time.perf_counter() - started
    figures["window_open_longest_gui_wait_s"] = max(gaps)
    settle(1.0)  # the views draw the first trace
    shown = []
    document.trace_changed.connect(lambda trace: shown.append(time.perf_counter()))
    pending = []
    document.trace_pending.connect(lambda on: pending.append((on, time.perf_counter())))
    gaps.clear()
    last[0] = started = time.perf_counter()
    document.set_image(photo(7))
    wait(lambda: bool(shown))
    figures["window_input_to_prediction_s"] = shown[0] - started
    settle(0.5)  # and the new one
    figures["window_input_longest_gui_wait_s"] = max(gaps)
    figures["window_progress_shown_after_s"] = next(
        (t - started for on, t in pending if on), float("nan"))
    probe.stop()
    window.close()
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", help="the .onnx file to write (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    parser.add_argument("--window", action="store_true", help="also time the real window")
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    from cnnviz.nn import onnx_io, threads

    threads.prepare_process()  # as the window and every command: one BLAS thread
    path = Path(args.file or tempfile.mktemp(suffix=".onnx"))
    torch.manual_seed(0)
    net = vgg16(torch)
    figures = {"load_before": os.getloadavg()[0]}
    reuse = args.file is not None and path.exists()
    started = time.perf_counter()
    if not reuse:
        torch.onnx.export(net, torch.rand(1, 3, 224, 224), str(path), dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "N"}})
        figures["export_s"] = time.perf_counter() - started
    figures["file_mb"] = path.stat().st_size / 1e6
    try:
        started = time.perf_counter()
        proto = onnx_io.read_proto(path)
        converted = onnx_io.convert(proto, path)
        figures["read_convert_s"] = time.perf_counter() - started
        started = time.perf_counter()
        figures["check_relative_difference"] = onnx_io.verify_import(proto, converted, path)
        figures["check_s"] = time.perf_counter() - started
        model = converted.model
        x = torch.rand(1, 3, 224, 224)
        started = time.perf_counter()
        out = model.forward(x.numpy())
        figures["forward_s"] = time.perf_counter() - started
        if not reuse:  # the file's weights are this run's
            with torch.no_grad():
                figures["max_difference_vs_torch"] = float(np.abs(out - net(x).numpy()).max())
        figures["params"] = model.param_count()
        del proto
        figures.update(input_to_prediction(converted, net, torch, args.rounds))
        if args.window:
            figures.update(window_figures(path))
    finally:
        if not args.keep and not reuse:
            path.unlink(missing_ok=True)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["load_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:28s} {value:.4g}" if isinstance(value, float) else f"{key:28s} {value:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
