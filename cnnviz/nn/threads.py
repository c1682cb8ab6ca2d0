"""Process set-up for the engine: the BLAS thread pool and the C allocator.

The engine's matrix products are small; on a two-core machine OpenBLAS's own threads spin while
waiting and fight with the rest of the program (the GUI thread, a second training worker),
which costs more than they gain.
"""

from __future__ import annotations

_limiter = None


def limit_blas_threads(count: int = 1) -> None:
    """Limit the BLAS (and OpenMP) thread pools of this process to ``count`` threads."""
    global _limiter
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional speed-up; numpy works without it
        return
    _limiter = threadpool_limits(limits=count)


def keep_freed_memory() -> bool:
    """Ask the C allocator to keep freed memory for reuse instead of returning it to the system.

    A training step allocates and frees the same few megabytes of temporaries every time; with
    glibc's default thresholds those blocks go back to the system and come back as fresh pages,
    and the page faults cost about a tenth of a step.  Does nothing (returns False) where the C
    library is not glibc.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20) and mallopt(m_trim_threshold, 256 << 20)
                and mallopt(m_top_pad, 16 << 20))


def lower_thread_priority(increment: int) -> bool:
    """Lower the calling thread's scheduling priority (raise its nice value by ``increment``),
    leaving the process's other threads as they are.

    Linux gives each thread a nice value of its own; elsewhere this does nothing (returns
    False), since the same call would lower the whole process.
    """
    import os
    import sys
    import threading

    if increment <= 0 or not sys.platform.startswith("linux"):
        return False
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread,
                       min(os.getpriority(os.PRIO_PROCESS, thread) + increment, 19))
    except OSError:
        return False
    return True


def prepare_process() -> None:
    """Set a process up to run the engine: one BLAS thread, freed memory kept for reuse."""
    limit_blas_threads(1)
    keep_freed_memory()
