"""Process and thread set-up: a thread's lower priority stays its own."""

import os
import sys
import threading

import pytest

from cnnviz.nn.threads import lower_thread_priority


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_lowering_a_threads_priority_leaves_the_others_alone():
    main = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, main)
    seen = {}

    def worker():
        me = threading.get_native_id()
        seen["start"] = os.getpriority(os.PRIO_PROCESS, me)
        seen["lowered"] = lower_thread_priority(5)
        seen["after"] = os.getpriority(os.PRIO_PROCESS, me)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["lowered"] and seen["after"] == min(seen["start"] + 5, 19)
    assert os.getpriority(os.PRIO_PROCESS, main) == before


def test_no_increment_changes_nothing():
    assert not lower_thread_priority(0)
