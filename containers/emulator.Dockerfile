# The emulator itself, for docker-compose.yml: the control plane on 8642, driving the host's
# engine through its socket; training and serving containers run beside it as siblings.
# Build context: the repository root (see /.dockerignore). containers/build.sh --emulator builds it
# offline (base image and wheels as for the algorithm images); `docker compose build` builds it
# with the same Dockerfile where python:3.11-slim and PyPI can be reached.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/opt/emulator

# Dependencies first (cached until the wheels or pyproject's dependency list change). Offline:
# the pinned wheels build.sh downloaded; online: pyproject's own dependency list from PyPI.
COPY containers/wheels/emulator/ /tmp/wheels/
COPY pyproject.toml /tmp/pyproject.toml
RUN set -eu; \
    pipwhl="$(ls /tmp/wheels/pip-*.whl 2>/dev/null | head -n 1 || true)"; \
    if [ -n "$pipwhl" ] && [ -f /tmp/wheels/requirements.txt ]; then \
        python3 "$pipwhl/pip" install --no-index --find-links /tmp/wheels --no-cache-dir \
            --break-system-packages --root-user-action=ignore --disable-pip-version-check \
            -r /tmp/wheels/requirements.txt; \
    else \
        python3 -c 'import tomllib; print("\n".join(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"]))' \
            > /tmp/requirements.txt; \
        python3 -m pip install --no-cache-dir --root-user-action=ignore \
            --disable-pip-version-check -r /tmp/requirements.txt; \
    fi; \
    rm -rf /tmp/wheels /tmp/pyproject.toml /tmp/requirements.txt

COPY algorithms /opt/emulator/algorithms
COPY sdk /opt/emulator/sdk
COPY emulator /opt/emulator/emulator

# Listen on every interface of the container (compose publishes it on the host's 127.0.0.1 only);
# the data directory is a volume so records, S3 objects and logs outlive the container.
ENV SAGEMAKER_EMULATOR_HOST=0.0.0.0 \
    SAGEMAKER_EMULATOR_PORT=8642 \
    SAGEMAKER_EMULATOR_DATA_DIR=/data \
    SAGEMAKER_EMULATOR_RUNTIME=docker
VOLUME /data
EXPOSE 8642
ENTRYPOINT ["python3", "-m", "emulator"]
CMD ["serve"]
