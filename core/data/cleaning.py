"""Named, switchable cleaning steps over Records, with a per-step report of what they did."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from core.data.fields import Record

MAX_EXAMPLES = 5


@dataclass
class CleaningOptions:
    """Which cleaning steps run (in the order of STEP_ORDER) and their thresholds.

    nfkc: Unicode NFKC normalisation of title/story/keyword (full-width ASCII → ASCII, ①→1,
        full-width space → space). Off by default: it changes how titles look.
    strip_urls: remove http(s)/ftp/www URLs from the story, plus brackets they leave empty.
    drop_notes: remove author notes: lines starting with ※ (also "（※", "【※"), and a ※ tail
        that follows the end of a sentence (。！？」) on the same line.
    normalize_whitespace: unify line breaks (\\r\\n, \\r → \\n), drop control and zero-width
        characters, strip each line (this removes full-width indentation), collapse runs of
        spaces (a run holding a full-width space becomes one full-width space), keep at most
        `max_blank_lines` empty lines in a row, strip the whole text; titles become one line;
        keywords use single ASCII spaces.
    max_blank_lines: empty lines kept in a row inside a story by normalize_whitespace.
    min_story_chars: drop records whose story has fewer characters (0: drop empty ones only;
        empty titles and stories are always dropped, after the text steps).
    min_title_chars: drop records whose title has fewer characters (1: empty titles only).
    dedup_exact: keep the first of records with the same (title, story).
    dedup_ncode: keep the first of records with the same non-empty ncode.
    """

    nfkc: bool = False
    strip_urls: bool = True
    drop_notes: bool = True
    normalize_whitespace: bool = True
    max_blank_lines: int = 1
    min_story_chars: int = 20
    min_title_chars: int = 1
    dedup_exact: bool = True
    dedup_ncode: bool = True


STEP_ORDER: tuple[str, ...] = (
    "nfkc",
    "strip_urls",
    "drop_notes",
    "normalize_whitespace",
    "drop_short",
    "dedup_exact",
    "dedup_ncode",
)


@dataclass
class StepReport:
    """What one step did: records changed in place, records removed, and sub-counts."""

    name: str
    enabled: bool
    changed: int = 0
    removed: int = 0
    detail: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def note(self, example: str) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)

    def count(self, key: str, n: int = 1) -> None:
        self.detail[key] = self.detail.get(key, 0) + n


@dataclass
class CleaningReport:
    """Steps in the order they ran, with the record counts before and after."""

    options: CleaningOptions
    input: int = 0
    output: int = 0
    steps: list[StepReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "input": self.input,
            "output": self.output,
            "steps": [asdict(s) for s in self.steps],
        }


_URL = re.compile(
    r"(?:https?|ftp)://[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+"
    r"|www\.[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]*"
)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|（\s*）|\[\s*\]|［\s*］|【\s*】|<\s*>|＜\s*＞")
_NOTE_LINE = re.compile(r"^[ \u3000]*[（(【［\[]?※")
_NOTE_TAIL = re.compile(r"(?<=[。！？!?」』）)])[ \u3000]*※.*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff]")
_SPACE_RUN = re.compile(r"[ \u3000]{2,}")
_TITLE_SPACE = re.compile(r"[ \u3000\n]+")


def _collapse_spaces(match: re.Match[str]) -> str:
    return "\u3000" if "\u3000" in match.group(0) else " "


def _normalize_story(text: str, max_blank_lines: int) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\u2029", "\n").replace("\t", " ")
    text = _CONTROL.sub("", text)
    out: list[str] = []
    blanks = 0
    for raw in text.split("\n"):
        line = _SPACE_RUN.sub(_collapse_spaces, raw.strip(" \u3000"))
        if not line:
            blanks += 1
            if blanks > max_blank_lines:
                continue
        else:
            blanks = 0
        out.append(line)
    return "\n".join(out).strip("\n")


def _normalize_title(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r", "\n").replace("\t", " "))
    return _TITLE_SPACE.sub(_title_space, text).strip(" \u3000")


def _title_space(match: re.Match[str]) -> str:
    return "\u3000" if "\u3000" in match.group(0) and "\n" not in match.group(0) else " "


def _normalize_keyword(text: str) -> str:
    return " ".join(text.replace("\u3000", " ").split())


def _strip_urls(story: str, report: StepReport) -> str:
    if not _URL.search(story):
        return story
    kept: list[str] = []
    for line in story.split("\n"):
        found = len(_URL.findall(line))
        if not found:
            kept.append(line)
            continue
        report.count("urls", found)
        rest = _EMPTY_BRACKETS.sub("", _URL.sub("", line))
        if rest.strip(" \u3000"):  # a line that held only a URL goes entirely
            kept.append(rest)
    return "\n".join(kept)


def _drop_notes(story: str, report: StepReport) -> str:
    kept: list[str] = []
    for line in story.split("\n"):
        if _NOTE_LINE.match(line):
            report.count("lines")
            continue
        cut = _NOTE_TAIL.sub("", line)
        if cut != line:
            report.count("inline")
        kept.append(cut)
    return "\n".join(kept)


def _text_step(
    records: list[Record], report: StepReport, edit: Callable[[Record], tuple[str, str, str]]
) -> list[Record]:
    for rec in records:
        title, story, keyword = edit(rec)
        if (title, story, keyword) != (rec.title, rec.story, rec.keyword):
            report.changed += 1
            report.note(rec.where)
            rec.title, rec.story, rec.keyword = title, story, keyword
    return records


def _filter_step(
    records: list[Record], report: StepReport, reason: Callable[[Record], str | None]
) -> list[Record]:
    kept: list[Record] = []
    for rec in records:
        why = reason(rec)
        if why is None:
            kept.append(rec)
        else:
            report.removed += 1
            report.note(f"{rec.where} ({why})")
    return kept


def _step_nfkc(records: list[Record], step: StepReport, options: CleaningOptions) -> list[Record]:
    def edit(r: Record) -> tuple[str, str, str]:
        n = unicodedata.normalize
        return n("NFKC", r.title), n("NFKC", r.story), n("NFKC", r.keyword)

    return _text_step(records, step, edit)


def _step_strip_urls(
    records: list[Record], step: StepReport, options: CleaningOptions
) -> list[Record]:
    return _text_step(records, step, lambda r: (r.title, _strip_urls(r.story, step), r.keyword))


def _step_drop_notes(
    records: list[Record], step: StepReport, options: CleaningOptions
) -> list[Record]:
    return _text_step(records, step, lambda r: (r.title, _drop_notes(r.story, step), r.keyword))


def _step_whitespace(
    records: list[Record], step: StepReport, options: CleaningOptions
) -> list[Record]:
    def edit(r: Record) -> tuple[str, str, str]:
        return (
            _normalize_title(r.title),
            _normalize_story(r.story, options.max_blank_lines),
            _normalize_keyword(r.keyword),
        )

    return _text_step(records, step, edit)


def _step_drop_short(
    records: list[Record], step: StepReport, options: CleaningOptions
) -> list[Record]:
    return _filter_step(records, step, _short_reason(options, step))


def _step_dedup_exact(
    records: list[Record], step: StepReport, options: CleaningOptions
) -> list[Record]:
    first: dict[tuple[str, str], str] = {}

    def reason(r: Record) -> str | None:
        key = (r.title, r.story)
        if key in first:
            return f"same title and story as {first[key]}"
        first[key] = r.where
        return None

    return _filter_step(records, step, reason)


def _step_dedup_ncode(
    records: list[Record], step: StepReport, options: CleaningOptions
) -> list[Record]:
    first: dict[str, str] = {}

    def reason(r: Record) -> str | None:
        if not r.ncode:
            return None
        if r.ncode in first:
            return f"same ncode {r.ncode} as {first[r.ncode]}"
        first[r.ncode] = r.where
        return None

    return _filter_step(records, step, reason)


_Step = Callable[[list[Record], StepReport, CleaningOptions], list[Record]]
_STEPS: dict[str, tuple[_Step, Callable[[CleaningOptions], bool]]] = {
    "nfkc": (_step_nfkc, lambda o: o.nfkc),
    "strip_urls": (_step_strip_urls, lambda o: o.strip_urls),
    "drop_notes": (_step_drop_notes, lambda o: o.drop_notes),
    "normalize_whitespace": (_step_whitespace, lambda o: o.normalize_whitespace),
    # Always on: an empty title or story is never a usable pair.
    "drop_short": (_step_drop_short, lambda o: True),
    "dedup_exact": (_step_dedup_exact, lambda o: o.dedup_exact),
    "dedup_ncode": (_step_dedup_ncode, lambda o: o.dedup_ncode),
}


def clean_records(
    records: list[Record], options: CleaningOptions
) -> tuple[list[Record], CleaningReport]:
    """Run the enabled steps in STEP_ORDER; records are edited in place and filtered."""
    report = CleaningReport(options=options, input=len(records))
    for name in STEP_ORDER:
        run, is_on = _STEPS[name]
        step = StepReport(name, is_on(options))
        report.steps.append(step)
        if step.enabled:
            records = run(records, step, options)
    report.output = len(records)
    return records, report


def _short_reason(options: CleaningOptions, step: StepReport) -> Callable[[Record], str | None]:
    def reason(r: Record) -> str | None:
        if not r.story:
            step.count("empty_story")
            return "empty story"
        if not r.title:
            step.count("empty_title")
            return "empty title"
        if len(r.story) < options.min_story_chars:
            step.count("short_story")
            return f"story {len(r.story)} chars < {options.min_story_chars}"
        if len(r.title) < options.min_title_chars:
            step.count("short_title")
            return f"title {len(r.title)} chars < {options.min_title_chars}"
        return None

    return reason
