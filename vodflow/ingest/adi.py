"""Parse a CableLabs ADI 1.1 package safely into one flat document.

Safety first: ``defusedxml`` refuses any entity declaration (an XXE payload such as
``<!ENTITY x SYSTEM "file:///etc/passwd">`` and entity-expansion bombs alike) and external references, and
nothing is ever fetched (the usual ``<!DOCTYPE ADI SYSTEM "ADI.DTD">`` is accepted, not loaded). Documents
larger than :data:`MAX_DOCUMENT_BYTES` are refused before parsing: a package is a few kilobytes.

The flat document keeps what the feed said, named as ADI names it: the title asset's ``App_Data`` as
``{Name: Value}`` (``Genre`` and ``Category``, which repeat, as lists), plus three structural keys:
``package`` (the package ``AMS`` attributes and its ``App_Data``), ``title_asset`` (the title's ``AMS``
attributes) and ``assets`` (movie, preview, poster: class, ``AMS`` attributes, ``App_Data``, ``Content``).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

MAX_DOCUMENT_BYTES = 5_000_000
#: Title ``App_Data`` that may repeat (ADI 1.1: 0..n genres, 0..1 category, kept as lists for a stable shape).
REPEATED = frozenset({"Genre", "Category"})


class AdiError(ValueError):
    """A document that is not a safe, well-formed ADI 1.1 package; the message says why, for a person."""


def _app_data(metadata: Element | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if metadata is None:
        return values
    for node in metadata.findall("App_Data"):
        name, value = node.get("Name"), node.get("Value")
        if not name:
            continue
        if name in REPEATED:
            values.setdefault(name, []).append(value)
        elif name in values:
            raise AdiError(f"App_Data {name!r} appears more than once")
        else:
            values[name] = value
    return values


def _ams(asset: Element, what: str) -> dict[str, str]:
    node = asset.find("Metadata/AMS")
    if node is None:
        raise AdiError(f"the {what} has no Metadata/AMS element")
    return dict(node.attrib)


def _parse_xml(data: bytes) -> Element:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise AdiError(f"document of {len(data):,} bytes exceeds the {MAX_DOCUMENT_BYTES:,}-byte limit for a package")
    try:
        root: Element = SafeElementTree.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except EntitiesForbidden as exc:
        kind = "an external entity (XXE)" if exc.sysid or exc.pubid else "an entity (expansion bomb risk)"
        raise AdiError(f"unsafe XML refused: the document declares {kind} {exc.name!r}") from None
    except (ExternalReferenceForbidden, DTDForbidden) as exc:
        raise AdiError(f"unsafe XML refused: {type(exc).__name__}") from None
    except DefusedXmlException as exc:
        raise AdiError(f"unsafe XML refused: {exc}") from None
    except ParseError as exc:
        raise AdiError(f"not well-formed XML (truncated or corrupt): {exc}") from None
    return root


def parse_package(data: bytes) -> dict[str, Any]:
    """One ADI 1.1 document as a flat dict (see the module docstring).

    Raises:
        AdiError: unsafe, not well-formed, not ADI 1.1 (wrong root, no package AMS or title asset).
    """
    root = _parse_xml(data)
    if root.tag != "ADI":
        raise AdiError(f"root element is <{root.tag}>, expected <ADI> (CableLabs ADI 1.1)")
    package = _ams(root, "package")
    package.update(_app_data(root.find("Metadata")))
    title = next((a for a in root.findall("Asset") if _ams(a, "asset").get("Asset_Class") == "title"), None)
    if title is None:
        raise AdiError("the package has no title asset (Asset with AMS Asset_Class='title')")
    document: dict[str, Any] = _app_data(title.find("Metadata"))
    document["package"] = package
    document["title_asset"] = _ams(title, "title asset")
    assets = []
    for child in title.findall("Asset"):
        ams = _ams(child, "child asset")
        content = child.find("Content")
        assets.append(
            {
                "class": ams.get("Asset_Class"),
                "ams": ams,
                "app_data": _app_data(child.find("Metadata")),
                "content": None if content is None else content.get("Value"),
            }
        )
    document["assets"] = assets
    return document
