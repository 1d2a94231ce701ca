# syntax=docker/dockerfile:1
# vodflow runtime image: the flows, tasks and the dbt project, run by a Prefect worker (one Job per flow run).
# Build: docker build -t <registry>/vodflow:$(git rev-parse --short HEAD) .  (deploy/README.md: the whole path)

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vodflow ./vodflow
COPY flows ./flows
COPY tasks ./tasks
# Wheels for the project and every dependency, so the runtime stage needs no compiler and no build cache.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
# A fixed numeric uid/gid: the pool's template runs pods as 10001 (runAsNonRoot can only be verified for a number).
ARG UID=10001
RUN groupadd --gid "${UID}" vodflow \
    && useradd --create-home --uid "${UID}" --gid "${UID}" --shell /usr/sbin/nologin vodflow \
    && mkdir -p /var/lib/vodflow && chown "${UID}:${UID}" /var/lib/vodflow
COPY --from=build /wheels /wheels
# Versions are pinned by the wheels built above from pyproject.toml; --no-index installs nothing else.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --find-links /wheels vodflow && rm -rf /wheels
WORKDIR /app
COPY flows ./flows
COPY tasks ./tasks
COPY dbt_models ./dbt_models
COPY prefect.yaml ./
# Deployments' pull step runs flows from VODFLOW_PROJECT_DIR; dbt writes its target under the data folder.
# Secrets (DATABASE_URL, the Slack webhook) come from Kubernetes Secrets at run time, never from the image.
ENV VODFLOW_PROJECT_DIR=/app \
    VODFLOW_DBT_PROJECT_DIR=/app/dbt_models \
    VODFLOW_DATA_DIR=/var/lib/vodflow \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DBT_USE_COLORS=false \
    PYTHONUNBUFFERED=1
USER 10001:10001
# No HEALTHCHECK: the container runs one flow run and exits (a Kubernetes Job, or a process on a worker). Kubernetes
# ignores Docker health checks, and a run's health is its Prefect state, which the worker watches; a probe here
# could only kill a run half-way; an evicted run is rescheduled by Prefect (the pool sets backoffLimit 0).
HEALTHCHECK NONE
CMD ["vodflow", "--help"]
