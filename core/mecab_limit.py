"""The longest text handed to MeCab in one call; both dataset import and tokenization cut to it.

Measured here (fugashi 1.5.2, unidic-lite): one parse of 600,000 characters of short ASCII
words or of 1,000,000 characters of Japanese prose kills the process with signal 11; the
limit is a sixth of the smallest crash and about 100× the longest real synopsis (≈ 1,000).
"""

MECAB_MAX_CHARS = 100_000
