"""A small vocabulary for the text-data and MLM tests."""

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "while",
    "dogs",
    "ran",
    "far",
    "away",
    "from",
    "home",
    "and",
    "birds",
    "sang",
    "loudly",
]
