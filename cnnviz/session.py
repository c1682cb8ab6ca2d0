"""The state of one cnnviz window, without Qt: network, input, and the trace of the one on the other.

A :class:`Session` holds

- the current network (a :class:`NetworkEntry`: the model, its input contract, its file, the
  weights as loaded);
- the current input source: the drawing canvas (:class:`CanvasInput`) or a loaded image
  (:class:`ImageInput`);
- the network input made from that source, and
- exactly one :class:`Trace`: every layer's output for that input and the class probabilities.

Every change (new input, new network, new weights) converts the input if needed and runs the
network once; views read the trace and never run the network themselves. Every setter computes
the new trace *before* it changes anything, so an error (a network that cannot take images, weights
with the wrong shape) leaves the session exactly as it was.

The UI wraps a session in ``cnnviz.ui.window.document.Document`` (signals, undo); scripts and tests can use
it directly. This module never imports Qt.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cnnviz.data import LoadedImage, PreprocessInfo, load_image
from cnnviz.data.pipeline import image_to_input
from cnnviz.nn import ModelError, Sequential, load_network, save_model, softmax
from cnnviz.nn.contract import ContractError, InputContract, default_contract
from cnnviz.resources import is_shipped

__all__ = [
    "CANVAS_SIZE", "CanvasInput", "ImageInput", "InputSource", "NetworkEntry",
    "Session", "SessionError", "Trace", "blank_canvas", "blank_canvas_for", "canvas_input",
    "check_network", "paints_in_colour", "painted_image",
    "compute_trace", "network_input_for", "source_for",
]

#: Side of the drawing canvas raster, in pixels (ten times MNIST's 28).
CANVAS_SIZE = 280

_tokens = itertools.count(1)


def _new_token() -> int:
    """A number never used before in this process: the identity of one state of the weights."""
    return next(_tokens)


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only (a view, so the caller's own array stays writable)."""
    view = array.view()
    view.setflags(write=False)
    return view


class SessionError(ValueError):
    """A network or input that the session cannot use; the message says why."""


# --------------------------------------------------------------------------------- input sources
@dataclass(frozen=True, eq=False)
class CanvasInput:
    """A drawing.

    Attributes
    ----------
    raster : np.ndarray
        uint8, read-only: (H, W) white ink (255) on black paper (0), as MNIST; or (H, W, 3) RGB,
        paint on a white page (the canvas of a colour network).
    """

    raster: np.ndarray
    kind = "canvas"

    @property
    def name(self) -> str:
        return "canvas"

    @property
    def pixels(self) -> np.ndarray:
        """The raster as the image the network input is made from: uint8 (H, W)."""
        return self.raster

    @property
    def is_colour(self) -> bool:
        """An RGB page (H, W, 3), not an (H, W) drawing of white ink on black."""
        return self.raster.ndim == 3

    @property
    def is_blank(self) -> bool:
        """Nothing drawn: all black for a drawing, all white for a colour page."""
        return bool((self.raster == 255).all()) if self.is_colour else not self.raster.any()


@dataclass(frozen=True, eq=False)
class ImageInput:
    """An opened image file.

    Attributes
    ----------
    image : LoadedImage
        ``image.pixels`` is float32 (H, W) or (H, W, 3) in [0, 1], as :func:`load_image` gives it.
    painted_from : ImageInput or None
        For a picture painted over in the window (:func:`painted_image`), the picture as it was
        opened (what the eraser brings back); None for the image as opened.
    """

    image: LoadedImage
    kind = "image"
    #: Network inputs made from the image, by input contract (see :func:`network_input_for`).
    prepared: dict = field(default_factory=dict, repr=False, compare=False)
    painted_from: ImageInput | None = field(default=None, repr=False, compare=False)

    @property
    def original(self) -> ImageInput:
        """The picture as it was opened (itself when it was not painted over)."""
        return self.painted_from if self.painted_from is not None else self

    @property
    def name(self) -> str:
        return self.image.path.name

    @property
    def path(self) -> Path:
        return self.image.path

    @property
    def pixels(self) -> np.ndarray:
        return self.image.pixels

    @property
    def is_blank(self) -> bool:
        return False


InputSource = CanvasInput | ImageInput


def blank_canvas(size: int = CANVAS_SIZE, colour: bool = False) -> CanvasInput:
    """An empty ``size`` x ``size`` canvas: all black (a drawing), or a white RGB page
    (``colour``)."""
    if colour:
        return CanvasInput(_frozen(np.full((size, size, 3), 255, dtype=np.uint8)))
    return CanvasInput(_frozen(np.zeros((size, size), dtype=np.uint8)))


def paints_in_colour(contract: InputContract | None) -> bool:
    """True for a network that reads colour pictures (pipeline ``"image"``, three channels):
    its canvas is a white page painted in colour, and a picture is painted over, not replaced."""
    return contract is not None and contract.pipeline == "image" and contract.channels == 3


def blank_canvas_for(contract: InputContract | None, size: int = CANVAS_SIZE) -> CanvasInput:
    """The empty canvas of a network: a white page for a colour network, else black."""
    return blank_canvas(size, colour=paints_in_colour(contract))


def canvas_input(raster: np.ndarray) -> CanvasInput:
    """A :class:`CanvasInput` holding a read-only copy of ``raster`` (uint8 (H, W) or
    (H, W, 3))."""
    raster = np.asarray(raster)
    if (raster.dtype != np.uint8 or raster.size == 0
            or not (raster.ndim == 2 or raster.ndim == 3 and raster.shape[2] == 3)):
        raise SessionError(f"a canvas raster is a non-empty uint8 (H, W) or (H, W, 3) array, "
                           f"got {raster.dtype} {raster.shape}")
    return CanvasInput(_frozen(raster.copy()))


def painted_image(source: ImageInput, pixels: np.ndarray) -> ImageInput:
    """``source``'s picture with new ``pixels`` (float32 (H, W, 3) in [0, 1], the picture's size):
    the picture painted over. It keeps the file's name and remembers the picture as opened
    (:attr:`ImageInput.original`); pixels painted over become opaque."""
    original = source.original
    pixels = np.asarray(pixels, dtype=np.float32)
    h, w = original.pixels.shape[:2]
    if pixels.shape != (h, w, 3) or not np.all(np.isfinite(pixels)):
        raise SessionError(f"painted pixels must be finite float (H, W, 3) of the picture's size "
                           f"{(h, w, 3)}, got {pixels.shape}")
    alpha = original.image.alpha
    if alpha is not None:
        base = original.pixels if original.pixels.ndim == 3 else original.pixels[..., None]
        changed = (pixels != base).any(axis=2)
        alpha = _frozen(np.where(changed, np.float32(1), alpha).astype(np.float32))
    image = replace(original.image, pixels=_frozen(pixels.copy()), alpha=alpha)
    return ImageInput(image, painted_from=original)


# --------------------------------------------------------------------------------- conversion
def check_network(model: Sequential, contract: InputContract | None = None) -> None:
    """Raise :class:`SessionError` unless the window can feed ``model`` and read its prediction.

    The input must be an image, ``(1 or 3, height, width)``, that the network's ``contract`` (if
    given) makes from images; the output a vector of class scores.
    """
    shape = tuple(model.input_shape)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise SessionError(
            f"this network expects inputs of shape {shape}; cnnviz can only feed it images of "
            "shape (1 or 3 channels, height, width)")
    out = tuple(model.output_shape)
    if len(out) != 1 or out[0] < 2:
        raise SessionError(
            f"this network's output has shape {out}; cnnviz needs a vector of at least two "
            "class scores")
    if contract is not None and contract.pipeline == "none":
        raise SessionError(
            f"this network's file says its {contract.shape_text} inputs are not made from "
            "images, so cnnviz cannot feed it a drawing or a picture")


def network_input_for(source: InputSource,
                      contract: InputContract) -> tuple[np.ndarray, PreprocessInfo | None]:
    """Make the network input from an input source, as the network's input ``contract`` says
    (:func:`cnnviz.data.pipeline.image_to_input`, the same maths as ``cnnviz predict``).

    A digit network (pipeline ``"digits"``) gets the MNIST-style digit preprocessing (find the
    ink, crop to it, fit 20/28 of the side, centre by mass); an image network (``"image"``) the
    image resized and cropped or padded to its input, grey or RGB, then normalised.

    An image's input is kept with it (``ImageInput.prepared``, by contract): a large image is
    converted once, and the window converts it in the worker that reads the file, off the GUI
    thread.

    Returns
    -------
    x : np.ndarray
        float32 ``contract.shape`` (C, H, W).
    info : PreprocessInfo or None
        What the digit preprocessing did; None for the other pipelines.
    """
    cache = source.prepared if isinstance(source, ImageInput) else None
    if cache is not None and contract in cache:
        return cache[contract]
    if isinstance(source, ImageInput) and source.image.alpha is not None:
        made = image_to_input(source.image, contract)  # ink on a transparent background
    else:
        pixels = source.pixels
        if pixels.dtype == np.uint8:  # a drawing: white ink on black, 0..255
            pixels = pixels.astype(np.float32) / 255.0
        made = image_to_input(pixels, contract)
    result = made.x, made.digit
    if cache is not None:
        result[0].setflags(write=False)
        cache[contract] = result
    return result


# --------------------------------------------------------------------------------- trace
@dataclass(frozen=True, eq=False)
class Trace:
    """Everything the network computed for the current input; immutable (arrays are read-only).

    Attributes
    ----------
    version : int
        Increases by one with every recomputation in a session.
    source : CanvasInput or ImageInput
        The input source the trace was computed from.
    network_input : np.ndarray
        float32 (C, H, W): what the network sees.
    outputs : tuple of np.ndarray
        ``outputs[i]`` is layer ``i``'s output without the batch axis: (C, H, W) or (F,).
    probabilities : np.ndarray
        float32 (K,): the class probabilities (softmax of the last output unless the network ends
        in a Softmax layer).
    preprocess : PreprocessInfo or None
        What the digit preprocessing did (for a network of the digits pipeline), else None.
    weights_token : int
        Identity of the weights the trace was computed with.
    contract : InputContract or None
        The input contract the network input was made by.
    """

    version: int
    source: InputSource
    network_input: np.ndarray
    outputs: tuple[np.ndarray, ...]
    probabilities: np.ndarray
    preprocess: PreprocessInfo | None
    weights_token: int
    contract: InputContract | None = None

    @property
    def activations(self) -> tuple[np.ndarray, ...]:
        """``(network_input, *outputs)``: the same indexing as :meth:`Sequential.trace`."""
        return (self.network_input, *self.outputs)

    @property
    def input_image(self) -> np.ndarray:
        """float32 (C, H, W) in [0, 1]: the network input as a picture, before the contract's
        normalisation (the network input itself when there is none)."""
        contract = self.contract
        if contract is None or not contract.normalised:
            return self.network_input
        std = np.asarray(contract.std, dtype=np.float32)[:, None, None]
        mean = np.asarray(contract.mean, dtype=np.float32)[:, None, None]
        return np.clip(self.network_input * std + mean, 0.0, 1.0)

    @property
    def top_class(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        """Probability of :attr:`top_class`."""
        return float(self.probabilities[self.top_class])

    @property
    def blank(self) -> bool:
        """True when the input holds no ink (the prediction means nothing)."""
        return self.source.is_blank or bool(self.preprocess is not None and self.preprocess.blank)


def compute_trace(model: Sequential, source: InputSource, version: int, token: int,
                  contract: InputContract | None = None, progress=None) -> Trace:
    """Convert ``source`` for ``model`` as its ``contract`` says (by default the one a file
    without a contract would have) and run the network once; raises :class:`SessionError` (a
    ``MemoryError`` included). ``progress(done, total)`` is called after each layer (see
    :meth:`Sequential.trace`); what it raises goes through."""
    try:
        if contract is None:
            contract = default_contract(model.input_shape, model.output_shape)
        x, info = network_input_for(source, contract)
        # Weights near divergence (a snapshot of a run about to fail) overflow: the views show
        # the infinities and NaNs as they are, without a warning on the console.
        with np.errstate(over="ignore", invalid="ignore"):
            activations = model.trace(np.ascontiguousarray(x, dtype=np.float32)[None],
                                      progress)
    except (ModelError, ValueError, FloatingPointError) as exc:  # ContractError, PipelineError
        raise SessionError(f"cannot run the network on this input: {exc}") from exc
    except MemoryError as exc:  # the caller's state stays as it was, as for any refusal
        raise SessionError("there is not enough memory on this computer to run the network on "
                           "this input") from exc
    logits = activations[-1][0]
    probs = logits if model.layers[-1].kind == "Softmax" else softmax(logits)
    return Trace(
        version=version,
        source=source,
        network_input=_frozen(activations[0][0]),
        outputs=tuple(_frozen(a[0]) for a in activations[1:]),
        probabilities=_frozen(np.asarray(probs, dtype=np.float32)),
        preprocess=info,
        weights_token=token,
        contract=contract,
    )


# --------------------------------------------------------------------------------- network
@dataclass(eq=False)
class NetworkEntry:
    """One opened network and where it came from.

    Attributes
    ----------
    model : Sequential
        The network; its weights change in place through :meth:`Session.set_weights`.
    contract : InputContract
        What the network takes and what its outputs are called (:mod:`cnnviz.nn.contract`): the
        file's, or for a network made in the window (None given) the contract a file without
        one would have, from its input shape (:func:`~cnnviz.nn.contract.default_contract`).
    path : Path or None
        The file it was opened from or last saved to (None: never saved).
    read_only : bool
        True for a network shipped with cnnviz, however it was opened (at start-up, or from the
        installed or checkout ``resources/models`` folder): "Save" asks for a new file instead.
    metadata : dict
        The file's metadata (how it was trained).
    loaded_weights : dict of str to np.ndarray
        The weights as opened, for "reset" (read-only copies).
    loaded_token, token, saved_token : int
        Identities of the weights as loaded, now, and as last saved (or as loaded).
    saved_contract : InputContract or None
        The contract as the file has it (as opened or last saved): a network whose contract
        changed since is modified too.
    """

    model: Sequential
    path: Path | None = None
    read_only: bool = False
    contract: InputContract | None = None
    metadata: dict = field(default_factory=dict)
    loaded_weights: dict[str, np.ndarray] = field(default_factory=dict)
    loaded_token: int = 0
    token: int = 0
    saved_token: int = -1
    saved_contract: InputContract | None = None

    def __post_init__(self) -> None:
        try:
            if self.contract is None:
                self.contract = default_contract(self.model.input_shape, self.model.output_shape)
            self.contract.check_network(self.model.input_shape, self.model.output_shape)
        except ContractError as exc:
            raise SessionError(f"the network's input description does not fit it: {exc}") from None
        if self.saved_contract is None:
            self.saved_contract = self.contract
        if not self.loaded_weights:
            self.loaded_weights = {k: _frozen(v) for k, v in self.model.get_weights().items()}
        if not self.loaded_token:
            self.loaded_token = self.token = self.saved_token = _new_token()

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> NetworkEntry:
        """Load a network file with its input contract; raises :class:`cnnviz.nn.ModelFileError`
        or :class:`SessionError`."""
        model, metadata, contract = load_network(path)
        try:
            check_network(model, contract)
        except SessionError as exc:
            raise SessionError(f"{Path(path).name}: {exc}") from None
        return cls(model, Path(path), read_only=read_only or is_shipped(path),
                   contract=contract, metadata=metadata)

    @property
    def classes(self) -> tuple[str, ...]:
        """One name per output (the contract's names, or the output numbers)."""
        count = int(np.prod(self.model.output_shape))
        return tuple(self.contract.class_name(k) for k in range(count))

    @property
    def name(self) -> str:
        """The file name, or the network's own name when it has no file."""
        return self.path.name if self.path is not None else self.model.name

    @property
    def modified(self) -> bool:
        """The weights or the input contract changed since the network was opened or last
        saved."""
        return self.token != self.saved_token or self.contract != self.saved_contract


# --------------------------------------------------------------------------------- session
class Session:
    """The current network, the current input and their one trace.

    Parameters
    ----------
    network : NetworkEntry or Sequential
        The network to start with (a bare model has no file).
    source : CanvasInput or ImageInput, optional
        The input to start with; a blank canvas by default.

    Raises
    ------
    SessionError
        If the network cannot take image inputs (see :func:`check_network`).
    """

    def __init__(self, network: NetworkEntry | Sequential, source: InputSource | None = None):
        if isinstance(network, Sequential):
            network = NetworkEntry(network)
        check_network(network.model, network.contract)
        self._versions = itertools.count(1)
        self._network = network
        self._source = source if source is not None else blank_canvas_for(network.contract)
        self._trace = self._compute(network, self._source, network.token)

    # ----------------------------------------------------------------- reading
    @property
    def network(self) -> NetworkEntry:
        return self._network

    @property
    def model(self) -> Sequential:
        return self._network.model

    @property
    def source(self) -> InputSource:
        return self._source

    @property
    def trace(self) -> Trace:
        return self._trace

    @property
    def network_input(self) -> np.ndarray:
        """float32 (C, H, W), read-only: what the network sees now."""
        return self._trace.network_input

    @property
    def modified(self) -> bool:
        """The network's weights differ from its file."""
        return self._network.modified

    def weights(self) -> dict[str, np.ndarray]:
        """A copy of every parameter by name (``"<layer>.<param>"``)."""
        return self.model.get_weights()

    # ----------------------------------------------------------------- changing
    def set_source(self, source: InputSource, trace: Trace | None = None) -> Trace:
        """Make ``source`` the input; a no-op when it already is (the same object).

        ``trace``: its trace, computed elsewhere (a :meth:`trace_job` run in another thread);
        used when it was computed for this source on the current network and weights, else the
        trace is computed here.
        """
        if source is self._source:
            return self._trace
        trace = self._adopted(trace, self._network, source)
        self._source, self._trace = source, trace
        return trace

    def set_canvas(self, raster: np.ndarray) -> Trace:
        """Make a copy of the drawing ``raster`` (uint8 (H, W), white ink on black) the input."""
        return self.set_source(canvas_input(raster))

    def open_image(self, path: str | Path) -> Trace:
        """Load an image file and make it the input; raises :class:`cnnviz.data.DataError`."""
        return self.set_source(ImageInput(load_image(path)))

    def set_network(self, network: NetworkEntry, trace: Trace | None = None,
                    source: InputSource | None = None) -> Trace:
        """Make ``network`` the current network; a no-op when it already is.

        ``source``: the input to pair it with (by default the current one; see
        :func:`source_for`). ``trace``: its first trace, computed elsewhere (a
        :meth:`trace_job` of ``source_for(source, network)`` run in another thread); used when
        it fits (see :meth:`set_source`).
        """
        if network is self._network and (source is None or source is self._source):
            return self._trace
        check_network(network.model, network.contract)
        source = source_for(self._source if source is None else source, network)
        if trace is not None and _blank_alike(trace.source, source):
            source = trace.source  # the empty canvas the job was given
        trace = self._adopted(trace, network, source)
        self._network, self._source, self._trace = network, source, trace
        return trace

    def adopt(self, source: InputSource, trace: Trace) -> bool:
        """Make ``source`` the input with ``trace``, computed elsewhere, if it was computed for
        ``source`` on the current network with its weights as they are now (True); otherwise
        change nothing (False)."""
        network = self._network
        if not (trace.source is source and trace.weights_token == network.token
                and trace.contract is network.contract):
            return False
        self._source, self._trace = source, replace(trace, version=next(self._versions))
        return True

    def trace_job(self, source: InputSource, network: NetworkEntry | None = None):
        """A function ``job(progress=None) -> Trace``: the trace of ``source`` on ``network``
        (the current one by default) with its weights as they are now, for another thread.

        The job runs a clone of the network that shares its weight arrays
        (:meth:`Sequential.sharing_weights`), so the session can go on being used (and its
        weights replaced) meanwhile; hand the result to :meth:`set_source` or
        :meth:`set_network`, which take it only if it still fits. ``progress(done, total)``
        is called after each layer and may raise to stop the job.
        """
        network = self._network if network is None else network
        model, token, contract = network.model.sharing_weights(), network.token, network.contract

        def job(progress=None) -> Trace:
            return compute_trace(model, source, 0, token, contract, progress)

        return job

    def open_network(self, path: str | Path) -> Trace:
        """Load a network file and make it current; raises ``ModelFileError``/:class:`SessionError`."""
        return self.set_network(NetworkEntry.open(path))

    def set_contract(self, contract: InputContract) -> Trace:
        """Make ``contract`` the current network's input contract (class names, how images
        become its input) and recompute the trace; a no-op when it is the same.

        Raises :class:`SessionError` (state unchanged) when it does not fit the network or the
        window cannot feed it (pipeline ``"none"``). An empty canvas becomes the contract's (a
        white page when it paints in colour).
        """
        network = self._network
        if contract == network.contract:
            return self._trace
        try:
            contract.check_network(network.model.input_shape, network.model.output_shape)
        except ContractError as exc:
            raise SessionError(f"the input description does not fit the network: {exc}") \
                from None
        check_network(network.model, contract)
        source = self._source
        if (isinstance(source, CanvasInput) and source.is_blank
                and source.is_colour != paints_in_colour(contract)):
            source = blank_canvas_for(contract, source.raster.shape[0])
        trace = compute_trace(network.model, source, next(self._versions), network.token,
                              contract)
        network.contract, self._source, self._trace = contract, source, trace
        return trace

    def set_weights(self, weights: dict[str, np.ndarray], token: int | None = None) -> Trace:
        """Replace every parameter (names and shapes as :meth:`weights` gives them).

        Parameters
        ----------
        weights : dict of str to np.ndarray
            Every parameter by name; copied; must be finite.
        token : int, optional
            The identity of this state of the weights, when it is an earlier one coming back
            (undo); a new identity otherwise.
        """
        own, state = self.model.named_params(), self.model.named_state()
        unexpected = set(weights) - set(own) - set(state)
        if not set(own) <= set(weights) or unexpected:
            raise SessionError(f"the weights do not match the network: expected {sorted(own)}, "
                               f"got {sorted(weights)}")
        return self.update_params(weights, token)

    def set_param(self, name: str, value: np.ndarray, token: int | None = None) -> Trace:
        """Replace one parameter array, e.g. ``"0.weight"`` (see :meth:`update_params`)."""
        return self.update_params({name: value}, token)

    def update_params(self, params: dict[str, np.ndarray], token: int | None = None,
                      compute: bool = True) -> Trace:
        """Replace some parameters (by name, e.g. ``"0.weight"``) and recompute the trace once.

        The arrays are copied (so later changes to the caller's arrays do not leak in) and must
        be finite and of the parameter's shape. ``token``: see :meth:`set_weights`; a no-op when
        it is the current weights' token. ``compute=False``: the trace is left as it was (its
        ``weights_token`` no longer the network's), for the caller to compute elsewhere (a
        :meth:`trace_job`) and :meth:`adopt`.
        """
        if token is not None and token == self._network.token:
            return self._trace
        own = self.model.named_weights()  # parameters and running statistics
        for name, value in params.items():
            if name not in own:
                raise SessionError(f"the network has no parameter {name!r}; it has "
                                   f"{sorted(self.model.named_params())}")
            self._check_param(name, value, own[name])
        layers = self.model.layers

        def home(name):
            index, key = name.split(".", 1)
            layer = layers[int(index)]
            return (layer.params if key in layer.params else layer.state), key

        old = {}
        for name, value in params.items():
            where, key = home(name)
            old[name] = where[key]
            where[key] = np.array(value, dtype=own[name].dtype, copy=True)
        token = _new_token() if token is None else token
        if not compute:
            self._network.token = token
            return self._trace
        try:
            trace = self._compute(self._network, self._source, token)
        except SessionError:
            for name, value in old.items():
                where, key = home(name)
                where[key] = value
            raise
        self._network.token, self._trace = token, trace
        return trace

    def reset_weights(self) -> Trace:
        """Bring back the weights as the network was opened."""
        return self.set_weights(self._network.loaded_weights, self._network.loaded_token)

    def save_network(self, path: str | Path | None = None) -> Path:
        """Save the network atomically (to its own file when ``path`` is None) and mark it saved.

        Raises
        ------
        SessionError
            If there is no file to save to, or it is (or is in the folder of) a network shipped
            with cnnviz.
        OSError
            If writing fails; the session is unchanged.
        """
        entry = self._network
        if path is None:
            if entry.path is None or entry.read_only:
                raise SessionError(f"{entry.name} has no file of its own to save to; choose one")
            path = entry.path
        path = Path(path)
        if is_shipped(path):
            raise SessionError(f"{path}: this is where the networks shipped with cnnviz are kept; "
                               "save the network to a file of your own")
        try:
            save_model(entry.model, path, metadata=entry.metadata or None,
                       contract=entry.contract)
        except ContractError as exc:  # checked before anything is written
            raise SessionError(f"{path.name}: {exc}") from None
        entry.path, entry.read_only, entry.saved_token = path, False, entry.token
        entry.saved_contract = entry.contract
        return path

    # ----------------------------------------------------------------- helpers
    def _compute(self, network: NetworkEntry, source: InputSource, token: int) -> Trace:
        return compute_trace(network.model, source, next(self._versions), token,
                             network.contract)

    def _adopted(self, trace: Trace | None, network: NetworkEntry, source: InputSource) -> Trace:
        """``trace`` numbered as this session's next, when it was computed for ``source`` on
        ``network`` as its weights are now; otherwise the trace computed here."""
        if (trace is not None and trace.source is source and trace.weights_token == network.token
                and trace.contract is network.contract):
            return replace(trace, version=next(self._versions))
        return self._compute(network, source, network.token)

    @staticmethod
    def _check_param(name: str, value: np.ndarray, own: np.ndarray) -> None:
        value = np.asarray(value)
        if value.shape != own.shape:
            raise SessionError(f"{name} must have shape {own.shape}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise SessionError(f"{name} contains NaN or infinite values")


def source_for(source: InputSource, network: NetworkEntry) -> InputSource:
    """The input a network is paired with when it becomes current while ``source`` is the
    input: ``source`` itself, except that an empty canvas becomes the network's (a white page
    for a colour network)."""
    if (isinstance(source, CanvasInput) and source.is_blank
            and source.is_colour != paints_in_colour(network.contract)):
        return blank_canvas_for(network.contract, source.raster.shape[0])
    return source


def _blank_alike(a: InputSource, b: InputSource) -> bool:
    """Two empty canvases of the same size and colour."""
    return (isinstance(a, CanvasInput) and isinstance(b, CanvasInput) and a.is_blank and b.is_blank
            and a.is_colour == b.is_colour and a.raster.shape == b.raster.shape)
