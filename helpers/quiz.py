"""The course's quiz: show a question, check an answer, explain every option (not only the answer)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from importlib import resources

import yaml


LETTERS = "ABCD"


@dataclass(frozen=True)
class Question:
    """One multiple-choice question with its answer letter and the course's explanation.

    `explanations` says, option by option, why each is right or wrong (all 15 review questions have them; a
    chapter's own question may leave them out, and then `why` covers the wrong options too).
    """

    text: str
    options: tuple[str, str, str, str]
    answer: str
    why: str
    chapter: str
    explanations: tuple[str, ...] = ()

    def __post_init__(self):
        if len(self.options) != 4 or self.answer not in LETTERS:
            raise ValueError(f"A question has four options and an answer A to D; got {len(self.options)} "
                             f"options and answer {self.answer!r} in {self.text[:60]!r}.")
        if self.explanations and len(self.explanations) != len(self.options):
            raise ValueError(f"Give one explanation per option ({len(self.options)}), "
                             f"got {len(self.explanations)}.")


def _from_yaml(fields: dict) -> Question:
    return Question(fields["text"], tuple(fields["options"]), fields["answer"], fields["why"],
                    fields["chapter"], tuple(fields.get("explanations", ())))


def load_questions(text: str) -> tuple[dict[int, Question], dict[str, Question]]:
    """The outline's review questions (keyed 1 to 15) and the chapters' own ("NN.k") from quiz.yaml's text.

    >>> review, own = load_questions("{review: {1: {text: Why, options: [a, b, c, d], answer: B, why: b., "
    ...                              "chapter: 01_tokenization}}, course: {}}")
    >>> review[1].options, review[1].answer, own
    (('a', 'b', 'c', 'd'), 'B', {})
    """
    data = yaml.safe_load(text)
    return ({int(n): _from_yaml(q) for n, q in data["review"].items()},
            {str(n): _from_yaml(q) for n, q in data["course"].items()})


# The questions are data, kept in resources/quiz.yaml; each chapter adds its block there, in chapter order.
QUESTIONS, COURSE_QUESTIONS = load_questions(
    resources.files("helpers").joinpath("resources", "quiz.yaml").read_text(encoding="utf-8"))

QuestionId = int | str


def _question(number: QuestionId) -> Question:
    """The question with this id: 1 to 15 (the outline's) or "NN.k" (the course's own)."""
    if isinstance(number, bool) or not isinstance(number, (int, str)):
        raise TypeError(f"A question id is a number 1 to 15 or a string like '03.1', got {number!r}.")
    found = QUESTIONS.get(number) if isinstance(number, int) else COURSE_QUESTIONS.get(number)
    if found is None:
        own = ", ".join(COURSE_QUESTIONS) or "none yet"
        raise KeyError(f"There is no question {number!r}: the review questions are 1 to {len(QUESTIONS)}, "
                       f"the chapters' own are {own}.")
    return found


def show(number: QuestionId) -> None:
    """Print a question and its four options."""
    q = _question(number)
    print(f"{number}. {q.text}")
    for letter, option in zip(LETTERS, q.options):
        print(f"   {letter}) {option}")


def check(number: QuestionId, letter: str) -> bool:
    """Print whether `letter` answers question `number`, why your option is right or wrong, and why.

    Returns True when right.
    """
    q = _question(number)
    if not isinstance(letter, str):
        raise TypeError(f"Answer with a letter as a string, e.g. quiz.check({number!r}, \"B\"), "
                        f"got {letter!r}.")
    answer = letter.strip().upper()
    if len(answer) != 1 or answer not in LETTERS:
        raise ValueError(f"Answer with exactly one letter, A to D (got {letter!r}).")
    right = answer == q.answer
    if right:
        print(f"Correct. {q.why}")
    elif q.explanations:
        yours = q.explanations[LETTERS.index(answer)]
        print(f"Not quite: the answer is {q.answer}. {answer}) {yours}\n{q.why}")
    else:
        print(f"Not quite: the answer is {q.answer}. {q.why}")
    return right


def _options(q) -> list[tuple[str, str, str, str]]:
    """(letter, option, "right" or "wrong", why) for each option of question `q` (why is "" if not given)."""
    whys = q.explanations or ("",) * len(q.options)
    return [(letter, option, "right" if letter == q.answer else "wrong", why)
            for letter, option, why in zip(LETTERS, q.options, whys)]


def explanation(number: QuestionId) -> str:
    """Every option of question `number` with why it is right or wrong, and the chapter that teaches it."""
    q = _question(number)
    lines = [f"{number}. {q.text}"]
    for letter, option, mark, why in _options(q):
        lines.append(f"   {letter}) {option}  [{mark}]" + (f"\n      {why}" if why else ""))
    if not q.explanations:
        lines.append(f"   {q.why}")
    lines.append(f"   Taught in {q.chapter}.ipynb")
    return "\n".join(lines)


def explain(number: QuestionId) -> None:
    """Print every option of question `number` with why it is right or wrong (read it after answering)."""
    print(explanation(number))


@dataclass(frozen=True)
class Solution:
    """A question's answer with every option explained: folded in a notebook (open it after answering), and
    in plain text as `explain` prints it."""

    number: QuestionId

    def __repr__(self) -> str:
        return explanation(self.number)

    def _repr_html_(self) -> str:
        q = _question(self.number)
        items = "".join(f"<li><b>{letter}) {mark}</b>: {html.escape(option)}"
                        f"{'. ' + html.escape(why) if why else ''}</li>"
                        for letter, option, mark, why in _options(q))
        return (f"<details><summary>Answer to {self.number} and every option explained (open it after "
                f"answering)</summary><p>The answer is <b>{q.answer}</b>. {html.escape(q.why)}</p>"
                f"<ul>{items}</ul><p>Taught in {q.chapter}.ipynb</p></details>")


def solution(number: QuestionId) -> Solution:
    """Question `number`'s answer and why each option is right or wrong, folded until the reader opens it.

    >>> print(repr(solution(9)).splitlines()[5])
       C) Gradient clipping  [right]
    """
    _question(number)  # an unknown id fails here, not when the notebook displays it
    return Solution(number)


def for_chapter(chapter: str) -> list[QuestionId]:
    """Ids of the questions of a notebook (e.g. '03_rnn_lstm_gru'): the outline's, then its own."""
    return ([n for n, q in QUESTIONS.items() if q.chapter == chapter]
            + [n for n, q in COURSE_QUESTIONS.items() if q.chapter == chapter])
