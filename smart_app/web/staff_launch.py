"""Launches for prior-authorization staff: a provider launch from the EHR without patient context, or a standalone
launch by a staff user (`/launch?iss=…&staff=1`), opens the practice's worklist instead of a patient's record.

The standalone staff launch asks for `user/` scopes (what the user may see across the practice) and no
`launch/patient`; the EHR launch asks for what every EHR launch asks for, and the EHR decides whether a patient
comes with it. Either way no patient data is read from the EHR for the worklist: it lists the app's own requests.
"""

from __future__ import annotations


def staff_scope(patient_scope: str) -> str:
    """The standalone staff scope from the patient-launch one: `patient/` becomes `user/`, no `launch/patient`."""
    scopes = [s.replace("patient/", "user/", 1) for s in patient_scope.split() if s != "launch/patient"]
    return " ".join(dict.fromkeys(scopes))


def is_staff_launch(launch_kind: str, granted_scope: str) -> bool:
    """A token without a patient is a staff launch when the EHR started it (provider launch) or the user asked
    for `user/` scopes (standalone staff launch)."""
    return launch_kind == "ehr" or any(token.startswith("user/") for token in granted_scope.split())
