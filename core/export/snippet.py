"""The model card's usage snippet: titles from an exported folder with plain `transformers`."""

from __future__ import annotations

# Written by us, not taken from the data: the card must not carry dataset text.
EXAMPLE_SYNOPSIS = (
    "魔王を倒した勇者は、故郷の村で小さなパン屋を開くことにした。"
    "ところが開店の朝、最初の客として現れたのは、倒したはずの魔王だった。"
)

# The snippet repeats the project's title decoding (core.tokenization.decode) in a few plain
# lines, so a reader needs no narou-tui: the export round-trip test holds the two to the same
# titles. `{model}` is the folder or hub repo id.
_TEMPLATE = '''from transformers import AutoTokenizer, EncoderDecoderModel

MODEL = "{model}"  # the exported folder, or its hub repo id
tokenizer = AutoTokenizer.from_pretrained(MODEL)  # BertJapaneseTokenizer (fugashi + {dictionary})
model = EncoderDecoderModel.from_pretrained(MODEL).eval()

# Japanese is written without spaces: glue the WordPiece pieces, keeping a space only between
# two Latin/digit words (tokenizer.decode would put a space between every pair of pieces).
UNSPACED = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))


def spaced(ch):
    return ch.isalnum() and not any(lo <= ord(ch) <= hi for lo, hi in UNSPACED)


def to_title(ids):
    special = set(tokenizer.all_special_ids)
    text = ""
    for piece in tokenizer.convert_ids_to_tokens([i for i in ids if i not in special]):
        if piece.startswith("##") and len(piece) > 2:
            text += piece[2:]
        elif text and spaced(text[-1]) and spaced(piece[0]):
            text += " " + piece
        else:
            text += piece
    return text


def generate_title(synopsis, **decoding):
    inputs = tokenizer(synopsis, truncation=True, return_tensors="pt")
    # No keyword arguments: generation_config.json decides ({decoding}).
    out = model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                         **decoding)
    return to_title(out[0].tolist())


print(generate_title("{example}"))
'''


def usage_snippet(model: str, dictionary: str, decoding: str) -> str:
    """Python source that loads `model` and prints a title for the example synopsis."""
    return _TEMPLATE.format(model=model, dictionary=dictionary, decoding=decoding,
                            example=EXAMPLE_SYNOPSIS)
