"""Counting what the pipeline asks of Firestore and Pub/Sub, at the client's network boundary:
gRPC interceptors on the Firestore client's channel (documents read, documents written,
transactions) and on the Pub/Sub publisher's channel (messages published)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import grpc


class _FirestoreCounter(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.rsplit("/", 1)[-1]
        if method == "Commit":
            self.counts["writes"] += len(request.writes)
        elif method == "BeginTransaction":
            self.counts["transactions"] += 1
        elif method == "GetDocument":
            self.counts["reads"] += 1
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.rsplit("/", 1)[-1]
        responses = continuation(details, request)
        if method not in ("BatchGetDocuments", "RunQuery"):
            return responses

        return _CountedStream(responses, method, self.counts)


class _CountedStream:
    """The response stream, counted as it is consumed (api_core calls next() on it)."""

    def __init__(self, responses: Any, method: str, counts: Counter[str]) -> None:
        self._responses = responses
        self._method = method
        self._counts = counts

    def __iter__(self) -> _CountedStream:
        return self

    def __next__(self) -> Any:
        r = next(self._responses)
        if self._method == "BatchGetDocuments":
            # A missing document is billed as a read too.
            if r.found.name or r.missing:
                self._counts["reads"] += 1
        elif r.document.name:
            self._counts["reads"] += 1
        return r

    def __getattr__(self, name: str) -> Any:
        return getattr(self._responses, name)


def counting_firestore(project: str, counts: Counter[str]) -> Any:
    """A Firestore client (emulator) whose every RPC is counted into `counts`."""
    from google.cloud import firestore

    client = firestore.Client(project=project)
    make_channel = client._emulator_channel

    def intercepted(transport: Any) -> Any:
        return grpc.intercept_channel(make_channel(transport), _FirestoreCounter(counts))

    client._emulator_channel = intercepted  # type: ignore[method-assign]
    return client


class _PubSubCounter(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.method.rsplit("/", 1)[-1] == "Publish":
            n = len(request.messages)
            self.counts["messages"] += n
            self.counts[f"messages:{request.topic.rsplit('-', 1)[-1]}"] += n
        return continuation(details, request)


def counting_publisher(counts: Counter[str]) -> Any:
    """A publisher (emulator) configured like shared.bus's, whose every Publish RPC is counted:
    both the batcher's and the direct requests."""
    import os

    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    from shared.bus import BATCH_LATENCY_SECONDS

    channel = grpc.intercept_channel(
        grpc.insecure_channel(os.environ["PUBSUB_EMULATOR_HOST"]), _PubSubCounter(counts)
    )
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_latency=BATCH_LATENCY_SECONDS),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
        transport=PublisherGrpcTransport(channel=channel),
    )
