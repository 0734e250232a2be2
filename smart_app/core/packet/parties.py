"""The parties of a packet: our practice (configuration, filled from the EHR's Organization), the ordering
clinician (the EHR's Practitioner), the rendering facility, and the payer with the member's Coverage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smart_app.core.documents import find_coverage, patient_identity
from smart_app.core.fhir_json import as_dict, as_list, as_str, concept_text

SYSTEM_NPI = "http://hl7.org/fhir/sid/us-npi"
SYSTEM_TIN = "urn:oid:2.16.840.1.113883.4.4"


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...] = ()
    city: str = ""
    state: str = ""
    postal_code: str = ""

    def one_line(self) -> str:
        place = " ".join(
            part for part in (self.city + ("," if self.city else ""), self.state, self.postal_code) if part
        )
        return ", ".join(part for part in (*self.lines, place.strip(" ,")) if part)

    def to_fhir(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "line": list(self.lines),
            "city": self.city,
            "state": self.state,
            "postalCode": self.postal_code,
            "country": "US",
        }
        return {key: value for key, value in fields.items() if value}

    @classmethod
    def from_fhir(cls, value: Any) -> Address:
        data = as_dict(value)
        return cls(
            lines=tuple(as_str(line) for line in as_list(data.get("line")) if as_str(line)),
            city=as_str(data.get("city")),
            state=as_str(data.get("state")),
            postal_code=as_str(data.get("postalCode")),
        )


@dataclass(frozen=True)
class Practice:
    """Our practice, from configuration (`PRACTICE` setting): the requesting organisation on every packet."""

    name: str = ""
    npi: str = ""
    tin: str = ""
    address: Address = field(default_factory=Address)
    phone: str = ""
    fax: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Practice:
        data = data or {}
        return cls(
            name=str(data.get("name") or ""),
            npi=str(data.get("npi") or ""),
            tin=str(data.get("tin") or ""),
            address=Address(
                lines=tuple(str(line) for line in data.get("address_lines") or ()),
                city=str(data.get("city") or ""),
                state=str(data.get("state") or ""),
                postal_code=str(data.get("postal_code") or ""),
            ),
            phone=str(data.get("phone") or ""),
            fax=str(data.get("fax") or ""),
        )


@dataclass(frozen=True)
class Facility:
    """Where the procedure is done (the staff's choice; the practice itself when not given)."""

    name: str
    npi: str = ""
    address: Address = field(default_factory=Address)


@dataclass(frozen=True)
class Clinician:
    """A provider as the packet names it; `reference` is the EHR's Practitioner when there is one."""

    name: str
    npi: str = ""
    reference: str | None = None
    specialty: str = ""
    phone: str = ""


@dataclass(frozen=True)
class PayerInfo:
    profile_id: str
    profile_title: str
    name: str
    plan: str = ""
    group: str = ""
    member_id: str = ""
    coverage_reference: str | None = None
    coverage: Mapping[str, Any] | None = None


def merge_practice(practice: Practice, organization: Mapping[str, Any] | None) -> Practice:
    """Configuration wins; the EHR's Organization fills what configuration leaves empty."""
    if not organization:
        return practice
    addresses = as_list(organization.get("address"))
    phones = [t for t in as_list(organization.get("telecom")) if as_dict(t).get("system") == "phone"]
    faxes = [t for t in as_list(organization.get("telecom")) if as_dict(t).get("system") == "fax"]
    return Practice(
        name=practice.name or as_str(organization.get("name")),
        npi=practice.npi or npi_of(organization),
        tin=practice.tin or _identifier(organization, SYSTEM_TIN),
        address=practice.address if practice.address.lines else Address.from_fhir(addresses[0] if addresses else {}),
        phone=practice.phone or (as_str(as_dict(phones[0]).get("value")) if phones else ""),
        fax=practice.fax or (as_str(as_dict(faxes[0]).get("value")) if faxes else ""),
    )


def clinician_of(practitioner: Mapping[str, Any] | None) -> Clinician:
    if not practitioner:
        return Clinician(name="")
    names = as_list(practitioner.get("name"))
    name = as_dict(names[0]) if names else {}
    words = " ".join(
        [
            *map(as_str, as_list(name.get("prefix"))),
            *map(as_str, as_list(name.get("given"))),
            as_str(name.get("family")),
        ]
    ).strip()
    suffix = ", ".join(as_str(item) for item in as_list(name.get("suffix")) if as_str(item))
    qualification = next(
        (concept_text(as_dict(item).get("code")) for item in as_list(practitioner.get("qualification"))), ""
    )
    phone = next(
        (
            as_str(as_dict(t).get("value"))
            for t in as_list(practitioner.get("telecom"))
            if as_dict(t).get("system") == "phone"
        ),
        "",
    )
    return Clinician(
        name=as_str(name.get("text")) or (f"{words}, {suffix}" if suffix else words),
        npi=npi_of(practitioner),
        reference=f"Practitioner/{practitioner['id']}" if practitioner.get("id") else None,
        specialty=qualification,
        phone=phone,
    )


def npi_of(resource: Mapping[str, Any]) -> str:
    return _identifier(resource, SYSTEM_NPI)


def _identifier(resource: Mapping[str, Any], system: str) -> str:
    for identifier in as_list(resource.get("identifier")):
        if as_dict(identifier).get("system") == system and as_str(as_dict(identifier).get("value")):
            return as_str(identifier["value"])
    return ""


def payer_of(resources: Sequence[Mapping[str, Any]], patient_ref: str, profile_id: str, title: str) -> PayerInfo:
    coverage = find_coverage(resources, patient_ref)
    if coverage is None:
        return PayerInfo(profile_id=profile_id, profile_title=title, name=title)
    payors = [as_dict(item) for item in as_list(coverage.get("payor"))]
    name = next((as_str(item.get("display")) for item in payors if as_str(item.get("display"))), "") or title
    plan = group = ""
    for item in as_list(coverage.get("class")):
        codes = {as_dict(c).get("code") for c in as_list(as_dict(as_dict(item).get("type")).get("coding"))}
        words = as_str(as_dict(item).get("name")) or as_str(as_dict(item).get("value"))
        if "plan" in codes:
            plan = words
        elif "group" in codes:
            group = words
    identity = patient_identity(resources, patient_ref)
    member = identity.second_value if identity.second_label == "Member ID" else ""
    reference = f"Coverage/{coverage['id']}" if coverage.get("id") else None
    return PayerInfo(profile_id, title, name, plan, group, member, reference, coverage)


def mrn_of(patient: Mapping[str, Any]) -> str:
    for identifier in as_list(patient.get("identifier")):
        codes = {as_dict(c).get("code") for c in as_list(as_dict(as_dict(identifier).get("type")).get("coding"))}
        if "MR" in codes or "mrn" in as_str(as_dict(identifier).get("system")).lower():
            return as_str(as_dict(identifier).get("value"))
    return ""
