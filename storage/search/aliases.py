"""Other names a paper goes by, indexed beside its words: the acronyms it defines and the parts of its coined names.

People search for "MRL", "3DGS" or "SDF" as often as for the words those stand for. A paper that writes
"Matryoshka Representation Learning (MRL)" defines the acronym, which says far more about it than a paper that
merely uses the letters; and a coined name such as UniSDF or CoreInfer hides the parts (SDF, Infer) that a
person remembers. Both are found here, in plain Python, so that tests can check them without an index.
"""

from __future__ import annotations

import re

# An acronym in parentheses: two to twelve letters and digits, with at least two capitals, maybe a plural s.
_DEFINED = re.compile(r"\(\s*(?P<short>[A-Za-z0-9][A-Za-z0-9\-]{1,11}?)(?:s)?\s*[);,]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# A coined name: letters (and digits) mixing lower and upper case inside one word, like UniSDF or pLSTM.
_MIXED = re.compile(
    r"\b(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*\b|\b[A-Z]+[0-9]+[A-Za-z]*\b"
)
# Where a coined name splits: lower to upper (Uni|SDF), an acronym into a word (SCU|BA? no: RBF|Net), letters and digits.
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
MAX_ALIASES = 40


def defined_acronyms(text: str) -> list[str]:
    """Acronyms the text defines as "Long Words Here (LWH)": the letters must start the words before, in order."""
    return _acronyms(acronym_definitions(text))


def _acronyms(definitions: list[tuple[str, str]]) -> list[str]:
    """The acronyms of (acronym, long form) pairs, each once, in order."""
    return list(dict.fromkeys(short for short, _ in definitions))


def acronym_definitions(text: str) -> list[tuple[str, str]]:
    """(acronym, long form) for each "Long Words Here (LWH)" of the text, the long form as short as spells it."""
    found: list[tuple[str, str]] = []
    for match in _DEFINED.finditer(text):
        short = match.group("short")
        letters = [c.lower() for c in short if c.isalnum()]
        if sum(c.isupper() for c in short) < 2 or len(letters) < 2:
            continue
        before = _WORD.findall(text[max(0, match.start() - 200) : match.start()])
        window = [w.lower() for w in before[-(len(letters) + 4) :]]
        if not _spells(letters, window):
            continue
        # The shortest run of the words before that starts with the first letter and spells the rest.
        for size in range(1, len(window) + 1):
            words = window[-size:]
            if words[0].startswith(letters[0]) and _spells(letters, words):
                found.append((short, " ".join(before[-size:])))
                break
    return found


def _spells(letters: list[str], words: list[str]) -> bool:
    """True when the letters, read backwards, are found in the words read backwards, the first one starting a word.

    This is the usual test for a definition (Schwartz and Hearst's): every letter of the short form appears in
    the long form in the same order, and the short form's first letter begins a word of the long form.
    """
    if not words:
        return False
    text = " " + " ".join(words)
    position = len(text) - 1
    for index in range(len(letters) - 1, -1, -1):
        letter = letters[index]
        while position >= 0 and (
            text[position] != letter or (index == 0 and position > 0 and text[position - 1] != " ")
        ):
            position -= 1
        if position < 0:
            return False
        position -= 1
    return True


def name_parts(text: str) -> list[str]:
    """The parts of coined names in the text: UniSDF gives Uni and SDF, CodeGen2 gives Code, Gen and 2."""
    parts: list[str] = []
    # The pattern is tried word by word, and only on words with a capital: a name never spans whitespace, and
    # skipping the all-lowercase words makes this three times faster (it ran on every paper of a bulk ingest).
    words = (word for word in text.split() if not word.islower())
    for match in (found for word in words for found in _MIXED.finditer(word)):
        name = match.group(0)
        if len(name) > 2 and name.endswith("s") and name[-2].isupper():
            name = name[:-1]  # a plural (LLMs, NeRFs) is the name itself
        pieces = _PARTS.findall(name)
        if len(pieces) > 1:
            parts.extend(pieces)
    return list(dict.fromkeys(parts))


def title_acronym(title: str) -> list[str]:
    """The short name of a title written "ICLR: In-Context Learning of Representations", when it spells the rest."""
    short, colon, rest = title.partition(":")
    short = short.strip()
    if not colon or " " in short or sum(c.isupper() for c in short) < 2:
        return []
    # Only the capitals (and digits) spell: pLSTM is Linear Source Transition Mark, LaVCa LLM-assisted Visual Cortex Captioning.
    letters = [c.lower() for c in short if c.isupper() or c.isdigit()]
    words = [w.lower() for w in _WORD.findall(rest)][: len(letters) + 3]
    return [short] if len(letters) >= 2 and _spells(letters, words) else []


def aliases_of(title: str, abstract: str, definitions: list[tuple[str, str]] | None = None) -> str:
    """The aliases of a paper as one text for the index: acronyms it defines, then parts of its coined names.

    `definitions` are the paper's acronym_definitions when the caller has them already.
    """
    if definitions is None:
        definitions = acronym_definitions(f"{title}. {abstract}")
    names = title_acronym(title) + _acronyms(definitions) + name_parts(title) + name_parts(abstract)
    return " ".join(list(dict.fromkeys(names))[:MAX_ALIASES])
