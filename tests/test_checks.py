import doctest

import pytest

from helpers import checks
from helpers.checks import check_size, check_sizes, check_texts


def test_docstring_examples_are_true():
    result = doctest.testmod(checks)
    assert result.attempted and not result.failed


def test_check_texts_names_what_was_wrong():
    assert check_texts(t for t in ["a", "b"]) == ["a", "b"]
    with pytest.raises(TypeError, match=r"wrap it in a list, e.g. \['what a film'\]"):
        check_texts("what a film")
    with pytest.raises(TypeError, match="must hold strings, got a int"):
        check_texts(["fine", 3])
    with pytest.raises(ValueError, match="empty: give at least one text"):
        check_texts([])
    with pytest.raises(TypeError, match="not a single bytes object"):
        check_texts(b"bytes")
    with pytest.raises(TypeError, match="list of texts, got a NoneType"):
        check_texts(None)
    with pytest.raises(TypeError, match="^reviews must"):
        check_texts("one review", name="reviews")


def test_blank_texts_are_refused_only_when_asked():
    assert check_texts(["fine", "  "]) == ["fine", "  "]
    with pytest.raises(ValueError, match="Text 1 is empty or only whitespace"):
        check_texts(["fine", "  \n"], allow_blank=False)


@pytest.mark.parametrize("size, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                         ("10", TypeError), (True, TypeError), (None, TypeError)])
def test_sizes_must_be_positive_ints(size, error):
    with pytest.raises(error, match="max_size must be a positive int, got"):
        check_size(size, "max_size")
    with pytest.raises(error, match="max_size must be a positive int, got"):
        check_sizes(vocab_size=3, max_size=size)


def test_none_is_a_size_only_where_it_means_something():
    assert check_size(None, "n_train", none_means="the whole split") is None
    assert check_size(7, "n_train", none_means="the whole split") == 7
    with pytest.raises(ValueError,
                       match="n_train must be a positive int, or None for the whole split; got -1"):
        check_size(-1, "n_train", none_means="the whole split")
    with pytest.raises(TypeError, match="or None for the whole split; got 2.5"):
        check_size(2.5, "n_train", none_means="the whole split")
