"""EHR I/O: the FHIR REST client, SMART discovery and OAuth client, the record fetch. Knows nothing of checklists."""
