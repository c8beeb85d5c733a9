"""Narou genre codes (the API's `genre`/`biggenre`) and the names the site shows for them."""

from __future__ import annotations

# Codes as documented in the API manual (scheme in use since 2017).
GENRE_NAMES: dict[int, str] = {
    101: "異世界〔恋愛〕",
    102: "現実世界〔恋愛〕",
    201: "ハイファンタジー",
    202: "ローファンタジー",
    301: "純文学",
    302: "ヒューマンドラマ",
    303: "歴史",
    304: "推理",
    305: "ホラー",
    306: "アクション",
    307: "コメディー",
    401: "VRゲーム",
    402: "宇宙",
    403: "空想科学",
    404: "パニック",
    9901: "童話",
    9902: "詩",
    9903: "エッセイ",
    9904: "リプレイ",
    9999: "その他",
    9801: "ノンジャンル",
}

BIGGENRE_NAMES: dict[int, str] = {
    1: "恋愛",
    2: "ファンタジー",
    3: "文芸",
    4: "SF",
    99: "その他",
    98: "ノンジャンル",
}


def _name_key(name: str) -> str:
    # Scraped pages drop the 〔恋愛〕 suffix or write it with ASCII brackets.
    for opener in ("〔", "[", "［", "(", "（"):
        name = name.split(opener, 1)[0]
    return name.strip().replace(" ", "").replace("　", "")


_CODE_BY_NAME: dict[str, int] = {_name_key(n): c for c, n in GENRE_NAMES.items()}
# Alternative spellings seen in scraped data.
_CODE_BY_NAME.update({"コメディ": 307, "ＶＲゲーム": 401})


def genre_code(name: str) -> int | None:
    """API genre code for a genre name (full or short form), or None when unknown."""
    return _CODE_BY_NAME.get(_name_key(name))


def biggenre_of(genre: int) -> int | None:
    """The big genre a genre code belongs to (101 → 1, 9801 → 98), or None when unknown."""
    if genre not in GENRE_NAMES:
        return None
    return genre // 100


def genre_label(code: int | None) -> str:
    """Display name of a genre code ("—" for null, the number when unknown)."""
    if code is None:
        return "—"
    return GENRE_NAMES.get(code, str(code))
