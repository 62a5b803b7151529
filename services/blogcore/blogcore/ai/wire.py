"""The inference service's wire, for both of its sides: names, limits, and each task's results to and from messages.

The service (services/inference) encodes with these functions and RemoteBackend decodes with them, so a field added
to proto/inference.proto is mapped in exactly one place. Only grpc's generated messages are imported: no torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from blogcore.ai.backend import ModelInfo, Result, Sentiment, Summary, SuggestedTitle, Tags, Task
from blogcore.grpc_gen import inference_pb2 as pb

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Inference"].full_name
# Room for a full call: 64 texts of 100,000 characters of up to 4 UTF-8 bytes each.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
# Trailing metadata of a RESOURCE_EXHAUSTED answer: whole seconds the caller should wait before retrying.
RETRY_AFTER_METADATA_KEY = "retry-after-s"
METHOD_NAMES = {Task.SUMMARIZE: "Summarize", Task.SENTIMENT: "Sentiment", Task.TITLE: "Title", Task.TAGS: "Tags"}


def model_info_to_message(info: ModelInfo) -> pb.ModelInfo:
    return pb.ModelInfo(
        task=str(info.task),
        model_id=info.model_id,
        source=info.source,
        max_input_tokens=info.max_input_tokens,
        extra_json=json.dumps(info.extra, default=str, sort_keys=True),
    )


def model_info_from_message(message: pb.ModelInfo) -> ModelInfo:
    extra = json.loads(message.extra_json) if message.extra_json else {}
    return ModelInfo(
        task=Task(message.task),
        model_id=message.model_id,
        source=message.source,
        max_input_tokens=message.max_input_tokens,
        extra=extra,
    )


@dataclass(frozen=True)
class _Codec:
    response: type  # the RPC's response message: repeated results plus the model that answered
    to_message: Callable[[Any], Any]
    from_message: Callable[[Any], Result]


_CODECS: dict[Task, _Codec] = {
    Task.SUMMARIZE: _Codec(
        pb.SummarizeResponse,
        lambda r: pb.Summary(text=r.text, truncated=r.truncated),
        lambda m: Summary(text=m.text, truncated=m.truncated),
    ),
    Task.SENTIMENT: _Codec(
        pb.SentimentResponse,
        lambda r: pb.Sentiment(stars=r.stars, score=r.score, truncated=r.truncated),
        lambda m: Sentiment(stars=m.stars, score=m.score, truncated=m.truncated),
    ),
    Task.TITLE: _Codec(
        pb.TitleResponse,
        lambda r: pb.Title(text=r.text, truncated=r.truncated),
        lambda m: SuggestedTitle(text=m.text, truncated=m.truncated),
    ),
    Task.TAGS: _Codec(
        pb.TagsResponse,
        lambda r: pb.Tags(tags=[pb.TagScore(tag=tag, probability=p) for tag, p in r.tags], truncated=r.truncated),
        lambda m: Tags(tags=tuple((t.tag, t.probability) for t in m.tags), truncated=m.truncated),
    ),
}


def encode_results(task: Task, results: Sequence[Result], model: pb.ModelInfo) -> Any:
    """The service's answer to one call: its results in order, and the model that computed them."""
    codec = _CODECS[task]
    return codec.response(results=[codec.to_message(r) for r in results], model=model)


def decode_results(task: Task, response: Any) -> tuple[list[Result], ModelInfo | None]:
    """The results of one answer, and the model that computed them when the answer says."""
    results = [_CODECS[task].from_message(m) for m in response.results]
    return results, model_info_from_message(response.model) if response.HasField("model") else None


def retry_after_from(trailing: Sequence[tuple[str, Any]] | None) -> int:
    """The service's retry hint in whole seconds (at least one), or one second when it gave none we can read."""
    for key, value in trailing or ():
        if key == RETRY_AFTER_METADATA_KEY:
            try:
                return max(1, int(float(value)))
            except (TypeError, ValueError):
                break
    return 1
