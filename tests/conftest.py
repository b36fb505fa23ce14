"""Fixtures several test modules share: one torch thread, a tiny sharpening engine and a tiny untrained reader;
and, from extension_fixtures.py, those of the extension's browser tests.

Each is module-scoped, so every module that asks gets its own, as when each module imported them.
Test modules import no other test module: the helpers they share are in the *_support.py, read_page.py
and document_page.py modules beside them."""
import pytest
import torch

from models import build_model, save_checkpoint
from models.reading.recognizer import READER_CHARSET, build_recognizer
from server.engine import Engine
from server.reading import ReadService

# The shared helpers' asserts are the tests' checks: rewritten, so that a failure shows its values as in a test.
pytest.register_assert_rewrite("document_page", "extension_support", "read_page", "server_support")
pytest_plugins = ["extension_fixtures"]


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread, and two OpenMP threads crawl when the cores are busy.

    Modules ask for it with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, build_model("nafunet", width=8))
    engine = Engine.from_checkpoint(path, device="cpu")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def reader_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("reader") / "tiny_reader.pt"
    save_checkpoint(path, build_recognizer(channels=(8, 8, 8, 8), hidden=8, charset=READER_CHARSET, sigma_input=True))
    return path


@pytest.fixture(scope="module")
def read_service(reader_checkpoint):
    service = ReadService(reader_checkpoint)
    yield service
    service.close()
