import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from helpers import course, quiz, results

ROOT = Path(__file__).resolve().parents[1]


def test_chapters_build_only_on_earlier_chapters():
    names = list(course.CHAPTERS)
    assert (names == sorted(names)
            and [course.Chapter.number(n) for n in names] == [f"{i:02d}" for i in range(11)])
    for name, chapter in course.CHAPTERS.items():
        assert chapter.builds_on or name == names[0], f"{name} builds on nothing"
        assert all(names.index(source) < names.index(name) for source in chapter.builds_on), name


def test_every_quiz_chapter_is_on_the_map():
    chapters = {q.chapter for q in [*quiz.QUESTIONS.values(), *quiz.COURSE_QUESTIONS.values()]}
    assert chapters <= set(course.CHAPTERS)


def test_the_readme_lists_the_same_notebooks():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## The notebooks", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| \[?`(\d\d_\w+)`", table, re.M)
    assert listed == list(course.CHAPTERS)


def test_the_map_draws_a_box_per_chapter_and_an_arrow_per_dependency():
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    ax = course.draw_map()
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == len(course.CHAPTERS)
    assert len(arrows) == sum(len(c.builds_on) for c in course.CHAPTERS.values())
    texts = {t.get_text() for t in ax.texts}
    assert "09 · Deployment" in texts


def _drawn_map(chapters=course.CHAPTERS):
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    ax = course.draw_map(chapters=chapters)
    ax.figure.canvas.draw()
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return ax, boxes, arrows


def _inside(box, x: float, y: float) -> bool:
    return (box.get_x() < x < box.get_x() + box.get_width()
            and box.get_y() < y < box.get_y() + box.get_height())


def test_no_arrow_runs_through_a_box_and_every_arrow_shows_its_head():
    mine = {**course.CHAPTERS, "11_ner": course.Chapter("Named entities", "tags", ("06_pretrained_bert",))}
    for chapters in (course.CHAPTERS, mine):
        ax, boxes, arrows = _drawn_map(chapters)
        for arrow in arrows:
            line, *head = arrow.get_path().to_polygons(closed_only=False)  # data coordinates
            assert head, "an arrow without its arrowhead"
            points = [point for polygon in (line, *head) for point in polygon]
            assert not [p for p in points for box in boxes if _inside(box, *p)], "an arrow crosses a box"
            assert arrow.get_zorder() > max(box.get_zorder() for box in boxes)


def test_every_title_fits_in_its_box():
    ax, boxes, _ = _drawn_map()
    renderer = ax.figure.canvas.get_renderer()
    titles = [t for t in ax.texts if " · " in t.get_text()]
    assert len(titles) == len(boxes)
    for title, box in zip(titles, boxes):
        text, frame = title.get_window_extent(renderer), box.get_window_extent(renderer)
        assert frame.x0 < text.x0 and text.x1 < frame.x1, f"{title.get_text()!r} overflows its box"


def _row(benchmark, **fields):
    stamps = {"benchmark": benchmark, "model": benchmark, "profile": "cpu", "seed": 0, "commit": "abc",
              "versions": {}, "machine": "m", "date": "2026-11-25", "table": results.IMDB_TABLE,
              "description": f"what {benchmark} is", "key": []}
    return stamps | fields


def test_results_are_grouped_imdb_first_best_first():
    recorded = {
        "a": _row("tfidf_logreg", test_accuracy=0.91, val_accuracy=0.91, n_train=9, n_val=1, n_test=10,
                  train_seconds=3.0, data="x"),
        "b": _row("bilstm", test_accuracy=0.88, val_accuracy=0.90, n_train=9, n_val=1, n_test=10,
                  train_seconds=30.0, data="x"),
        "c": _row("nbow_bigram", test_accuracy=0.905, val_accuracy=0.92, n_train=9, n_val=1, n_test=10,
                  train_seconds=5.0, data="x"),
        "d": _row("timing", table="timing", key=["variant"], columns=["variant", "speed"], variant="fast",
                  speed=2.0),
    }
    tables = course.results_tables(recorded)
    where = " (measured in the cpu profile on m, 2026-11-25)"
    assert list(tables) == ["IMDB classifiers" + where, "timing: what timing is" + where]
    imdb = tables["IMDB classifiers" + where]
    assert list(imdb["model"]) == ["tfidf_logreg", "nbow_bigram", "bilstm"]
    assert imdb["what it is"][0] == "what tfidf_logreg is" and imdb["test accuracy"][0] == "91.0%"
    assert imdb["train time"][0] == "3.00 s", "the cells read as in RESULTS.md"
    other = tables["timing: what timing is" + where]
    assert list(other.columns) == ["variant", "speed"] and other["speed"][0] == "2"


def test_the_notebook_and_the_readme_show_the_same_tables():
    recorded = results.load_results()
    frames = course.results_tables(recorded)
    markdown = results.markdown_tables(recorded)
    for frame in frames.values():
        assert "| " + " | ".join(frame.columns) + " |" in markdown
        assert all(text in markdown for row in frame.itertuples(index=False) for text in row)
    [imdb] = [frame for heading, frame in frames.items() if heading.startswith(results.IMDB_TABLE)]
    assert len(imdb) == 6  # the six IMDB classifiers recorded
