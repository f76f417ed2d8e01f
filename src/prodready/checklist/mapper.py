"""Map checklist items to the prodready controls that verify them — by meaning, offline.

Every control is described by several short *passages*: its title, its curated ``phrases``, and for each
checklist label it answers (``checklist=[...]``) the label's definition, its evidence rule and common wordings
(``labels.py``); its rationale counts too, at a discount. Passages and items become TF-IDF vectors over
canonical terms (``text.py``: stemming, a synonym table, implied concepts, bigrams). A control's score for an
item is its best passage's cosine similarity, plus a little for further passages that agree.

An item is read with its context: the list item it is nested under, a lead-in line ("Document your support
contacts:"), a table's header and the heading path, each weighted less than the item itself. An item that only
names a technology ("Kafka", "MinIO") takes most of its meaning from that context. Three readings of what the
item asks for adjust the scores:

- an *exercise* ("test restore", "security review completed") favours what a person or a probe establishes over
  the repository artefact of the same practice;
- *alerting* and *documentation* passages count in full only when the item (or its near context) speaks of
  alerts or documents — "Error rate" under "Metrics to monitor" is a metric, not an alert rule;
- *monitoring* words favour the observability passages.

Each mapping has a confidence (0–1). Below ``THRESHOLD``, or when the item's own words are unknown to the
catalog, the item is unmapped rather than guessed. A compound item ("rate limiting and security headers") is
also read part by part, and each part that maps confidently to another control adds it. An item naming a whole
area and no practice ("Production-grade security") is a claim about that area and maps to its critical and high
controls.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .labels import LABEL_PHRASES, LABELS
from .parser import Item, plain
from .text import ENTITIES, merge, only_entities, terms, weighted_terms

THRESHOLD = 0.2  # below this best score an item is unmapped
NEAR_TIE = 0.92  # other controls within this ratio of the best are listed too...
SAME_LABEL = 0.75  # ...and controls answering the same checklist label within this ratio
MAX_CONTROLS = 4
COMPOUND_MIN = 0.6  # a part of a compound item adds its control when it scores this share of the whole's best

# how much each piece of context counts next to the item itself (1.0)
CONTEXT_WEIGHTS = {"parent": 0.5, "lead-in": 0.45, "table-header": 0.3, "heading-0": 0.35, "heading-1": 0.2,
                   "heading-2": 0.1, "heading-3": 0.06}
ENTITY_WEIGHT = 0.4  # a technology named next to a practice says what, not which practice
ENTITY_ONLY_WEIGHT = 0.4  # an item naming only technologies ("Kafka") weighs this against its context...
ENTITY_ONLY_CONTEXT = 2.0  # ...whose weights are multiplied by this
ENTITY_PARENT = 0.6  # a parent item that only names a technology ("**MinIO**") counts this much of a parent

# passage kinds and the factor their similarity is multiplied by: label definitions are the shared taxonomy,
# controls' titles and phrases are worded by each control's author
PASSAGE_FACTORS = {"title": 0.9, "phrase": 0.9, "label": 1.0, "label-phrase": 1.0, "evidence": 0.85,
                   "rationale": 0.7}
SUPPORT_WEIGHTS = (0.4, 0.2)  # the 2nd and 3rd best passages of a control add this much of their score

# words saying an activity must have taken place: what only a person or a probe can establish then counts more,
# from the item itself (1.0) or what it is nested under
EXERCISE_WORDS = re.compile(r"\b(test|tests|tested|testing|verify|verified|verifying|verification|confirm|confirmed|"
                            r"rehearse|rehearsed|rehearsal|drills?|exercised?|practiced?|completed|conducted|"
                            r"review|reviewed|reviews|reviewing|watch|watched)\b", re.I)
# kinds of automated test suites: "load testing" names a suite to have, not a test to have held
TEST_SUITES = re.compile(r"\b(load|unit|integration|e2e|end[- ]to[- ]end|smoke|stress|contract|regression|ui|"
                         r"acceptance|api|chaos|property|fuzz)[- ]test(s|ing)?\b", re.I)
EXERCISE_CONTEXT = {"parent": 0.7, "lead-in": 0.5, "heading-0": 0.5}
EXERCISE_BOOST = 1.0
EXERCISE_CUES = frozenset(terms("test tested verify verified confirm rehearse drill exercise practice completed "
                                "conducted review reviewed watch"))

# topics an item may speak of, in its own text or its near context
TOPICS = {
    "alert": frozenset(terms("alert alerts alerting alarm warning warnings notify notification page paging "
                             "pagerduty opsgenie")),
    "document": frozenset(terms("document documented documentation docs doc guide runbook playbook procedure "
                                "procedures plan diagram diagrams readme wiki manual faq adr policy contacts "
                                "escalation topology")),
    "monitor": frozenset(terms("monitor monitored monitoring metric metrics track tracked tracking measure "
                               "measured observe usage utilization utilisation dashboard")),
}
TOPIC_CONTEXT = {"alert": ("parent", "lead-in", "heading-0"), "monitor": ("parent", "lead-in", "heading-0"),
                 "document": ("parent", "lead-in", "heading-0", "heading-1")}
REQUIRED_TOPICS = ("alert", "document")  # their passages count less when the item does not speak of them
BOOSTED_TOPICS = ("monitor",)  # their passages count more when it does ("Monitor rate limit violations")
OFF_TOPIC = 0.8
ON_TOPIC = 1.15

# words naming a whole area, and qualifiers that add no practice to them ("production-grade", "highly")
AREA_TERMS = {t: cat for words, cat in (
    ("security secure secured safe", "security"),
    ("reliable reliability resilient resilience available availability", "reliability"),
    ("observable observability monitored monitoring", "observability"), ("scalable scalability", "scalability"),
    ("performant performance", "performance"), ("compliant compliance", "compliance"),
    ("documented documentation", "documentation")) for w in words.split() for t in terms(w)}
UMBRELLA_TERMS = frozenset(AREA_TERMS) | frozenset(terms(
    "grade hardening hardened harden well highly fully robust solid enterprise overall general features setup "
    "level class"))
MAX_UMBRELLA = 8
UMBRELLA_CONFIDENCE = 0.5


def asks_exercise(text: str) -> bool:
    return bool(EXERCISE_WORDS.search(TEST_SUITES.sub(" ", text)))


@dataclass
class ControlDoc:
    """What the mapper knows about one control."""

    id: str
    title: str
    category: str = ""
    verifiability: str = "repo"
    phrases: list[str] = field(default_factory=list)
    rationale: str = ""
    labels: list[str] = field(default_factory=list)
    severity: str = "medium"


def docs_from_registry(controls: Iterable | None = None) -> list[ControlDoc]:
    if controls is None:
        from ..controls.base import all_controls

        controls = all_controls().values()
    return [ControlDoc(c.id, c.title, c.category, c.verifiability, list(c.phrases), c.rationale,
                       list(c.checklist), c.severity) for c in controls]


def _label_words(label: str) -> str:
    return label.split(".", 1)[-1].replace("_", " ")


def _topic_of(name: str) -> str | None:
    """The topic of a passage, from the label it describes (or its control's id)."""
    name = name.lower()
    if "alert" in name.split(".", 1)[-1]:
        return "alert"
    if name.startswith(("docs.", "documentation.")):
        return "document"
    if name.startswith("observability."):
        return "monitor"
    return None


@dataclass
class Mapping:
    control_id: str
    confidence: float
    part: str | None = None  # for a compound item: the part that mapped here

    def to_dict(self) -> dict:
        return {"id": self.control_id, "confidence": round(self.confidence, 3)}


@dataclass
class _Passage:
    control: str
    kind: str  # title | phrase | rationale | label | evidence | label-phrase
    text: str
    label: str  # the checklist label it describes ("" for the control's own title, phrases, rationale)
    by_person: bool  # what it describes is established by a person or a probe (manual/live)
    topic: str | None


class Mapper:
    def __init__(self, docs: list[ControlDoc]) -> None:
        self.docs = {d.id: d for d in docs}
        candidates: list[_Passage] = []
        for d in docs:
            own_person = d.verifiability in ("manual", "live")
            topic = _topic_of(d.id)
            candidates.append(_Passage(d.id, "title", d.title, "", own_person, topic))
            candidates += [_Passage(d.id, "phrase", p, "", own_person, topic) for p in d.phrases]
            if d.rationale:
                candidates.append(_Passage(d.id, "rationale", d.rationale, "", own_person, topic))
            for label in d.labels:
                if label in LABELS:
                    verif, definition, evidence = LABELS[label]
                    person = verif in ("manual", "live")
                    candidates.append(_Passage(d.id, "label", f"{_label_words(label)}. {definition}", label,
                                               person, _topic_of(label)))
                    candidates.append(_Passage(d.id, "evidence", evidence, label, person, _topic_of(label)))
                else:
                    person = own_person
                    candidates.append(_Passage(d.id, "label", _label_words(label), label, person, _topic_of(label)))
                candidates += [_Passage(d.id, "label-phrase", p, label, person, _topic_of(label))
                               for p in LABEL_PHRASES.get(label, ())]
        bags = [(p, weighted_terms(p.text)) for p in candidates]
        bags = [(p, bag) for p, bag in bags if bag]
        self.passages = [p for p, _ in bags]
        df: dict[str, int] = {}
        for _, bag in bags:
            for t in bag:
                df[t] = df.get(t, 0) + 1
        n = len(bags) or 1
        self.idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self.postings: dict[str, list[tuple[int, float]]] = {}  # term -> [(passage index, weight)]
        for i, (_, bag) in enumerate(bags):
            for t, w in self._vector(bag).items():
                self.postings.setdefault(t, []).append((i, w))

    @classmethod
    def from_registry(cls) -> Mapper:
        return cls(docs_from_registry())

    def _vector(self, bag: dict[str, float]) -> dict[str, float]:
        """TF-IDF, L2-normalised; terms no passage has are left out (they cannot match anything)."""
        vec = {t: (1.0 + math.log(w) if w > 1 else w) * self.idf[t] for t, w in bag.items() if t in self.idf}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items()} if norm else {}

    def rank(self, bag: dict[str, float], exercise: float = 0.0, topics: frozenset[str] = frozenset()
             ) -> list[tuple[str, float]]:
        """Controls by descending score for the weighted term bag ``bag``. ``exercise`` (0–1) says how strongly
        the item asks for something to have been done (tested, rehearsed, reviewed); ``topics`` are those it
        speaks of (see the module docstring)."""
        return [(cid, s) for cid, s, _, _ in self.rank_explained(bag, exercise, topics)]

    def rank_explained(self, bag: dict[str, float], exercise: float = 0.0, topics: frozenset[str] = frozenset()
                       ) -> list[tuple[str, float, str, str]]:
        """Like :meth:`rank`, with each control's best passage and the checklist label that passage describes
        ("" for the control's own title and phrases)."""
        q = self._vector(bag)
        sims: dict[int, float] = {}
        substance: set[int] = set()  # passages matched on more than the words asking for an exercise
        for t, w in q.items():
            cue = t in EXERCISE_CUES
            for i, pw in self.postings.get(t, ()):
                sims[i] = sims.get(i, 0.0) + w * pw
                if not cue:
                    substance.add(i)
        per: dict[str, list[tuple[float, int]]] = {}
        for i, s in sims.items():
            p = self.passages[i]
            # "test" + what is tested: the exercise favours what a person establishes, where the passage is about
            # the thing tested too ("backups tested" is no match for "test monitoring")
            if exercise and p.by_person and i in substance:
                s *= 1.0 + EXERCISE_BOOST * exercise
            if p.topic in REQUIRED_TOPICS and p.topic not in topics:
                s *= OFF_TOPIC
            elif p.topic in BOOSTED_TOPICS and p.topic in topics:
                s *= ON_TOPIC
            per.setdefault(p.control, []).append((s * PASSAGE_FACTORS.get(p.kind, 1.0), i))
        best: dict[str, tuple[float, int]] = {}
        for cid, scored in per.items():
            scored.sort(reverse=True)
            # the best passage decides; further passages that agree add a little: support from several
            # descriptions beats one lucky short phrase
            score = scored[0][0] + sum(w * s for w, (s, _) in zip(SUPPORT_WEIGHTS, scored[1:], strict=False))
            best[cid] = (score / (1 + sum(SUPPORT_WEIGHTS)), scored[0][1])
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [(cid, s, self.passages[i].text, self.passages[i].label) for cid, (s, i) in ranked]

    # ---- items -------------------------------------------------------------------------------------

    def query(self, item: Item, text: str | None = None) -> dict[str, float]:
        """The weighted terms of an item (or of ``text``, one part of it) with its context."""
        own = plain(text if text is not None else item.text)
        entity_only = only_entities(own)
        if entity_only:
            own_bag = weighted_terms(own, ENTITY_ONLY_WEIGHT)
        else:
            own_bag = {t: w * (ENTITY_WEIGHT if t in ENTITIES else 1.0) for t, w in weighted_terms(own).items()}
        bags = [own_bag]
        for role, ctx in self._context(item):
            w = CONTEXT_WEIGHTS.get(role, 0.05) * (ENTITY_ONLY_CONTEXT if entity_only else 1.0)
            if role == "parent" and only_entities(ctx):
                w *= ENTITY_PARENT
            bags.append(weighted_terms(ctx, w))
        if text is not None:  # a part of a compound item: the whole item is context too
            bags.append(weighted_terms(plain(item.text), 0.3))
        return merge(bags)

    def _context(self, item: Item) -> list[tuple[str, str]]:
        """The item's context with headings renumbered from the nearest *meaningful* one: a heading with no word
        the catalog knows ("Production Improvements Needed", "Day 1") does not push the section's real title
        ("Security Enhancements") further away."""
        out, n = [], 0
        for role, text in item.context():
            if role.startswith("heading-"):
                if not any(t in self.idf for t in terms(text)):
                    continue
                role = f"heading-{n}"
                n += 1
            out.append((role, text))
        return out

    def exercise(self, item: Item) -> float:
        """How strongly the item (or what it is nested under) asks for an activity to have taken place."""
        if asks_exercise(plain(item.text)):
            return 1.0
        for role, ctx in self._context(item):
            if role in EXERCISE_CONTEXT and asks_exercise(ctx):
                return EXERCISE_CONTEXT[role]
        return 0.0

    def topics(self, item: Item) -> frozenset[str]:
        """The topics (alerting, documentation, monitoring) the item or its near context speaks of."""
        found = set()
        for role, text in [("item", plain(item.text))] + self._context(item):
            ts = set(terms(text))
            found |= {name for name, words in TOPICS.items()
                      if ts & words and (role == "item" or role in TOPIC_CONTEXT[name])}
        return frozenset(found)

    def umbrella(self, item: Item) -> list[Mapping]:
        """An item that names a whole area and no practice ("Production-grade security", "✅ Highly available and
        resilient") is a claim about the area: it maps to the area's critical and high controls, the bar any such
        claim must clear."""
        own = set(terms(plain(item.text)))
        if not own or not own <= UMBRELLA_TERMS or not own & set(AREA_TERMS):
            return []
        cats = {AREA_TERMS[t] for t in own if t in AREA_TERMS}
        chosen = sorted((d for d in self.docs.values() if d.category in cats and d.severity in ("critical", "high")),
                        key=lambda d: (d.severity != "critical", d.id))[:MAX_UMBRELLA]
        return [Mapping(d.id, UMBRELLA_CONFIDENCE) for d in chosen]

    def map_item(self, item: Item) -> list[Mapping]:
        """The controls that verify ``item``, by descending confidence; [] when it is unmapped."""
        if not any(t in self.idf for t in terms(plain(item.text))):
            return []  # the item itself says nothing the catalog knows: context alone is not a mapping
        area = self.umbrella(item)
        if area:
            return area
        ex = self.exercise(item)
        tp = self.topics(item)
        ranked = self.rank_explained(self.query(item), ex, tp)
        if not ranked or ranked[0][1] < THRESHOLD:
            return []
        top_id, top, _, top_label = ranked[0]
        # near ties, and other controls verifying the same checklist label as the best match: alternative checks
        # of one requirement (a static and a live check of TLS, say)
        same = {top_label} if top_label else set(self.docs[top_id].labels)

        def alternative(cid: str, s: float, label: str) -> bool:
            if s >= max(THRESHOLD, top * NEAR_TIE):
                return True
            answers_same = label in same if label else bool(set(self.docs[cid].labels) & same)
            return answers_same and s >= max(THRESHOLD, top * SAME_LABEL)

        out = [Mapping(cid, min(s, 1.0)) for cid, s, _, label in ranked if alternative(cid, s, label)]
        out = out[:MAX_CONTROLS]
        chosen = {m.control_id for m in out}
        for part in compound_parts(plain(item.text)):
            pr = self.rank(self.query(item, part), ex, tp)
            if pr and pr[0][1] >= max(THRESHOLD * 1.5, top * COMPOUND_MIN) and pr[0][0] not in chosen \
                    and len(out) < MAX_CONTROLS:
                out.append(Mapping(pr[0][0], min(pr[0][1], top, 1.0), part))
                chosen.add(pr[0][0])
        out.sort(key=lambda m: -m.confidence)
        return out


_SPLIT = re.compile(r"\s*(?:,\s*(?:and\s+)?|;\s*|\s+and\s+|\s+&\s+|\s+\+\s+|\s+as well as\s+|\s+plus\s+)\s*",
                    re.I)


def compound_parts(text: str) -> list[str]:
    """The parts of a compound item that each name a practice ("rate limiting and security headers" → two);
    [] when the item is not compound."""
    text = re.sub(r"\([^)]*\)", " ", text)  # examples in parentheses are not parts
    parts = [p.strip(" .:-") for p in _SPLIT.split(text) if p and p.strip(" .:-")]
    meaningful = [p for p in parts if terms(p) and not only_entities(p)]
    return meaningful if len(meaningful) >= 2 else []
