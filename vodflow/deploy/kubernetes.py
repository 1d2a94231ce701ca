"""Render every deployment's Kubernetes Job offline and check it, so a broken pool template fails ``make test``.

No cluster is needed: the Job is rendered with prefect-kubernetes' own code (``KubernetesWorkerJobConfiguration``, the
worker's renderer) from ``deploy/kubernetes/base-job-template.json`` and the job variables each deployment in
``prefect.yaml`` gets, then validated strictly against the Kubernetes OpenAPI schemas that ``kubernetes-validate``
ships. Three things Prefect itself does not check are checked here:

* a job variable the pool's template does not declare is an error (Prefect accepts and silently drops it);
* the database URL and the Slack webhook only ever come from Kubernetes Secrets (``valueFrom.secretKeyRef``), never
  as a literal ``value`` in a manifest;
* an environment placeholder (``{{ $VAR }}``) a deployment uses must be set when deploying (Prefect makes it ``''``).

Run ``python -m vodflow.deploy.kubernetes`` to print the rendered Jobs (JSON) or fail with every problem found.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vodflow.envvars import temporary_environ
from vodflow.settings import PROJECT_ROOT

#: The pool's base job template, applied with ``prefect work-pool create/update --base-job-template``.
TEMPLATE_PATH = PROJECT_ROOT / "deploy" / "kubernetes" / "base-job-template.json"
PREFECT_FILE = PROJECT_ROOT / "prefect.yaml"
#: The oldest Kubernetes minor still supported by the major managed offerings when this was written.
KUBERNETES_VERSION = "1.30"
#: Environment variables that hold secrets: only ever from a Kubernetes Secret, never a literal value.
SECRET_ENV = frozenset({"DATABASE_URL", "VODFLOW_SLACK_WEBHOOK_URL"})
#: The deploy-time environment for the Kubernetes pool (see deploy/README.md): the pull step must name the image's
#: project folder, not the deploying machine's checkout.
KUBERNETES_DEPLOY_ENV = {"VODFLOW_WORK_POOL": "vodflow-kubernetes", "VODFLOW_PROJECT_DIR": "/app"}
#: Prefect variables the template reads (``{{ prefect.variables.* }}``); the value used when rendering offline.
EXAMPLE_PREFECT_VARIABLES: Mapping[str, Any] = {"vodflow_image": "registry.invalid/vodflow:0.0.0-test"}
#: prefect-kubernetes 0.8 refuses a template without these two keys in the *pod* spec (its own manifest check);
#: the API server drops them there as unknown fields. The template also sets them in the Job spec, where they
#: mean something. Strict validation ignores them in the pod spec and nothing else.
_POD_SPEC_KEYS_PREFECT_REQUIRES = ("completions", "parallelism")


class DeploymentConfigError(ValueError):
    """A deployment's job variables or environment cannot produce a Job: names the deployment and the cause."""


class ManifestInvalidError(ValueError):
    """A rendered Job is not a valid Kubernetes object, or carries a secret inline."""


@dataclass(frozen=True)
class DeploymentSpec:
    """What rendering needs from one ``prefect.yaml`` deployment, after ``{{ $VAR }}`` substitution."""

    name: str
    work_pool: str
    job_variables: Mapping[str, Any]
    working_directory: str | None


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read a base job template (the JSON given to ``prefect work-pool create --base-job-template``)."""
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return template


def load_deployments(prefect_file: Path, environ: Mapping[str, str]) -> list[DeploymentSpec]:
    """Read the deployments of ``prefect_file`` the way ``prefect deploy`` does, with ``environ`` as its environment.

    ``prefect deploy`` substitutes ``{{ $VAR }}`` from the environment in the whole file and turns an unset one into
    ``''`` without a word; here an unset variable in a deployment's work pool or pull step is an error instead.

    Raises:
        DeploymentConfigError: a deployment uses an environment variable ``environ`` does not set.
    """
    from prefect.utilities.templating import PlaceholderType, apply_values, find_placeholders

    config: dict[str, Any] = yaml.safe_load(prefect_file.read_text(encoding="utf-8"))
    pull = config.get("pull") or []
    specs: list[DeploymentSpec] = []
    for deployment in config.get("deployments") or []:
        name = str(deployment.get("name"))
        used = {
            placeholder.name.removeprefix("$")
            for placeholder in find_placeholders({"work_pool": deployment.get("work_pool"), "pull": pull})
            if placeholder.type is PlaceholderType.ENV_VAR
        }
        if missing := sorted(var for var in used if not environ.get(var)):
            raise DeploymentConfigError(f"deployment {name!r}: environment variable(s) not set: {', '.join(missing)}")
        with temporary_environ(environ):
            resolved: Any = apply_values({"deployment": deployment, "pull": pull}, dict(environ), remove_notset=False)
        pool = resolved["deployment"].get("work_pool") or {}
        specs.append(
            DeploymentSpec(
                name=name,
                work_pool=str(pool.get("name", "")),
                job_variables=dict(pool.get("job_variables") or {}),
                working_directory=_working_directory(resolved["pull"]),
            )
        )
    return specs


def _working_directory(pull_steps: Sequence[Mapping[str, Any]]) -> str | None:
    """The folder the pull step ``set_working_directory`` moves to, if the deployment has one."""
    for step in pull_steps:
        for step_name, arguments in step.items():
            if step_name.endswith("set_working_directory"):
                return str(arguments.get("directory"))
    return None


def check_job_variables(deployment: str, job_variables: Mapping[str, Any], template: Mapping[str, Any]) -> None:
    """Refuse job variables the template does not declare, values its schema rejects and inline secrets.

    Prefect validates job variables against the pool's schema but accepts unknown names and drops them when it
    renders, so a misspelt ``memory_limt`` would silently leave the default in place.

    Raises:
        DeploymentConfigError: naming the deployment, the variable and the pool template's variables.
    """
    schema = dict(template["variables"])
    declared = set(schema.get("properties", {}))
    if unknown := sorted(set(job_variables) - declared):
        raise DeploymentConfigError(
            f"deployment {deployment!r}: job variable(s) {', '.join(map(repr, unknown))} not declared in the work "
            f"pool's base job template (declared: {', '.join(sorted(declared))})"
        )
    env = job_variables.get("env")
    if isinstance(env, Mapping) and (inline := sorted(SECRET_ENV & set(env))):
        raise DeploymentConfigError(
            f"deployment {deployment!r}: {', '.join(inline)} may not be set in job variables: it comes from a "
            "Kubernetes Secret (see the template's secret variables)"
        )
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(dict(job_variables)), key=lambda error: list(error.path))
    if errors:
        first = errors[0]
        where = ".".join(str(part) for part in first.path) or "(root)"
        raise DeploymentConfigError(f"deployment {deployment!r}: job variable {where}: {first.message}")


class _OfflineClient:
    """Stands in for the Prefect client while rendering: answers Prefect variables, refuses block lookups."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self._variables = dict(variables)

    async def read_variable_by_name(self, name: str) -> Any:
        """Return an object with ``.value`` like the client does, or ``None`` for an unknown variable."""
        if name not in self._variables:
            return None
        return _Variable(self._variables[name])

    async def read_block_document_by_name(self, *args: Any, **kwargs: Any) -> Any:
        """Blocks live on the server; the template must not depend on them."""
        raise DeploymentConfigError("the base job template references a Prefect block; keep it self-contained")


@dataclass(frozen=True)
class _Variable:
    value: Any


def render_job(
    template: Mapping[str, Any],
    job_variables: Mapping[str, Any],
    *,
    deployment: str = "deployment",
    prefect_variables: Mapping[str, Any] = EXAMPLE_PREFECT_VARIABLES,
) -> dict[str, Any]:
    """Render the Job a Kubernetes worker would submit for one flow run of a deployment with ``job_variables``.

    Uses prefect-kubernetes' own ``from_template_and_values`` and ``prepare_for_flow_run``, with two differences
    from a real worker: Prefect variables come from ``prefect_variables`` instead of the server, and the worker's
    own Prefect settings (``PREFECT_API_URL`` …) are not copied into the container's environment, since offline
    they would be this machine's.
    """
    from prefect.client.schemas.objects import FlowRun
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    class _Configuration(KubernetesWorkerJobConfiguration):  # type: ignore[misc]
        @classmethod
        def _base_environment(cls) -> dict[str, str]:
            return {}

    client = _OfflineClient(prefect_variables)
    configuration = asyncio.run(
        _Configuration.from_template_and_values(
            base_job_template=copy.deepcopy(dict(template)), values=dict(job_variables), client=client
        )
    )
    run_id = uuid.uuid5(uuid.NAMESPACE_URL, f"vodflow-offline-render/{deployment}")
    configuration.prepare_for_flow_run(flow_run=FlowRun(id=run_id, name=f"{deployment}-offline", flow_id=run_id))
    manifest: dict[str, Any] = copy.deepcopy(configuration.job_manifest)
    return manifest


def validate_job(manifest: Mapping[str, Any], version: str = KUBERNETES_VERSION) -> None:
    """Validate a Job strictly against the Kubernetes ``version`` schemas and check its secrets come from Secrets.

    Strict: an unknown or misspelt field is an error (the API server would drop it with only a warning).

    Raises:
        ManifestInvalidError: the first schema error (with its path), or a secret variable set inline.
    """
    import kubernetes_validate

    checked = copy.deepcopy(dict(manifest))
    pod_spec = checked.get("spec", {}).get("template", {}).get("spec", {})
    for key in _POD_SPEC_KEYS_PREFECT_REQUIRES:
        pod_spec.pop(key, None)
    try:
        kubernetes_validate.validate(checked, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "(root)"
        raise ManifestInvalidError(f"{checked.get('kind', '?')} invalid at {where}: {error.message}") from None
    for container in pod_spec.get("containers", []):
        for entry in container.get("env") or []:
            if entry.get("name") in SECRET_ENV and "secretKeyRef" not in (entry.get("valueFrom") or {}):
                raise ManifestInvalidError(
                    f"container {container.get('name')!r}: {entry['name']} must come from a Kubernetes Secret "
                    "(valueFrom.secretKeyRef), not an inline value"
                )


def render_deployments(
    prefect_file: Path = PREFECT_FILE,
    template: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] = KUBERNETES_DEPLOY_ENV,
    prefect_variables: Mapping[str, Any] = EXAMPLE_PREFECT_VARIABLES,
    version: str = KUBERNETES_VERSION,
) -> dict[str, dict[str, Any]]:
    """Render and validate the Job of every deployment in ``prefect_file`` for the Kubernetes pool.

    The same file also serves the process pool, so job variables are checked against the process pool's default
    template as well: a variable only Kubernetes knows would be dropped there (and vice versa).

    Returns:
        Each deployment's name and its validated Job manifest.

    Raises:
        DeploymentConfigError: a job variable or the pull step cannot work on the pool.
        ManifestInvalidError: a rendered Job is invalid.
    """
    from prefect.workers.process import ProcessWorker

    template = template if template is not None else load_template()
    process_template = ProcessWorker.get_default_base_job_template()
    project_dir = template["variables"]["properties"]["env"].get("default", {}).get("VODFLOW_PROJECT_DIR")
    jobs: dict[str, dict[str, Any]] = {}
    for spec in load_deployments(prefect_file, environ):
        check_job_variables(spec.name, spec.job_variables, template)
        check_job_variables(spec.name, spec.job_variables, process_template)
        if project_dir and spec.working_directory not in (None, project_dir):
            raise DeploymentConfigError(
                f"deployment {spec.name!r}: its pull step runs from {spec.working_directory!r}, but the image's "
                f"project folder is {project_dir!r}: deploy with VODFLOW_PROJECT_DIR={project_dir}"
            )
        manifest = render_job(template, spec.job_variables, deployment=spec.name, prefect_variables=prefect_variables)
        validate_job(manifest, version)
        jobs[spec.name] = manifest
    return jobs


def main(argv: Iterable[str] | None = None) -> int:
    """Print every deployment's rendered Job as JSON; exit 1 with the reason if any cannot be rendered or is invalid."""
    parser = argparse.ArgumentParser(prog="python -m vodflow.deploy.kubernetes", description=__doc__.split("\n")[0])
    parser.add_argument("--prefect-file", type=Path, default=PREFECT_FILE)
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH)
    parser.add_argument("--image", default=EXAMPLE_PREFECT_VARIABLES["vodflow_image"], help="value of vodflow_image")
    parser.add_argument("--kubernetes-version", default=KUBERNETES_VERSION)
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        jobs = render_deployments(
            args.prefect_file,
            load_template(args.template),
            prefect_variables={"vodflow_image": args.image},
            version=args.kubernetes_version,
        )
    except (DeploymentConfigError, ManifestInvalidError) as error:
        print(f"error: {error}", file=sys.stderr)  # noqa: T201 - a command-line tool's output
        return 1
    print(json.dumps(jobs, indent=2, sort_keys=True))  # noqa: T201 - a command-line tool's output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
