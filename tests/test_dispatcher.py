"""The dispatcher: one answer per request, concurrency by id, errors never leak."""

import asyncio
import base64
import json
import threading

import pytest

from support import sample
from host.capabilities import Capability
from host.dispatcher import Dispatcher

PHOTO_B64 = base64.b64encode(sample("tench").read_bytes()).decode()


def request(**fields) -> bytes:
    return json.dumps(fields).encode()


@pytest.fixture
def dispatcher(capabilities):
    d = Dispatcher(capabilities)
    yield d
    capabilities.table.pop("slow", None)
    capabilities.table.pop("crash", None)
    capabilities.table.pop("huge", None)


def run(coro):
    return asyncio.run(coro)


def test_ping_lists_models(dispatcher):
    answer = json.loads(run(dispatcher.handle(request(id=1, type="ping"))))
    assert answer["id"] == 1 and answer["ok"] is True
    result = answer["result"]
    assert result["version"] == "0.1.0"
    names = {m["name"]: m for m in result["models"]}
    assert names["mobilenet_v2_1.0_224_quant"]["default"] is True
    assert names["mobilenet_v2_1.0_224_quant"]["available"] is True
    assert "classify_image" in result["capabilities"]


def test_classify_answers_with_the_request_id(dispatcher):
    answer = json.loads(run(dispatcher.handle(request(id="req-7", type="classify_image", image=PHOTO_B64, top_k=3))))
    assert answer["id"] == "req-7" and answer["ok"]
    assert [l["label"] for l in answer["result"]["labels"]][0] == "tench"
    assert len(answer["result"]["labels"]) == 3


@pytest.mark.parametrize(
    "payload, code, answer_id, message",
    [
        (b"{oops", "invalid_json", None, "The message is not valid UTF-8 JSON."),
        (request(id=3), "invalid_request", 3, "A request needs a `type` naming the method."),
        (request(id=4, type="launch_rockets"), "unknown_type", 4,
         "The host does not know the message type 'launch_rockets'; it knows: "),
        (request(id=5, type="classify_image", image="%%%"), "bad_base64", 5, "The image data is not valid base64."),
        (request(id=6, type="classify_image", image=base64.b64encode(b"GIF89a...").decode()), "not_an_image", 6,
         "The file is not an image TabSense can read."),
        (b'{"id": "\\ud800", "type": "ping"}', "invalid_request", None,
         "The request holds a lone UTF-16 surrogate escape (like \\ud800)"),
        (b'{"id": 7, "type": "ping", "x": 1e999}', "invalid_request", None,
         "The number 1e999 is too large; numbers must fit a 64-bit float."),
    ],
)
def test_errors_become_responses(dispatcher, payload, code, answer_id, message):
    answer = json.loads(run(dispatcher.handle(payload)))
    assert answer == {"id": answer_id, "ok": False, "error": {"code": code, "message": answer["error"]["message"]}}
    assert answer["error"]["message"].startswith(message)


@pytest.mark.parametrize("result", [{"x": float("nan")}, {"x": "\udc00"}, {"x": object()}],
                         ids=["nan", "lone-surrogate", "not-json"])
def test_a_result_that_cannot_be_sent_is_an_internal_error_for_its_id(dispatcher, capabilities, result):
    capabilities.table["huge"] = Capability("huge", lambda p: result, blocking=False)
    replies = []
    assert dispatcher.submit(request(id=11, type="huge"), None, replies.append) is None
    answers = [json.loads(run(dispatcher.handle(request(id=11, type="huge")))), json.loads(replies[0])]
    assert answers == 2 * [{"id": 11, "ok": False, "error": {
        "code": "internal_error", "message": "Something went wrong inside TabSense; see the host log for details."}}]


def test_a_crashing_handler_is_an_internal_error_without_traceback(dispatcher, capabilities):
    def crash(params):
        raise RuntimeError("secret internals")

    capabilities.table["crash"] = Capability("crash", crash, blocking=True)
    answer = json.loads(run(dispatcher.handle(request(id=9, type="crash"))))
    assert answer["error"]["code"] == "internal_error"
    assert "secret" not in json.dumps(answer)


def test_an_oversized_result_becomes_an_error(dispatcher, capabilities):
    capabilities.table["huge"] = Capability("huge", lambda p: {"blob": "x" * 2_000_000}, blocking=False)
    answer = json.loads(run(dispatcher.handle(request(id=10, type="huge"))))
    assert answer["error"]["code"] == "response_too_large"


def test_a_slow_request_does_not_block_ping(dispatcher, capabilities):
    release = threading.Event()

    def slow(params):
        assert release.wait(10)
        return {"done": True}

    capabilities.table["slow"] = Capability("slow", slow, blocking=True)

    async def scenario():
        slow_task = asyncio.create_task(dispatcher.handle(request(id="slow", type="slow")))
        await asyncio.sleep(0.05)
        ping = json.loads(await asyncio.wait_for(dispatcher.handle(request(id="p", type="ping")), 30))
        assert not slow_task.done()  # the ping was answered while the slow request still ran
        release.set()
        slow_answer = json.loads(await asyncio.wait_for(slow_task, 5))
        return ping, slow_answer

    ping, slow_answer = run(scenario())
    assert ping["id"] == "p" and ping["ok"]
    assert slow_answer == {"id": "slow", "ok": True, "result": {"done": True}}


def test_concurrent_classifications_match_their_ids(dispatcher):
    images = {f"r{i}": base64.b64encode(sample(name).read_bytes()).decode()
              for i, name in enumerate(["tench", "brambling", "volcano", "airliner"])}

    async def scenario():
        jobs = [dispatcher.handle(request(id=i, type="classify_image", image=img, top_k=1)) for i, img in images.items()]
        return [json.loads(a) for a in await asyncio.gather(*jobs)]

    answers = {a["id"]: a["result"]["labels"][0]["label"] for a in run(scenario())}
    assert answers == {"r0": "tench", "r1": "brambling", "r2": "volcano", "r3": "airliner"}
