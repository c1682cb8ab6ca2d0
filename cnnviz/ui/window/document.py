"""The document: a QObject over the Qt-free :class:`~cnnviz.session.Session`, with signals and undo.

Panels take the document in ``__init__``, read its state (``trace``, ``source``, ``network``) and
connect its signals to their ``_on_*`` handlers. Every change a user makes goes through a method
here that pushes an undo command (:mod:`cnnviz.ui.window.commands`) onto the one :attr:`undo_stack`.

Signals are emitted in this order after a change: what changed (``input_changed``,
``model_changed``, ``weights_changed``), then ``trace_changed`` with the one new trace, then
``modified_changed`` if the modified state flipped. Everything runs in the GUI thread; a worker
(training) hands its results to a slot of a QObject in the GUI thread, which calls
:meth:`Document.set_weights`.

Big networks (a forward pass of more than :data:`BACKGROUND_MACS` multiply-adds, such as
VGG-16) compute the trace of a new input in a worker thread instead (on a clone sharing the
network's weights, :meth:`Session.trace_job`), so that the window never waits for them:
``input_changed`` comes at once (:attr:`Document.source` is the new input), ``trace_changed``
when the pass is done; new weights likewise (``weights_changed`` at once). A newer input
cancels the pass in progress at its next layer and only the latest is ever shown; a pass whose
weights changed meanwhile is run again. A pass that
takes longer than :data:`PROGRESS_DELAY_MS` says so (``trace_pending``, ``trace_progress``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QUndoStack

from cnnviz.analysis import Cancelled
from cnnviz.data import LoadedImage, load_image
from cnnviz.nn.budget import estimate
from cnnviz.nn.contract import InputContract
from cnnviz.session import (CanvasInput, ImageInput, InputSource, NetworkEntry, Session,
                            SessionError, Trace, blank_canvas_for, canvas_input)
from cnnviz.ui.shared.workers import TaskRunner
from cnnviz.ui.window.commands import (SetContractCommand, SetInputCommand, SetNetworkCommand,
                                       SetWeightsCommand)

#: Shortest time between two ``trace_changed_throttled`` signals (about 30 redraws a second).
THROTTLE_MS = 33

#: Networks whose forward pass of one image needs more multiply-adds than this compute the
#: trace of a new input in a worker thread (VGG-16: 15.5 G, about a second; vgg-small: 25 M
#: and lenet5: 0.4 M stay in the GUI thread, where a pass takes a few milliseconds at most).
BACKGROUND_MACS = 2e8

#: A pass in the worker thread shows its progress once it has taken this long (milliseconds).
PROGRESS_DELAY_MS = 500


def runs_in_background(model) -> bool:
    """The window computes ``model``'s traces in a worker thread (see :data:`BACKGROUND_MACS`)."""
    return estimate(model.layers, model.input_shape).macs > BACKGROUND_MACS


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
    trace_pending(bool)
        True once the trace of a new input has been computing in the worker thread for
        :data:`PROGRESS_DELAY_MS`; False when it is shown, dropped or failed.
    trace_progress(int, int)
        ``(layers done, layers)`` of that pass, while it is pending.
    trace_failed(str)
        The pass in the worker failed (the message says why); the input went back to the one
        whose trace is shown.
    """

    trace_changed = Signal(object)
    trace_changed_throttled = Signal(object)
    input_changed = Signal(object)
    model_changed = Signal(object)
    weights_changed = Signal()
    network_file_changed = Signal(object)
    modified_changed = Signal(bool)
    trace_pending = Signal(bool)
    trace_progress = Signal(int, int)
    trace_failed = Signal(str)

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self._session = session
        self._modified = session.modified
        self._stroke_before: InputSource | None = None
        self.undo_stack = QUndoStack(self)
        self._pending_trace: Trace | None = None
        self._throttle = QTimer(self, singleShot=True, interval=THROTTLE_MS)
        self._throttle.timeout.connect(self._on_throttle_timeout)
        # The trace in the worker thread: the input it is for (None: none wanted), whether its
        # pending state was announced, its last progress.
        self._wanted: InputSource | None = None
        self._announced = False
        self.pending_progress = (0, 0)
        self._background: tuple[object, bool] | None = None
        self.trace_runner = TaskRunner("cnnviz-trace", self)
        self.trace_runner.finished.connect(self._on_job_finished)
        self.trace_runner.failed.connect(self._on_job_failed)
        self.trace_runner.progress.connect(self._on_job_progress)
        self._pending_timer = QTimer(self, singleShot=True, interval=PROGRESS_DELAY_MS,
                                     timerType=Qt.TimerType.PreciseTimer)  # never early
        self._pending_timer.timeout.connect(self._announce_pending)

    # ----------------------------------------------------------------- reading
    @property
    def session(self) -> Session:
        return self._session

    @property
    def trace(self) -> Trace:
        return self._session.trace

    @property
    def source(self) -> InputSource:
        """The input: the latest asked for, even while its trace is still being computed."""
        return self._wanted if self._wanted is not None else self._session.source

    @property
    def computing(self) -> bool:
        """The trace of :attr:`source` is being computed in the worker thread (:attr:`trace`
        is still the previous input's)."""
        return self._wanted is not None

    @property
    def in_background(self) -> bool:
        """The current network's traces are computed in the worker thread."""
        model = self._session.model
        if self._background is None or self._background[0] is not model:
            self._background = (model, estimate(model.layers, model.input_shape).macs)
        return self._background[1] > BACKGROUND_MACS

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
        self._stroke_before = self.source

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
        if before is not None and before is not self.source:
            self.undo_stack.push(SetInputCommand(self, before, self.source, text))

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
        source = self.source
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
        before = self.source
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
    def set_network(self, network: NetworkEntry, text: str | None = None,
                    trace: Trace | None = None) -> None:
        """Make ``network`` current (one undo step); raises ``SessionError``, state unchanged.

        ``trace``: its first trace if it was computed already (in the worker that read the file,
        for the input :func:`cnnviz.session.source_for` gives); otherwise it is computed here.
        """
        self.commit_stroke()
        before = self._session.network
        if network is before:
            return
        self._apply_network(network, trace)
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
        self._update_params(weights)
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
        if source is self.source:
            return self._session.trace
        if self.in_background:
            self._wanted = source
            self.input_changed.emit(source)
            self._start_job()
            return self._session.trace
        trace = self._session.set_source(source)
        self.input_changed.emit(source)
        self._emit_trace(trace)
        return trace

    # ----------------------------------------------------------------- the worker's traces
    def _start_job(self) -> None:
        """Compute the trace of :attr:`source` in the worker (cancelling a pass in progress)."""
        job = self._session.trace_job(self._wanted)

        def task(progress):
            def step(done, total):
                if not progress(done, total):
                    raise Cancelled()
            return job(step)

        self.trace_runner.start(task)
        if not self._pending_timer.isActive() and not self._announced:
            self._pending_timer.start()

    @Slot(object)
    def _on_job_finished(self, trace: Trace) -> None:
        wanted = self._wanted
        if wanted is None or trace is None or trace.source is not wanted:
            return  # superseded: the newer input's pass is queued, or it was dropped
        network = self._session.network
        if trace.weights_token != network.token or trace.contract is not network.contract:
            self._start_job()  # the weights changed meanwhile: again, with the new ones
            return
        self._end_job()
        self._session.adopt(wanted, trace)
        self._emit_trace(self._session.trace)

    @Slot(str)
    def _on_job_failed(self, message: str) -> None:
        if self._wanted is None:
            return
        error = self.trace_runner.error
        self._end_job()
        self.input_changed.emit(self._session.source)
        # The session's own refusals say what is wrong in words; anything else comes with where
        # its details were logged.
        self.trace_failed.emit(str(error) if isinstance(error, SessionError)
                               else self.trace_runner.failure_text(message))

    @Slot(int, int)
    def _on_job_progress(self, done: int, total: int) -> None:
        self.pending_progress = (done, total)
        if self._announced:
            self.trace_progress.emit(done, total)

    @Slot()
    def _announce_pending(self) -> None:
        if self._wanted is not None and not self._announced:
            self._announced = True
            self.trace_pending.emit(True)
            self.trace_progress.emit(*self.pending_progress)

    def _end_job(self) -> None:
        """No trace is wanted from the worker any more (shown, dropped or failed)."""
        self._wanted = None
        self.pending_progress = (0, 0)
        self.trace_runner.cancel()
        self._pending_timer.stop()
        if self._announced:
            self._announced = False
            self.trace_pending.emit(False)

    def _drop_job(self) -> InputSource | None:
        """Cancel the worker's pass; the input it was for (None when there was none)."""
        wanted = self._wanted
        if wanted is not None:
            self._end_job()
        return wanted

    def _apply_network(self, network: NetworkEntry, trace: Trace | None = None) -> None:
        if network is self._session.network:
            return
        wanted = self._drop_job()
        source = self.source if wanted is None else wanted
        try:
            trace = self._session.set_network(network, trace, source)
        except Exception:
            if wanted is not None:  # the canvas shows it: the session's input now
                self._wanted = wanted
                self._start_job()
            raise
        self._announce_network(source, trace, file_changed=True)

    def _apply_contract(self, network: NetworkEntry, contract: InputContract) -> None:
        if network is not self._session.network:
            raise RuntimeError("undo history out of order: the contract belongs to another "
                               "network")
        if contract == network.contract:
            return
        wanted = self._drop_job()  # a pass for the old contract: done again after
        source = self._session.source
        self._announce_network(source, self._session.set_contract(contract))
        if wanted is not None:
            self._wanted = wanted
            self._start_job()

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
        self._update_params(params, token)

    def _update_params(self, params: dict[str, np.ndarray], token: int | None = None) -> None:
        """New weights: the trace computed now, or for a big network in the worker (the views
        keep the previous trace until it comes)."""
        if not self.in_background:
            self._session.update_params(params, token)
            self._after_weights()
            return
        self._session.update_params(params, token, compute=False)
        self._wanted = self.source
        self._start_job()
        self.weights_changed.emit()
        self._emit_modified()

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
