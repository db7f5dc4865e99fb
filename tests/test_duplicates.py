"""Tests for tasks/duplicates.py: exact and near copies, from stored or fresh MinHash signatures."""

from __future__ import annotations

import pytest

from tasks.duplicates import MINHASH_PERMUTATIONS, find_duplicates, text_minhash, words_sha256

STORY = (
    "Acme Corp said on Thursday that quarterly profits rose 5% to $10m, beating the forecasts of every analyst "
    "who follows the company. The chief executive, Jane Doe, said demand had been strong across all of its "
    "markets and that the firm would hire 200 more engineers in Manchester this year, mostly in software. "
    "Shares in the company closed 3% higher in London, while its main rival reported flat sales for the period "
    "and warned that costs would rise. Analysts said the results showed that the strategy of the new management "
    "team, in place since last spring, was starting to pay off after two difficult years for the group."
)


@pytest.mark.parametrize(
    "texts, expected",
    [
        # the same story saved twice, with different case, punctuation and spacing: exact duplicate
        ([STORY, STORY.upper().replace(",", "").replace(". ", ".\n\n")], [None, "d0"]),
        # a wire story published by two sites, one with a word changed and one dropped: near duplicate
        ([STORY, STORY.replace("Thursday", "Friday").replace(" mostly", "")], [None, "d0"]),
        # a different story on the same subject: not a duplicate
        ([STORY, "Acme Corp said on Thursday that it would close two factories in Wales, with the loss of 300 jobs, "
                 "after demand for its older products fell for a third year."], [None, None]),
        # a follow-up sharing only some sentences (similarity well below the threshold): not a duplicate
        ([STORY, STORY[:len(STORY) // 2] + " The union said it would ballot members on strike action next week, "
                 "and the company said it hoped talks would resolve the dispute over pay and pensions soon."], [None, None]),
        # empty texts (video pages) are never duplicates, even of each other
        (["", "", STORY], [None, None, None]),
        # duplicate_of names the canonical copy, never another duplicate
        ([STORY, STORY, STORY.replace("Thursday", "Friday")], [None, "d0", "d0"]),
    ],
)
def test_find_duplicates(texts: list[str], expected: list[str | None]):
    assert find_duplicates([f"d{i}" for i in range(len(texts))], texts) == expected


def test_stored_signatures_give_the_same_duplicates_as_fresh_ones():
    texts = ["", STORY, STORY.replace("Thursday", "Friday"), "Another story entirely, about rain in Wales."]
    signatures = [text_minhash(text) for text in texts]
    digests = [words_sha256(text) for text in texts]
    ids = [f"d{i}" for i in range(len(texts))]
    assert signatures[0] is None and all(len(s) == MINHASH_PERMUTATIONS for s in signatures[1:])
    assert digests[0] is None and digests[1] == words_sha256(STORY.upper())
    assert find_duplicates(ids, texts, signatures, digests) == find_duplicates(ids, texts) == [None, None, "d1", None]


def test_a_signature_depends_on_the_words_only():
    assert text_minhash(STORY) == text_minhash(STORY.upper().replace(",", ""))
    assert text_minhash(STORY) != text_minhash(STORY.replace("Thursday", "Friday"))
