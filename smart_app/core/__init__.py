"""Pure clinical logic: facts from FHIR JSON, checklist evaluation, coding, documents (see README.md)."""
