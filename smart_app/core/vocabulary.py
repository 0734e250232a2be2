"""What the codes and phrases of a spine record mean: code tables and phrase rules, kept as data.

Every table cites where it comes from: `fhir-conventions.md` (the contract, "FC") and `policy-rules.md` section C
("PR C.2.b"). The extractor reads only these tables, so widening what counts as evidence is an edit here, with its
source, and never a new `if` somewhere else. Phrase rules are regular expressions matched case-insensitively on
one clause at a time; negation is handled by `text_findings`, not by the patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- diagnoses (Condition.code) ------------------------------------------------------------------------------

# ICD-10-CM prefixes (with the dot), first match wins. FC "Diagnoses"; PR C.2.b.
ICD10_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("M47.81", "axial"),  # spondylosis without myelopathy or radiculopathy
    ("M47.89", "axial"),  # other spondylosis
    ("M53.8", "axial"),  # other specified dorsopathies (facet syndrome)
    ("M54.2", "axial"),  # cervicalgia
    ("M54.5", "axial"),  # low back pain (M54.50, .51, .59)
    ("M54.6", "axial"),  # pain in thoracic spine
    ("M43.0", "pars"),  # spondylolysis
    ("M43.1", "pars"),  # spondylolisthesis
    ("Q76.2", "pars"),  # congenital spondylolisthesis / spondylolysis
    ("M54.1", "radicular"),  # radiculopathy
    ("M54.3", "radicular"),  # sciatica
    ("M54.4", "radicular"),  # lumbago with sciatica
    ("M51.1", "radicular"),  # disc disorder with radiculopathy
    ("M47.2", "radicular"),  # spondylosis with radiculopathy
    ("M48.062", "claudication"),  # lumbar stenosis with neurogenic claudication
    ("S12.", "non-facet"),  # cervical vertebral fracture
    ("S22.", "non-facet"),  # thoracic vertebral fracture
    ("S32.", "non-facet"),  # lumbar vertebral fracture
    ("M48.5", "non-facet"),  # collapsed vertebra
    ("M80.08", "non-facet"),  # osteoporotic vertebral fracture
    ("C41.2", "non-facet"),  # malignant neoplasm of vertebral column
    ("C79.51", "non-facet"),  # secondary malignant neoplasm of bone
    ("D16.6", "non-facet"),  # benign neoplasm of vertebral column
    ("M46.2", "non-facet"),  # osteomyelitis of vertebra
    ("M46.3", "non-facet"),  # infection of intervertebral disc
    ("M46.4", "non-facet"),  # discitis
    ("M46.5", "non-facet"),  # other infective spondylopathies
    ("M79.7", "centralized"),  # fibromyalgia
    ("G89.4", "centralized"),  # chronic pain syndrome (PR C.2.b: our inference, Medium)
    ("M53.2", "instability"),  # spinal instabilities
    ("M96.0", "not-rfa-candidate"),  # pseudarthrosis after fusion (PR A.4 TX-03)
    ("Z95.0", "not-rfa-candidate"),  # presence of cardiac pacemaker (FC: a Condition saying so)
    ("Z95.81", "not-rfa-candidate"),  # presence of automatic (implantable) cardiac defibrillator
    ("Z96.82", "not-rfa-candidate"),  # presence of neurostimulator
)

# Where the site digit sits in the compact code (no dot), per family. PR C.2.b site pattern.
ICD10_SITE_DIGIT: tuple[tuple[str, int], ...] = (
    ("M47.81", 5),
    ("M47.89", 5),
    ("M53.2X", 5),
    ("M47.1", 4),
    ("M47.2", 4),
    ("M53.8", 4),
    ("M54.1", 4),
    ("M51.1", 4),
    ("M43.0", 4),
    ("M43.1", 4),
    ("M46.2", 4),
    ("M46.3", 4),
    ("M46.4", 4),
    ("M46.5", 4),
    ("M48.5", 4),
    ("M48.4", 4),
)
SITE_DIGIT_REGIONS: dict[str, tuple[str, ...]] = {
    "1": ("cervical",),  # occipito-atlanto-axial
    "2": ("cervical",),
    "3": ("cervical", "thoracic"),  # cervicothoracic
    "4": ("thoracic",),
    "5": ("lumbar", "thoracic"),  # thoracolumbar: T12-L1 travels with a lumbar session (GEN-12 note)
    "6": ("lumbar",),
    "7": ("lumbar",),  # lumbosacral
    "8": ("lumbar",),  # sacral: the lumbar/sacral session
}
# Codes whose region is fixed by the code itself.
ICD10_FIXED_REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("M54.2", ("cervical",)),
    ("M54.5", ("lumbar",)),
    ("M54.6", ("thoracic",)),
    ("M54.3", ("lumbar",)),
    ("M54.4", ("lumbar",)),
    ("M48.06", ("lumbar",)),
    ("S12.", ("cervical",)),
    ("S22.", ("thoracic",)),
    ("S32.", ("lumbar",)),
)

# SNOMED CT concepts: code → (category, regions). FC "Diagnoses"; PR C.3.
SNOMED_DIAGNOSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "279039007": ("axial", ("lumbar",)),  # low back pain
    "278860009": ("axial", ("lumbar",)),  # chronic low back pain
    "161891005": ("axial", ("lumbar",)),  # backache
    "81680005": ("axial", ("cervical",)),  # neck pain
    "1121000119107": ("axial", ("cervical",)),  # chronic neck pain
    "240221008": ("pars", ()),  # spondylolysis
    "274152003": ("pars", ()),  # spondylolisthesis
    "72274001": ("radicular", ()),  # radiculopathy
    "23056005": ("radicular", ("lumbar",)),  # sciatica
    "240220009": ("instability", ()),  # spinal instability
}

# Words in a Condition's text that make it a fact even without a code we know. FC "Diagnoses" (synovial cyst) and
# PR A.4 TX-03 / GEN-10 (not an RFA candidate; anterior lumbar interbody fusion).
CONDITION_TEXT_FLAGS: dict[str, str] = {
    "synovial-cyst": r"\b(?:synovial|facet|juxta-?facet)\s+cysts?\b",
    "alif": r"\banterior\s+lumbar\s+interbody\s+fusion\b|\bALIF\b",
}

# --- procedures (Procedure.code) -----------------------------------------------------------------------------

FACET_INJECTION_CPT = frozenset({"64490", "64491", "64492", "64493", "64494", "64495"})
FACET_RFA_CPT = frozenset({"64633", "64634", "64635", "64636"})
ULTRASOUND_FACET_CPT = frozenset({"0213T", "0214T", "0215T", "0216T", "0217T", "0218T"})
UNLISTED_NERVOUS_CPT = frozenset({"64999"})
CONSERVATIVE_THERAPY_CPT: dict[str, str] = {
    **{code: "physical therapy" for code in ("97110", "97112", "97140", "97161", "97162", "97163", "97164", "97530")},
    **{code: "chiropractic manipulation" for code in ("98940", "98941", "98942")},
    **{code: "acupuncture" for code in ("97810", "97811", "97813", "97814")},
}
CONSERVATIVE_THERAPY_SNOMED: dict[str, str] = {
    "91251008": "physical therapy",
    "229064008": "movement therapy",
    "229065009": "exercise therapy",
}
FUSION_CPT: dict[str, str] = {
    "22558": "anterior lumbar interbody fusion (ALIF)",
    "22533": "lateral lumbar interbody fusion",
    "22612": "posterior lumbar fusion",
    "22630": "posterior lumbar interbody fusion",
    "22633": "combined posterior fusion",
}
ALIF_CPT = frozenset({"22558"})
SNOMED_DIAGNOSTIC_PROCEDURE = "103693007"
SNOMED_THERAPEUTIC_PROCEDURE = "277132007"
SNOMED_SIDES: dict[str, str] = {"7771000": "left", "24028007": "right", "51440002": "bilateral"}

# Phrase rules on procedure text (FC "Procedures").
PROCEDURE_KIND_PHRASES: tuple[tuple[str, str], ...] = (
    ("rfa", r"radio\s*-?\s*frequency|\bRFA\b|\bRF\s+(?:ablation|neurotomy|denervation|lesioning)|neurotomy|rhizotomy"),
    ("pars", r"\bpars\b|spondylolys[ie]s|isthmic"),
    ("mbb", r"medial\s+branch|\bMBB\b"),
    ("intra-articular", r"intra-?\s*articular|facet\s+(?:joint\s+)?injection|\bIA\b"),
)
FACET_CONTEXT = r"facet|zygapophys|medial\s+branch|\bMBB\b"
RFA_TECHNIQUE_PHRASES: tuple[tuple[str, str], ...] = (
    ("pulsed", r"\bpulsed\b"),
    ("cryo", r"\bcryo"),
    ("chemical", r"\bchemical\b|\bphenol\b|\balcohol\b|\bglycerol\b"),
    ("cooled", r"\bcooled\b"),
)
INTENT_PHRASES: tuple[tuple[str, str], ...] = (
    ("diagnostic", r"\bdiagnostic\b|\bconfirmatory\b"),
    ("therapeutic", r"\btherapeutic\b"),
)
ANESTHETIC_ONLY = r"\b(?:lidocaine|bupivacaine|ropivacaine|local\s+anesthetic)\b"
STEROID = r"\b(?:steroid|corticosteroid|triamcinolone|methylprednisolone|dexamethasone|betamethasone|kenalog)\b"

# --- medications ---------------------------------------------------------------------------------------------

# RxNorm ingredient codes and the names that identify a conservative analgesic in any clinical-drug text. FC.
ANALGESIC_RXNORM: dict[str, str] = {
    "5640": "ibuprofen",
    "7258": "naproxen",
    "41493": "meloxicam",
    "140587": "celecoxib",
    "3355": "diclofenac",
    "161": "acetaminophen",
    "206905": "ibuprofen",
    "209387": "acetaminophen",
}
ANALGESIC_NAMES: dict[str, str] = {
    r"\bibuprofen\b": "ibuprofen",
    r"\bnaproxen\b": "naproxen",
    r"\bmeloxicam\b": "meloxicam",
    r"\bcelecoxib\b": "celecoxib",
    r"\bdiclofenac\b": "diclofenac",
    r"\bacetaminophen\b|\bparacetamol\b": "acetaminophen",
}

# --- scores (Observation.code) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleRule:
    """A pain or disability instrument: LOINC codes, or words in the Observation's text, and the valid range."""

    scale: str
    kind: str  # pain | disability
    loinc: frozenset[str]
    text: str | None
    low: float
    high: float


SCALES: tuple[ScaleRule, ...] = (
    ScaleRule("NRS 0-10 (LOINC 72514-3)", "pain", frozenset({"72514-3"}), None, 0, 10),
    ScaleRule("Pain severity 0-10 (LOINC 38208-5)", "pain", frozenset({"38208-5"}), None, 0, 10),
    ScaleRule("Oswestry Disability Index", "disability", frozenset({"97909-6"}), r"\boswestry\b|\bODI\b", 0, 100),
    ScaleRule("Neck Disability Index", "disability", frozenset(), r"\bneck\s+disability\s+index\b|\bNDI\b", 0, 100),
    ScaleRule("Roland-Morris", "disability", frozenset(), r"\broland[\s-]*morris\b", 0, 24),
    ScaleRule("Quebec Back Pain Disability Scale", "disability", frozenset(), r"\bquebec\b", 0, 100),
    ScaleRule("Pain score (by text)", "pain", frozenset(), r"\bpain\b.*\b(?:score|severity|rating|NRS|VAS)\b", 0, 10),
)
SCORE_RANGE_TEXT = r"^\s*\d+(?:\.\d+)?\s*(?:-|–|to)\s*\d+(?:\.\d+)?\s*(?:/\s*10)?\s*$"
SCORE_TEXT = r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(?:10|100)|%)?\s*$"

# --- imaging findings (DiagnosticReport conclusion / text / codes) -------------------------------------------


@dataclass(frozen=True)
class FindingRule:
    """One imaging finding: phrases that name it, optional words that must share the sentence, and codes."""

    finding: str
    phrases: tuple[str, ...]
    context: str | None = None
    snomed: frozenset[str] = frozenset()


IMAGING_FINDINGS: tuple[FindingRule, ...] = (
    FindingRule(
        "pars-defect",
        (
            r"\bspondylolys[ie]s\b",
            r"\bpars(?:\s+interarticularis)?\s+(?:defects?|fractures?|lysis|breaks?|clefts?|discontinuit(?:y|ies))",
            r"\bdefects?\s+(?:of|in|at|through)\s+the\s+(?:\w+\s+){0,2}pars\b",
            r"\bisthmic\s+(?:defects?|lysis|spondylolisthesis)\b",
        ),
        snomed=frozenset({"240221008"}),
    ),
    FindingRule(
        "spondylolisthesis",
        (r"\bspondylolisthesis\b", r"\banterolisthesis\b"),
        snomed=frozenset({"274152003", "4046000", "3472009"}),
    ),
    FindingRule(
        "isthmic-edema",
        (
            r"\bisthmic\s+(?:bone\s+)?(?:marrow\s+)?o?edema\b",
            r"\b(?:bone\s+)?marrow\s+o?edema\b",
            r"\b(?:STIR|T2)\s+(?:signal\s+)?hyperintens\w*",
            r"\bhigh\s+(?:STIR|T2)\s+signal\b",
            r"\bo?edema\s+(?:at|in|of|around|within)\s+the\s+(?:\w+\s+){0,2}(?:pars|isthmus|pedicles?)\b",
        ),
        context=r"\bpars\b|\bisthm|\bpedicle|spondylolys",
    ),
    FindingRule(
        "incomplete-defect",
        (
            r"\bincomplete\s+(?:pars\s+)?(?:defects?|fractures?|spondylolysis|lysis)\b",
            r"\bpre-?\s*lysis\b",
            r"\bstress\s+reaction\b",
            r"\b(?:acute|early|fresh|healing)\s+(?:stage\s+)?(?:pars\s+)?(?:defects?|fractures?|spondylolysis|lysis)\b",
        ),
    ),
    FindingRule(
        "instability",
        (
            r"\b(?:dynamic|segmental|spinal)?\s*instability\b",
            r"\bhypermobility\b",
            r"\babnormal\s+(?:motion|translation)\b",
            r"\b(?:increases|increased|progresses)\s+(?:on|with|in)\s+flexion\b",
        ),
        snomed=frozenset({"240220009"}),
    ),
    FindingRule(
        "facet-arthropathy",
        (r"\bfacet\s+(?:joint\s+)?(?:arthropathy|arthrosis|hypertrophy|degeneration|osteoarthritis|effusions?)\b",),
    ),
    FindingRule("synovial-cyst", (r"\b(?:synovial|facet|juxta-?\s*facet)\s+cysts?\b",)),
    FindingRule(
        "nerve-root-compression",
        (
            r"\bnerve\s+root\s+(?:compression|impingement|displacement|effacement)\b",
            r"\b(?:compress\w*|impinge\w*|displac\w*|effac\w*)\s+(?:on\s+|upon\s+)?(?:the\s+)?(?:\w+\s+){0,3}"
            r"(?:nerve\s+roots?|traversing\s+roots?|exiting\s+roots?)\b",
        ),
    ),
    FindingRule(
        "fracture",
        (r"(?<!pars\s)(?<!stress\s)(?<!fatigue\s)\bfractures?\b", r"\bcompression\s+deformit(?:y|ies)\b"),
    ),
    FindingRule(
        "tumor",
        (
            r"\btumou?rs?\b",
            r"\bneoplasm\w*\b",
            r"\bmetasta(?:sis|ses|tic)\b",
            r"\bmalignan\w+\b",
            r"\bmyeloma\b",
            r"\blytic\s+lesions?\b",
        ),
    ),
    FindingRule(
        "infection",
        (
            r"\bdiscitis\b|\bdiskitis\b|\bspondylodiscitis\b",
            r"\bosteomyelitis\b",
            r"\b(?:epidural|paraspinal|psoas)\s+abscess\b",
            r"\bseptic\s+(?:arthritis|facet)\b",
            r"\binfection\b",
        ),
    ),
)

# --- notes (DocumentReference text, Condition/Procedure notes) ------------------------------------------------

NOTE_TOPICS: dict[str, tuple[str, ...]] = {
    # TX-03 (PR A.4): why the patient is not an RFA candidate.
    "not-rfa-candidate": (
        r"\bnot\s+(?:a\s+|an\s+)?(?:good\s+|suitable\s+)?candidate\s+for\s+(?:radio\s*-?\s*frequency|RFA|RF\b)",
        r"\b(?:RFA|radio\s*-?\s*frequency\s+ablation)\s+(?:is\s+)?contraindicated\b",
        r"\bcontraindicat\w+\s+(?:to|for)\s+(?:RFA|radio\s*-?\s*frequency)",
    ),
    # DX-02 (PR A.2): why an intra-articular block instead of a medial branch block.
    "anatomic-restriction": (
        r"\banatomic(?:al)?\s+(?:restrictions?|constraints?|limitations?|variants?)\b",
        r"\b(?:medial\s+branch\s+block|MBB)s?\s+(?:is\s+|are\s+)?not\s+(?:possible|feasible)\b",
        r"\bunable\s+to\s+(?:perform|access|target)\s+(?:the\s+)?medial\s+branch",
    ),
    "therapeutic-ia-indication": (
        r"\bplan\w*\s+(?:to\s+proceed\s+(?:with|to)\s+|for\s+)?therapeutic\s+intra-?\s*articular",
        r"\bindication\s+(?:for|to\s+proceed\s+with)\s+therapeutic\s+intra-?\s*articular",
    ),
    "synovial-cyst": (r"\b(?:synovial|facet|juxta-?\s*facet)\s+cysts?\b",),
}

# --- devices (Device.type / deviceName) ----------------------------------------------------------------------

IMPLANTED_ELECTRICAL_DEVICE = r"pacemaker|defibrillator|cardioverter|neuro-?\s*stimulator|stimulator"
EXTERNAL_DEVICE = r"\bTENS\b|transcutaneous|external"

# --- negation ------------------------------------------------------------------------------------------------

NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|without|negative\s+for|absence\s+of|absent|free\s+of|rule[sd]?\s+out|resolution\s+of|"
    r"resolved|never)\b",
    re.IGNORECASE,
)
PSEUDO_NEGATION = re.compile(
    r"\bno\s+(?:significant\s+)?(?:interval\s+)?change\b|\bnot\s+only\b|\bnot\s+(?:a\s+|an\s+)?(?:good\s+|"
    r"suitable\s+)?candidate\b|\bnot\s+(?:possible|feasible)\b",
    re.IGNORECASE,
)
NEGATION_AFTER = re.compile(
    r"^\W*(?:(?:is|are|was|were|has\s+been|have\s+been)\s+)?(?:not\s+(?:seen|identified|present|demonstrated|"
    r"visualized|evident)|absent|ruled\s+out|excluded|resolved)\b",
    re.IGNORECASE,
)
CLAUSE_BREAK = re.compile(r"[.;!?\n]+(?=\s|$)|\n|\bbut\b|\bhowever\b|\balthough\b|\bexcept\b", re.IGNORECASE)
