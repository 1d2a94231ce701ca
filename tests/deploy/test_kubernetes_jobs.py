"""The Kubernetes Jobs every deployment produces, rendered and validated offline (no cluster, no network)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from vodflow.deploy.kubernetes import (
    KUBERNETES_DEPLOY_ENV,
    PREFECT_FILE,
    SECRET_ENV,
    DeploymentConfigError,
    ManifestInvalidError,
    check_job_variables,
    load_deployments,
    load_template,
    render_deployments,
    render_job,
    validate_job,
)
from vodflow.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def jobs(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return render_deployments(PREFECT_FILE, template)


def _container(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["template"]["spec"]["containers"][0]


def test_every_deployment_renders_a_valid_job(jobs: dict[str, dict[str, Any]]) -> None:
    names = {d["name"] for d in yaml.safe_load(PREFECT_FILE.read_text())["deployments"]}
    assert set(jobs) == names
    assert {"ingest-lumina", "ingest-atlas", "ingest-harbor", "ingest-meridian", "transform"} <= names
    for job in jobs.values():
        assert job["kind"] == "Job"
        spec = job["spec"]
        assert spec["backoffLimit"] == 0
        assert spec["ttlSecondsAfterFinished"] == 3600
        pod = spec["template"]["spec"]
        assert pod["serviceAccountName"] == "vodflow-flow-run"
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        container = _container(job)
        assert container["image"] == "registry.invalid/vodflow:0.0.0-test"
        assert container["resources"] == {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        }
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        env = {e["name"]: e for e in container["env"]}
        assert env["VODFLOW_PROJECT_DIR"]["value"] == "/app"


def test_secrets_only_from_secret_key_refs(jobs: dict[str, dict[str, Any]]) -> None:
    for job in jobs.values():
        env = {e["name"]: e for e in _container(job)["env"]}
        assert env["DATABASE_URL"] == {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "vodflow-database", "key": "url", "optional": False}},
        }
        slack = env["VODFLOW_SLACK_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"]
        assert slack == {"name": "vodflow-slack", "key": "webhook-url", "optional": True}
        assert all("value" not in env[name] for name in SECRET_ENV)
    text = json.dumps(jobs)
    assert "postgresql" not in text
    assert "hooks.slack" not in text


def test_job_variables_override_the_template(template: dict[str, Any]) -> None:
    job = render_job(template, {"memory_limit": "4Gi", "env": {"VODFLOW_DBT_THREADS": "8"}}, deployment="transform")
    validate_job(job)
    container = _container(job)
    assert container["resources"]["limits"]["memory"] == "4Gi"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["VODFLOW_DBT_THREADS"] == "8"
    assert env["VODFLOW_PROJECT_DIR"] == "/app"  # merged over the defaults, not replacing them


def test_unknown_job_variable_is_refused(template: dict[str, Any]) -> None:
    with pytest.raises(DeploymentConfigError, match=r"deployment 'ingest-lumina'.*'memory_limt'"):
        check_job_variables("ingest-lumina", {"memory_limt": "4Gi"}, template)


def test_unknown_job_variable_in_prefect_yaml_is_refused(tmp_path: Path, template: dict[str, Any]) -> None:
    config = yaml.safe_load(PREFECT_FILE.read_text())
    config["deployments"][0]["work_pool"] = {"name": "{{ $VODFLOW_WORK_POOL }}", "job_variables": {"gpu": 1}}
    prefect_file = tmp_path / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(config))
    name = config["deployments"][0]["name"]
    with pytest.raises(DeploymentConfigError, match=rf"deployment '{name}'.*'gpu' not declared"):
        render_deployments(prefect_file, template)


def test_a_kubernetes_only_job_variable_is_refused_in_the_shared_file(tmp_path: Path, template: dict[str, Any]) -> None:
    """`image` is a Kubernetes variable the process pool would drop: the shared prefect.yaml may not set it."""
    config = yaml.safe_load(PREFECT_FILE.read_text())
    config["deployments"][0]["work_pool"] = {"name": "x", "job_variables": {"image": "other:1"}}
    prefect_file = tmp_path / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(config))
    with pytest.raises(DeploymentConfigError, match="'image' not declared"):
        render_deployments(prefect_file, template)


def test_wrong_type_job_variable_is_refused(template: dict[str, Any]) -> None:
    with pytest.raises(DeploymentConfigError, match="finished_job_ttl"):
        check_job_variables("transform", {"finished_job_ttl": "one hour"}, template)


def test_inline_secret_in_job_variables_is_refused(template: dict[str, Any]) -> None:
    with pytest.raises(DeploymentConfigError, match="DATABASE_URL"):
        check_job_variables("transform", {"env": {"DATABASE_URL": "postgresql+psycopg://u:p@h/db"}}, template)


def test_inline_secret_in_a_manifest_fails_validation(jobs: dict[str, dict[str, Any]]) -> None:
    job = copy.deepcopy(jobs["transform"])
    _container(job)["env"].append({"name": "VODFLOW_SLACK_WEBHOOK_URL", "value": "https://example.invalid/hook"})
    _container(job)["env"] = [e for e in _container(job)["env"] if "valueFrom" not in e]
    with pytest.raises(ManifestInvalidError, match="VODFLOW_SLACK_WEBHOOK_URL must come from a Kubernetes Secret"):
        validate_job(job)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda job: _container(job)["resources"].__setitem__("limits", ["2Gi"]), "resources.limits"),
        (lambda job: job["spec"].__setitem__("backoffLimit", "zero"), "spec.backoffLimit"),
        (lambda job: _container(job).__setitem__("imagePullPolicyy", "Always"), "imagePullPolicyy"),
    ],
)
def test_a_bad_manifest_fails_validation(jobs: dict[str, dict[str, Any]], mutate: Any, where: str) -> None:
    """Proves the validator is live: wrong types and misspelt fields are caught (strict mode)."""
    job = copy.deepcopy(jobs["ingest-lumina"])
    validate_job(job)
    mutate(job)
    with pytest.raises(ManifestInvalidError) as caught:
        validate_job(job)
    assert where in str(caught.value)


def test_unset_environment_variable_is_an_error() -> None:
    with pytest.raises(DeploymentConfigError, match="VODFLOW_PROJECT_DIR"):
        load_deployments(PREFECT_FILE, {"VODFLOW_WORK_POOL": "vodflow-kubernetes"})


def test_pull_step_must_name_the_image_folder(template: dict[str, Any]) -> None:
    environ = {**KUBERNETES_DEPLOY_ENV, "VODFLOW_PROJECT_DIR": "/home/someone/vodflow"}
    with pytest.raises(DeploymentConfigError, match="VODFLOW_PROJECT_DIR=/app"):
        render_deployments(PREFECT_FILE, template, environ=environ)


def test_the_same_file_selects_either_pool_by_variable() -> None:
    for pool in ("vodflow-process", "vodflow-kubernetes"):
        specs = load_deployments(PREFECT_FILE, {"VODFLOW_WORK_POOL": pool, "VODFLOW_PROJECT_DIR": "/app"})
        assert {spec.work_pool for spec in specs} == {pool}
        assert all(dict(spec.job_variables) == {} for spec in specs)


def test_helm_values_point_the_worker_at_the_pool(template: dict[str, Any]) -> None:
    values = yaml.safe_load((PROJECT_ROOT / "deploy" / "helm" / "prefect-worker-values.yaml").read_text())
    worker = values["worker"]
    assert worker["config"]["type"] == "kubernetes"
    assert worker["config"]["workPool"] == "vodflow-kubernetes" == KUBERNETES_DEPLOY_ENV["VODFLOW_WORK_POOL"]
    assert worker["config"]["jobNamespace"] == template["variables"]["properties"]["namespace"]["default"]
    assert worker["apiConfig"] == "selfHostedServer"
    assert worker["selfHostedServerApiConfig"]["apiUrl"]
    assert worker["containerSecurityContext"]["readOnlyRootFilesystem"] is True
    # The template is passed with --set-file, so the values file does not carry a second copy.
    assert not worker["config"].get("baseJobTemplate", {}).get("configuration")
