"""One intra-op thread for these small-tensor tests: on a shared 2-core box two threads run ~10x slower."""

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
