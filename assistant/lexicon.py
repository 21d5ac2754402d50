"""Everyday and English words for official terms. Citizens say "sổ đỏ", "báo tử", "lấy vợ";
procedure names say "giấy chứng nhận quyền sử dụng đất", "khai tử", "kết hôn". Matching is on folded
text, so each entry also covers the question typed without diacritics.

Add an entry when an everyday expression maps to an official term in general, never to make one
particular question pass: every entry is said by at least two questions, at least one of them
written outside the team (the question bank), and maps to the corpus's own wording
(`tests/test_lexicon.py` checks both).
"""

from __future__ import annotations

import re

from assistant.text import fold, has_diacritics, normalize

EVERYDAY: dict[str, str] = {
    "báo tử": "khai tử",
    "người mất": "khai tử",
    "vừa mất": "khai tử",
    "qua đời": "khai tử",
    "chết": "khai tử",
    "giấy báo tử": "khai tử",
    "mới sinh": "khai sinh",
    "mới đẻ": "khai sinh",
    "làm giấy khai sinh": "đăng ký khai sinh",
    "giấy khai sinh": "khai sinh",
    "lấy chồng": "đăng ký kết hôn",
    "cưới": "đăng ký kết hôn",
    "độc thân": "xác nhận tình trạng hôn nhân",
    "chưa kết hôn": "xác nhận tình trạng hôn nhân",
    "chưa đăng ký kết hôn": "xác nhận tình trạng hôn nhân",
    "nhận nuôi": "nuôi con nuôi",
    "con nuôi": "nuôi con nuôi",
    "sổ đỏ": "giấy chứng nhận quyền sử dụng đất",
    "hộ khẩu": "thường trú",
    "nhập khẩu": "đăng ký thường trú",
    "nhập hộ khẩu": "đăng ký thường trú",
    "chuyển khẩu": "đăng ký thường trú",
    "ở trọ": "tạm trú",
    "thuê trọ": "tạm trú",
    "tạm vắng": "khai báo tạm vắng",
    "làm căn cước": "cấp thẻ căn cước",
    "thẻ căn cước": "căn cước",
    "căn cước công dân": "căn cước",
    "chứng minh nhân dân": "căn cước",
    "làm hộ chiếu": "cấp hộ chiếu phổ thông",
    "passport": "hộ chiếu",
    "bằng lái": "giấy phép lái xe",
    "đổi bằng": "đổi giấy phép lái xe",
    "lý lịch": "lý lịch tư pháp",
    "phiếu lý lịch": "lý lịch tư pháp",
    "công chứng": "chứng thực",
    "mở tiệm": "đăng ký thành lập hộ kinh doanh",
    "mở quán": "đăng ký thành lập hộ kinh doanh",
    "buôn bán": "hộ kinh doanh",
    "đóng cửa": "chấm dứt hoạt động",
    "xây nhà": "cấp giấy phép xây dựng nhà ở riêng lẻ",
    "thẻ bảo hiểm y tế": "thẻ bảo hiểm y tế",
    "sổ bảo hiểm": "sổ bảo hiểm xã hội",
    "mất sổ": "cấp lại sổ",
    "thất nghiệp": "trợ cấp thất nghiệp",
    "lương hưu": "hưu trí",
    "hộ nghèo": "hộ nghèo hộ cận nghèo",
}

ENGLISH: dict[str, str] = {
    "register the birth": "đăng ký khai sinh",
    "birth certificate": "đăng ký khai sinh giấy khai sinh",
    "baby": "khai sinh",
    "birth": "khai sinh",
    "passed away": "khai tử",
    "death": "khai tử",
    "marriage": "kết hôn",
    "permanent residence": "đăng ký thường trú",
    "temporary residence": "đăng ký tạm trú",
    "passport": "hộ chiếu phổ thông",
    "driving licence": "giấy phép lái xe",
    "criminal record": "cấp phiếu lý lịch tư pháp",
    "signature": "chứng thực chữ ký",
    "household business": "đăng ký thành lập hộ kinh doanh",
    "building permit": "cấp giấy phép xây dựng",
    "land use certificate": "giấy chứng nhận quyền sử dụng đất",
    "health insurance": "thẻ bảo hiểm y tế",
    "social insurance": "bảo hiểm xã hội",
    "adopt": "nuôi con nuôi",
    "adoption": "nuôi con nuôi",
    "divorce": "ly hôn",
    "residence": "cư trú",
    "vneid": "tài khoản định danh điện tử",
    "limited liability company": "công ty trách nhiệm hữu hạn",
    "company": "doanh nghiệp",
    "citizenship": "nhập quốc tịch việt nam",
    "visa": "thị thực",
    "embassy": "cơ quan đại diện",
    "replacement": "cấp lại",
    "lost": "bị mất cấp lại",
    "renew": "đổi",
    "exchange": "đổi",
    "extend": "gia hạn",
    "foreigner": "người nước ngoài yếu tố nước ngoài",
    "foreign": "yếu tố nước ngoài",
    "will": "di chúc",
    "motorbike": "xe mô tô xe gắn máy",
}


# Situations citizens describe, in the words the portal's case headings and document rows use
# ("nhà thuê" -> "Đăng ký thường trú vào chỗ ở hợp pháp do thuê, mượn, ở nhờ"). Used to pick the
# documents for the case the question describes, never to rank procedures.
CASES: dict[str, str] = {
    "nhà thuê": "thuê mượn ở nhờ cho thuê",
    "thuê nhà": "thuê mượn ở nhờ cho thuê",
    "thuê trọ": "thuê mượn ở nhờ cho thuê",
    "ở trọ": "thuê mượn ở nhờ cho thuê",
    "chủ trọ": "thuê mượn ở nhờ cho thuê",
    "chủ nhà": "thuê mượn ở nhờ cho thuê",
    "ở nhờ": "thuê mượn ở nhờ",
    "nhà người quen": "mượn ở nhờ",
    "nhà người thân": "mượn ở nhờ",
    "nhà họ hàng": "mượn ở nhờ",
    "nhà mình": "thuộc quyền sở hữu của mình",
    "tự mua": "thuộc quyền sở hữu của mình",
    "đứng tên": "thuộc quyền sở hữu của mình",
    "sổ đỏ": "thuộc quyền sở hữu của mình",
    "sổ hồng": "thuộc quyền sở hữu của mình",
    "bộ đội": "đơn vị đóng quân quân đội nhân dân",
    "doanh trại": "đơn vị đóng quân",
    "quân nhân": "đơn vị đóng quân quân đội nhân dân lực lượng vũ trang",
    "công nhân": "theo danh sách",
    "một lượt": "theo danh sách",
    "nhiều người": "theo danh sách",
    "tập thể": "theo danh sách",
    "nhờ người": "ủy quyền",
    "người khác đi": "ủy quyền",
    "đi thay": "ủy quyền",
    "làm thay": "ủy quyền",
    "chùa": "cơ sở tín ngưỡng cơ sở tôn giáo",
    "nhà thờ": "cơ sở tín ngưỡng cơ sở tôn giáo",
    "sinh ở nhà": "không có giấy chứng sinh người làm chứng",
    "không đi viện": "không có giấy chứng sinh người làm chứng",
    "việt kiều": "định cư ở nước ngoài",
    "cấp ở nước ngoài": "nước ngoài cấp hợp pháp hóa lãnh sự",
    "cán bộ": "cán bộ công chức viên chức",
    "công chức": "cán bộ công chức viên chức",
}


def _compile(table: dict[str, str]) -> list[tuple[re.Pattern[str], re.Pattern[str], str]]:
    """Each entry as two patterns: folded (for a question typed without diacritics) and as written
    (a question with diacritics matches only the words it writes: 'chưa' is not 'chùa')."""
    items = sorted(table.items(), key=lambda kv: -len(kv[0]))
    return [(re.compile(rf"\b{re.escape(fold(k))}\b"), re.compile(rf"\b{re.escape(normalize(k))}\b"), v) for k, v in items]


_EVERYDAY = _compile(EVERYDAY)
_ENGLISH = _compile(ENGLISH)
_CASES = _compile(CASES)


def _matches(tables: list, text: str) -> list[str]:
    """The targets of the entries the text says, longest entries first, each stretch of text once."""
    marked = has_diacritics(text)
    rest = normalize(text) if marked else fold(text)
    found: list[str] = []
    for folded_rx, marked_rx, term in tables:
        rx = marked_rx if marked else folded_rx
        if rx.search(rest):
            found.append(term)
            rest = rx.sub(" ", rest)
    return found


def official_terms(text: str, lang: str) -> list[str]:
    """Official Vietnamese terms for the everyday (and, for English, the English) words in a question."""
    return _matches(_EVERYDAY + _ENGLISH if lang == "en" else _EVERYDAY, text)


def case_words(text: str) -> str:
    """The portal's wording for the situations a question describes, folded."""
    return fold(" ".join(_matches(_CASES, text)))
