"""The document: a QObject over the Qt-free :class:`~cnnviz.session.Session`, with signals and undo.

Panels take the document in ``__init__``, read its state (``trace``, ``source``, ``network``) and
connect its signals to their ``_on_*`` handlers. Every change a user makes goes through a method
here that pushes an undo command (:mod:`cnnviz.ui.window.commands`) onto the one :attr:`undo_stack`.

Signals are emitted in this order after a change: what changed (``input_changed``,
``model_changed``, ``weights_changed``), then ``trace_changed`` with the one new trace, then
``modified_changed`` if the modified state flipped. Everything runs in the GUI thread; a worker
(training) hands its results to a slot of a QObject in the GUI thread, which calls
:meth:`Document.set_weights`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QUndoStack

from cnnviz.data import LoadedImage, load_image
from cnnviz.session import (CanvasInput, ImageInput, InputSource, NetworkEntry, Session, Trace,
                            blank_canvas_for, canvas_input)
from cnnviz.nn.contract import InputContract
from cnnviz.ui.window.commands import (SetContractCommand, SetInputCommand, SetNetworkCommand,
                                       SetWeightsCommand)

#: Shortest time between two ``trace_changed_throttled`` signals (about 30 redraws a second).
THROTTLE_MS = 33


class Document(QObject):
    """The state of a window, its change notifications and its undo history.

    Parameters
    ----------
    session : Session
        The state to show and change; the document becomes its only writer.
    parent : QObject, optional

    Signals
    -------
    trace_changed(Trace)
        A new trace (the only recomputation per change), at once: for light views (the
        prediction) that must follow every mouse move.
    trace_changed_throttled(Trace)
        The same, at most once per ``THROTTLE_MS`` (the first at once, the latest one last): for
        views that take more than a millisecond or two to redraw, so that they cannot hold up
        the pen.
    input_changed(object)
        The input source changed (a ``CanvasInput`` or ``ImageInput``).
    model_changed(NetworkEntry)
        Another network became current (its layers may differ), or the current network's input
        contract changed (its class names, how images become its input): every view reads the
        network anew.
    weights_changed()
        The current network's weights changed.
    network_file_changed(NetworkEntry)
        The current network's file changed (opened, saved under a new name).
    modified_changed(bool)
        The network's weights now differ (True) or no longer differ (False) from its file.
    """

    trace_changed = Signal(object)
    trace_changed_throttled = Signal(object)
    input_changed = Signal(object)
    model_changed = Signal(object)
    weights_changed = Signal()
    network_file_changed = Signal(object)
    modified_changed = Signal(bool)

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self._session = session
        self._modified = session.modified
        self._stroke_before: InputSource | None = None
        self.undo_stack = QUndoStack(self)
        self._pending_trace: Trace | None = None
        self._throttle = QTimer(self, singleShot=True, interval=THROTTLE_MS)
        self._throttle.timeout.connect(self._on_throttle_timeout)

    # ----------------------------------------------------------------- reading
    @property
    def session(self) -> Session:
        return self._session

    @property
    def trace(self) -> Trace:
        return self._session.trace

    @property
    def source(self) -> InputSource:
        return self._session.source

    @property
    def network(self) -> NetworkEntry:
        return self._session.network

    @property
    def model(self):
        return self._session.model

    @property
    def modified(self) -> bool:
        return self._session.modified

    @property
    def stroke_active(self) -> bool:
        return self._stroke_before is not None

    # ----------------------------------------------------------------- drawing
    def begin_stroke(self) -> None:
        """Start a stroke: remember the input so that the whole stroke is one undo step."""
        self.commit_stroke()
        self._stroke_before = self._session.source

    def update_stroke(self, raster: np.ndarray | InputSource) -> Trace:
        """Show the stroke so far: the canvas ``raster`` (uint8 (H, W) or (H, W, 3)), or the
        input source it made (a picture painted over), becomes the input.

        Called on every mouse move; no undo step yet (see :meth:`end_stroke`).
        """
        if self._stroke_before is None:
            self.begin_stroke()
        source = raster if isinstance(raster, (CanvasInput, ImageInput)) else canvas_input(raster)
        return self._apply_source(source)

    def end_stroke(self, raster: np.ndarray | InputSource | None = None,
                   text: str = "Stroke") -> None:
        """Finish the stroke (with its final ``raster`` or source) as one undo step named
        ``text``."""
        if raster is not None:
            self.update_stroke(raster)
        self.commit_stroke(text)

    def commit_stroke(self, text: str = "Stroke") -> None:
        """Push the stroke in progress, if any, onto the undo stack."""
        before, self._stroke_before = self._stroke_before, None
        if before is not None and before is not self._session.source:
            self.undo_stack.push(SetInputCommand(self, before, self._session.source, text))

    def cancel_stroke(self) -> None:
        """Drop the stroke in progress and bring back the input from before it."""
        before, self._stroke_before = self._stroke_before, None
        if before is not None:
            self._apply_source(before)

    def clear_canvas(self) -> None:
        """Replace the input with an empty canvas (one undo step); nothing when already empty.

        The empty canvas is the network's: a white page for a colour network, else black.
        """
        self.commit_stroke()
        source = self._session.source
        blank = blank_canvas_for(self._session.network.contract,
                                 *([source.raster.shape[0]] if isinstance(source, CanvasInput)
                                   else []))
        if (isinstance(source, CanvasInput) and source.is_blank
                and source.is_colour == blank.is_colour):
            return
        self.set_source(blank, "Clear Canvas")

    # ----------------------------------------------------------------- input
    def set_source(self, source: InputSource, text: str) -> None:
        """Make ``source`` the input as one undo step named ``text``.

        Raises ``SessionError`` (state unchanged) when the network cannot take it.
        """
        self.commit_stroke()
        before = self._session.source
        if source is before:
            return
        self._apply_source(source)
        self.undo_stack.push(SetInputCommand(self, before, source, text))

    def set_image(self, image: LoadedImage | ImageInput) -> None:
        """Make a loaded image the input (one undo step)."""
        source = image if isinstance(image, ImageInput) else ImageInput(image)
        self.set_source(source, f"Open Image {source.name}")

    def open_image(self, path: str | Path) -> None:
        """Load an image file and make it the input.

        Raises ``cnnviz.data.DataError`` or ``SessionError``; the state is then unchanged.
        """
        self.set_image(load_image(path))

    # ----------------------------------------------------------------- network
    def set_network(self, network: NetworkEntry, text: str | None = None) -> None:
        """Make ``network`` current (one undo step); raises ``SessionError``, state unchanged."""
        self.commit_stroke()
        before = self._session.network
        if network is before:
            return
        self._apply_network(network)
        self.undo_stack.push(SetNetworkCommand(self, before, network,
                                               text or f"Open Network {network.name}"))

    def open_network(self, path: str | Path) -> None:
        """Load a network file and make it current.

        Raises ``cnnviz.nn.ModelFileError`` or ``SessionError``; the state is then unchanged.
        """
        self.set_network(NetworkEntry.open(path))

    def set_contract(self, contract: InputContract,
                     text: str = "Change Input and Classes") -> None:
        """Make ``contract`` the current network's input contract (class names, how images
        become its input) as one undo step; nothing when it is the same.

        Raises ``SessionError`` (state unchanged) when it does not fit the network.
        """
        self.commit_stroke()
        network = self._session.network
        before = network.contract
        if contract == before:
            return
        self._apply_contract(network, contract)
        self.undo_stack.push(SetContractCommand(self, network, before, contract, text))

    def save_network(self, path: str | Path | None = None) -> Path:
        """Save the current network (atomically) to ``path`` or its own file; returns the path.

        Raises ``SessionError`` (no file of its own) or ``OSError``; the state is then unchanged.
        """
        old_path = self._session.network.path
        saved = self._session.save_network(path)
        if saved != old_path:
            self.network_file_changed.emit(self._session.network)
        self._emit_modified()
        return saved

    # ----------------------------------------------------------------- weights
    def set_weights(self, weights: dict[str, np.ndarray], text: str = "Change Weights",
                    merge_key=None) -> None:
        """Replace some or all parameters (by name, e.g. ``"0.weight"``) as one undo step.

        Parameters
        ----------
        weights : dict of str to np.ndarray
            The parameters to replace (any subset of the network's); copied.
        text : str
            The undo step's name.
        merge_key : hashable, optional
            Consecutive changes with the same key merge into one undo step (a drag, a training
            run).

        Raises ``SessionError`` (unknown name, wrong shape, NaN); the state is then unchanged.
        """
        self.commit_stroke()
        session = self._session
        network = session.network
        current = session.model.named_params()
        before = {name: current[name] for name in weights if name in current}
        before_token = network.token
        session.update_params(weights)
        self._after_weights()
        self.undo_stack.push(SetWeightsCommand(self, network, before, weights, before_token,
                                               network.token, text, merge_key))

    def set_param(self, name: str, value: np.ndarray, text: str | None = None,
                  merge_key=None) -> None:
        """Replace one parameter array as one undo step; see :meth:`set_weights`."""
        self.set_weights({name: value}, text or f"Change {name}", merge_key)

    def reset_weights(self) -> None:
        """Bring back the weights as the network was opened (one undo step)."""
        network = self._session.network
        if network.token == network.loaded_token:
            return
        self.commit_stroke()
        before = self._session.weights()
        before_token = network.token
        self._apply_params(network, network.loaded_weights, network.loaded_token)
        self.undo_stack.push(SetWeightsCommand(self, network, before, network.loaded_weights,
                                               before_token, network.loaded_token,
                                               "Reset Weights"))

    # ----------------------------------------------------------------- undo
    def undo(self) -> None:
        """Undo the last change (a stroke in progress is finished first)."""
        self.commit_stroke()
        self.undo_stack.undo()

    def redo(self) -> None:
        self.commit_stroke()
        self.undo_stack.redo()

    # ----------------------------------------------------------------- applying (commands)
    def _apply_source(self, source: InputSource) -> Trace:
        if source is self._session.source:
            return self._session.trace
        trace = self._session.set_source(source)
        self.input_changed.emit(source)
        self._emit_trace(trace)
        return trace

    def _apply_network(self, network: NetworkEntry) -> None:
        if network is self._session.network:
            return
        source = self._session.source
        self._announce_network(source, self._session.set_network(network), file_changed=True)

    def _apply_contract(self, network: NetworkEntry, contract: InputContract) -> None:
        if network is not self._session.network:
            raise RuntimeError("undo history out of order: the contract belongs to another "
                               "network")
        if contract == network.contract:
            return
        source = self._session.source
        self._announce_network(source, self._session.set_contract(contract))

    def _announce_network(self, source_before, trace, file_changed: bool = False) -> None:
        """Tell the views that the network (or its contract) changed: the input first when an
        empty canvas became the new network's, then the network, the trace, the modified flag."""
        if self._session.source is not source_before:
            self.input_changed.emit(self._session.source)
        network = self._session.network
        self.model_changed.emit(network)
        if file_changed:
            self.network_file_changed.emit(network)
        self._emit_trace(trace)
        self._emit_modified()

    def _apply_params(self, network: NetworkEntry, params: dict[str, np.ndarray],
                      token: int) -> None:
        if network is not self._session.network:
            raise RuntimeError("undo history out of order: the weights belong to another network")
        if token == network.token:
            return
        self._session.update_params(params, token)
        self._after_weights()

    def _after_weights(self) -> None:
        self.weights_changed.emit()
        self._emit_trace(self._session.trace)
        self._emit_modified()

    def _emit_trace(self, trace: Trace) -> None:
        self.trace_changed.emit(trace)
        if self._throttle.isActive():
            self._pending_trace = trace
        else:
            self.trace_changed_throttled.emit(trace)
            self._throttle.start()

    @Slot()
    def _on_throttle_timeout(self) -> None:
        trace, self._pending_trace = self._pending_trace, None
        if trace is not None:
            self.trace_changed_throttled.emit(trace)
            self._throttle.start()

    def _emit_modified(self) -> None:
        modified = self._session.modified
        if modified != self._modified:
            self._modified = modified
            self.modified_changed.emit(modified)
