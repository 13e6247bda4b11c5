import html
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


@pytest.mark.parametrize("answer", ["E", "AB", "", " ", "a)"])
def test_only_one_letter_a_to_d_is_an_answer(answer):
    with pytest.raises(ValueError, match="exactly one letter, A to D"):
        quiz.check(1, answer)


@pytest.mark.parametrize("number", [16, 0, "16", "99.1", 1.0, True, None])
def test_unknown_question_ids_are_clear_errors(number):
    with pytest.raises((KeyError, TypeError), match="1 to 15|number 1 to 15"):
        quiz.show(number)


def test_an_answer_must_be_a_string():
    with pytest.raises(TypeError, match="as a string"):
        quiz.check(1, 2)


def test_course_questions_are_well_formed_and_belong_to_a_chapter():
    chapters = {q.chapter for q in quiz.QUESTIONS.values()}
    for key, q in quiz.COURSE_QUESTIONS.items():
        assert re.fullmatch(r"\d\d\.\d+", key) and q.chapter.startswith(key[:2] + "_"), key
        assert len(q.options) == 4 and len(set(q.options)) == 4 and q.answer in "ABCD" and q.why, key
        assert q.text not in {o.text for o in quiz.QUESTIONS.values()}, key
    assert chapters


def test_show_prints_every_option(capsys):
    quiz.show(9)
    out = capsys.readouterr().out
    assert "C) Gradient clipping" in out and out.startswith("9. ")


def test_chapters_own_their_questions():
    assert [n for n in quiz.for_chapter("03_rnn_lstm_gru") if isinstance(n, int)] == [2, 7, 9]
    outline = [n for c in {q.chapter for q in quiz.QUESTIONS.values()} for n in quiz.for_chapter(c)
               if isinstance(n, int)]
    assert sorted(outline) == list(range(1, 16))


def test_every_review_question_explains_every_option():
    for number, q in quiz.QUESTIONS.items():
        assert len(q.explanations) == 4 and all(e.strip() for e in q.explanations), number
        # The right option's explanation says so, and only that one: the explanations follow the letters.
        marks = [e.startswith("Right") for e in q.explanations]
        assert marks == [letter == q.answer for letter in quiz.LETTERS], number


def test_a_wrong_answer_is_told_why_that_option_is_wrong(capsys):
    assert quiz.check(6, "D") is False
    out = capsys.readouterr().out
    assert "the answer is C" in out and "D) " + quiz.QUESTIONS[6].explanations[3] in out


def test_explain_prints_each_option_with_its_reason(capsys):
    quiz.explain(9)
    out = capsys.readouterr().out
    for option, why in zip(quiz.QUESTIONS[9].options, quiz.QUESTIONS[9].explanations):
        assert option in out and why in out
    assert "C) Gradient clipping  [right]" in out and "A) Increasing the learning rate  [wrong]" in out
    assert out.rstrip().endswith("Taught in 03_rnn_lstm_gru.ipynb")


def test_explanations_must_match_the_options():
    with pytest.raises(ValueError, match="one explanation per option"):
        quiz.Question("?", ("a", "b", "c", "d"), "A", "because", "10_review", explanations=("only one",))


def test_doctests():
    import doctest

    assert doctest.testmod(quiz).failed == 0


def test_a_question_file_with_a_bad_answer_letter_is_refused():
    text = ("{review: {1: {text: Why, options: [a, b, c, d], answer: E, why: b., chapter: 01_tokenization}}, "
            "course: {}}")
    with pytest.raises(ValueError, match="answer"):
        quiz.load_questions(text)


def test_the_courses_own_answers_are_spread_over_the_letters():
    # "Always B" must not score well: each letter answers about a quarter of the chapters' own questions.
    answers = [q.answer for q in quiz.COURSE_QUESTIONS.values()]
    for letter in quiz.LETTERS:
        assert answers.count(letter) <= 0.35 * len(answers), (letter, answers.count(letter), len(answers))


def test_a_solution_is_folded_in_a_notebook_and_explains_every_option(capsys):
    for number in (*quiz.QUESTIONS, *quiz.COURSE_QUESTIONS):
        q = quiz.QUESTIONS[number] if isinstance(number, int) else quiz.COURSE_QUESTIONS[number]
        page = quiz.solution(number)._repr_html_()
        assert page.startswith("<details>") and page.endswith("</details>"), "folded until opened"
        assert f"The answer is <b>{q.answer}</b>" in page and q.chapter in page
        for option, why in zip(q.options, q.explanations):
            assert html.escape(option) in page and html.escape(why) in page, number
    quiz.explain(6)
    assert repr(quiz.solution(6)) + "\n" == capsys.readouterr().out, "plain text reads as explain prints"


def test_a_solution_for_an_unknown_question_fails_at_once():
    with pytest.raises(KeyError, match="no question 16"):
        quiz.solution(16)
