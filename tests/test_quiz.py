import re
from pathlib import Path

import pytest

from helpers import quiz

OUTLINE = Path(__file__).resolve().parents[2] / "shared" / "course-outline" / "outline.txt"


def test_fifteen_questions_with_four_options_and_a_letter():
    assert sorted(quiz.QUESTIONS) == list(range(1, 16))
    for q in quiz.QUESTIONS.values():
        assert len(q.options) == 4 and q.answer in "ABCD" and q.why


@pytest.mark.skipif(not OUTLINE.exists(), reason="the course outline lives in ../shared, beside the checkout")
def test_questions_and_options_are_the_outlines_word_for_word():
    lines = OUTLINE.read_text(encoding="utf-8").splitlines()
    for number, q in quiz.QUESTIONS.items():
        start = lines.index(f"{number}. {q.text}")
        options = [re.sub(r"^[A-D]\) ", "", line) for line in lines[start + 1 : start + 5]]
        assert tuple(options) == q.options, number


def test_check_tells_right_from_wrong(capsys):
    assert quiz.check(2, "b") is True
    assert "Correct" in capsys.readouterr().out
    assert quiz.check(2, "A") is False
    assert "the answer is B" in capsys.readouterr().out


def test_bad_answers_are_clear_errors():
    with pytest.raises(ValueError, match="A to D"):
        quiz.check(1, "E")
    with pytest.raises(KeyError, match="1 to 15"):
        quiz.show(16)


def test_show_prints_every_option(capsys):
    quiz.show(9)
    out = capsys.readouterr().out
    assert "C) Gradient clipping" in out and out.startswith("9. ")


def test_chapters_own_their_questions():
    assert quiz.for_chapter("01_tokenization") == [1]
    assert quiz.for_chapter("03_rnn_lstm_gru") == [2, 7, 9]
    assert sum(len(quiz.for_chapter(c)) for c in {q.chapter for q in quiz.QUESTIONS.values()}) == 15
