"""Kept drafts and attestations per EHR (issue 14.1), the clinician of each launch (issue 9.6).

Kept drafts of revision 0001 (keyed by order key alone) move under the FHIR base they were kept for out of the old
table, which keeps only what could not be placed (never served); attestations of 0001 get a NULL `ehr` and
never match a lookup again.

Revision ID: 0003_per_ehr_rows
Revises: 0002_maintenance
Create Date: 2026-12-04 15:49:53.166654

"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smart_app.store.drafts import migrate_legacy_drafts

logger = logging.getLogger(__name__)


# revision identifiers, used by Alembic.
revision: str = "0003_per_ehr_rows"
down_revision: str | Sequence[str] | None = "0002_maintenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "kept_order_drafts",
        sa.Column("fhir_base", sa.String(length=500), nullable=False),
        sa.Column("order_key", sa.String(length=64), nullable=False),
        sa.Column("patient", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("diagnostics", sa.Text(), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("kept_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("fhir_base", "order_key"),
    )
    with op.batch_alter_table("kept_order_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kept_order_drafts_patient"), ["patient"], unique=False)

    op.create_table(
        "launch_clinicians",
        sa.Column("launch_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("npi", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("launch_id"),
    )
    moved = migrate_legacy_drafts(op.get_bind())
    logger.info("kept drafts moved under their EHR: %d", moved)
    # `kept_drafts` stays: a row kept without its FHIR base is never served, but it is not thrown away either.
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ehr", sa.String(length=500), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("attestations", schema=None) as batch_op:
        batch_op.drop_column("ehr")

    op.drop_table("launch_clinicians")
    with op.batch_alter_table("kept_order_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kept_order_drafts_patient"))

    op.drop_table("kept_order_drafts")
