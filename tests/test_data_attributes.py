"""Attribute vocabulary and the download-free labeler."""

from tastvg.data.attributes import AttributeLabeler, AttributeVocabulary, lemma, subject_phrase
from tastvg.data.config import DataConfig

SENTENCES = ["The man in the black coat walks to the left and sits down.",
             "The woman with long hair turns around, then picks up the cup.",
             "The old man in black stands up and walks away.",
             "there is a little child in white clothes next to the dog.",
             "what does the adult man hold?"]


def test_lemma():
    assert [lemma(w) for w in ("walks", "sits", "picking", "stopped", "running", "carries", "sat", "left", "dog")] == \
        ["walk", "sit", "pick", "stop", "run", "carry", "sit", "left", "dog"]


def test_subject_phrase():
    assert subject_phrase(SENTENCES[0]) == "the man in the black coat"
    assert subject_phrase(SENTENCES[3]) == "a little child in white clothes"
    assert subject_phrase(SENTENCES[4]) == "the adult man"
    assert subject_phrase("who is next to the dog?") == ""


def test_vocabulary_sizes_and_order():
    v = AttributeVocabulary.from_sentences(SENTENCES, 15, 60)
    assert len(v.appearance) == 15 and len(v.motion) == 60
    assert v.motion[0] == "walk"  # most frequent verb first (2 sentences)
    assert v.appearance[0] == "black" and len(set(v.appearance)) == 15
    cfg = DataConfig.for_dataset("vidstg")
    v2 = AttributeVocabulary.from_sentences(SENTENCES, cfg.app_num, cfg.mot_num)
    assert (len(v2.appearance), len(v2.motion)) == (20, 34)
    assert AttributeVocabulary.from_sentences(SENTENCES, 15, 60) == v  # deterministic


def test_labeler_ids():
    v = AttributeVocabulary.from_sentences(SENTENCES, 15, 60)
    sub, app, mot = AttributeLabeler(v)(SENTENCES[0])
    assert sub == "the man in the black coat"
    assert sorted(v.appearance[i] for i in app) == ["black", "coat"]
    assert sorted(v.motion[i] for i in mot) == ["sit", "walk"]


def test_synth_vocabulary_phrases(tmp_path):
    v = AttributeVocabulary.synth()
    assert (len(v.appearance), len(v.motion)) == (16, 16) == (DataConfig.for_dataset("synth").app_num, 16)
    sub, app, mot = AttributeLabeler(v)("the big striped red square moves left")
    assert sub == "the big striped red square"
    assert [v.appearance[i] for i in app] == ["big", "striped", "red", "square"] and [v.motion[i] for i in mot] == ["moves left"]
    v.save(tmp_path / "v.json")
    assert AttributeVocabulary.from_json(tmp_path / "v.json") == v
