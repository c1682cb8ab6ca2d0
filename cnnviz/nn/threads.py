"""Keep the BLAS library at one thread.

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
