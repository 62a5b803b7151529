"""blogcore.ai.wire: what the service encodes, the API decodes to the very same results and model info."""

from __future__ import annotations

import pytest

from blogcore.ai.backend import ModelInfo, Sentiment, Summary, SuggestedTitle, Tags, Task
from blogcore.ai.wire import decode_results, encode_results, model_info_to_message, retry_after_from

RESULTS = {
    Task.SUMMARIZE: [Summary("short", truncated=True), Summary("", truncated=False)],
    Task.SENTIMENT: [Sentiment(5, 0.5), Sentiment(1, 0.25, truncated=True)],
    Task.TITLE: [SuggestedTitle("A title")],
    Task.TAGS: [Tags((("earn", 0.875), ("acq", 0.25))), Tags(())],
}


@pytest.mark.parametrize("task", list(Task))
def test_results_survive_the_round_trip(task: Task) -> None:
    info = ModelInfo(task, f"model/{task}", "synthetic", 512, {"layers": 2})
    response = encode_results(task, RESULTS[task], model_info_to_message(info))
    decoded, model = decode_results(task, type(response).FromString(response.SerializeToString()))
    assert decoded == RESULTS[task]  # scores chosen exactly representable in float32
    assert model == info


def test_an_answer_without_model_info_decodes_to_none() -> None:
    model = model_info_to_message(ModelInfo(Task.TITLE, "m", "hub", 1))
    response = encode_results(Task.TITLE, [SuggestedTitle("x")], model)
    response.ClearField("model")
    assert decode_results(Task.TITLE, response) == ([SuggestedTitle("x")], None)


def test_retry_hint_is_whole_seconds_at_least_one() -> None:
    assert retry_after_from([("retry-after-s", "2.5")]) == 2
    assert retry_after_from([("retry-after-s", "0")]) == 1
    assert retry_after_from([("retry-after-s", "soon")]) == 1
    assert retry_after_from(None) == 1
