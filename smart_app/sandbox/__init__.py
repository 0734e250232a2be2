"""The local EHR for demos, tests and integrators: the Node FHIR server launcher, the SMART authorization server
(authlib) and the seed patients. Independent of the app's own packages."""
