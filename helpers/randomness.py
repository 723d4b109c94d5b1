"""Reproducible randomness that leaves no trace: seed every generator inside a block, restore them after."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch


@contextmanager
def seeded(seed: int):
    """Seed numpy's and torch's global generators (CPU, every CUDA device, MPS) inside the block.

    Captum and the re-initialisation of layers draw from these global generators. The
    caller's states of all of them are restored afterwards, so code outside the block sees no
    difference, on whichever device it runs.
    """
    numpy_state, cpu_state = np.random.get_state(), torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    mps_state = torch.mps.get_rng_state() if torch.backends.mps.is_available() else None
    torch.manual_seed(seed)  # seeds the CPU, every CUDA device and MPS alike
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        torch.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        if mps_state is not None:
            torch.mps.set_rng_state(mps_state)
