"""The kind of answer a question asks for, as spaCy entity labels: who -> a person, organisation
or group; when -> a date or time; how much / how many -> an amount; where -> a place. Both readers
use it: the baseline to pick its span, the neural reader to prefer spans of the right kind.
"""

from __future__ import annotations

from functools import lru_cache

PEOPLE_AND_GROUPS = {"PERSON", "ORG", "NORP", "GPE"}
TIMES = {"DATE", "TIME"}
AMOUNTS = {"MONEY", "QUANTITY", "PERCENT", "CARDINAL"}
PLACES = {"GPE", "LOC", "FAC"}
OTHER_NAMES = {"EVENT", "PRODUCT", "WORK_OF_ART", "LAW", "LANGUAGE", "ORDINAL"}
ALL_ENTITIES = PEOPLE_AND_GROUPS | TIMES | AMOUNTS | PLACES | OTHER_NAMES

# Nouns after "what"/"which" that name the kind of answer wanted.
NOUN_TYPES = {
    "year": TIMES,
    "date": TIMES,
    "month": TIMES,
    "day": TIMES,
    "time": TIMES,
    "century": TIMES,
    "decade": TIMES,
    "period": TIMES,
    "company": {"ORG"},
    "companies": {"ORG"},
    "organization": {"ORG"},
    "organisation": {"ORG"},
    "firm": {"ORG"},
    "provider": {"ORG"},
    "team": {"ORG"},
    "university": {"ORG"},
    "group": {"ORG", "NORP"},
    "country": {"GPE"},
    "city": {"GPE"},
    "state": {"GPE"},
    "nation": {"GPE", "NORP"},
    "place": PLACES,
    "location": PLACES,
    "region": PLACES | {"GPE"},
    "person": {"PERSON"},
    "name": {"PERSON", "ORG"},
    "language": {"LANGUAGE", "NORP"},
    "percentage": {"PERCENT"},
    "percent": {"PERCENT"},
    "amount": AMOUNTS,
    "number": AMOUNTS,
    "price": {"MONEY"},
    "cost": {"MONEY"},
    "value": {"MONEY"},
}


@lru_cache(maxsize=1024)
def expected_types(question: str) -> frozenset[str]:
    """Entity labels the answer should carry, from the question's wording; empty if any will do."""
    q = question.lower()
    words = [w.strip("?,.!\"'") for w in q.split()]
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in {"who", "whom", "whose"}:
            return frozenset(PEOPLE_AND_GROUPS)
        if w == "when":
            return frozenset(TIMES)
        if w == "where":
            return frozenset(PLACES | {"ORG"})
        if w == "how" and nxt in {"much", "many", "big", "large", "long", "old", "far", "tall"}:
            return frozenset(TIMES | AMOUNTS) if nxt in {"long", "old"} else frozenset(AMOUNTS)
        if w in {"what", "which"}:
            for noun in words[i + 1 : i + 4]:
                if noun in NOUN_TYPES:
                    return frozenset(NOUN_TYPES[noun])
    return frozenset()
