# Shared base layers for every service image, built once and reused:
#   python-base  Python, a virtualenv, the non-root user and the light dependencies every service needs
#   ml-base      python-base + CPU torch + transformers: the heavy layer the APIs (in-process mode) and the
#                inference service share, so it is built and stored once.
# Build with scripts/docker/build_images.sh (it builds these before the service images).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS python-base
# Every image of the stack inherits this label, so superseded builds can be pruned without touching others.
LABEL org.blog-ai.stack="1"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=60 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HOME=/hf-cache \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc
# A fixed uid so the shared named volumes (Hugging Face cache, data) stay writable across images.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /app /data /hf-cache /tmp/prometheus-multiproc \
    && chown app:app /app /data /hf-cache /tmp/prometheus-multiproc \
    && python3 -m venv /opt/venv
WORKDIR /app
COPY requirements/base.txt /src/requirements/base.txt
RUN pip install -r /src/requirements/base.txt

FROM python-base AS ml-base
ARG TORCH_VERSION=2.13.0
# Where the CPU torch wheel comes from. An index URL (the default: PyTorch's CPU index, never PyPI's multi-GB
# CUDA build), or empty to install only from the wheels in docker/wheels/ (CI copies a local wheel there).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY docker/wheels/ /tmp/wheels/
RUN if [ -n "${TORCH_INDEX_URL}" ]; then \
        pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; \
    else \
        pip install --no-index --find-links /tmp/wheels --no-deps "torch==${TORCH_VERSION}"; \
    fi \
    && rm -rf /tmp/wheels
# torch is installed already, so this takes its remaining dependencies and the rest of the ML stack from PyPI.
COPY requirements/ml.txt /src/requirements/ml.txt
RUN pip install -r /src/requirements/ml.txt \
    && python -c "import torch, transformers; assert '+cpu' in torch.__version__ or not torch.cuda.is_available()"
