"""Undo commands: every change a user makes to the input or the network, as before/after state.

Each command holds the state before and after the change and restores it exactly through the
:class:`~cnnviz.ui.window.document.Document`'s ``_apply_*`` methods, which do nothing when the state is
already there. The document changes the session *before* it pushes a command (so that a change
that fails never reaches the stack), which makes the command's first ``redo`` a no-op.

Commands hold immutable state (input sources, network entries) or their own copies of weight
arrays, so nothing that happens later can change what undo brings back.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QUndoCommand

from cnnviz.data.errors import DataError
from cnnviz.session import InputSource, NetworkEntry

if TYPE_CHECKING:
    from cnnviz.ui.window.document import Document

#: ``QUndoCommand.id`` of weight changes that may merge with the one before (drags, training).
WEIGHTS_MERGE_ID = 1001


class DocumentCommand(QUndoCommand):
    """A command on a :class:`~cnnviz.ui.window.document.Document`, which it refers to weakly.

    The document owns the undo stack and the stack owns its commands: a strong reference back
    would make a cycle, which only the garbage collector frees, tearing the Python side of the
    document, its stack and its commands down in no set order (and in whatever thread it runs),
    so that ``QUndoStack``'s destructor could delete commands already gone. Without the cycle
    the document dies when its last reference goes, and takes its stack and commands with it.
    """

    def __init__(self, document: Document, text: str):
        super().__init__(text)
        self._document = weakref.ref(document)

    @property
    def document(self) -> Document:
        return self._document()


class SetInputCommand(DocumentCommand):
    """Replace the input source: a stroke, a cleared canvas, an opened image.

    Parameters
    ----------
    document : Document
    before, after : CanvasInput or ImageInput
        The sources before and after the change.
    text : str
        What the Edit menu shows after "Undo", e.g. ``"Stroke"``.
    """

    def __init__(self, document: Document, before: InputSource, after: InputSource, text: str):
        super().__init__(document, text)
        self.before = before
        self.after = after

    def redo(self) -> None:
        self.document._apply_source(self.after)

    def undo(self) -> None:
        self.document._apply_source(self.before)


class SetNetworkCommand(DocumentCommand):
    """Replace the current network (open a file); undo brings back the previous one as it was.

    Parameters
    ----------
    document : Document
    before, after : NetworkEntry
    text : str
    """

    def __init__(self, document: Document, before: NetworkEntry, after: NetworkEntry, text: str):
        super().__init__(document, text)
        self.before = before
        self.after = after

    def redo(self) -> None:
        self.document._apply_network(self.after)

    def undo(self) -> None:
        self.document._apply_network(self.before)


class SetContractCommand(DocumentCommand):
    """Replace the current network's input contract (its class names, how images become its
    input).

    Parameters
    ----------
    document : Document
    network : NetworkEntry
        The network whose contract changes (the current one).
    before, after : InputContract
    text : str
    """

    def __init__(self, document: Document, network: NetworkEntry, before, after, text: str):
        super().__init__(document, text)
        self.network, self.before, self.after = network, before, after

    def redo(self) -> None:
        self.document._apply_contract(self.network, self.after)

    def undo(self) -> None:
        self.document._apply_contract(self.network, self.before)


class SetWeightsCommand(DocumentCommand):
    """Replace some or all parameters of the current network.

    Parameters
    ----------
    document : Document
    network : NetworkEntry
        The network the weights belong to.
    before, after : dict of str to np.ndarray
        The changed parameters (same names in both) before and after; the command keeps copies.
    before_token, after_token : int
        Identities of the whole set of weights before and after (see ``Session.set_weights``),
        so that undo also brings back "unmodified" when it reaches the saved weights.
    text : str
    merge_key : hashable, optional
        Consecutive commands with the same key merge into one undo step (a drag over a weight,
        the snapshots of one training run): the first ``before``, the last ``after``.
    """

    def __init__(self, document: Document, network: NetworkEntry,
                 before: dict[str, np.ndarray], after: dict[str, np.ndarray],
                 before_token: int, after_token: int, text: str, merge_key=None):
        super().__init__(document, text)
        self.network = network
        self.before = {name: np.array(value, copy=True) for name, value in before.items()}
        self.after = {name: np.array(value, copy=True) for name, value in after.items()}
        self.before_token = before_token
        self.after_token = after_token
        self.merge_key = merge_key

    def id(self) -> int:
        return WEIGHTS_MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt override)
        if (not isinstance(other, SetWeightsCommand) or other.merge_key != self.merge_key
                or other.network is not self.network):
            return False
        for name, value in other.before.items():
            self.before.setdefault(name, value)
        self.after.update(other.after)
        self.after_token = other.after_token
        return True

    def redo(self) -> None:
        self.document._apply_params(self.network, self.after, self.after_token)

    def undo(self) -> None:
        self.document._apply_params(self.network, self.before, self.before_token)


class DrawingFileCommand(QUndoCommand):
    """A change to the user's own dataset (My Drawings): a drawing kept, relabelled or deleted.

    The change is made on disk before the command is pushed, so its first ``redo`` does nothing.
    The command keeps the dataset it changed (a network with other classes has another folder)
    and a deleted file's bytes, so that undo and redo put back exactly the same file.

    Parameters
    ----------
    owner : object
        Told of every change (``owner.dataset_changed()``) and of a file that could not be
        changed (``owner.report(message)``, e.g. removed outside cnnviz); referred to weakly.
    drawings : cnnviz.data.user_drawings.UserDrawings
    change : "add", "delete" or "relabel"
    path : Path
        The file added or deleted, or relabelled (its path before).
    text : str
    data : bytes, optional
        The deleted file's bytes (``"delete"``).
    target : Path, optional
        The relabelled file's new path (``"relabel"``).
    """

    def __init__(self, owner, drawings, change: str, path, text: str, *, data: bytes = b"",
                 target=None):
        super().__init__(text)
        self._owner = weakref.ref(owner)
        self.drawings = drawings
        self.change = change
        self.path = path
        self.target = target
        self.data = data
        self._first = True

    def _run(self, forward: bool) -> None:
        store = self.drawings
        try:
            if self.change == "relabel":
                store.move(self.path, self.target) if forward else store.move(self.target,
                                                                              self.path)
            elif (self.change == "add") == forward:
                store.restore(self.path, self.data)
            else:
                self.data = store.delete(self.path)
        except (DataError, OSError) as exc:
            owner = self._owner()
            if owner is not None:
                owner.report(f"My Drawings: {exc}")
        owner = self._owner()
        if owner is not None:
            owner.dataset_changed()

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self._run(True)

    def undo(self) -> None:
        self._run(False)
