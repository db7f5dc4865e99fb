"""Attribution: what each quantity measures and who said it, and the direct quotes and their speakers.

Runs in the entities stage, beside NER (tasks/ner.py), because it needs the document's mentions
and spaCy's parser; it imports no Prefect for the same reason as tasks/ner.py. The rules, with
examples, are in docs/attribution.md.

- Every quantity gets its sentence (`sentence_start`, `sentence_end`).
- Only the sentences that hold a quantity are parsed (`TextReading.sentences_to_parse`).
- `subject`: the noun phrase the quantity measures, read from the parse (`measured_phrase`):
  "a $900m loan" -> "loan", "debts of 14bn euros" -> "debts", "revenues slipped 11%" ->
  "revenues", "cut its forecast from 1.8% to 0.8%" -> "its forecast".
- `speaker`: the canonical PERSON or ORG (else GPE) that the sentence attributes the figure to
  (`quantity_speaker`): the quote that holds it, "according to X", or the subject of a
  reporting verb ("said", "forecast", "reported", "posted", ...) that governs it, with
  pronouns and "the company" resolved to a name before them (`_referent`).
- Quotes are read without the parser (`find_quotes`, `attribute_quotes`): double quotes within
  a paragraph, their speaker named around them (`"...," said X`, `X told the BBC: "..."`) or
  taken from the quote or sentence they continue.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasks.ner import Mention

# Verbs that attribute a quote ("...," said X): the speech acts of news writing.
QUOTING_VERBS = frozenset("""
say says said saying tell tells told telling add adds added adding note notes noted noting warn warns warned
warning explain explains explained stress stresses stressed stressing reveal reveals revealed agree agrees
agreed forecast forecasts predicted predicts reply replies replied call calls called confess confesses
confessed brand brands branded argue argues argued insist insists insisted claim claims claimed ask asks asked
admit admits admitted write writes wrote continue continues continued comment comments commented suggest
suggests suggested believe believes believed announce announces announced report reports reported quoted
acknowledge acknowledged declare declares declared observe observed stated insisting urged urges describe
described describes tweeted tweets assure assures assured recall recalls recalled remark remarks remarked
concede concedes conceded remember remembers remembered observes respond responds responded
confirm confirms confirmed deny denies denied promise promises promised pledge pledges pledged
""".split()) | {"point out", "points out", "pointed out"}
# Verbs that attribute a figure: saying it, and the ways a source publishes one ("the company
# posted a loss", "figures show", "the IMF forecast").
REPORTING_VERBS = (QUOTING_VERBS - {"ask", "asks", "asked", "agree", "agrees", "agreed", "call", "calls", "called",
                                    "continue", "continues", "continued", "reply", "replies", "replied", "urged",
                                    "urges", "describe", "described", "describes"}) | frozenset("""
forecasted forecasting predict predicting estimate estimates estimated announcing reporting post posts posted
posting show shows showed shown project projects projected expects expected state states blame blames blamed
reiterate reiterates reiterated reiterating revealing indicate indicates indicated disclose discloses disclosed
confirm confirms confirmed showing projecting estimating expecting
""".split())
PRONOUN_GENDERS = {"he": "m", "him": "m", "she": "f", "her": "f"}
PERSON_PRONOUNS = frozenset(PRONOUN_GENDERS)
ORG_PRONOUNS = frozenset({"it", "its"})
ORG_NOUNS = frozenset({"company", "firm", "group", "bank", "newspaper", "carrier", "airline", "retailer",
                       "insurer", "operator", "maker", "giant", "chain", "society", "paper", "fund"})
# "The report said", "the government believes": no person a pronoun rule may name.
NOT_PEOPLE = frozenset({"report", "study", "statement", "survey", "figures", "data", "document", "plan", "proposals",
                        "proposal", "paper", "letter", "research", "government", "ministry", "office", "department",
                        "agency", "committee", "commission", "council", "court", "country", "market", "index",
                        "spokesman", "spokeswoman", "spokesperson"})
# Nouns of change: what a change of X% measures is their "in"/"of" phrase ("a 52% rise in
# profits") or what they belong to; and nouns that are the quantity itself ("a total of $5bn").
CHANGE_NOUNS = frozenset({"rise", "rises", "fall", "falls", "increase", "increases", "decrease", "drop", "decline",
                          "jump", "gain", "gains", "growth", "cut", "cuts", "reduction", "surge", "slump", "climb",
                          "boost", "hike", "slide", "dip", "improvement", "total", "sum", "amount", "level", "figure",
                          "rate", "average", "forecast", "forecasts", "estimate", "estimates", "prediction", "predictions",
                          "expectation", "expectations"})
# What a sum is bid or paid "for" and raised "from" is what it measures.
BIDDING_VERBS = frozenset("pay pays paid paying offer offers offered offering bid bids bidding".split())
RAISING_VERBS = frozenset("raise raises raised raising".split())
INVESTING_VERBS = frozenset("invest invests invested investing".split())
# What is spent "in" is no measure of the amount ("invest $20bn in oil projects")
SPENDING_VERBS = frozenset("spend spends spent spending".split()) | INVESTING_VERBS
# What an amount changes "in" that is not what it measures ("rose 4p in morning trading")
NOT_MEASURED = frozenset({"trading", "terms", "value", "total", "amounts", "all", "dealing", "dealings"})
# Verbs of paying, claiming and investing: their subject pays or claims the amount, which
# measures no noun of the sentence ("GM had to pay Fiat $2bn", "threatened to sue the
# government for $28bn"), unless it says what for (BIDDING_VERBS).
PAYING_VERBS = BIDDING_VERBS | INVESTING_VERBS | frozenset("""
sue sues sued suing fine fines fined fining seek seeks sought seeking demand demands demanded demanding owe owes
owed owing
""".split())
# Verbs in which a sum is the subject and goes "for" or "on" something ("£5m was spent on roads").
# (Paying and investing are PAYING_VERBS, decided before.)
ALLOCATED_VERBS = frozenset("earmark earmarked allocate allocated set spend spent budget budgeted raise raised".split())
# Verbs whose object is what a source expects ("ECLAC forecasts growth of 4%"): the object is
# what the amount measures, the subject who said it.
FORECASTING_VERBS = frozenset("""
forecast forecasts forecasting forecasted predict predicts predicted predicting expect expects expected expecting
estimate estimates estimated estimating project projects projected projecting
""".split())
# Verbs whose subject a share of something measures ("owns 5% of", "is 40% of GDP").
HOLDING_VERBS = frozenset("""
own owns owned owning hold holds held holding have has had having control controls controlled is are was were be
been being represent represents represented representing account accounts accounted accounting make makes made making
""".split())
PERCENT_WORDS = frozenset({"%", "percent", "cent"})
# Shares in words, whose conjoined amounts measure what they do ("make up half of all graduates
# but only 5% of the workforce").
FRACTIONS = frozenset({"half", "third", "thirds", "quarter", "quarters", "fifth", "fifths", "majority", "minority"})
# Holders of a share: "DaimlerChrysler, a 30% shareholder in Mitsubishi" measures DaimlerChrysler.
HOLDER_NOUNS = frozenset({"shareholder", "stakeholder", "owner", "holder", "investor", "partner", "backer"})
# Words of time that a quantity hangs from in the parse ("4.9 percent year on year").
TIME_NOUNS = frozenset({"year", "years", "month", "months", "quarter", "quarters", "week", "weeks", "day", "days",
                        "annually", "yearly", "period", "periods"})
# Words that say when ("in December", "Monday's 4% gain"), not what.
DATE_WORDS = TIME_NOUNS | frozenset("""
january february march april may june july august september october november december monday tuesday wednesday
thursday friday saturday sunday today yesterday
""".split())
COMPARATIVES = frozenset({"more", "less", "fewer", "higher", "lower", "greater", "bigger", "smaller", "above",
                          "below", "up", "down"})
SPEAKER_LABELS = ("PERSON", "ORG", "GPE")
# Children left out of a subject phrase: clauses and asides that say more than what is measured.
PHRASE_CUT_DEPS = frozenset({"relcl", "appos", "advcl", "acl", "cc", "conj", "parataxis", "ccomp"})
ACCORDING_TO = re.compile(r"\baccording to\b", re.IGNORECASE)
MAX_SUBJECT_WORDS = 12
# Scales after a number that make it an amount ("to £280.2m"); a few of tasks.numbers.SCALES,
# which NER workers do not import (it loads the currency vocabulary at start-up).
SCALE_WORDS = frozenset({"m", "bn", "million", "billion", "trillion", "mn"})
AN_AMOUNT = re.compile(r"^[\d.,]+(?:m|bn|mn|k)?$")  # "8.5bn", "1,000"
# A "sentence" longer than this is a table or a run-on page, not a sentence: it is not parsed.
MAX_PARSED_CHARS = 2000
MAX_ATTRIBUTION_CHARS = 200

# Double quotes, curly or straight (find_quotes tells opening from closing).
QUOTE_MARK = re.compile(r"[\"“”]")
WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Quote:
    """A direct quote: the characters between its marks, who said it and how."""

    start: int
    end: int
    speaker: str | None = None
    verb: str | None = None
    partial: bool = False


@dataclass(frozen=True)
class QuantityContext:
    """A quantity's sentence, what it measures and who said it; the numbers stage adds these
    columns to the quantity's row, which it finds by (doc_id, start_char, end_char)."""

    doc_id: str
    start_char: int
    end_char: int
    sentence_start: int
    sentence_end: int
    subject: str | None
    speaker: str | None


@dataclass(frozen=True)
class Quotation:
    """One row of the `quotations` table."""

    doc_id: str
    text: str
    start_char: int
    end_char: int
    speaker: str | None
    verb: str | None
    partial: bool


def _paragraphs(text: str) -> list[tuple[int, int]]:
    return [line.span() for line in re.finditer(r"[^\n]+", text)]


def _opens(text: str, at: int) -> bool | None:
    """Whether the straight quote at `at` opens (True), closes (False) or cannot tell (None):
    an opening mark follows a space or bracket and precedes a word; a closing one the reverse."""
    before = text[at - 1] if at > 0 else " "
    after = text[at + 1] if at + 1 < len(text) else " "
    space_before, space_after = before.isspace() or before in "([{—–-", after.isspace() or after in ".,;:!?)]}"
    if space_before and not space_after:
        return True
    if space_after and not space_before:
        return False
    return None


def find_quotes(text: str) -> list[tuple[int, int]]:
    """The spans inside double quotes, per paragraph. Curly quotes pair by direction; a straight
    quote that opens after the open quote's sentence ended (a quote left unclosed before the
    next, as wire copy does: `"One. "Two," she said.`) ends the open one. A quote left open runs to the paragraph's end: a quote that
    goes on in the next paragraph opens again there."""
    spans = []
    for start, end in _paragraphs(text):
        opened = None
        for mark in QUOTE_MARK.finditer(text, start, end):
            char, at = mark.group(), mark.start()
            opens = True if char == "“" else False if char == "”" else _opens(text, at)
            if opened is None:
                if opens is not False:
                    opened = at + 1
            elif opens is True and text[opened:at].rstrip().endswith((".", "!", "?")):
                spans.append((opened, len(text[:at].rstrip())))
                opened = at + 1
            else:
                if at > opened:
                    spans.append((opened, at))
                opened = None
        if opened is not None and text[opened:end].strip():
            spans.append((opened, end))
    return spans


# A name after a preposition ("hosted by finance minister Gordon Brown") is seldom who "he" is.
AFTER_PREPOSITION = re.compile(r"\b(?:by|with|to|of|from|for|against|about|and)\s+(?:\S+\s+){0,3}$")


def _after_preposition(text: str, name: Mention, low: int = 0) -> bool:
    """True when a preposition in text[low:] comes a few words before `name`."""
    return AFTER_PREPOSITION.search(text, max(low, name.start_char - 40), name.start_char) is not None


def _last_before(names: Sequence[Mention], offset: int, label: str) -> str | None:
    """The canonical of the last `label` named before `offset`."""
    before = [name for name in names if name.end_char <= offset and name.label == label]
    return before[-1].canonical if before else None


# A verb of attribution right after a name, past an apposition ("Dr Greenspan said", "Parul
# Jain, an economist at Nomura, said"), or right before it ("said union leader Vincenzo Lilliu").
VERB_AFTER_NAME = re.compile(r"(?:,[^,.\"“”]{0,100},|\s+-[^-.\"“”]{0,100}-)?,?\s+"
                             r"(?:also\s+|has\s+|had\s+|then\s+)?([A-Za-z]+)")
VERB_BEFORE_NAME = re.compile(r"\b([A-Za-z]+)\s+(?:[A-Za-z.]+\s+){0,4}$")
# The forms of QUOTING_VERBS that follow their subject and are no noun ("Smith said", not "the
# claims denied by Labour").
SPOKE = frozenset(verb for verb in QUOTING_VERBS
                  if verb.endswith("ed") or verb in {"said", "told", "wrote", "forecast"}
                  or verb.endswith("s") and verb not in {"claims", "reports", "comments", "notes", "calls", "forecasts",
                                                         "tweets", "remarks", "continues", "brands"})
# Words between a verb and a name that make the name its object, not a titled subject ("suggested
# they should get Trevor Beattie", not "said union leader Vincenzo Lilliu").
NOT_TITLE_WORDS = frozenset({"that", "he", "she", "they", "it", "we", "i", "you", "to", "should", "would", "could",
                             "will", "may", "might", "must", "can", "get", "be", "is", "was", "were", "not", "by"})
# How far back a pronoun looks for the person who spoke: about a paragraph.
SPEAKER_WINDOW_CHARS = 800


def _spoke(text: str, name: Mention, end: int | None = None) -> bool:
    """True when `name` (ending at `end`: "a Vodafone spokesman") is the subject of a verb of
    attribution in the author's text."""
    after = VERB_AFTER_NAME.match(text, name.end_char if end is None else end)
    # not a name at the end of the subject's relative clause ("Blanchett, who won a Bafta for
    # her role in Elizabeth, said")
    if after and after.group(1).lower() in SPOKE \
            and not IN_RELATIVE_CLAUSE.search(text, max(0, name.start_char - 100), name.start_char):
        return True
    before = VERB_BEFORE_NAME.search(text, max(0, name.start_char - 60), name.start_char)
    return (bool(before) and before.group(1).lower() in QUOTING_VERBS
            and not any(word in NOT_TITLE_WORDS or word.endswith(("ed", "ing"))
                        for word in before.group().lower().split()[1:]))


SENTENCE_START = r"(?:^|[.!?][\"”’]?\s+|\n)"
OPENING_PHRASE = r"(?:[^.!?\n,\"“”]{1,50},\s+)?"  # "On the outskirts of Kyoto,"
SENTENCE_OPENING = re.compile(SENTENCE_START + OPENING_PHRASE
                              + r"(?:[A-Z0-9][\w.'’-]*\s+){0,3}$")  # a few capitalised words ("83-year-old", "Mr")


def _opens_sentence(text: str, name: Mention) -> bool:
    """True when `name` opens its sentence, after at most a few capitalised words ("Mr
    Campbell messaged Newsnight", "Former Treasury Secretary Hank Paulson") and an opening
    phrase ("On the outskirts of Kyoto, 83-year-old Yuji Shimizu"): its subject."""
    return SENTENCE_OPENING.search(text, max(0, name.start_char - 110), name.start_char) is not None


SENTENCE_END = re.compile(r"[.!?][\"”’]?\s")
SENTENCE_PRONOUN = re.compile(SENTENCE_START + r"(He|She)\b")
TITLE_GENDERS = {"mr": "m", "sir": "m", "lord": "m", "mrs": "f", "ms": "f", "miss": "f", "lady": "f", "dame": "f",
                 "baroness": "f"}
TITLE_BEFORE = re.compile(r"\b([A-Za-z]+)\.?\s*$")


def _genders(text: str, names: Sequence[Mention]) -> dict[str, str]:
    """The gender ("m", "f") of each person the text names with a title ("Ms Robinson")."""
    genders = {}
    for name in names:
        if name.label != "PERSON":
            continue
        words = name.text.split()
        title = TITLE_BEFORE.search(text, max(0, name.start_char - 12), name.start_char)
        for word in (words[0] if len(words) > 1 else "", title.group(1) if title else ""):
            if word.lower().rstrip(".") in TITLE_GENDERS:
                genders.setdefault(name.canonical, TITLE_GENDERS[word.lower().rstrip(".")])
    return genders


SPOKESPERSON_FOR = re.compile(r"\bspokes(man|woman|person)\s+(?:for|at|of)\s+(?:the\s+)?$", re.IGNORECASE)
SPOKESPERSON_AFTER = re.compile(r"(?:'s|’s)?\s+spokes(man|woman|person)\b", re.IGNORECASE)
SPOKESPERSON_GENDERS = {"man": "m", "woman": "f", "person": None}
# A body's spokesperson named by the body's noun: "an executive spokeswoman", "the council's spokesperson".
SPOKESPERSON_OF_A_BODY = re.compile(r"\b(?:[Aa]n?|[Tt]he|[Ii]ts)\s+([a-z]+)(?:['’]s)?\s+spokes(man|woman|person)\b")


def _spokespeople(text: str, names: Sequence[Mention]) -> list[tuple[Mention, str | None, int]]:
    """Organisations named with their spokesperson ("a spokeswoman for Human Rights Watch", "a
    Vodafone spokesman"): (mention, the spokesperson's gender, where the phrase ends)."""
    found = []
    for name in names:
        if name.label != "ORG":
            continue
        if before := SPOKESPERSON_FOR.search(text, max(0, name.start_char - 30), name.start_char):
            found.append((name, SPOKESPERSON_GENDERS[before.group(1).lower()], name.end_char))
        elif after := SPOKESPERSON_AFTER.match(text, name.end_char):
            found.append((name, SPOKESPERSON_GENDERS[after.group(1).lower()], after.end()))
    for described in SPOKESPERSON_OF_A_BODY.finditer(text):  # "an executive spokeswoman", "the council's spokesperson"
        body = _body_named_by(names, described.start(), described.group(1))
        if body is not None:
            found.append((body, SPOKESPERSON_GENDERS[described.group(2).lower()], described.end()))
    return found


OTHER_OFFICES = frozenset({"shadow", "former", "deputy", "vice", "assistant", "acting", "junior", "interim", "ex",
                           "late"})


def _titled(text: str, names: Sequence[Mention], offset: int, title: list[str]) -> str | None:
    """The last person before `offset` whom the text gives the title that "the <title>" takes up
    ("Tory leader Michael Howard", "Jack McConnell, the first minister," -> "the Tory leader",
    "the first minister")."""
    words = r"\s+".join(re.escape(word) for word in title)
    # another office when a word changes it: "shadow chancellor Oliver Letwin" is no "the chancellor"
    before = re.compile(rf"(?:\b(\w+)[\s-]+)?\b{words}\s+$", re.IGNORECASE)
    after = re.compile(rf",\s+(?:the\s+)?{words}\b", re.IGNORECASE)
    for name in reversed([name for name in names if name.end_char <= offset and name.label == "PERSON"]):
        titled = before.search(text, max(0, name.start_char - 60), name.start_char)
        if titled and (titled.group(1) or "").lower() not in OTHER_OFFICES or after.match(text, name.end_char):
            return name.canonical
    return None


def _described(text: str, names: Sequence[Mention], offset: int, title: list[str]) -> str | None:
    """Who "the <title>" opening a sentence before `offset` is, for a pronoun that follows it:
    the person the text gives that title, else the person named most before it (ties: the
    first), as "the first minister" of a story is most often its subject. (A description
    right at a verb of attribution takes the last person instead, see `_referent`.)"""
    counts = Counter(name.canonical for name in names if name.end_char <= offset and name.label == "PERSON")
    return _titled(text, names, offset, title) or (max(counts, key=counts.get) if counts else None)


def _last_person_before(text: str, names: Sequence[Mention], offset: int, gender: str | None = None
                        ) -> str | None:
    """Who "he" or "the governor" before `offset` most likely is, of the pronoun's `gender`
    when a title gives the person's ("Ms Robinson" is no "he"): the last person named as the
    subject of a verb of attribution in about the last paragraph ("Dr Greenspan said Smith's
    philosophy had been a force for good. "..." he said"), or the organisation whose
    spokesperson was ("A spokeswoman for Human Rights Watch said ... She added"); else the
    last person there who opens a sentence; else the last person not named after a
    preposition ("hosted by Gordon Brown"); else the last person named."""
    before = [name for name in names if name.end_char <= offset and name.label == "PERSON"]
    # "Mr Balls ... had suggested that Mr Brown would meet his rule. He said ... He also stressed
    # ... "..." he told": a sentence opened by the pronoun since the last person named continues
    # that sentence's person, who is resolved where that sentence opens.
    since = before[-1].end_char if before else 0
    chain = next((opening for opening in SENTENCE_PRONOUN.finditer(text, since, offset)
                  if PRONOUN_GENDERS[opening.group(1).lower()] == gender), None)
    if chain and SENTENCE_END.search(text, chain.end(), offset):
        return _last_person_before(text, names, chain.start(1), gender)
    # "The Tory leader was asked ... He replies:": a sentence opened by a person's title since
    # the last person named, whom an earlier mention gives that title ("Tory leader Michael Howard")
    described = [opening for opening in DESCRIPTION_OPENING.finditer(text, since, offset)
                 if SENTENCE_END.search(text, opening.end(), offset)]
    if described:
        return _described(text, names, offset, described[-1].group(1).split())
    if gender:
        titled = _genders(text, names)
        before = [name for name in before if titled.get(name.canonical, gender) == gender]
    recent = [name for name in before if name.start_char >= offset - SPEAKER_WINDOW_CHARS]
    speakers = [(name, name.end_char) for name in recent] + [
        (name, end) for name, spokesperson, end in _spokespeople(text, names)
        if offset - SPEAKER_WINDOW_CHARS <= end <= offset and spokesperson in (None, gender)]
    for name, end in sorted(speakers, key=lambda speaker: speaker[1], reverse=True):
        if _spoke(text, name, end):
            return name.canonical
    for name in reversed(recent):
        if _opens_sentence(text, name):
            return name.canonical
    for name in reversed(before):
        if not _after_preposition(text, name):
            return name.canonical
    return before[-1].canonical if before else None


PERSON_NOUNS = (r"(?:executive|boss|chief|official|minister|economist|analyst|chairman|chairwoman|director|leader|"
                r"president|founder|manager|head|coach|player|striker|star|singer|actor|secretary|governor|"
                r"chancellor|premier)")
THE_BEFORE = re.compile(r"\b[Tt]he\s+$")
PERSON_NOUN_AFTER = re.compile(rf"\s+{PERSON_NOUNS}\b")
DESCRIPTION_OPENING = re.compile(SENTENCE_START + OPENING_PHRASE
                                 + rf"[Tt]he\s+((?:[\w'’-]+\s+){{0,3}}{PERSON_NOUNS})\b")
IN_RELATIVE_CLAUSE = re.compile(r",\s*(?:which|who|whose)\b[^,]*$")
MODIFIES_A_NOUN = re.compile(r"(?:['’]s)?\s+[a-z]")  # "the US company", "the UK's financial watchdog"


def _named_in(text: str, names: Sequence[Mention], start: int, end: int, nearest_last: bool = False) -> str | None:
    """The first PERSON named in [start, end) by a full name (else by one word: "Yukos chief
    executive Steven Theede"), else the first ORG, else the first GPE; with `nearest_last`, the
    last of each ("At the Global Conference on Health Promotion, the World Health Organization
    said")."""
    inside = [name for name in names if start <= name.start_char and name.end_char <= end]
    # not a name in a clause of the subject ("Inbev, which makes Stella Artois, said")
    inside = [name for name in inside if not IN_RELATIVE_CLAUSE.search(text, start, name.start_char)]
    if nearest_last:
        # the subject, not a name in a phrase of it ("Prof Lovenduski, who led the study with
        # Margaret Moran, said")
        inside = [name for name in inside if not _after_preposition(text, name, start)] or inside
        inside.reverse()
    people = [name for name in inside if name.label == "PERSON"]
    if people:
        return next((name for name in people if " " in name.text.strip()), people[0]).canonical
    for label in SPEAKER_LABELS[1:]:
        for name in inside:
            # a place that modifies a noun is no speaker ("the US company said"), nor an
            # organisation that says which person spoke ("the Porsche executive said")
            if name.label == label and not (label == "GPE" and MODIFIES_A_NOUN.match(text, name.end_char)) \
                    and not (THE_BEFORE.search(text, max(0, name.start_char - 5), name.start_char)
                             and PERSON_NOUN_AFTER.match(text, name.end_char)):
                return name.canonical
    return None


# "the governor", "the Tory leader", "the 97-year-old" opening the span or a clause of it
DESCRIPTION = re.compile(r"(?:^|,)\s*[Tt]he\s+((?:[\w-]+\s+){0,2}[a-z0-9][a-z0-9-]*)\W*$")


def _referent(span: str, names: Sequence[Mention], offset: int, text: str) -> str | None:
    """Who a pronoun or "the company" in `span`, before `offset`, stands for: the last person or
    ("it") the last organisation named before it; for "the company", "the firm", ... the
    organisation named most before it (ties: the latest), as "the company" of a news story is
    most often its subject."""
    words = WORD.findall(span)
    lowered = [word.lower() for word in words]
    if not lowered:
        return None
    pronoun = next((word for word in lowered if word in PERSON_PRONOUNS), None)
    if pronoun:
        return _last_person_before(text, names, offset, PRONOUN_GENDERS[pronoun])
    if lowered[0] in ORG_PRONOUNS:
        return _last_before(names, offset, "ORG")
    if len(lowered) <= 4 and lowered[-1] in ORG_NOUNS:
        counts = Counter(name.canonical for name in names if name.end_char <= offset and name.label == "ORG")
        latest = {name.canonical: index for index, name in enumerate(names) if name.end_char <= offset}
        return max(counts, key=lambda name: (counts[name], latest[name])) if counts else None
    # "the governor", "the veteran diplomat", "the 97-year-old": a person named before (not "the
    # QCA", a name the model missed), also after the sentence's opening ("In his speech, the
    # governor stressed")
    description = DESCRIPTION.search(span)
    if description and (body := _body_named_by(names, offset, description.group(1).split()[-1])):
        return body.canonical  # "the committee": the Commons education select committee named before
    spokesperson = SPOKESPERSON_OF_A_BODY.search(span)
    if spokesperson and spokesperson.end() == len(span.rstrip(" ,")):  # "the council's spokesperson said"
        body = _body_named_by(names, offset, spokesperson.group(1))
        return body.canonical if body else None
    if description and description.group(1).split()[-1] not in NOT_PEOPLE:
        return _titled(text, names, offset, description.group(1).split()) or _last_person_before(text, names, offset)
    if len(words) == 1 and words[0][0].isupper():  # "said Jan", a name the model missed
        # a person's name that holds the word, else a full name the model took for an
        # organisation's that ends in it ("Dusty Hare" tagged ORG: "Hare told BBC Radio")
        person = next((name.canonical for name in names
                       if name.label == "PERSON" and words[0] in name.canonical.split()), None)
        return person or next((name.canonical for name in names if name.label == "ORG"
                               and TWO_OR_THREE_NAMES.match(name.canonical) and name.canonical.split()[-1] == words[0]),
                              None)
    return None


TWO_OR_THREE_NAMES = re.compile(r"^[A-Z][\w'’-]*(?: [A-Z][\w'’-]*){1,2}$")  # "Dusty Hare", not "Online, Divine"


def _body_named_by(names: Sequence[Mention], offset: int, noun: str) -> Mention | None:
    """The last organisation named before `offset` whose name holds `noun` ("the committee",
    "the ministry": "Commons science and technology committee", "Ministry of Commerce")."""
    return next((name for name in reversed(names) if name.end_char <= offset and name.label == "ORG"
                 and noun in name.canonical.lower().split()), None)


def _speaker_between(text: str, names: Sequence[Mention], start: int, end: int, nearest_last: bool = False
                     ) -> str | None:
    """The speaker named in text[start:end] (`nearest_last`: the one nearest its end, as
    before a verb), or the one its pronoun or "the company" stands for."""
    return _named_in(text, names, start, end, nearest_last) or _referent(text[start:end], names, start, text)


def _names_a_person(names: Sequence[Mention], start: int, end: int) -> bool:
    return any(start <= name.start_char < end and name.label == "PERSON" for name in names)


def _speaker_at(text: str, names: Sequence[Mention], low: int, verb: re.Match, high: int,
                after_verb: bool = True) -> str | None:
    """The speaker of a verb of attribution in text[low:high]: named before the verb ("Ms
    Hewitt told the seminar:", ", the group said"), else, after a quote or for "according
    to", after it (", said Mr Smith of Acme"). Before a quote, what follows the verb is what
    was said ("The economist said he expects China to see "..."")."""
    if verb.group().lower().endswith("ing"):
        main = _verb_in(text, low, verb.start())
        if main is not None:  # "He said Mr Blair had spoken with feeling, adding:": the main clause's speaker
            return _speaker_at(text, names, low, main, verb.start())  # "..., said Soeder, stressing"
    before = [word.group() for word in WORD.finditer(text, max(low, verb.start() - 12), verb.start())
              if word.start() == low or not text[word.start() - 1].isalpha()]  # whole words: not "he" of "the"
    if any(word.lower() in PERSON_PRONOUNS for word in before[-2:]):  # "... what he called"
        return _referent(" ".join(before[-2:]), names, verb.start(), text)
    speaker = _speaker_between(text, names, low, verb.start(), nearest_last=True)
    if speaker is None and (after_verb or verb.group().lower() == "according to"):
        # what follows the verb up to a clause of the author's: "said the governor while ..."
        clause = AFTER_VERB_END.search(text, verb.end(), high)
        stop = clause.start() if clause else high
        # "said its chairman, Sir Anthony Greener": the name in apposition
        apposition = re.match(r",\s*([^,]+?)\s*(?:,|$)", text[stop:high]) if clause and text[stop] == "," else None
        apposition_end = stop + apposition.end(1) if apposition else stop
        appositive = _named_in(text, names, stop, apposition_end) if apposition else None
        # "said the head of Counter Terrorism Policing, Assistant Commissioner Neil Basu": the
        # person in apposition before an organisation in the description
        person_first = _names_a_person(names, stop, apposition_end) and not _names_a_person(names, verb.end(), stop)
        speaker = ((appositive if person_first else None) or _named_in(text, names, verb.end(), stop)
                   or appositive or _speaker_between(text, names, verb.end(), stop))
    return speaker


def _sentence_bounds_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The author's text around a quote: back to the previous sentence end, quote or paragraph
    start, on to the next one, at most MAX_ATTRIBUTION_CHARS each way."""
    low = max(text.rfind("\n", 0, start) + 1, start - MAX_ATTRIBUTION_CHARS)
    # a quote ends at a mark after punctuation; a term's marks ("so-called "Blair Babes"") do not cut
    before = list(re.finditer(r"[.!?][\"”’]?\s|[,.!?][\"”]", text[low:max(low, start - 1)]))
    if before:
        low += before[-1].end()
    high_limit = min(len(text), end + MAX_ATTRIBUTION_CHARS)
    newline = text.find("\n", end)
    high_limit = high_limit if newline < 0 else min(high_limit, newline)
    after = re.compile(r"[.!?](?=\s|$)|[\"“]").search(text, end + 1, high_limit)
    return low, after.start() if after else high_limit


# A word that may attribute: "according to", "points out" or a word, hyphenated ones whole (not
# "called" of "so-called").
ATTRIBUTION_VERB = re.compile(r"\b(?:according to|points? out|pointed out|[A-Za-z]+(?:-[A-Za-z]+)*)\b", re.IGNORECASE)


def _verb_in(text: str, start: int, end: int, last: bool = False) -> re.Match | None:
    """The first (or `last`) verb of attribution in text[start:end] ("said", "told", "according to")."""
    verbs = (word for word in ATTRIBUTION_VERB.finditer(text, start, end)
             if word.group().lower() in QUOTING_VERBS or word.group().lower() == "according to")
    if not last:
        return next(verbs, None)
    found = None
    for found in verbs:
        pass
    return found


MIN_UNATTRIBUTED_QUOTE_WORDS = 5
# Where the speaker after a verb ends: a comma or a clause of the author's ("said the governor
# while delivering a speech at the Riverside Church").
AFTER_VERB_END = re.compile(r",|\b(?:while|when|as|in|at|during|on|adding|after|before|because|to|from|who)\b")


def attribute_quotes(text: str, spans: list[tuple[int, int]], names: Sequence[Mention]) -> list[Quote]:
    """Each quote's speaker, verb and partiality.

    The attribution is the author's text after the quote up to the sentence's end (`"...,"
    said X`), else before it from the sentence's start (`X told the BBC: "..."`). A quote with
    neither takes the speaker of the quote it continues (the same paragraph's or the previous
    one's, or the next quote when only space separates them), else of the author's sentence
    just before it ("Prof Lovenduski said she was shocked. "We expected ...""). Quoted words with no verb of
    attribution that continue no quote and are shorter than MIN_UNATTRIBUTED_QUOTE_WORDS words
    are a term or a title ("scare quotes"), not a quotation, nor is a single word in quotation
    marks.
    A quote is partial when the author's words run into it ("called the deal "a big step"").
    """
    quotes: list[Quote] = []
    for start, end in spans:
        if " " not in text[start:end].strip() and not text[start:end].rstrip().endswith((",", ".", "!", "?")):
            continue  # one word ("determined", "Betty") is a term, not a quotation; "No," is one
        low, high = _sentence_bounds_around(text, start, end)
        lead = text[low:max(low, start - 1)].rstrip()
        partial = bool(lead) and not lead.endswith((":", ","))
        after = min(end + 1, len(text))
        speaker, verb = None, _verb_in(text, after, high)
        lead_verb = _verb_in(text, low, max(low, start - 1), last=True)  # the one nearest the quote
        # `X told crowds: "...." Y said ...`: a quote that a colon introduces is X's
        introduced = (lead.endswith(":") and text[start:end].rstrip().endswith((".", "!", "?"))
                      and lead_verb is not None)
        if verb is not None and (introduced or not _attributes(text, names, start, end, verb, high)):
            verb = None
        if verb is not None:
            speaker = _speaker_at(text, names, after, verb, high)
        else:
            verb = lead_verb
            if verb is not None:
                speaker = (_speaker_at(text, names, low, verb, max(low, start - 1), after_verb=False)
                           or (None if verb.group().lower() in ADDRESSING_VERBS
                               else _named_last(text, names, verb.end(), max(low, start - 1))))
        quote = Quote(start, end, speaker, verb.group() if verb else None, partial)
        # a name right before the quote, as under a heading ("- Bolton boss Sam Allardyce "..."")
        introduced_by = None if verb is not None else next(
            (name.canonical for name in names if name.label == "PERSON" and low <= name.start_char
             and name.end_char <= start - 1 and not text[name.end_char:start - 1].strip(" :")), None)
        if introduced_by:
            quote = Quote(start, end, introduced_by, None, False)  # a whole statement, not the author's words
        elif verb is None:
            if quotes and _continues(text, quotes[-1], start):
                quote = Quote(start, end, quotes[-1].speaker, None, partial)
            elif len(text[start:end].split()) < MIN_UNATTRIBUTED_QUOTE_WORDS:
                continue
            else:
                quote = Quote(start, end, _previous_sentence_speaker(text, names, low, not lead), None, partial)
        quotes.append(quote)
    # A quote with no speaker that runs straight into the next, attributed one is its start.
    for index in range(len(quotes) - 2, -1, -1):
        current, following = quotes[index], quotes[index + 1]
        if current.speaker is None and following.speaker and not text[current.end:following.start].strip("\"“” \n"):
            quotes[index] = Quote(current.start, current.end, following.speaker, current.verb, current.partial)
    return quotes


# Verbs whose object is the one spoken to ("told Ms Sturgeon:"), not the speaker.
ADDRESSING_VERBS = frozenset({"tell", "tells", "told", "telling", "ask", "asks", "asked", "asking", "urge", "urges",
                              "urged", "warn", "warns", "warned", "remind", "reminds", "reminded"})


def _named_last(text: str, names: Sequence[Mention], start: int, end: int) -> str | None:
    """The speaker named between a verb and its quote when nothing else is there but titles
    ("Observes Mr Hadi: "...", "said chief executive Tom Glocer: "...")."""
    named = [name for name in names if start <= name.start_char and name.end_char <= end
             and name.label in SPEAKER_LABELS]
    if not named or text[named[-1].end_char:end].strip(" :,"):
        return None
    titles = text[start:named[-1].start_char]
    return None if re.search(r"[^\w\s.'’-]", titles) else named[-1].canonical


# Words that open the subject of an attribution after a quote (", the spokesman said").
SUBJECT_OPENERS = frozenset({"he", "she", "they", "it", "we", "i", "the", "a", "an", "another", "his", "her", "its",
                             "their", "one"})
MAX_WORDS_BEFORE_VERB = 15
# More words after the verb of a new sentence than "in a statement on Monday" report a clause.
MAX_WORDS_AFTER_A_VERB = 6
# Words after a verb that open the clause it reports ("said that ...", "said it was ...").
CLAUSE_OPENERS = frozenset({"that", "it", "he", "she", "they", "we", "there", "i"})


def _attributes(text: str, names: Sequence[Mention], start: int, end: int, verb: re.Match, high: int) -> bool:
    """True when a verb after the quote text[start:end] attributes it: the words before the verb
    are its subject (", the spokesman said", ", James Carrick, an economist with ABN Amro,
    told"), not a clause of the author's (" when he said", ", apart from a comment"); after a
    quote that ends its sentence, the next sentence must open with the speaker (`"..." Fathi
    Bin Shatwan told Reuters`, not `"..." House prices rose, Nationwide said`); and a sentence
    that ends in a colon introduces the next quote instead."""
    after = min(end + 1, len(text))
    words = list(WORD.finditer(text, after, verb.start()))
    if len(words) > MAX_WORDS_BEFORE_VERB or text[verb.end():high].rstrip().endswith(":"):
        return False
    if not words:
        return True
    first = words[0]
    if first.group().lower() in ("but", "and", "while", "whereas"):
        return False  # `Mr Blair said he left "..." but Dominic Grieve branded`: another clause
    pronoun = first.group().lower() in SUBJECT_OPENERS
    names_first = any(name.start_char == first.start() and name.label in ("PERSON", "ORG") for name in names)
    if text[start:end].rstrip().endswith((".", "!", "?")):
        # `"..." A spokeswoman said it was a principle`: a new sentence reporting other words
        rest = WORD.findall(text, verb.end(), high)
        reports_a_clause = ((WORD.match(text, verb.end() + 1) or first).group().lower() in CLAUSE_OPENERS
                            # "Simon Hall said 2,000 people had turned out to welcome the hunts"
                            or len(rest) > MAX_WORDS_AFTER_A_VERB and verb.group().lower() not in ADDRESSING_VERBS)
        return (pronoun or names_first) and not reports_a_clause
    # ", chief executive Tom Glocer said": a title in lower case before a name
    names_someone = any(after <= name.start_char and name.end_char <= verb.start() and name.label == "PERSON"
                        for name in names)
    return pronoun or names_first or names_someone or first.group()[0].isupper()


def _previous_sentence_speaker(text: str, names: Sequence[Mention], low: int, quote_opens_paragraph: bool
                               ) -> str | None:
    """The speaker of the author's sentence just before `low` (in its paragraph, or the last of
    the previous one when the quote opens a paragraph), when it says who speaks ("Prof
    Lovenduski said she was shocked. "We expected ...""); else None."""
    before_quote = text[:low].rstrip("\"“ ")
    if quote_opens_paragraph:
        before_quote = before_quote.rstrip("\n")
    paragraph = text.rfind("\n", 0, len(before_quote)) + 1
    before = before_quote[paragraph:]
    starts = [match.end() for match in re.finditer(r"[.!?][\"”’]?\s+", before)]
    previous = paragraph + (starts[-1] if starts else 0)
    if previous >= low:
        return None
    verb = _verb_in(text, previous, low)
    return _speaker_at(text, names, previous, verb, low) if verb else None  # "..., said Mr Thomas."


def _continues(text: str, previous: Quote, start: int) -> bool:
    """True when the quote at `start` goes on from `previous`: in the same paragraph, or the
    next one, with only author's text shorter than a sentence between them."""
    between = text[previous.end:max(previous.end, start - 1)]
    return between.count("\n") <= 2 and len(between.strip().strip("\"”“")) < 120


def _subject_token(verb):
    """The verb's subject, or that of the verb it hangs from ("posting" in "Reuters beat
    forecasts, posting a 52% rise")."""
    for _ in range(4):
        # the one nearest the verb when the parser gives two ("volume/nsubj sales/nsubj fall")
        for child in sorted(verb.children, key=lambda child: abs(verb.i - child.i)):
            if child.dep_ in ("nsubj", "nsubjpass"):
                # "the Brazilian economy, which could grow by 4.5%": the noun "which" stands for
                if child.tag_ in ("WDT", "WP") and verb.dep_ == "relcl":
                    return verb.head
                # "growth figures/nsubj showing Malaysia's economy/dobj expanded 7.1%": the object
                # right before the verb, inside its subject, is what the verb tells of
                before = verb.doc[verb.i - 1]
                if child.i < before.i < verb.i and before.dep_ == "dobj" and _nominal(before) \
                        and child.left_edge.i <= before.i <= child.right_edge.i:
                    return before
                return child
        if (verb.dep_ == "relcl" or verb.dep_ == "acl" and verb.tag_ in ("VBG", "VBN")) and _nominal(verb.head):
            return verb.head  # "a steel mill sold to a consortium for $800m", "Atticus Capital, holding 2%"
        if verb.dep_ in ("advcl", "xcomp", "conj", "acl", "pcomp", "prep", "acomp") and verb.head is not verb:
            verb = verb.head  # "The firm gained protection after revealing debts"
        else:
            return None
    return None


def quantity_speaker(sentence, offset: int, sentence_end: int, start: int, end: int, text: str,
                     names: Sequence[Mention]) -> str | None:
    """Who the sentence text[offset:sentence_end] attributes the quantity at text[start:end]
    to: "according to X", else, when the sentence was parsed (`sentence`, a Doc, else None),
    the subject of the nearest reporting verb above it in the parse (or at the sentence's
    root)."""
    according = ACCORDING_TO.search(text, offset, sentence_end)
    if according:
        named = _named_in(text, names, according.end(), min(sentence_end, according.end() + MAX_ATTRIBUTION_CHARS))
        if named:
            return named
    if sentence is None:
        return None
    token = _top_token(sentence, start - offset, end - offset)
    if token is None:
        return None
    above = [ancestor for ancestor in token.ancestors if ancestor.lower_ in REPORTING_VERBS]
    seen = {verb.i for verb in above}
    # not a clause of the author's ("Shares jumped 6% after the firm said ...")
    at_root = (t for t in sentence if t.lower_ in REPORTING_VERBS and t.i not in seen
               and (t.dep_ == "ROOT" or t.head.dep_ == "ROOT" and t.dep_ not in ("advcl", "relcl", "acl", "conj")))
    for verb in itertools.chain(above, at_root):  # the sentence's verbs only when none above speaks
        subject = _subject_token(verb)
        if subject is None:
            continue
        if subject.dep_ == "nsubjpass":  # "growth is projected to be 2%": by whom, if it says
            agent = next((child for child in verb.children if child.dep_ == "agent"), None)
            if agent is None:
                continue
            subject = agent
        low, high = offset + subject.left_edge.idx, offset + subject.right_edge.idx + len(subject.right_edge)
        # the subject's own name before one in its clauses ("Inbev, which makes Stella Artois")
        head = offset + subject.idx
        speaker = (next((name.canonical for name in names if name.start_char <= head < name.end_char
                         and name.label in SPEAKER_LABELS), None)
                   or _speaker_between(text, names, low, high))
        if speaker:
            return speaker
    return None


def _top_token(sentence, start: int, end: int):
    """The quantity's token whose head lies outside it (its link to the sentence)."""
    span = sentence.char_span(start, end, alignment_mode="expand")
    if span is None or not len(span):
        return None
    for token in span:
        if not start <= token.head.idx < end or token.head is token:
            return token
    return span[0]


def measured_phrase(sentence, start: int, end: int, quantities: Sequence[tuple[int, int]] = ()) -> str | None:
    """The noun phrase that the quantity at sentence.text[start:end] measures, or None.
    `quantities`: the spans of the sentence's quantities (the others are climbed over: "6.3bn
    kronor" in "9.5bn kronor against 6.3bn kronor last year" measures what the first does)."""
    def in_a_quantity(token) -> bool:
        return any(low <= token.idx < high for low, high in quantities) or token.like_num or token.tag_ == "$"

    fronted = _fronted_partitive(sentence, start)
    if fronted:
        return fronted
    token = _top_token(sentence, start, end)
    listed = token is not None and _listed_item(token)
    if listed:
        return listed
    # "540bn yen in fresh financial backing", "may lose 30bn baht in earnings from tourism"
    backing = token and (_in_phrase(token, start, end)
                         or token.dep_ == "dobj" and token.head.tag_.startswith("VB")
                         and token.head.lower_ not in SPENDING_VERBS and _in_phrase(token.head, start, end, bare=True))
    if backing:
        return backing
    for _ in range(8):
        if token is None or token.head is token:
            return None
        head, dep = token.head, token.dep_
        if in_a_quantity(head) or head.lower_ in TIME_NOUNS or head.lower_ in COMPARATIVES \
                or dep == "conj" and head.lower_ in FRACTIONS:
            # another amount, "%", "year on year", "19% less than men", "half of all graduates but only 5%"
            token = head
            continue
        if token.lower_ in CHANGE_NOUNS and dep == "appos":  # "1,493 trains, an increase of 49.1%"
            return _phrase(head, start, end)
        if dep == "appos" and _nominal(head) and head.tag_.startswith("NN") and in_a_quantity(token) \
                and token.lower_ not in PERCENT_WORDS and not any(child.dep_ == "nummod" for child in head.children):
            return _phrase(head, start, end)  # "started to pay dividends - $53m in 2000"
        sum_of = in_a_quantity(token) and _sum_of(token, start, end)
        if sum_of:
            return sum_of
        noun = None  # the noun the quantity hangs from, and whether it is one of change
        if dep == "pobj":
            preposition, owner = head, head.head
            if owner.lower_ in ("compared", "comparing"):
                # "has a market value of $2.95bn, compared to EA's $17.8bn": what the amount
                # it is compared to measures
                earlier = [(low, high) for low, high in quantities if high <= start]
                if earlier:
                    return measured_phrase(sentence, *earlier[-1], quantities)
            if owner.lower_ in COMPARATIVES:  # "rise from less than 5bn euros"
                token = owner
                continue
            if _nominal(owner) and not in_a_quantity(owner):
                noun, changes = owner, owner.lower_ in CHANGE_NOUNS or preposition.lower_ in ("to", "from", "by")
            elif owner.tag_.startswith("VB") or any(child.dep_ in ("nsubj", "aux") for child in owner.children):
                # a verb, or a word the tagger took for another part of speech that has a verb's
                # subject or auxiliary ("revenues should more than double/JJ to $21bn")
                if owner.dep_ == "prep" and owner.tag_ == "VBG" and owner.head.tag_.startswith("VB"):
                    # a participle as preposition: "fell 2.8%, following a fall of 0.6%"
                    return _verb_phrase(owner.head, token, start, end, in_a_quantity)
                return _verb_phrase(owner, token, start, end, in_a_quantity)
            else:
                token = owner
                continue
        elif _nominal(head) and dep in ("nummod", "compound", "amod", "nmod", "quantmod", "npadvmod"):
            noun, changes = head, head.lower_ in CHANGE_NOUNS
        if noun is not None:
            if noun.lower_ in HOLDER_NOUNS and noun.dep_ == "appos":  # "DaimlerChrysler, a 30% shareholder in"
                return _phrase(noun.head, start, end)
            if not changes:
                return _phrase(noun, start, end)
            measured = _change_phrase(noun, start, end)
            if measured:
                return measured
            token = noun
            continue
        holder = _holder(token, start, end)  # "The group owns more than 5% of Deutsche"
        if holder:
            return holder
        measured = _of_phrase(token, start, end)
        if measured:
            return measured
        if head.tag_.startswith("VB") or head.dep_ == "ROOT":
            return _verb_phrase(head, token, start, end, in_a_quantity)
        token = head
    return None


def _sum_of(quantity, start: int, end: int) -> str | None:
    """What a sum of money (a token of it) is "of" or "worth of" ("$15bn of shares", "22.5bn
    yuan ($2.7bn) worth of shares"); not a percentage's, whose "of" is the whole it is a share of."""
    if quantity.lower_ in PERCENT_WORDS:
        return None
    worth = [child for child in quantity.children if child.lower_ == "worth"]
    for owner in [quantity, *worth]:
        # right after it: not an "of" the parser hung on it from further on ("$41bn - or 40% of")
        if owner.i + 1 < len(owner.doc) and owner.doc[owner.i + 1].lower_ == "of":
            measured = _of_phrase(owner, start, end)
            if measured:
                return measured
    return None


def _listed_item(quantity) -> str | None:
    """The noun right before "up" or "down" that an amount goes with, as in a list of changes
    ("hospitalizations up 20 percent and deaths up 23 percent", "with rival JFE Holdings down
    3.4%"): that noun with its modifiers, not the sentence's subject."""
    if quantity.dep_ != "npadvmod":
        return None
    doc, head = quantity.doc, quantity.head
    if head.lower_ in ("up", "down") and head.i > 0:  # "up" holds the amount
        noun = doc[head.i - 1]
    elif head.tag_.startswith("NN") and head.i + 1 < len(doc) and doc[head.i + 1].lower_ in ("up", "down"):
        noun = head  # the noun holds "up" and the amount
    else:
        return None
    return doc[noun.left_edge.i:noun.i + 1].text if noun.tag_.startswith("NN") else None


def _holder(token, start: int, end: int) -> str | None:
    """The subject of a verb of holding or being whose object is a share ("Atticus Capital,
    holding 2% of Deutsche Boerse", "gross public debt is about 40% of GDP"): the share
    measures the holder, not the whole it is of."""
    verb = token.head
    if token.dep_ not in ("dobj", "attr") or verb.lower_ not in HOLDING_VERBS:
        return None
    if not any(child.dep_ == "prep" and child.lower_ == "of" for child in token.children):
        return None
    subject = _subject_token(verb)  # for "holding", the noun it hangs from
    if subject is None or subject.tag_ in ("PRP", "WDT") or _holds(subject, start, end):
        return None
    return _phrase(subject, -1, -1)


def _holds(noun, start: int, end: int) -> bool:
    """True when the quantity at [start, end) is part of the noun's phrase, not of a clause
    about it ("the Brazilian economy, which could grow by 4.5%")."""
    clauses = [child for child in noun.children if child.dep_ in ("relcl", "acl")]
    return any(start <= token.idx < end and not any(token in clause.subtree for clause in clauses)
               for token in noun.subtree)


NOMINAL_DEPS = frozenset({"nsubj", "nsubjpass", "dobj", "pobj", "attr", "appos", "dative", "oprd"})


def _nominal(token) -> bool:
    """A noun by its tag, or by its role in the parse (the tagger reads "deal" in "a $6bn deal"
    as a verb, the parser as the object)."""
    return token.tag_.startswith("NN") or token.dep_ in NOMINAL_DEPS


def _fronted_partitive(sentence, start: int) -> str | None:
    """The whole that a sentence opens with, for its amounts after it: "Of Argentina's
    bondholders, 38.4% reside in Argentina, 15.6% in Italy", "Among the participants, 28.8
    percent are from ..."."""
    first = sentence[0] if len(sentence) else None
    if first is None or first.lower_ not in ("of", "among"):
        return None
    objects = [child for child in first.children if child.dep_ == "pobj"]
    if not objects:
        return None
    edge = objects[0].right_edge
    if edge.i + 1 >= len(sentence) or sentence[edge.i + 1].text != "," or sentence[edge.i + 1].idx >= start:
        return None
    return _phrase(objects[0], -1, -1)


def _change_phrase(noun, start: int, end: int) -> str | None:
    """A noun of change with what changes: "a 52% rise in profits for the year", "a 53% pay
    rise"; None for a bare one ("rose by a 5% increase")."""
    for child in noun.children:
        if (child.dep_ == "prep" and child.lower_ in ("in", "of") and not _is_time(child) or child.dep_ == "compound"
                or child.dep_ == "poss" and child.tag_ != "PRP$" and child.lower_ not in DATE_WORDS) \
                and not any(start <= token.idx < end for token in child.subtree):
            return _phrase(noun, start, end)
    return None


def _is_time(preposition) -> bool:
    """True when the preposition's object is a time ("in December", "in the July to September
    period", "in 2004"): when a change happened, not what changed."""
    return any(noun.dep_ == "pobj" and (noun.lower_ in DATE_WORDS or noun.like_num and len(noun.text) == 4)
               for noun in preposition.children)


def _of_phrase(token, start: int, end: int) -> str | None:
    """The object of the token's "of" ("80% of its sales")."""
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ == "of":
            for grandchild in child.children:
                if grandchild.dep_ == "pobj" and not any(start <= t.idx < end for t in grandchild.subtree):
                    return _phrase(grandchild, start, end)
    return None


def _in_phrase(token, start: int, end: int, bare: bool = False) -> str | None:
    """What an amount is "in" when that is a common noun, not a time or place ("540bn yen in
    fresh financial backing", not "0.6% in January" or "rose 5% in the quarter"); `bare`: a
    noun with no determiner that is no manner of trading ("owed $27bn in back taxes", not
    "gained 1% in the past three sessions" or "rose 4p in morning trading")."""
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ == "in":
            for noun in child.children:
                if noun.dep_ == "pobj" and noun.tag_ in ("NN", "NNS") and noun.lower_ not in TIME_NOUNS | NOT_MEASURED \
                        and not (bare and any(c.dep_ in ("det", "poss") for c in noun.children)):
                    return _phrase(noun, start, end)
    return None


def _verb_phrase(verb, quantity, start: int, end: int, in_a_quantity) -> str | None:
    """What a verb's quantity measures: its object when the quantity is where the object goes
    ("cut its forecast from 1.8% to 0.8%", "bought the unit for $9.3bn"), else its subject
    ("revenues slipped 11%", "growth was 1.6%"); None when that subject is the amount itself
    ("a total of $5bn is earmarked") or pays or claims it (PAYING_VERBS)."""
    if verb.lower_ in FORECASTING_VERBS and quantity.dep_ == "dobj" and not start <= quantity.idx < end:
        return _phrase(quantity, start, end)  # "ECLAC forecasts growth of 4%": what is reported, not who
    if verb.lower_ in RAISING_VERBS and quantity.dep_ == "dobj":  # "plans to raise $1bn from the flotation"
        raised_from = _prep_object(verb, "from", quantity, start, end)
        if raised_from:
            return raised_from
    if verb.lower_ in PAYING_VERBS:  # what is paid "for" ("Qwest has bid $6.3bn for MCI"), else nothing
        bid = quantity.dep_ == "dobj" and verb.lower_ in BIDDING_VERBS
        return _prep_object(verb, "for", quantity, start, end) if bid else None
    # The object when the quantity is where it goes ("from 1.8% to 0.8%"), or is a second
    # object ("leaves GDP up 2.3%", "sent Fiat shares down 1.2%").
    if quantity.dep_ in ("pobj", "prep", "dobj", "npadvmod", "advmod"):
        for child in verb.children:
            if child.dep_ == "dobj" and _object_of_the_clause(child, quantity) and child.tag_ != "PRP" and \
                    not in_a_quantity(child) and not any(start <= t.idx < end for t in child.subtree) and \
                    child.lower_ not in ("more", "less", "most", "much"):
                return _phrase(child, -1, -1)
    subject = _subject_token(verb)
    if subject is not None and subject.lower_ in ("it", "they") and verb.dep_ == "conj":
        # "the stock market has fallen 5%, but it is still 40% higher": the first clause's subject
        earlier = _subject_token(verb.head)
        subject = earlier if earlier is not None and earlier.tag_ != "PRP" else subject
    if subject is not None and _holds(subject, start, end) and verb.lower_ in ALLOCATED_VERBS:
        # "A total of 24.2 trillion pesos is earmarked for subsidies": what the sum goes to
        return _prep_object(verb, "for", quantity, start, end) or _prep_object(verb, "on", quantity, start, end)
    if subject is None or _holds(subject, start, end):
        return None
    return _phrase(subject, -1, -1)


def _prep_object(verb, preposition: str, quantity, start: int, end: int) -> str | None:
    """The noun of the verb's `preposition` after the amount (or of the amount's own, where the
    parser hangs it: "raise 16.4bn rupees from the offering"): what a sum is paid or bid "for",
    raised "from"."""
    for child in [*verb.children, *quantity.children]:
        if child.dep_ == "prep" and child.lower_ == preposition and child.i > quantity.i:
            for noun in child.children:
                if noun.dep_ == "pobj" and _nominal(noun) and noun.lower_ not in TIME_NOUNS and \
                        not any(start <= t.idx < end or t.like_num for t in noun.subtree):
                    return _phrase(noun, start, end)
    return None


def _object_of_the_clause(obj, quantity) -> bool:
    """True unless `obj` follows the quantity after a dash or comma, as an aside about the amount
    ("closed at $40.15 - a drop of 5.1%", "lost $2 to $43.25, its lowest close")."""
    if obj.i < quantity.i:
        return True
    return not any(token.is_punct for token in obj.doc[quantity.i + 1:obj.left_edge.i])


def _phrase(head, start: int, end: int) -> str | None:
    """The text of `head`'s phrase without clauses, asides or the quantity itself."""
    kept = _kept_tokens(head, start, end)
    if not kept or all(token.tag_ in ("PRP", "DT", "EX", "WDT", "WP") for token in kept):
        return None
    kept = kept[:MAX_SUBJECT_WORDS] if kept[0] is head or kept.index(head) < MAX_SUBJECT_WORDS else kept
    # the rest of a bracketed amount before it: "$16bn (£8.5bn) takeover" -> "takeover"
    closing = next((index for index, token in enumerate(kept[:kept.index(head)]) if token.text == ")"), None)
    if closing is not None and all(token.text == "(" or token.tag_ == "$" or AN_AMOUNT.match(token.text)
                                   for token in kept[:closing]):
        kept = kept[closing + 1:]
    words = []
    for index, token in enumerate(kept):
        words.append(token.text)
        if index + 1 < len(kept) and token.whitespace_:
            words.append(" ")
    phrase = "".join(words).strip(" ,;:-(")
    return phrase if any(character.isalpha() for character in phrase) else None  # not a lone "£"


def _to_an_amount(preposition) -> bool:
    """True when the preposition's object is an amount ("to £280.2m", "from 5%"): a currency
    sign, a percent sign or word, or a number with a scale ("280.2m", "5bn")."""
    for noun in preposition.children:
        if noun.dep_ == "pobj":
            for token in noun.subtree:
                scaled = token.lower_.rstrip(".") in SCALE_WORDS and token.i > 0 and token.doc[token.i - 1].like_num
                if token.tag_ == "$" or token.lower_ in ("%", "percent") or scaled:
                    return True
    return False


def _kept_tokens(head, start: int, end: int) -> list:
    kept = [head]
    for child in head.children:
        if child.dep_ in PHRASE_CUT_DEPS or start <= child.idx < end:
            continue
        if child.dep_ == "prep" and (any(start <= t.idx < end for t in child.subtree) or _to_an_amount(child)):
            continue  # "a 6% rise in profits to £280.2m": another amount is no part of the phrase
        kept += _kept_tokens(child, start, end)
    kept.sort(key=lambda token: token.i)
    # A contiguous run around the head: a left-out child in the middle cuts the phrase there.
    position = kept.index(head)
    low = position
    while low > 0 and kept[low - 1].i == kept[low].i - 1:
        low -= 1
    high = position
    while high + 1 < len(kept) and kept[high + 1].i == kept[high].i + 1:
        high += 1
    return kept[low:high + 1]


@dataclass
class TextReading:
    """A document's text as attribution reads it: its sentences ((start, end) offsets), its
    quantities ((start, end, amount id, kind), as the numbers stage found them), and the
    sentences parsed so far (index -> Doc)."""

    text: str
    sentences: list[tuple[int, int]]
    quantities: list[tuple[int, int, int, str]]  # from the numbers stage, sorted by start
    quantity_sentences: list[int] = field(init=False)  # the index of each quantity's sentence
    parsed: dict[int, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sentences:
            self.sentences = [(0, len(self.text))]
        starts = [start for start, _ in self.sentences]
        self.quantity_sentences = [max(0, bisect_right(starts, start) - 1) for start, *_ in self.quantities]

    def sentences_to_parse(self) -> list[int]:
        """The indexes of the sentences that hold an amount of money or a percentage (and are
        at most MAX_PARSED_CHARS long), in order, each once. Sentences with counts only are not parsed: they are a quarter of the parser's
        work on BBC, which would take the stage past its cost limit (docs/attribution.md)."""
        return sorted({index for (*_, kind), index in zip(self.quantities, self.quantity_sentences)
                       if kind != "count" and self.sentences[index][1] - self.sentences[index][0] <= MAX_PARSED_CHARS})

    def attribution(self, doc_id: str, names: Sequence[Mention]) -> tuple[list[QuantityContext], list[Quotation]]:
        """The quantities' contexts and the quotes of the document `doc_id`, whose mentions
        are `names`. The amounts of one linked group ("$900m (£479m)") share the first one's
        subject; a quantity inside a quote has the quote's speaker; one in a sentence that
        was not parsed has no subject, and a speaker only from its quote or "according to"."""
        text = self.text
        quotes = attribute_quotes(text, find_quotes(text), names)
        contexts: list[QuantityContext] = []
        group_subjects: dict[int, str | None] = {}
        for (start, end, amount_id, _), index in zip(self.quantities, self.quantity_sentences):
            low, high = self.sentences[index]
            doc = self.parsed.get(index)
            quote = next((q for q in quotes if q.start <= start and end <= q.end), None)
            subject = None
            if doc is not None:
                if amount_id not in group_subjects:
                    spans = [(a - low, b - low) for a, b, *_ in self.quantities if low <= a < high]
                    group_subjects[amount_id] = measured_phrase(doc, start - low, end - low, spans)
                subject = group_subjects[amount_id]
            speaker = quote.speaker if quote else quantity_speaker(doc, low, high, start, end, text, names)
            contexts.append(QuantityContext(doc_id, start, end, low, high, subject, speaker))
        quotations = [Quotation(doc_id, text[q.start:q.end], q.start, q.end, q.speaker, q.verb, q.partial)
                      for q in quotes]
        return contexts, quotations
