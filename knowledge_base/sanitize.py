"""Remove what a reader cannot see, so the indexed text is the text a person reads.

Invisible code points are how hidden instructions ride into an LLM's context (a "prompt
injection" spelled in Unicode tag characters renders as nothing) and they also break
exact-match search ("sup\u200bplier" is not "supplier"). ``clean_text`` therefore removes:

- zero-width characters: U+200B..U+200D, U+2060..U+2064, U+FEFF, U+180E;
- Unicode tag characters U+E0000..U+E007F;
- bidirectional controls: U+200E, U+200F, U+061C, U+202A..U+202E, U+2066..U+2069;
- the soft hyphen U+00AD and every other format (``Cf``) character that renders as
  nothing (deprecated format controls, interlinear annotation, Egyptian/shorthand/musical
  format controls);
- control characters other than tab and newline.

Kept: letters with accents, CJK, emoji and variation selectors, and the few ``Cf``
characters that *are* drawn (Arabic number signs, end of ayah, Syriac and Kaithi marks).
Removing U+200D (zero-width joiner) splits emoji sequences such as 👩‍💻 into their visible
parts (👩💻) and removing tag characters turns subdivision flags into a plain black flag;
both are accepted: no meaning a reader relies on is lost, and hidden text is.

Whitespace: no-break and other Unicode spaces become a plain space, runs of spaces
collapse to one, line ends are stripped, and three or more newlines collapse into one
paragraph break (a blank line). ``clean_text`` is idempotent.
"""

from __future__ import annotations

import re

# Cf characters that render as nothing (Unicode 14 ``Cf`` minus the prepended
# concatenation marks, which are drawn) plus the whole tag block and C0/C1 controls.
_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f"  # controls except \t \n \v \f \r and NEL
    "\u00ad"  # soft hyphen
    "\u061c"  # Arabic letter mark
    "\u180e"  # Mongolian vowel separator
    "\u200b-\u200f"  # zero-width space/non-joiner/joiner, LRM, RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible math operators
    "\u2066-\u206f"  # bidi isolates, deprecated format controls
    "\ufeff"  # zero-width no-break space (BOM)
    "\ufff9-\ufffb"  # interlinear annotation
    "\U00013430-\U00013438"  # Egyptian hieroglyph format controls
    "\U0001bca0-\U0001bca3"  # shorthand format controls
    "\U0001d173-\U0001d17a"  # musical symbol format controls
    "\U000e0000-\U000e007f"  # tag characters
    "]+"
)
# Characters in Unicode's ``Cf`` category that are nevertheless drawn: kept.
VISIBLE_FORMAT_CHARS = frozenset(
    "\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd"
)
_SPACES = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_LINE_BREAKS = re.compile("\r\n|[\r\v\f\u0085\u2028]")
_RUN_OF_SPACES = re.compile(" {2,}")
_SPACE_AROUND_NEWLINE = re.compile(" *\n *")
_MANY_NEWLINES = re.compile("\n{3,}")
_ANY_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Text with invisible code points removed and whitespace normalised (see module doc)."""
    text = _LINE_BREAKS.sub("\n", text.replace("\u2029", "\n\n"))
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _RUN_OF_SPACES.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def clean_line(text: str) -> str:
    """``clean_text`` folded onto one line: for titles, headings and table cells."""
    return _ANY_WHITESPACE.sub(" ", clean_text(text)).strip()
