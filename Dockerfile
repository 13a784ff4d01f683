# syntax=docker/dockerfile:1
# The graygate operator image: `docker build -t REGISTRY/graygate:0.1.0 .`, pushed where the cluster pulls from and
# named by the chart's image.repository (README, "Installing").
#
# Two stages: the first builds a virtual environment with `pip install .` (the same install the tests use, from
# pyproject.toml); the second copies only that environment onto a clean slim Python, with no compiler, no pip
# cache and no source tree. It runs as uid/gid 65532 and writes nothing outside /tmp, so the chart's
# readOnlyRootFilesystem holds.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/graygate
WORKDIR /src
# Only what `pip install .` reads (see .dockerignore): the metadata first, then the package.
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /opt/graygate/bin/pip install . \
 && /opt/graygate/bin/python -m compileall -q /opt/graygate/lib \
 && /opt/graygate/bin/graygate --help > /dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="graygate" \
      org.opencontainers.image.description="Canary releases for Istio, gated and reverted." \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/graygate /opt/graygate
ENV PATH=/opt/graygate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /tmp
# 8080: liveness (/healthz); 8081: Prometheus metrics.
EXPOSE 8080 8081
ENTRYPOINT ["graygate"]
CMD ["run", "--all-namespaces", "--listen-address=0.0.0.0"]
