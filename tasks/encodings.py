"""Decoding an article's bytes: byte-order marks, UTF-8, declared encodings, and detection of
the CJK and western encodings news comes in, with a flag for a detection that is not certain.

A helper of the ingest stage (tasks/ingest.py). Detection scores each CJK reading of the bytes
by the frequency of its characters (see SCORED_LANGUAGES) rather than trusting charset_normalizer
alone, which read short GB18030 text as EUC-KR; charset_normalizer still decides among western
and Cyrillic single-byte encodings. Figures: bench/score_encodings.py.
"""

from __future__ import annotations

import codecs
import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import NamedTuple

import charset_normalizer
from charset_normalizer.constant import FREQUENCIES

from tasks.errors import InputError


class Decoded(NamedTuple):
    """An article's decoded text, the codec it was decoded with, and whether detection doubts it."""

    text: str
    encoding: str
    doubtful: bool


class DeclaredEncoding(NamedTuple):
    """An encoding stated for a file rather than detected: by its sidecar or its folder's default."""

    codec: str  # a Python codec's canonical name (tasks.settings.text_codec)
    origin: str  # who declared it, for error messages: "its sidecar a.meta.json", ...


BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# The CJK encodings detection tries, each strictly. In a group, the superset is tried only when
# the first codec fails: it reads a few bytes differently (cp932 reads 0x8160 as U+FF5E where
# shift_jis reads U+301C), and the standard codec gives back the text that was written in it.
CJK_CODECS = (("gb18030",), ("big5", "big5hkscs"), ("shift_jis", "cp932"), ("euc_jp",), ("euc_kr", "cp949"))
UTF16_CODECS = ("utf-16-le", "utf-16-be")  # UTF-16 without a byte-order mark
# When no CJK reading is plausible, charset_normalizer picks among these first: on short texts,
# open detection mistakes cp1252 for its Central European cousin cp1250 ("£" read as "Ł"), and
# with CJK codecs among them it reads "£42m" as Shift_JIS "｣42m".
LIKELY_ENCODINGS = ["cp1252", "cp1251", "koi8_r"]

# Scoring a CJK reading. A character's cost is minus the natural log of its probability in news
# text of a language, so a reading's cost is minus its log-likelihood and readings of the same
# bytes compare directly: a difference of 5 is odds of about 150 to 1. The probabilities come
# from frequency tiers: charset_normalizer's lists of each language's most frequent characters,
# then the tiers the national character sets were built on (GB2312 level 1 holds the 3,755 most
# used hanzi, Big5 the 5,401 "frequently used" ones, JIS X 0208 level 1 2,965 kanji, KS X 1001
# the 2,350 most used Hangul syllables). Each tier is taken to cover a share of running text
# (orders of magnitude, not measurements: halving a share adds only 0.7 to its cost), spread
# evenly over its characters. A wrong reading of CJK bytes is made of characters from the
# lower tiers (or of another language's script), which is what the cost sees.
SCORED_LANGUAGES = ("zh-Hans", "zh-Hant", "ja", "ko")
# A reading is scored in the languages its codec is used for: EUC-KR bytes read as a line of
# hanja are not Korean text, however common those characters are in Traditional Chinese. GBK
# holds the traditional characters too; BOM-less UTF-16 holds any language.
CODEC_LANGUAGES = {
    "gb18030": ("zh-Hans", "zh-Hant"),
    "big5": ("zh-Hant",), "big5hkscs": ("zh-Hant",),
    "shift_jis": ("ja",), "cp932": ("ja",), "euc_jp": ("ja",),
    "euc_kr": ("ko",), "cp949": ("ko",),
}
ASCII_COST = 3.0  # the same in every reading and language: ASCII is no evidence either way
PUNCTUATION_COST = 4.0  # common punctuation (，。「」“”…, PUNCTUATION), the same in all four languages
SYMBOL_COST = 12.0  # any other character: Latin-1 letters, Greek, box drawing, half-width kana
RARE_LETTER_COST = 16.0  # a CJK letter outside the language's tiers (a rare hanzi, kana in Chinese)
IMPOSSIBLE_COST = 30.0  # control, unassigned and private-use characters: no text holds them
# A lone CJK letter glued to a Latin letter ("gr阬e", "癥fel") is how western text read as CJK
# looks: one accented letter and the ASCII letter after it make one double-byte character.
LONE_LETTER_COST = 8.0
_LETTER = "[\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7a3\U00020000-\U0003ffff]"
CJK_LETTER = re.compile(_LETTER)  # kana, hanzi/kanji/hanja, Hangul syllables
LONE_CJK_LETTER = re.compile(f"(?<=[A-Za-z]){_LETTER}(?!{_LETTER})|(?<!{_LETTER}){_LETTER}(?=[A-Za-z])")
# The punctuation of CJK news: the common marks of CJK Symbols and Punctuation (not the rare ones
# such as 〖, which GB2312 has where JIS X 0208 has the long-vowel mark ー), general punctuation
# and the full-width forms of ASCII.
PUNCTUATION = re.compile("[\u00b7\u2010-\u2027\u2030\u203b\u3000-\u3003\u3005-\u3011\u3014\u3015\u301c\uff01-\uff5e]")
# Calibrated on tests/data/encodings: right readings cost at most 9.1 per character that is not
# plain ASCII (long passages 8.1), its western and Cyrillic passages read as CJK 12.2 and more.
PLAUSIBLE_MEAN_COST = 10.0
DOUBT_MARGIN = 5.0  # a rival reading within this cost makes a decoding doubtful
# Fewer letters are too little evidence against a western reading: "°C" read in Big5 is "蚓".
MIN_CJK_LETTERS = 4
SCORED_BYTES = 16_384  # readings are scored on the start of the file: enough evidence, bounded time


def _double_byte_chars(codec: str, leads: range, trails: Iterable[int], last: int = 0xFFFF) -> frozenset[str]:
    """The characters `codec` assigns to the byte pairs lead+trail (up to `last`)."""
    chars = set()
    for lead in leads:
        for trail in trails:
            if lead << 8 | trail <= last:
                try:
                    chars.add(bytes((lead, trail)).decode(codec))
                except UnicodeDecodeError:
                    pass  # an unassigned position
    return frozenset(chars)


@functools.cache
def _language_tiers() -> dict[str, tuple[tuple[frozenset[str], float], ...]]:
    """Per language, its character tiers from most to least frequent, each with the share of
    running text its characters cover (see the comment above SCORED_LANGUAGES)."""
    euc_trails = range(0xA1, 0xFF)
    big5_trails = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    big5_level_1 = _double_byte_chars("big5", range(0xA4, 0xC7), big5_trails, last=0xC67E)
    hiragana = frozenset(map(chr, range(0x3041, 0x30A0)))
    katakana = frozenset(map(chr, range(0x30A0, 0x3100)))
    return {
        "zh-Hans": ((frozenset(FREQUENCIES["Chinese"]), 0.40),
                    (_double_byte_chars("gb2312", range(0xB0, 0xD8), euc_trails), 0.57),
                    (_double_byte_chars("gb2312", range(0xD8, 0xF8), euc_trails), 0.02)),
        "zh-Hant": ((frozenset(FREQUENCIES["Chinese"]) & big5_level_1, 0.30),
                    (big5_level_1, 0.68),
                    (_double_byte_chars("big5", range(0xC9, 0xFA), big5_trails), 0.01)),
        "ja": ((hiragana, 0.40), (katakana, 0.10), (frozenset(FREQUENCIES["Japanese"]), 0.15),
               (_double_byte_chars("euc_jp", range(0xB0, 0xD0), euc_trails), 0.30),
               (_double_byte_chars("euc_jp", range(0xD0, 0xF5), euc_trails), 0.01)),
        "ko": ((frozenset(FREQUENCIES["Korean"]), 0.28),
               (_double_byte_chars("euc_kr", range(0xB0, 0xC9), euc_trails), 0.70),
               (_double_byte_chars("euc_kr", range(0xCA, 0xFE), euc_trails), 0.01)),
    }


@functools.cache
def _letter_costs(language: str) -> dict[str, float]:
    """The cost of each CJK letter in `language`'s tiers (the first tier holding it decides)."""
    costs: dict[str, float] = {}
    for chars, share in _language_tiers()[language]:
        new = chars - costs.keys()
        costs |= dict.fromkeys(new, -math.log(share / len(new)))
    return costs


def _is_plain_ascii(char: str) -> bool:
    return char.isascii() and (char.isprintable() or char in "\t\n\r\f")


@functools.cache
def _char_costs(char: str) -> tuple[float, ...]:
    """The cost of a character in each of SCORED_LANGUAGES."""
    if CJK_LETTER.fullmatch(char):
        return tuple(_letter_costs(language).get(char, RARE_LETTER_COST) for language in SCORED_LANGUAGES)
    if _is_plain_ascii(char):
        cost = ASCII_COST
    elif unicodedata.category(char) in ("Cc", "Cn", "Co", "Cs"):
        cost = IMPOSSIBLE_COST
    elif PUNCTUATION.fullmatch(char):
        cost = PUNCTUATION_COST
    else:
        cost = SYMBOL_COST
    return (cost,) * len(SCORED_LANGUAGES)


class _Reading(NamedTuple):
    text: str
    encoding: str
    cost: float  # of the scored start of the text, in its most likely language
    mean_cost: float  # per character of that start that is not plain ASCII
    cjk_letters: int  # in that start, and its characters that are not white space:
    visible: int


def _score(text: str, encoding: str, sample: str) -> _Reading:
    """A reading of a file (`sample` is its start) with its cost in the most likely of the
    languages its codec is used for."""
    totals = [0.0] * len(SCORED_LANGUAGES)
    plain_ascii = cjk_letters = spaces = 0
    for char, count in Counter(sample).items():
        for number, cost in enumerate(_char_costs(char)):
            totals[number] += count * cost
        if _is_plain_ascii(char):
            plain_ascii += count
        elif CJK_LETTER.fullmatch(char):
            cjk_letters += count
        spaces += count if char.isspace() else 0
    languages = CODEC_LANGUAGES.get(encoding, SCORED_LANGUAGES)
    best = min(total for language, total in zip(SCORED_LANGUAGES, totals) if language in languages)
    evidence = best - plain_ascii * ASCII_COST + LONE_LETTER_COST * len(LONE_CJK_LETTER.findall(sample))
    others = len(sample) - plain_ascii
    return _Reading(text, encoding, evidence + plain_ascii * ASCII_COST, evidence / others if others else 0.0,
                    cjk_letters, len(sample) - spaces)


def _cjk_readings(data: bytes, groups: Iterable[tuple[str, ...]]) -> list[_Reading]:
    """The strict decodings of `data` (one per group of codecs), scored, cheapest first. Codecs
    that give the same text make one reading, in the codec whose languages suit it best (kana
    are the same bytes in EUC-JP and GB2312: they are Japanese)."""
    readings: dict[str, _Reading] = {}
    for group in groups:
        for codec in group:
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                continue
            # Decoding the start alone: final=False leaves a character cut at the end out.
            reading = _score(text, codec, codecs.getincrementaldecoder(codec)().decode(data[:SCORED_BYTES]))
            if text not in readings or reading.cost < readings[text].cost:
                readings[text] = reading
            break
    return sorted(readings.values(), key=lambda reading: reading.cost)


def _most_likely_cjk(readings: list[_Reading], has_nul: bool) -> Decoded | None:
    """The most likely CJK or BOM-less UTF-16 reading when one is plausible. It is doubtful when
    a reading with other text comes within DOUBT_MARGIN, or when it has too few CJK letters to
    rule out a western reading (data with NUL bytes has none: it is UTF-16 or binary)."""
    plausible = [reading for reading in readings if reading.mean_cost <= PLAUSIBLE_MEAN_COST]
    if not plausible:
        return None
    best = plausible[0]
    rivals = [reading.cost for reading in readings if reading is not best]
    doubtful = ((bool(rivals) and min(rivals) - best.cost < DOUBT_MARGIN)
                or (not has_nul and best.cjk_letters < MIN_CJK_LETTERS))
    return Decoded(best.text, best.encoding, doubtful)


def _single_byte(data: bytes) -> Decoded | None:
    """charset_normalizer's reading, western and Cyrillic single-byte encodings first. It is
    doubtful when a reading with other text is as clean (the same mess and language coherence
    within a hair) or when it is a CJK reading, which the CJK scoring found implausible."""
    matches = charset_normalizer.from_bytes(data, cp_isolation=LIKELY_ENCODINGS) or charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    text = str(best)
    rivals = [match for match in matches if str(match) != text
              and abs(match.chaos - best.chaos) < 0.01 and abs(match.coherence - best.coherence) < 0.05]
    cjk = any(best.encoding in group for group in CJK_CODECS)
    return Decoded(text, best.encoding, bool(rivals) or cjk)


def _detect(data: bytes) -> Decoded:
    """The most likely CJK reading when one is plausible, else the single-byte one; raises
    InputError when neither fits (binary_file for NUL bytes that are not UTF-16)."""
    has_nul = b"\x00" in data
    utf16 = [(codec,) for codec in UTF16_CODECS]
    readings = _cjk_readings(data, utf16 if has_nul else [*CJK_CODECS, *utf16])
    decoded = _most_likely_cjk(readings, has_nul)
    if decoded is None and has_nul:
        raise InputError("binary_file", "contains NUL bytes: binary data, not text")
    if decoded is None:
        decoded = _single_byte(data)
        if decoded is None:
            raise InputError("undecodable", "not UTF-8 and no other text encoding fits")
        # The bytes also read as double-byte CJK text, only of rare characters (an implausible
        # reading made mostly of CJK letters; not a UTF-16 one, which pairs of ASCII letters make
        # of any even-length text): the single-byte reading is no more than a guess.
        if any(reading.cjk_letters > reading.visible / 2 and reading.encoding not in UTF16_CODECS
               for reading in readings):
            decoded = decoded._replace(doubtful=True)
    return decoded


def decode_bytes(data: bytes, default: DeclaredEncoding | None = None) -> Decoded:
    """Decode article bytes: by their byte-order mark, else as UTF-8 when they are valid UTF-8,
    else in the `default` encoding (a folder's, declared in NEWSFLOW_FOLDER_ENCODINGS), else by
    detection: the most likely of the CJK readings (GB18030, Big5, Shift_JIS, EUC-JP, EUC-KR,
    BOM-less UTF-16) when one is plausible, else charset_normalizer's western or Cyrillic one.

    Only detection can be doubtful (Decoded.doubtful): see _most_likely_cjk, _single_byte and _detect.
    Raises InputError for binary data (NUL bytes outside UTF-16/32) or undecodable bytes.
    """
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding, False)
            except UnicodeDecodeError as error:
                raise InputError("undecodable", f"starts with a {encoding} byte-order mark but: {error}") from error
    if b"\x00" not in data:
        try:
            return Decoded(data.decode("utf-8"), "utf-8", False)
        except UnicodeDecodeError:
            pass
    if default is not None:
        return decode_declared(data, default)
    return _detect(data)


def decode_declared(data: bytes, declared: DeclaredEncoding) -> Decoded:
    """Decode article bytes in an encoding declared for them, strictly: never doubtful, and an
    InputError (undecodable, naming the encoding and who declared it) when they do not fit it."""
    try:
        text = data.decode(declared.codec)
    except UnicodeDecodeError as error:
        raise InputError("undecodable", f"not valid {declared.codec}, the encoding {declared.origin} declares: "
                                        f"{error.reason} at byte {error.start}") from error
    if "\x00" in text:
        raise InputError("binary_file", f"contains NUL characters in {declared.codec}: binary data, not text")
    return Decoded(text.removeprefix("\ufeff"), declared.codec, False)  # a byte-order mark is not text


def folder_encoding(relpath: str, folder_encodings: Iterable[tuple[str, str]]) -> DeclaredEncoding | None:
    """The encoding declared for the folder holding `relpath` (the deepest declared folder wins;
    "." is the raw folder itself), or None."""
    declared = dict(folder_encodings)
    for folder in PurePosixPath(relpath).parents:
        if folder.as_posix() in declared:
            return DeclaredEncoding(declared[folder.as_posix()],
                                    f"NEWSFLOW_FOLDER_ENCODINGS for folder {folder.as_posix()!r}")
    return None
