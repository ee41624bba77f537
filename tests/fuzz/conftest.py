import pytest


@pytest.fixture(scope="module")
def dispatcher(capabilities):
    from host.dispatcher import Dispatcher

    dispatcher = Dispatcher(capabilities)
    yield dispatcher
    dispatcher.close()
