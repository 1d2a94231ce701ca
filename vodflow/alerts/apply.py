"""Make the Prefect server's alerting match the repository: channel blocks, automations, the health-report link.

Idempotent by construction: automations are looked up by name among the ones vodflow owns (tag
``vodflow-managed``), then created, updated in place (same id) or deleted; one that already matches is left alone.
``prefect automation create --from-file`` cannot do this (it duplicates on every run). Automations vodflow does not
own, such as those Prefect creates for the deployment triggers in ``prefect.yaml``, are never read for changes,
updated or deleted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from vodflow.alerts.channels import BLOCK_NAMES, CHANNELS, EMAIL, SLACK, Channel, ChannelConfig, channel_config
from vodflow.alerts.definitions import MANAGED_TAG, AutomationDefinition, load_definitions
from vodflow.anomaly.checks import CHECKS_ENV, load_checks
from vodflow.prefect_auth import prefect_client_credentials

if TYPE_CHECKING:
    from prefect.blocks.core import Block
    from prefect.client.orchestration import PrefectClient
    from prefect.events.schemas.automations import Automation, AutomationCore

#: The Prefect variable the templates read the health report's link from (``variables.<name>``).
HEALTH_REPORT_VARIABLE = "vodflow_health_report_url"
HEALTH_REPORT_ENV = "VODFLOW_HEALTH_REPORT_URL"


@dataclass
class ApplyResult:
    """What ``apply`` changed, in words a person can read (and no secret)."""

    channels: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per fact, for the CLI and ``vodflow up``."""
        out = [*self.channels, *self.variables]
        out += [f"created   {name}" for name in self.created]
        out += [f"updated   {name}" for name in self.updated]
        out += [f"unchanged {name}" for name in self.unchanged]
        out += [f"deleted   {name}" for name in self.deleted]
        out += [f"skipped   {name}" for name in self.skipped]
        return out

    def summary(self) -> str:
        """One line: the counts."""
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.deleted)} deleted, {len(self.skipped)} skipped"
        )


def _block(channel: Channel, config: ChannelConfig) -> Block | None:
    from pydantic import SecretStr

    from vodflow.alerts.blocks import VodflowSlackWebhook, VodflowSmtpEmail

    if channel == SLACK and config.slack is not None:
        return VodflowSlackWebhook(url=SecretStr(config.slack.webhook_url))
    if channel == EMAIL and config.email is not None:
        email = config.email
        return VodflowSmtpEmail(
            host=email.host,
            port=email.port,
            security=email.security,
            username=email.username,
            password=SecretStr(email.password) if email.password else None,
            from_address=email.from_address,
            to_addresses=email.to_addresses,
        )
    return None


async def _remove_block(client: PrefectClient, channel: Channel) -> bool:
    from prefect.exceptions import ObjectNotFound

    from vodflow.alerts.blocks import VodflowSlackWebhook, VodflowSmtpEmail

    slug = (VodflowSlackWebhook if channel == SLACK else VodflowSmtpEmail).get_block_type_slug()
    try:
        document = await client.read_block_document_by_name(BLOCK_NAMES[channel], block_type_slug=slug)
    except ObjectNotFound:
        return False
    await client.delete_block_document(document.id)
    return True


async def _save_blocks(client: PrefectClient, config: ChannelConfig, result: ApplyResult) -> dict[Channel, UUID]:
    """Save each configured channel's block (overwrite keeps its id); report the others as not configured."""
    ids: dict[Channel, UUID] = {}
    for channel in CHANNELS:
        block = _block(channel, config)
        if block is None:
            result.channels.append(f"{channel}: not configured ({config.missing[channel]})")
            continue
        ids[channel] = await block.asave(BLOCK_NAMES[channel], overwrite=True, client=client)
        result.channels.append(f"{channel}: block {BLOCK_NAMES[channel]} saved")
    return ids


def _canonical(value: Any) -> Any:
    """Lists of strings sorted: a trigger's ``expect``, ``after`` and ``for_each`` are sets, in no stable order."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_canonical(item) for item in value]
        return sorted(items) if all(isinstance(item, str) for item in items) else items
    return value


def _comparable(automation: AutomationCore | Automation) -> dict[str, Any]:
    """The fields ``apply`` owns, in a form where the server's copy equals the one we would send."""
    from prefect.events.schemas.automations import AutomationCore

    core = AutomationCore.model_validate(automation.model_dump(exclude={"id"}))
    return _canonical(core.model_dump(mode="json", exclude={"owner_resource"}))


async def _owned(client: PrefectClient) -> list[Automation]:
    return [item for item in await client.read_automations() if MANAGED_TAG in item.tags and not item.owner_resource]


async def _sync_automations(
    client: PrefectClient, definitions: list[AutomationDefinition], blocks: dict[Channel, UUID], result: ApplyResult
) -> None:
    desired: dict[str, AutomationCore] = {}
    for definition in definitions:
        if definition.channel is None:  # an action on the run itself: needs no channel
            desired[definition.full_name] = definition.to_automation(None)
            continue
        if definition.channel not in blocks:
            result.skipped.append(f"{definition.full_name} ({definition.channel} not configured)")
            continue
        desired[definition.full_name] = definition.to_automation(blocks[definition.channel])
    existing: dict[str, Automation] = {}
    for found in sorted(await _owned(client), key=lambda item: str(item.id)):
        if found.name in desired and found.name not in existing:
            existing[found.name] = found
        else:  # no longer defined, its channel is gone, or a duplicate left by an interrupted apply
            await client.delete_automation(found.id)
            result.deleted.append(found.name)
    for name, automation in desired.items():
        current = existing.get(name)
        if current is None:
            await client.create_automation(automation)
            result.created.append(name)
        elif _comparable(current) != _comparable(automation):
            await client.update_automation(current.id, automation)
            result.updated.append(name)
        else:
            result.unchanged.append(name)


async def _sync_health_report_variable(client: PrefectClient, env: Mapping[str, str], result: ApplyResult) -> None:
    """Set the link the messages show when ``VODFLOW_HEALTH_REPORT_URL`` is given; otherwise keep what is there.

    Kept, not cleared, when unset: the health report's own flow may publish its URL into the variable.
    """
    from prefect.client.schemas.actions import VariableCreate, VariableUpdate

    wanted = env.get(HEALTH_REPORT_ENV, "").strip()
    current = await client.read_variable_by_name(HEALTH_REPORT_VARIABLE)
    if current is None:
        await client.create_variable(VariableCreate(name=HEALTH_REPORT_VARIABLE, value=wanted))
        result.variables.append(f"variable {HEALTH_REPORT_VARIABLE}: created{'' if wanted else ' (empty)'}")
    elif wanted and current.value != wanted:
        await client.update_variable(VariableUpdate(name=HEALTH_REPORT_VARIABLE, value=wanted))
        result.variables.append(f"variable {HEALTH_REPORT_VARIABLE}: updated")


async def apply_alerts_async(
    api_url: str,
    *,
    env: Mapping[str, str] | None = None,
    definitions: list[AutomationDefinition] | None = None,
) -> ApplyResult:
    """Bring the server at ``api_url`` in line with the definitions and the channels configured in ``env``.

    Raises:
        ValueError: a malformed channel variable or definitions file, or an anomaly check file with an unknown
            metric or method (``ChecksError``: every problem with its line).
        prefect.exceptions.PrefectHTTPStatusError / httpx.HTTPError: the server refused or is unreachable.
    """
    from prefect.client.orchestration import PrefectClient
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = os.environ if env is None else env
    # The anomaly checks feed these automations: a check file with an unknown metric or method is refused here,
    # at apply time, with its line, rather than by the first anomaly-check run.
    load_checks(env.get(CHECKS_ENV) or None)
    config = channel_config(env)
    definitions = load_definitions(env) if definitions is None else definitions
    result = ApplyResult()
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with PrefectClient(api=api_url, **prefect_client_credentials()) as client:
            blocks = await _save_blocks(client, config, result)
            await _sync_automations(client, definitions, blocks, result)
            for channel in CHANNELS:
                if channel not in blocks and await _remove_block(client, channel):
                    result.channels.append(f"{channel}: block {BLOCK_NAMES[channel]} removed")
            await _sync_health_report_variable(client, env, result)
    return result


def apply_alerts(
    api_url: str,
    *,
    env: Mapping[str, str] | None = None,
    definitions: list[AutomationDefinition] | None = None,
) -> ApplyResult:
    """Synchronous :func:`apply_alerts_async`, for the CLI and ``vodflow up``."""
    return asyncio.run(apply_alerts_async(api_url, env=env, definitions=definitions))
