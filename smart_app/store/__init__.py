"""App-side state through SQLAlchemy: sessions, encrypted tokens, launch state, drafts kept locally, audit log."""
