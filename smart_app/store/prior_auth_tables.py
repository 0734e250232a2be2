"""Tables of the prior-authorization worklist: one row per request (an order key at one EHR), its status history
and notes, and the payer's responses. Times are epoch seconds (sortable, indexed); authorization periods are ISO
dates. Columns the worklist filters or sorts on are indexed so a page stays fast with tens of thousands of rows.

The request row holds the two patient identifiers staff search by (name + birth date, member id or MRN): the
worklist is the place they are meant to be seen. They never go to application logs.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.store.db import Base


class PriorAuthRequestRow(Base):
    __tablename__ = "prior_auth_requests"
    # Every worklist query is confined to one EHR (the practice) and ordered: indexes lead with the EHR, then
    # the filter, then the sort, so a page is read in index order without sorting the table.
    __table_args__ = (
        UniqueConstraint("ehr_name", "order_key", name="uq_prior_auth_order"),
        Index("ix_prior_auth_ehr_updated", "ehr_name", "updated_at", "id", "search_text"),  # search reads the index
        Index("ix_prior_auth_ehr_created", "ehr_name", "created_at", "id"),
        Index("ix_prior_auth_ehr_patient", "ehr_name", "patient_name", "id"),
        Index("ix_prior_auth_ehr_status_updated", "ehr_name", "status", "updated_at", "id"),
        Index("ix_prior_auth_ehr_payer_updated", "ehr_name", "payer_id", "updated_at", "id"),
        Index("ix_prior_auth_ehr_assignee_updated", "ehr_name", "assignee", "updated_at", "id"),
        Index("ix_prior_auth_ehr_due", "ehr_name", "due_at"),
        Index("ix_prior_auth_ehr_auth_end", "ehr_name", "auth_end"),
        Index("ix_prior_auth_ehr_warn", "ehr_name", "warn_at"),
        Index("ix_prior_auth_ehr_attention", "ehr_name", "status", "warn_at", "auth_end"),  # counts read the index
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ehr_name: Mapped[str] = mapped_column(String(64))
    order_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    patient_ref: Mapped[str] = mapped_column(String(80))
    patient_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[str] = mapped_column(String(10), default="")
    member_id: Mapped[str] = mapped_column(String(80), default="")
    mrn: Mapped[str] = mapped_column(String(80), default="")
    procedure: Mapped[str] = mapped_column(String(64))
    cpt: Mapped[str] = mapped_column(String(200), default="")
    levels: Mapped[str] = mapped_column(String(100), default="")
    side: Mapped[str] = mapped_column(String(20), default="")
    payer_id: Mapped[str] = mapped_column(String(64))
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    ordering_provider: Mapped[str] = mapped_column(String(200), default="")
    verdict: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(24))
    assignee: Mapped[str] = mapped_column(String(200), default="")
    priority: Mapped[str] = mapped_column(String(12), default="standard")
    program: Mapped[str] = mapped_column(String(24), default="cms-0057-f")
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    received_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    due_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    warn_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the due-soon warning starts here
    auth_number: Mapped[str] = mapped_column(String(80), default="")
    auth_start: Mapped[str | None] = mapped_column(String(10), nullable=True)
    auth_end: Mapped[str | None] = mapped_column(String(10), nullable=True)
    denial_reason: Mapped[str] = mapped_column(Text, default="")
    # The PAS submission: the business identifier sent as Bundle.identifier and Claim.identifier (never changes,
    # so a retry is recognised by the payer) and whether a send is in flight.
    claim_identifier: Mapped[str] = mapped_column(String(64), unique=True)
    sending: Mapped[bool] = mapped_column(default=False)
    # What the check result knew, for the submission (CPT lines, diagnoses): JSON.
    details_json: Mapped[str] = mapped_column(Text, default="{}")
    # Lower-cased patient name, member id, MRN and auth number, for the search box.
    search_text: Mapped[str] = mapped_column(String(600), default="")


class PriorAuthEventRow(Base):
    """One change of a request: a status move, an assignment or a note (who, when, what)."""

    __tablename__ = "prior_auth_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(36), ForeignKey("prior_auth_requests.id"), index=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # status | assign | note | submit
    from_status: Mapped[str] = mapped_column(String(24), default="")
    to_status: Mapped[str] = mapped_column(String(24), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class ClaimResponseRow(Base):
    """A PAS ClaimResponse the payer sent for a request (synchronous answer, notification or inquiry)."""

    __tablename__ = "prior_auth_claim_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(36), ForeignKey("prior_auth_requests.id"), index=True)
    received_at: Mapped[float] = mapped_column(Float)
    via: Mapped[str] = mapped_column(String(16))  # submit | notification | inquire
    claim_response_json: Mapped[str] = mapped_column(Text)


class PacketRow(Base):
    """The packet kept with a request (one per request; a rebuild replaces it, the history keeps that it
    happened): the PAS Bundle that submission sends, the PDF, the DTR QuestionnaireResponse and the zip staff
    download, with who built it, when, and the digest of what it says."""

    __tablename__ = "prior_auth_packets"

    request_id: Mapped[str] = mapped_column(String(36), ForeignKey("prior_auth_requests.id"), primary_key=True)
    built_at: Mapped[float] = mapped_column(Float)
    built_by: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(120))
    pas_bundle_json: Mapped[str] = mapped_column(Text)
    questionnaire_response_json: Mapped[str] = mapped_column(Text)
    choices_json: Mapped[str] = mapped_column(Text, default="{}")  # the staff's form choices, to build again
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    zip: Mapped[bytes] = mapped_column(LargeBinary)
