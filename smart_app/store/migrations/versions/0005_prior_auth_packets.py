"""The packet kept with a prior-authorization request (PAS Bundle, PDF, DTR QuestionnaireResponse, zip).

Revision ID: 0005_prior_auth_packets
Revises: 0004_prior_auth
Create Date: 2026-12-04 19:05:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_prior_auth_packets"
down_revision: str | Sequence[str] | None = "0004_prior_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "prior_auth_packets",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("built_at", sa.Float(), nullable=False),
        sa.Column("built_by", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=120), nullable=False),
        sa.Column("pas_bundle_json", sa.Text(), nullable=False),
        sa.Column("questionnaire_response_json", sa.Text(), nullable=False),
        sa.Column("choices_json", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("zip", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["prior_auth_requests.id"]),
        sa.PrimaryKeyConstraint("request_id"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("prior_auth_packets")
