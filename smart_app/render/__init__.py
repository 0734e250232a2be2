"""Human-readable documents: the checklist report PDF and the prior-authorization packet."""
