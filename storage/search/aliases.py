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


def _byte_class(byte: int) -> int:
    """U a capital, l a small letter, d a digit, a space for ASCII white space, a dot for any other byte."""
    char = chr(byte)
    if byte >= 128:
        return ord(".")  # a byte of a longer UTF-8 character, white space or not
    if char.isspace():
        return ord(" ")
    if "A" <= char <= "Z":
        return ord("U")
    if "a" <= char <= "z":
        return ord("l")
    return ord("d") if "0" <= char <= "9" else ord(".")


# Each byte as its class, for one bytes.translate (see _name_chunks).
_BYTE_CLASSES = bytes(_byte_class(byte) for byte in range(256))
# The classes before a capital that may be inside a coined name (a capital, a small letter, a digit).
_BEFORE_A_NAME_CAPITAL = frozenset(b"Uld")


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
    for chunk in _name_chunks(text):
        for match in _MIXED.finditer(chunk):
            name = match.group(0)
            if len(name) > 2 and name.endswith("s") and name[-2].isupper():
                name = name[:-1]  # a plural (LLMs, NeRFs) is the name itself
            pieces = _PARTS.findall(name)
            if len(pieces) > 1:
                parts.extend(pieces)
    return list(dict.fromkeys(parts))


def _name_chunks(text: str) -> list[str]:
    """The runs of the text between ASCII white space that hold a capital after a letter or digit (UniSDF,
    pLSTM) or a capital before a digit (GPT4): every coined name has one, and most words have none.

    It runs on every paper of a bulk ingest, where a regular expression over each word cost more than the rest
    of the paper's document: here the bytes are classified by one `translate` and the capitals found by `find`,
    both in C, so Python only looks at the few capitals. Cutting at ASCII white space alone is safe: a name
    never spans white space, so a run that holds other white space gives the matches of its words.
    """
    raw = text.encode("utf-8", "surrogatepass")
    classes = raw.translate(_BYTE_CLASSES)
    size = len(classes)
    chunks = []
    at = classes.find(b"U")
    while at >= 0:
        if (at > 0 and classes[at - 1] in _BEFORE_A_NAME_CAPITAL) or classes[at + 1 : at + 2] == b"d":
            start = classes.rfind(b" ", 0, at) + 1
            end = classes.find(b" ", at)
            end = size if end < 0 else end
            chunks.append(raw[start:end].decode("utf-8", "surrogatepass"))
            at = classes.find(b"U", end)
        else:
            at = classes.find(b"U", at + 1)
    return chunks


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
