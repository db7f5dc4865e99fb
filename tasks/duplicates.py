"""Duplicate articles: exact copies and near copies (the same text with small edits).

The clean stage stores each document's word hash and MinHash signature (`words_sha256`,
`text_minhash`); the write stage, which sees every batch, finds the duplicates with them
(`find_duplicates`).
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np
import pyarrow as pa

from tasks.schemas import one_array

# Near duplicates: documents whose sets of 5-word shingles have a Jaccard similarity of at least
# 0.8. MinHash (128 permutations) and locality-sensitive hashing find the candidates, so the work
# grows with the number of documents, not of pairs. With 25 bands of 5 rows, a pair of similarity
# s is a candidate with probability 1 - (1 - s**5)**25: over 0.9999 at 0.8, 0.23 at 0.4, nearly 0
# for unrelated articles; each candidate's similarity is then computed exactly. 0.8 flags the same
# text with small edits (a changed headline or word, a sentence added or trimmed); BBC pairs
# between 0.6 and 0.8 are rewritten versions or follow-ups of a story, which are separate articles.
SHINGLE_WORDS = 5
NEAR_DUPLICATE_THRESHOLD = 0.8
MINHASH_PERMUTATIONS = 128
LSH_BANDS, LSH_ROWS = 25, 5
MINHASH_SEED = 1
WORD = re.compile(r"\w+")

# The permutations: h -> ((a * h + b) mod 2**64) >> 32 on 32-bit shingle hashes, with a odd
# (multiply-add-shift, a universal family; numpy's uint64 arithmetic wraps, with no division).
_RANDOM = np.random.default_rng(MINHASH_SEED)
_A = _RANDOM.integers(0, 2**63, size=(MINHASH_PERMUTATIONS, 1), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _RANDOM.integers(0, 2**63, size=(MINHASH_PERMUTATIONS, 1), dtype=np.uint64) * np.uint64(2)
_HIGH_32_BITS = np.uint64(32)
_WORD_MULTIPLIER = np.uint64(0x01000193)  # odd, below 2**32: products of 32-bit values fit in 64 bits
_LOW_32_BITS = np.uint64(0xFFFFFFFF)
_BAND_MULTIPLIERS = _RANDOM.integers(0, 2**63, size=LSH_ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def comparable_words(text: str) -> list[str]:
    """The words duplicate detection compares: case, punctuation and spacing do not count."""
    return WORD.findall(text.casefold())


def shingles(words: list[str]) -> set[str]:
    """The text's overlapping runs of SHINGLE_WORDS words (the whole text when it is shorter)."""
    return {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}


def _words_sha256(words: list[str]) -> str | None:
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest() if words else None


def _shingle_hashes(words: list[str]) -> np.ndarray:
    """32-bit hashes of the text's distinct shingles (as `shingles` cuts them): each word's CRC-32,
    combined over the shingle's words and mixed (murmur3's finaliser) in numpy, not a hash call
    per shingle."""
    width = min(SHINGLE_WORDS, len(words))
    n_shingles = len(words) - width + 1
    word_hashes = np.fromiter((zlib.crc32(word.encode("utf-8")) for word in words), dtype=np.uint64, count=len(words))
    hashes = np.zeros(n_shingles, dtype=np.uint64)
    for k in range(width):
        hashes = (hashes * _WORD_MULTIPLIER + word_hashes[k:k + n_shingles]) & _LOW_32_BITS
    for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        hashes = ((hashes ^ (hashes >> np.uint64(shift))) * np.uint64(multiplier)) & _LOW_32_BITS
    return np.unique(hashes ^ (hashes >> np.uint64(16)))


def _minhash(words: list[str]) -> list[int] | None:
    if not words:
        return None
    return ((_A * _shingle_hashes(words) + _B) >> _HIGH_32_BITS).min(axis=1).tolist()


def words_sha256(text: str) -> str | None:
    """A hash of the text's comparable words (None for a text without words): equal for exact
    duplicates."""
    return _words_sha256(comparable_words(text))


def text_minhash(text: str) -> list[int] | None:
    """The MinHash signature of the text's shingles (None for a text without words)."""
    return _minhash(comparable_words(text))


def text_fingerprint(text: str) -> tuple[str | None, list[int] | None]:
    """(words_sha256, text_minhash) of the text, its words found once. The clean stage stores
    both per document, so a run that adds one article hashes that article only."""
    words = comparable_words(text)
    return _words_sha256(words), _minhash(words)


def band_partners(signatures: list[list[int] | None]) -> dict[int, set[int]]:
    """Locality-sensitive hashing: for each document (by position) whose signature agrees with
    another's on all rows of some band, the positions of those others. Documents without a
    signature have none."""
    present = np.array([signature is not None for signature in signatures], dtype=bool)
    matrix = np.zeros((len(signatures), MINHASH_PERMUTATIONS), dtype=np.uint64)
    if present.any():
        matrix[present] = np.array([signature for signature in signatures if signature is not None], dtype=np.uint64)
    return matrix_partners(matrix, present)


def matrix_partners(matrix: np.ndarray, present: np.ndarray) -> dict[int, set[int]]:
    """band_partners of the signatures in a minhash_matrix, compared by band key (a key
    collision only adds a candidate, whose similarity is then computed)."""
    positions = np.flatnonzero(present)
    if not len(positions):
        return {}
    keys = band_keys(matrix[positions])
    partners: dict[int, set[int]] = {}
    for band in range(LSH_BANDS):
        _, bucket, size = np.unique(keys[:, band], return_inverse=True, return_counts=True)
        shared = np.flatnonzero(size[bucket] > 1)  # rows in a bucket with another row
        by_bucket: dict[int, list[int]] = {}
        for row in shared.tolist():
            by_bucket.setdefault(int(bucket[row]), []).append(int(positions[row]))
        for members in by_bucket.values():
            for member in members:
                partners.setdefault(member, set()).update(other for other in members if other != member)
    return partners


def find_duplicates(
    doc_ids: list[str],
    texts: list[str],
    minhashes: list[list[int] | None] | None = None,
    digests: list[str | None] | None = None,
    partners: dict[int, set[int]] | None = None,
) -> list[str | None]:
    """For documents in canonical order (smallest source first), the doc_id of the copy each one
    duplicates, or None.

    Exact duplicates have the same comparable words (`words_sha256`); near duplicates reach
    NEAR_DUPLICATE_THRESHOLD with a canonical document (the most similar one if several). Only
    canonical documents are indexed, so `duplicate_of` always names a document that is not itself
    a duplicate. Empty texts (pages whose body was not saved) are never duplicates.
    `minhashes` and `digests` are the texts' text_minhash and words_sha256, computed here when
    not given; with them, only the candidates' words are read again. `partners`, when the
    caller has them (band_partners or matrix_partners), replace `minhashes`: only the texts of
    documents with partners are read.
    """
    if digests is None:
        digests = [words_sha256(text) for text in texts]
    if partners is None:
        if minhashes is None:
            minhashes = [text_minhash(text) if digest is not None else None for text, digest in zip(texts, digests)]
        partners = band_partners(minhashes)
    canonical_by_digest: dict[str, str] = {}
    indexed: set[int] = set()  # positions of canonical documents seen so far
    duplicate_of: list[str | None] = []
    for number, (doc_id, text, digest) in enumerate(zip(doc_ids, texts, digests)):
        if digest is None:
            duplicate_of.append(None)
            continue
        if digest in canonical_by_digest:
            duplicate_of.append(canonical_by_digest[digest])
            continue
        similar = []
        candidates = partners.get(number, set()) & indexed
        own = shingles(comparable_words(text)) if candidates else set()
        for other in candidates:
            theirs = shingles(comparable_words(texts[other]))
            similarity = len(own & theirs) / len(own | theirs)
            if similarity >= NEAR_DUPLICATE_THRESHOLD:
                similar.append((similarity, -other, doc_ids[other]))
        canonical = max(similar)[2] if similar else None
        if canonical is None:
            indexed.add(number)
        canonical_by_digest[digest] = canonical or doc_id
        duplicate_of.append(canonical)
    return duplicate_of


def minhash_matrix(signatures: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A text_minhash column as an (n, MINHASH_PERMUTATIONS) uint64 matrix (rows of zeros where
    there is no signature) and the mask of rows that have one, without a Python list per row."""
    signatures = one_array(signatures)
    present = signatures.is_valid().to_numpy(zero_copy_only=False)
    matrix = np.zeros((len(signatures), MINHASH_PERMUTATIONS), dtype=np.uint64)
    values = signatures.flatten().to_numpy(zero_copy_only=False).astype(np.uint64)  # the present rows', in order
    matrix[present] = values.reshape(-1, MINHASH_PERMUTATIONS)
    return matrix, present


def band_keys(matrix: np.ndarray) -> np.ndarray:
    """One 64-bit key per LSH band of each row of a minhash_matrix (the band's values mixed by odd
    multipliers): equal bands give equal keys; unequal ones rarely do, and a collision only adds
    a candidate (tasks/fingerprints.py indexes them)."""
    bands = matrix[:, :LSH_BANDS * LSH_ROWS].reshape(len(matrix), LSH_BANDS, LSH_ROWS)
    return (bands * _BAND_MULTIPLIERS).sum(axis=2, dtype=np.uint64)
