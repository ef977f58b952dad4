"""Attribute vocabulary and a deterministic, download-free labeler (the authors' labels are not public).

TA-STVG's ASA heads are trained on per-sentence ``sub`` (subject phrase), ``adj_index_list``
(appearance ids) and ``verb_index_list`` (motion ids) that exist only in the authors' annotation
bundle; **the authors' vocabulary and labelling method are not public** (only the class counts:
HC-STVG 15 appearance / 60 motion, VidSTG 20 / 34). When those fields are absent this module
re-derives them, a documented deviation:

* vocabulary: the ``app_num`` most frequent appearance words (colours, clothing, build, age, from a
  built-in lexicon) in the *subject phrases* of the training sentences, and the ``mot_num`` most
  frequent verb lemmas (built-in lexicon) of the training sentences; ties broken alphabetically;
* subject phrase: the words before the first verb or relation word ("next", "behind", "and",
  ...), after leading fillers ("there is", "who", "what does", ...), at most 8 words;
* labels: appearance ids of vocabulary words inside the subject phrase, motion ids of vocabulary
  verbs anywhere in the sentence (lemmatised with suffix rules checked against the lexicon).

SynthSTVG ships its exact vocabulary (``vocabulary.json``); with it this labeler reproduces the
generator's labels exactly. No NLP library is used, so results are identical everywhere.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

COLOURS = "black white red blue green yellow gray brown pink purple orange dark light blond golden silver".split()
CLOTHING = ("coat shirt jacket hat glasses dress suit skirt pants trousers jeans sweater hair scarf uniform vest cap "
            "tie shorts shoes boots hood bag backpack helmet apron gloves mask beard sleeves clothes").split()
BUILD = "old young tall short bald long fat thin little big small bearded striped plaid elderly".split()
APPEARANCE_LEXICON = COLOURS + CLOTHING + BUILD
VERB_LEXICON = (
    "walk turn sit stand look take hold put run go come move open close pick raise push pull hand give leave enter "
    "talk speak say shake nod point touch hug kiss grab throw catch drink eat smile laugh cry lean bend kneel lie "
    "fall jump dance climb ride drive carry drop follow chase hit kick beat fight wave watch see stare glance read "
    "write answer call play pat lower lift step stop stay spin bounce wobble grow shrink blink fade loop zigzag "
    "get have wear cross reach pass pour wipe clap fold swing slide sleep wake rise return approach"
).split()
FILLERS = {"there", "is", "are", "who", "what", "which", "whom", "whose", "does", "do", "did", "was", "were"}
# relation words that end a subject phrase ("the child next to the dog" -> "the child")
STOPS = {"next", "near", "behind", "beside", "towards", "toward", "under", "above", "below", "away", "at", "to",
         "from", "into", "onto", "by", "and", "then", "that", "who", "which", "while", "is", "are"}
_LEX = set(VERB_LEXICON)


def lemma(token: str) -> str:
    """Verb lemma by suffix rules, accepted only when the result is in the verb lexicon."""
    if token in _LEX:
        return token
    cands = []
    if token.endswith("ies"):
        cands.append(token[:-3] + "y")
    if token.endswith("es"):
        cands.append(token[:-2])
    if token.endswith("s"):
        cands.append(token[:-1])
    for suffix in ("ing", "ed"):
        if token.endswith(suffix):
            stem = token[: -len(suffix)]
            cands += [stem, stem + "e"] + ([stem[:-1]] if len(stem) > 2 and stem[-1] == stem[-2] else [])
    irregular = {"sat": "sit", "stood": "stand", "took": "take", "held": "hold", "ran": "run", "went": "go",
                 "came": "come", "gave": "give", "left": "leave", "fell": "fall", "threw": "throw", "caught": "catch",
                 "drank": "drink", "ate": "eat", "rode": "ride", "drove": "drive", "got": "get", "has": "have",
                 "wore": "wear", "lay": "lie", "lies": "lie", "saw": "see", "rose": "rise", "woke": "wake"}
    if token in irregular and token != "left":  # "left" is a direction far more often than a verb
        return irregular[token]
    return next((c for c in cands if c in _LEX), token)


def tokens(sentence: str) -> list[str]:
    return re.findall(r"[a-z]+(?:-[a-z]+)?", sentence.lower())


def subject_phrase(sentence: str, max_words: int = 8) -> str:
    """Words before the first verb, leading fillers dropped: ``"the man in black turns left"`` ->
    ``"the man in black"``."""
    words = tokens(sentence)
    while words and words[0] in FILLERS:
        words = words[1:]
    out = []
    for w in words:
        if w in STOPS or (lemma(w) in _LEX and out):
            break
        out.append(w)
    return " ".join(out[:max_words])


@dataclass
class AttributeVocabulary:
    """Names of the appearance and motion classes; an id is the position in the list.
    Multi-word names (``"moves left"``) match as phrases, single words match tokens (verbs by lemma)."""

    appearance: list[str]
    motion: list[str]

    @classmethod
    def from_json(cls, path: str | Path) -> "AttributeVocabulary":
        data = json.loads(Path(path).read_text())
        return cls(list(data["appearance"]), list(data["motion"]))

    @classmethod
    def synth(cls) -> "AttributeVocabulary":
        from tastvg.data.synth_scene import APPEARANCE, MOTION

        return cls(list(APPEARANCE), list(MOTION))

    @classmethod
    def from_sentences(cls, sentences: Iterable[str], app_num: int = 15, mot_num: int = 60) -> "AttributeVocabulary":
        """Most frequent lexicon words (see module doc), padded with lexicon order when the data are small."""
        app, mot = Counter(), Counter()
        for s in sentences:
            app.update(w for w in tokens(subject_phrase(s)) if w in APPEARANCE_LEXICON)
            mot.update(lemma(w) for w in tokens(s) if lemma(w) in _LEX)

        def top(counts: Counter, lexicon: list[str], k: int) -> list[str]:
            ranked = sorted(counts, key=lambda w: (-counts[w], w))[:k]
            return ranked + [w for w in lexicon if w not in ranked][: k - len(ranked)]

        return cls(top(app, APPEARANCE_LEXICON, app_num), top(mot, VERB_LEXICON, mot_num))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"appearance": self.appearance, "motion": self.motion}, indent=1))


class AttributeLabeler:
    """``labeler(sentence) -> (subject, appearance ids, motion ids)``, deterministic."""

    def __init__(self, vocab: AttributeVocabulary) -> None:
        self.vocab = vocab

    @staticmethod
    def _match(names: list[str], text: str) -> list[int]:
        words = tokens(text)
        lemmas = {lemma(w) for w in words} | set(words)
        padded = " " + " ".join(words) + " "
        return [i for i, n in enumerate(names) if (f" {n} " in padded if " " in n else n in lemmas)]

    def subject(self, sentence: str) -> str:
        """The subject phrase; with phrase-valued motion names (SynthSTVG), the words before the
        first motion phrase."""
        text = " ".join(tokens(sentence))
        cuts = [text.find(f" {n} ") for n in self.vocab.motion if " " in n and f" {n} " in f"{text} "]
        cuts = [c for c in cuts if c >= 0]
        if cuts:
            return text[: min(cuts)].strip()
        return subject_phrase(sentence)

    def __call__(self, sentence: str) -> tuple[str, list[int], list[int]]:
        subject = self.subject(sentence)
        return subject, self._match(self.vocab.appearance, subject), self._match(self.vocab.motion, sentence)
