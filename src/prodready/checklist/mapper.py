"""Map checklist items to the prodready controls that verify them — by meaning, offline.

Every control is described by several short *passages*: its title, its curated ``phrases``, and for each
checklist label it answers (``checklist=[...]``) the label's definition, its evidence rule and common wordings
(``labels.py``); its rationale counts too, at a discount. Passages and items become TF-IDF vectors over
canonical terms (``text.py``: stemming, a synonym table, implied concepts, bigrams), and a control's score for
an item is the best cosine similarity between the item and one of its passages.

An item is read with its context: the list item it is nested under, a lead-in line ("Document your support
contacts:"), a table's header and the heading path, each weighted less than the item itself. An item that only
names a technology ("Kafka", "MinIO") takes most of its meaning from that context.

Each mapping has a confidence (the similarity, 0–1). Below ``THRESHOLD`` the item is unmapped rather than
guessed. A compound item ("rate limiting and security headers") is also read part by part, and each part that
maps confidently to another control adds it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .labels import LABEL_PHRASES, LABELS
from .parser import Item, plain
from .text import ENTITIES, merge, only_entities, terms, weighted_terms

THRESHOLD = 0.2  # below this best similarity an item is unmapped
NEAR_TIE = 0.92  # other controls within this ratio of the best are listed too
SAME_LABEL = 0.6  # ...and controls answering the same checklist label within this ratio
MAX_CONTROLS = 4
SUPPORT_WEIGHTS = (0.4, 0.2)
SUPPORT_NORM = 1.0
ENTITY_WEIGHT = 0.4
ENTITY_ONLY_WEIGHT = 0.4  # an item naming only technologies ("Kafka") weighs less against its context
# words saying an activity must have taken place (tested, rehearsed, reviewed, completed): what only a person or
# a probe can establish then counts more
EXERCISE_CUES = frozenset(terms("test tested verify verified confirm rehearse drill exercise practice completed "
                                "conducted review reviewed watch"))
EXERCISE_CONTEXT = {"parent": 0.7, "lead-in": 0.5, "heading-0": 0.5}
# the words themselves (not stems: "completed" asks for an exercise, "complete failure" does not)
EXERCISE_WORDS = re.compile(r"\b(test|tests|tested|testing|verify|verified|verifying|verification|confirm|confirmed|"
                            r"rehearse|rehearsed|rehearsal|drills?|exercised?|practiced?|completed|conducted|"
                            r"review|reviewed|reviews|reviewing|watch|watched)\b", re.I)


# kinds of automated test suites: "load testing" names a suite to have, not a test to have held
_TEST_SUITES = re.compile(r"\b(load|unit|integration|e2e|end[- ]to[- ]end|smoke|stress|contract|regression|ui|"
                          r"acceptance|api|chaos|property|fuzz)[- ]test(s|ing)?\b", re.I)


def _asks_exercise(text: str) -> bool:
    return bool(EXERCISE_WORDS.search(_TEST_SUITES.sub(" ", text)))
EXERCISE_BOOST = 0.8
# Practices an item must speak of (in its text or near context) for their descriptions to count in full: a
# metric named under "Metrics to monitor" is not an alert rule, a feature is not its documentation.
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
SHORT_TERMS = 3.0  # items with fewer terms than this lean more on their context...
SHORT_BOOST = 1.0  # ...up to this factor

# how much each piece of context counts next to the item itself (1.0)
CONTEXT_WEIGHTS = {"parent": 0.5, "lead-in": 0.45, "table-header": 0.3, "heading-0": 0.35, "heading-1": 0.2,
                   "heading-2": 0.1, "heading-3": 0.06}
# passage kinds and the factor their similarity is multiplied by
PASSAGE_FACTORS = {"title": 0.9, "phrase": 0.9, "label": 1.0, "label-phrase": 1.0, "evidence": 0.85,
                   "rationale": 0.7}


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


def docs_from_registry(controls: Iterable | None = None) -> list[ControlDoc]:
    if controls is None:
        from ..controls.base import all_controls

        controls = all_controls().values()
    return [ControlDoc(c.id, c.title, c.category, c.verifiability, list(c.phrases), c.rationale,
                       list(c.checklist)) for c in controls]


def _topic_of(label_or_control: str, text: str) -> str | None:
    """The topic a passage is about: alerting for alert labels and alert rules, documentation for docs."""
    name = label_or_control.lower()
    if "alert" in name.split(".", 1)[-1]:
        return "alert"
    if name.startswith(("docs.", "documentation.")):
        return "document"
    if name.startswith("observability."):
        return "monitor"
    return None


def _label_words(label: str) -> str:
    return label.split(".", 1)[-1].replace("_", " ")


@dataclass
class Mapping:
    control_id: str
    confidence: float
    part: str | None = None  # for a compound item: the part that mapped here

    def to_dict(self) -> dict:
        return {"id": self.control_id, "confidence": round(min(self.confidence, 1.0), 3)}


class Mapper:
    def __init__(self, docs: list[ControlDoc]) -> None:
        self.docs = {d.id: d for d in docs}
        texts: list[tuple] = []  # (control, kind, text, established by a person/probe[, label])
        for d in docs:
            by_person = d.verifiability in ("manual", "live")
            texts.append((d.id, "title", d.title, by_person))
            texts += [(d.id, "phrase", p, by_person) for p in d.phrases]
            if d.rationale:
                texts.append((d.id, "rationale", d.rationale, by_person))
            for label in d.labels:
                if label in LABELS:
                    verif, definition, evidence = LABELS[label]
                    manual = verif in ("manual", "live")
                    texts.append((d.id, "label", f"{_label_words(label)}. {definition}", manual, label))
                    texts.append((d.id, "evidence", evidence, manual, label))
                else:
                    manual = by_person
                    texts.append((d.id, "label", _label_words(label), manual, label))
                texts += [(d.id, "label-phrase", p, manual, label) for p in LABEL_PHRASES.get(label, ())]
        texts = [t if len(t) == 5 else (*t, "") for t in texts]
        passages = [(cid, kind, bag, text) for cid, kind, text, _, _ in texts if (bag := weighted_terms(text))]
        kept = [t for t in texts if weighted_terms(t[2])]
        self.passage_text = [p[3] for p in passages]
        self.passage_label = [t[4] for t in kept]
        self.passage_exercised = [t[3] for t in kept]
        # the topic a passage requires the item to speak of (alerting, documentation), if any
        self.passage_topic = [_topic_of(t[4] or t[0], t[2]) for t in kept]
        df: dict[str, int] = {}
        for _, _, bag, _ in passages:
            for t in bag:
                df[t] = df.get(t, 0) + 1
        n = len(passages) or 1
        self.idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self.default_idf = math.log((n + 1) / 0.5)
        # inverted index: term -> [(passage index, weight)]
        self.passages: list[tuple[str, str]] = []
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for i, (cid, kind, bag, _) in enumerate(passages):
            vec = self._vector(bag, known_only=True)
            self.passages.append((cid, kind))
            for t, w in vec.items():
                self.postings.setdefault(t, []).append((i, w))

    @classmethod
    def from_registry(cls) -> Mapper:
        return cls(docs_from_registry())

    def _vector(self, bag: dict[str, float], known_only: bool = False) -> dict[str, float]:
        vec = {}
        for t, w in bag.items():
            idf = self.idf.get(t)
            if idf is None:
                if known_only:
                    continue
                continue  # a term no passage has cannot contribute to any similarity
            vec[t] = (1.0 + math.log(w) if w > 1 else w) * idf
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items()} if norm else {}

    def rank(self, bag: dict[str, float], exercise: float = 0.0, topics: frozenset[str] = frozenset()
             ) -> list[tuple[str, float]]:
        """Controls by descending similarity to the weighted term bag ``bag``. ``exercise`` (0–1) says how
        strongly the item asks for something to have been done or tried (tested, rehearsed, reviewed):
        passages of what a person or a probe establishes then count more."""
        return [(cid, s) for cid, s, _, _ in self.rank_explained(bag, exercise, topics)]

    def rank_explained(self, bag: dict[str, float], exercise: float = 0.0, topics: frozenset[str] = frozenset()
                       ) -> list[tuple[str, float, str, str]]:
        """Like :meth:`rank`, with the passage of each control that matched best and the checklist label that
        passage describes ("" for the control's own title and phrases)."""
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
            cid, kind = self.passages[i]
            # "test" + what is tested: the exercise favours what a person establishes, but only where the
            # passage is about the thing tested too ("backups tested" is no match for "test monitoring")
            if exercise and self.passage_exercised[i] and i in substance:
                s *= 1.0 + EXERCISE_BOOST * exercise
            topic = self.passage_topic[i]
            if topic in REQUIRED_TOPICS and topic not in topics:
                s *= OFF_TOPIC
            elif topic in BOOSTED_TOPICS and topic in topics:
                s *= ON_TOPIC
            per.setdefault(cid, []).append((s * PASSAGE_FACTORS.get(kind, 1.0), i))
        best: dict[str, tuple[float, int]] = {}
        for cid, lst in per.items():
            lst.sort(reverse=True)
            # the best passage decides; further passages that agree add a little (support from several
            # descriptions beats one lucky short phrase)
            score = lst[0][0] + sum(w * s for w, (s, _) in zip(SUPPORT_WEIGHTS, lst[1:], strict=False))
            best[cid] = (score / (1 + sum(SUPPORT_WEIGHTS)) ** SUPPORT_NORM, lst[0][1])
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [(cid, s, self.passage_text[i], self.passage_label[i]) for cid, (s, i) in ranked]

    # ---- items -------------------------------------------------------------------------------------

    def query(self, item: Item, text: str | None = None) -> dict[str, float]:
        own = plain(text if text is not None else item.text)
        entity_only = only_entities(own)
        own_bag = weighted_terms(own, ENTITY_ONLY_WEIGHT if entity_only else 1.0)
        if not entity_only:  # a technology named next to a practice says what, not which practice
            own_bag = {t: w * (ENTITY_WEIGHT if t.split("_")[0] in ENTITIES and "_" not in t else 1.0)
                       for t, w in own_bag.items()}
        n_terms = len(terms(own))
        boost = 2.0 if entity_only else max(1.0, min(SHORT_BOOST, SHORT_TERMS / max(n_terms, 1)))
        bags = [own_bag]
        for role, ctx in item.context():
            w = CONTEXT_WEIGHTS.get(role, 0.05) * boost
            bag = weighted_terms(ctx, w)
            if role == "parent" and only_entities(ctx):
                bag = {t: v * 0.6 for t, v in bag.items()}
            bags.append(bag)
        if text is not None:  # a part of a compound item: the whole item is context too
            bags.append(weighted_terms(plain(item.text), 0.3))
        return merge(bags)

    def exercise(self, item: Item) -> float:
        """How strongly the item (or what it is nested under) asks for an activity to have taken place."""
        if _asks_exercise(plain(item.text)):
            return 1.0
        for role, ctx in item.context():
            if role in EXERCISE_CONTEXT and _asks_exercise(ctx):
                return EXERCISE_CONTEXT[role]
        return 0.0

    def topics(self, item: Item) -> frozenset[str]:
        """The topics (alerting, documentation) the item or its near context speaks of."""
        found = set()
        texts = [("item", plain(item.text))] + [(role, ctx) for role, ctx in item.context()]
        for role, t in texts:
            ts = set(terms(t))
            found |= {name for name, words in TOPICS.items()
                      if ts & words and (role == "item" or role in TOPIC_CONTEXT[name])}
        return frozenset(found)

    def map_item(self, item: Item) -> list[Mapping]:
        if not any(t in self.idf for t in terms(plain(item.text))):
            return []  # the item itself says nothing the catalog knows: context alone is not a mapping
        ex = self.exercise(item)
        tp = self.topics(item)
        ranked = self.rank_explained(self.query(item), ex, tp)
        if not ranked or ranked[0][1] < THRESHOLD:
            return []
        top, top_label = ranked[0][1], ranked[0][3]
        # near ties, and other controls verifying the same checklist label as the best match: alternative checks
        # of the same requirement (a static and a live check of TLS, say)
        same = set(self.docs[ranked[0][0]].labels) if not top_label else {top_label}
        def alternative(cid: str, s: float, label: str) -> bool:
            if s >= max(THRESHOLD, top * NEAR_TIE):
                return True
            answers_same = label in same if label else bool(set(self.docs[cid].labels) & same)
            return answers_same and s >= max(THRESHOLD, top * SAME_LABEL)

        out = [Mapping(cid, s) for cid, s, _, label in ranked if alternative(cid, s, label)][:MAX_CONTROLS]
        chosen = {m.control_id for m in out}
        for part in compound_parts(plain(item.text)):
            pr = self.rank(self.query(item, part), ex, tp)
            if pr and pr[0][1] >= max(THRESHOLD * 1.5, top * 0.6) and pr[0][0] not in chosen \
                    and len(out) < MAX_CONTROLS:
                out.append(Mapping(pr[0][0], min(pr[0][1], top), part))
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
