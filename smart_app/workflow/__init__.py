"""Use cases that combine layers: run a check (fetch → facts → checklist → coding), write a draft order."""
