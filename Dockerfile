# The filepipe worker: the Batch job for large files and, with the entrypoint
# /usr/local/bin/filepipe-lambda and a handler as its command, every Lambda function of the stack.
# Build context: the repository root.
#   docker build -t filepipe-worker .
#   docker run --rm -e FILEPIPE_OBJECT='{"bucket":"b","key":"k.csv"}' filepipe-worker
ARG BASE_IMAGE=python:3.12-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY batch_image/requirements.txt /tmp/requirements.txt
# Behind a TLS-inspecting proxy, pass its CA bundle: --secret id=ca-bundle,src=/path/to/bundle.pem
RUN --mount=type=secret,id=ca-bundle \
    python3 -m venv /opt/venv \
    && if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
    && /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt

FROM ${BASE_IMAGE}
# The sources' digest (python3 batch_image/sources.py), so a stale image is never run unnoticed.
ARG SOURCES_DIGEST=unknown
LABEL io.filepipe.sources="${SOURCES_DIGEST}" \
      org.opencontainers.image.title="filepipe-worker" \
      org.opencontainers.image.description="filepipe transforms for AWS Batch and Lambda" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app
RUN groupadd --system --gid 10001 filepipe \
    && useradd --system --uid 10001 --gid filepipe --home-dir /app --shell /usr/sbin/nologin filepipe
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY filepipe/ filepipe/
COPY trigger_lambda/ trigger_lambda/
COPY transform_lambda/ transform_lambda/
COPY moves_lambda/ moves_lambda/
COPY batch_image/ batch_image/
COPY upload_api/ upload_api/
# The Lambda functions' entrypoint (stack/compute.py): a file, not a symlink, at an absolute path.
COPY batch_image/filepipe-lambda /usr/local/bin/filepipe-lambda
USER 10001:10001
CMD ["python", "-m", "batch_image.worker"]
