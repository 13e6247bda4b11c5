"""Input checks shared by every chapter: a batch of texts, and sizes. Each fails with an error that says
what was wrong and what to do, before any work starts."""

from __future__ import annotations

from collections.abc import Iterable


def check_texts(texts: Iterable[str], name: str = "texts", allow_blank: bool = True) -> list[str]:
    """The batch as a list of strings, or a clear error: a bare string or bytes, not a list, an empty batch,
    a non-string item, or (with allow_blank=False) a text with nothing but whitespace.

    >>> check_texts(t for t in ["a", "b"])
    ['a', 'b']
    >>> check_texts("what a film")
    Traceback (most recent call last):
    ...
    TypeError: texts must be a list of texts, got one string: wrap it in a list, e.g. ['what a film'].
    """
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of texts, got one string: wrap it in a list, "
                        f"e.g. [{texts[:20]!r}].")
    if isinstance(texts, bytes):
        raise TypeError(f"{name} must be a list of texts, not a single bytes object: decode it and wrap it "
                        "in a list.")
    if not isinstance(texts, Iterable):
        raise TypeError(f"{name} must be a list of texts, got a {type(texts).__name__}.")
    texts = list(texts)
    if not texts:
        raise ValueError(f"{name} is empty: give at least one text.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name} must hold strings, got a {type(text).__name__}: {text!r:.60}.")
        if not allow_blank and not text.strip():
            raise ValueError(f"Text {i} is empty or only whitespace: there is nothing to read.")
    return texts


def check_size(value: object, name: str, none_means: str | None = None) -> int | None:
    """A positive int (or None, where `none_means` says what None stands for), else an error naming it.

    >>> check_size(3, "batch_size"), check_size(None, "n_train", none_means="the whole split")
    (3, None)
    >>> check_size(0, "n_train", none_means="the whole split")
    Traceback (most recent call last):
    ...
    ValueError: n_train must be a positive int, or None for the whole split; got 0.
    """
    if value is None and none_means is not None:
        return None
    wanted = "a positive int," if none_means is None else f"a positive int, or None for {none_means};"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {wanted} got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be {wanted} got {value}.")
    return value


def check_sizes(**sizes: object) -> None:
    """check_size for each keyword: the error names the first size that is not a positive int.

    >>> check_sizes(hidden_size=0)
    Traceback (most recent call last):
    ...
    ValueError: hidden_size must be a positive int, got 0.
    """
    for name, value in sizes.items():
        check_size(value, name)
