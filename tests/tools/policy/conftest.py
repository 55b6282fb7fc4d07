from __future__ import annotations

import pandas as pd
import pytest
import torch
from _policy_bars import make_bars


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def bars() -> pd.DataFrame:
    return make_bars()
