"""Settings every test process shares (one thread each); technique fixtures live beside their tests."""
from __future__ import annotations

import os

# One thread per test process: the suite runs as `pytest -n 2` on 2 cores, and oversubscribed
# BLAS/OpenMP threads make small solves up to 100x slower there.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

torch.set_num_threads(1)
threadpool_limits(1)
