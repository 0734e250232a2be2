"""The initial tables: the schema the store had before migrations (create_all of every model).

Revision ID: 0001_initial
Revises:
Create Date: 2026-12-04 14:27:50.303351

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "attestations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("launch_id", sa.String(length=64), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("criterion_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("attested_by", sa.String(length=2048), nullable=True),
        sa.Column("attested_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("launch_id", "request_key", "criterion_id"),
    )
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attestations_launch_id"), ["launch_id"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("launch_id", sa.String(length=64), nullable=True),
        sa.Column("ehr_name", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=2048), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_launch_id"), ["launch_id"], unique=False)

    op.create_table(
        "browser_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_browser_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "kept_drafts",
        sa.Column("order_key", sa.String(length=64), nullable=False),
        sa.Column("patient", sa.String(length=80), nullable=False),
        sa.Column("fhir_base", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("diagnostics", sa.Text(), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("kept_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("order_key"),
    )
    with op.batch_alter_table("kept_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kept_drafts_patient"), ["patient"], unique=False)

    op.create_table(
        "launches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("ehr_name", sa.String(length=64), nullable=False),
        sa.Column("iss", sa.String(length=2048), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("encounter_id", sa.String(length=64), nullable=True),
        sa.Column("fhir_user", sa.String(length=2048), nullable=True),
        sa.Column("need_patient_banner", sa.Boolean(), nullable=False),
        sa.Column("granted_scope", sa.Text(), nullable=False),
        sa.Column("token_endpoint", sa.String(length=2048), nullable=True),
        sa.Column("context_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("launches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_launches_session_hash"), ["session_hash"], unique=False)

    op.create_table(
        "pending_authorizations",
        sa.Column("state", sa.String(length=128), nullable=False),
        sa.Column("ehr_name", sa.String(length=64), nullable=False),
        sa.Column("iss", sa.String(length=2048), nullable=False),
        sa.Column("launch_kind", sa.String(length=16), nullable=False),
        sa.Column("code_verifier_enc", sa.Text(), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("requested_scope", sa.Text(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("state"),
    )
    with op.batch_alter_table("pending_authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_authorizations_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "launch_tokens",
        sa.Column("launch_id", sa.String(length=64), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("refresh_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["launch_id"], ["launches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("launch_id"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("launch_tokens")
    with op.batch_alter_table("pending_authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_authorizations_expires_at"))

    op.drop_table("pending_authorizations")
    with op.batch_alter_table("launches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_launches_session_hash"))

    op.drop_table("launches")
    with op.batch_alter_table("kept_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kept_drafts_patient"))

    op.drop_table("kept_drafts")
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_sessions_expires_at"))

    op.drop_table("browser_sessions")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_launch_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attestations_launch_id"))

    op.drop_table("attestations")
