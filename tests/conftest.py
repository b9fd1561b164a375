import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(ROOT))


@pytest.fixture
def order_history():
    from simcore.history import load
    return load((FIXTURES / "order-1001.json").read_text(), "order-1001.json")
