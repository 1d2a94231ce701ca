# vodflow runtime image: the flows, tasks and the dbt project, run by a Prefect worker (one Job per flow run).
# Build: docker build -t vodflow:$(git rev-parse --short HEAD) .
# syntax=docker/dockerfile:1

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vodflow ./vodflow
COPY flows ./flows
COPY tasks ./tasks
# Wheels for the project and every dependency, so the runtime stage needs no compiler and no build cache.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ARG UID=10001
RUN useradd --create-home --uid "${UID}" --shell /usr/sbin/nologin vodflow \
    && mkdir -p /var/lib/vodflow && chown vodflow /var/lib/vodflow
COPY --from=build /wheels /wheels
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
USER vodflow
HEALTHCHECK NONE
CMD ["vodflow", "--help"]
