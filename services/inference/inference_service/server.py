"""Assembles and runs the service: gRPC server, health, reflection, batchers, metrics, warm-up, shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from blogcore.ai.backend import Task
from blogcore.ai.cpu_priority import yield_cpu_to_requests
from blogcore.ai.wire import MAX_MESSAGE_BYTES, SERVICE_NAME
from blogcore.grpc_gen import inference_pb2 as pb
from blogcore.grpc_gen import inference_pb2_grpc as pb_grpc
from inference_service.batcher import DynamicBatcher
from inference_service.metrics import InferenceMetrics
from inference_service.servicer import InferenceServicer
from blogcore.settings import AIGuard
from inference_service.settings import InferenceSettings

log = logging.getLogger("inference_service")



def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _load_engine(settings: InferenceSettings) -> Any:
    """Import torch only here, so the module (and its tests) load without it."""
    from blogcore.ai.engine import ModelEngine, configure_torch

    configure_torch(settings.effective_torch_threads)
    return ModelEngine(settings)


def _load_and_warm(engine: Any) -> None:
    engine.load()
    engine.warm_up()


class InferenceServer:
    """The service's parts, wired: start() listens at once (NOT_SERVING) and warms up in the background."""

    def __init__(self, settings: InferenceSettings, engine: Any) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = InferenceMetrics()
        # One model thread for all tasks: torch already spreads each batch over every core, so two models
        # computing at once would only fight over them.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model",
                                            initializer=yield_cpu_to_requests, initargs=(settings.effective_ai_nice,))
        self.batchers = {task: self._batcher(task) for task in Task}
        self.servicer = InferenceServicer(
            engine,
            self.batchers,
            self.metrics,
            max_texts_per_request=settings.max_texts_per_request,
            max_text_chars=settings.max_text_chars,
            deadline_admission=settings.ai_guard == AIGuard.ON,
        )
        self.health = health_aio.HealthServicer()
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
        )
        self.grpc_port = 0
        self.metrics_port = 0
        self.warm_up: asyncio.Future[None] | None = None

    def _batcher(self, task: Task) -> DynamicBatcher:
        policy = self.settings.batch_policy(task)
        engine = self.engine
        return DynamicBatcher(
            task.value,
            lambda texts: engine.run_batch(task, texts),
            self._executor,
            max_size=policy.max_size,
            max_delay_s=policy.max_delay_s,
            queue_size=policy.queue_size,
            observer=self.metrics.observer(task.value),
        )

    async def start(self) -> None:
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        pb_grpc.add_InferenceServicer_to_server(self.servicer, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
        reflection.enable_server_reflection((SERVICE_NAME, health_name, reflection.SERVICE_NAME), self._server)
        self.grpc_port = self._server.add_insecure_port(_hostport(self.settings.host, self.settings.grpc_port))
        await self._server.start()
        self.metrics_port = self.metrics.serve(self.settings.host, self.settings.metrics_port)
        # Whoever asked for port 0 (tests, scripts) reads the ports from this line.
        log.info(
            "listening grpc=%s metrics=%s",
            _hostport(self.settings.host, self.grpc_port),
            _hostport(self.settings.host, self.metrics_port),
        )
        self.warm_up = asyncio.ensure_future(self._warm_up())

    async def _warm_up(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, _load_and_warm, self.engine)
        for batcher in self.batchers.values():
            batcher.start()
        self.servicer.mark_ready()
        self.metrics.ready.set(1)
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("SERVING %s", ", ".join(f"{task.value}={self.engine.info(task).model_id}" for task in Task))

    async def stop(self) -> None:
        """NOT_SERVING, refuse new calls, let in-flight ones finish within the grace period, then stop."""
        grace = self.settings.shutdown_grace_s
        log.info("shutting down: NOT_SERVING, draining in-flight calls for up to %.1fs", grace)
        self.servicer.stopping = True
        self.metrics.ready.set(0)
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace)
        for batcher in self.batchers.values():
            await batcher.close()
        if self.warm_up is not None and not self.warm_up.done():
            self.warm_up.cancel()
        # A load still running cannot be interrupted; the interpreter waits for it at exit.
        self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("stopped")


async def serve(settings: InferenceSettings | None = None, *, engine: Any = None) -> int:
    """Run until SIGTERM or SIGINT; NOT_SERVING until the models are warm, SERVING until shutdown.

    Returns the process exit status: 0 after a requested stop, 1 when the models could not be loaded.
    """
    settings = settings or InferenceSettings()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = InferenceServer(settings, engine if engine is not None else _load_engine(settings))
    await server.start()
    assert server.warm_up is not None
    stop_wait = asyncio.ensure_future(stop.wait())
    await asyncio.wait({server.warm_up, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    failed = server.warm_up.done() and server.warm_up.exception() is not None
    if failed:
        log.error("loading the models failed", exc_info=server.warm_up.exception())
    else:
        await stop_wait
    stop_wait.cancel()
    await server.stop()
    return 1 if failed else 0
