# The newsflow image for container work pools (Docker, Kubernetes, ECS) and Dask workers: every
# flow run starts in a fresh container, so raw articles, tables and cache live on object storage
# (prefect.yaml's newsflow-hourly-s3; docs/production.md). Everything comes from PyPI.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/newsflow
# The dependencies first (they change less often than the code), then the code, installed (the
# Dask scheduler and workers import tasks/) and kept here (the deployment's entrypoint is a path).
COPY pyproject.toml README.md ./
COPY flows flows
COPY tasks tasks
COPY prefect.yaml ./
RUN pip install .

# Not root; HOME and PREFECT_HOME are writable scratch, emptied with the container.
RUN useradd --create-home --uid 1000 newsflow
USER newsflow
ENV PREFECT_HOME=/home/newsflow/.prefect

CMD ["newsflow", "--help"]
