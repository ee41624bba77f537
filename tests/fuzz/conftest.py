import pytest


@pytest.fixture(scope="module")
def dispatcher(capabilities):
    from host.dispatcher import Dispatcher

    return Dispatcher(capabilities)
