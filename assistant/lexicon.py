"""Everyday and English words for official terms. Citizens say "sổ đỏ", "báo tử", "lấy vợ";
procedure names say "giấy chứng nhận quyền sử dụng đất", "khai tử", "kết hôn". Matching is on folded
text, so each entry also covers the question typed without diacritics.

Add an entry when an everyday expression maps to an official term in general, never to make one
particular question pass: no entry is said by one question of our own gold files alone (none of the
bank's), and every entry maps to the corpus's own wording (`tests/test_lexicon.py` checks both).
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
    "giấy đăng ký kết hôn": "kết hôn",
    "độc thân": "xác nhận tình trạng hôn nhân",
    "chưa kết hôn": "xác nhận tình trạng hôn nhân",
    "chưa đăng ký kết hôn": "xác nhận tình trạng hôn nhân",
    "nhận nuôi": "nuôi con nuôi",
    "con nuôi": "nuôi con nuôi",
    "sổ đỏ": "giấy chứng nhận quyền sử dụng đất",
    "sổ hồng": "giấy chứng nhận quyền sử dụng đất quyền sở hữu nhà ở",
    "bìa đỏ": "giấy chứng nhận quyền sử dụng đất",
    "hộ khẩu": "thường trú",
    "nhập khẩu": "đăng ký thường trú",
    "nhập hộ khẩu": "đăng ký thường trú",
    "cắt khẩu": "xóa đăng ký thường trú",
    "chuyển khẩu": "đăng ký thường trú",
    "tách khẩu": "tách hộ",
    "đăng ký ở nhờ": "đăng ký tạm trú",
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
    "sao y": "chứng thực bản sao",
    "photo công chứng": "chứng thực bản sao",
    "mở tiệm": "đăng ký thành lập hộ kinh doanh",
    "mở quán": "đăng ký thành lập hộ kinh doanh",
    "buôn bán": "hộ kinh doanh",
    "đóng cửa": "chấm dứt hoạt động",
    "xây nhà": "cấp giấy phép xây dựng nhà ở riêng lẻ",
    "sửa nhà": "giấy phép sửa chữa cải tạo",
    "thẻ bảo hiểm y tế": "thẻ bảo hiểm y tế",
    "sổ bảo hiểm": "sổ bảo hiểm xã hội",
    "mất sổ": "cấp lại sổ",
    "thất nghiệp": "trợ cấp thất nghiệp",
    "lương hưu": "hưu trí",
    "hộ nghèo": "hộ nghèo hộ cận nghèo",
    "ly dị": "ly hôn",
}

ENGLISH: dict[str, str] = {
    "birth registration": "đăng ký khai sinh",
    "register a birth": "đăng ký khai sinh",
    "register the birth": "đăng ký khai sinh",
    "birth certificate": "đăng ký khai sinh giấy khai sinh",
    "baby": "khai sinh",
    "birth": "khai sinh",
    "death registration": "đăng ký khai tử",
    "register a death": "đăng ký khai tử",
    "death certificate": "đăng ký khai tử",
    "died": "khai tử",
    "passed away": "khai tử",
    "death": "khai tử",
    "marriage registration": "đăng ký kết hôn",
    "register a marriage": "đăng ký kết hôn",
    "register our marriage": "đăng ký kết hôn",
    "marriage": "kết hôn",
    "marry": "kết hôn",
    "single status": "xác nhận tình trạng hôn nhân",
    "marital status": "xác nhận tình trạng hôn nhân",
    "permanent residence": "đăng ký thường trú",
    "permanent residency": "đăng ký thường trú",
    "temporary residence": "đăng ký tạm trú",
    "temporary absence": "khai báo tạm vắng",
    "extend temporary residence": "gia hạn tạm trú",
    "identity card": "cấp thẻ căn cước",
    "id card": "cấp thẻ căn cước",
    "citizen id": "cấp thẻ căn cước",
    "passport": "hộ chiếu phổ thông",
    "driving licence": "giấy phép lái xe",
    "driving license": "giấy phép lái xe",
    "driver's license": "giấy phép lái xe",
    "criminal record": "cấp phiếu lý lịch tư pháp",
    "police check": "cấp phiếu lý lịch tư pháp",
    "certified copies": "chứng thực bản sao",
    "certify a copy": "chứng thực bản sao",
    "signature": "chứng thực chữ ký",
    "household business": "đăng ký thành lập hộ kinh doanh",
    "small business": "hộ kinh doanh",
    "construction permit": "cấp giấy phép xây dựng",
    "building permit": "cấp giấy phép xây dựng",
    "land use right certificate": "giấy chứng nhận quyền sử dụng đất",
    "land use certificate": "giấy chứng nhận quyền sử dụng đất",
    "land title": "giấy chứng nhận quyền sử dụng đất",
    "red book": "giấy chứng nhận quyền sử dụng đất",
    "health insurance": "thẻ bảo hiểm y tế",
    "social insurance": "bảo hiểm xã hội",
    "unemployment": "trợ cấp thất nghiệp",
    "adopt": "nuôi con nuôi",
    "adoption": "nuôi con nuôi",
    "guardianship": "đăng ký giám hộ",
    "guardian": "giám hộ",
    "recognize a child": "nhận cha mẹ con",
    "recognise a child": "nhận cha mẹ con",
    "divorce": "ly hôn",
    "separate household": "tách hộ",
    "household registration": "thường trú",
    "temporary residence registration": "đăng ký tạm trú",
    "permanent residence registration": "đăng ký thường trú",
    "residence registration": "đăng ký thường trú tạm trú",
    "residence": "cư trú",
    "separate from": "tách hộ",
    "vneid": "tài khoản định danh điện tử",
    "limited liability company": "công ty trách nhiệm hữu hạn",
    "company": "doanh nghiệp",
    "citizenship": "nhập quốc tịch việt nam",
    "naturalisation": "nhập quốc tịch",
    "naturalization": "nhập quốc tịch",
    "e-visa": "thị thực điện tử",
    "visa": "thị thực",
    "land dispute": "tranh chấp đất đai",
    "embassy": "cơ quan đại diện",
    "deregister": "xóa đăng ký",
    "re-register": "đăng ký lại",
    "reissue": "cấp lại",
    "re-issue": "cấp lại",
    "replace": "cấp lại",
    "replacement": "cấp lại",
    "lost": "bị mất cấp lại",
    "renew": "đổi",
    "exchange": "đổi",
    "extend": "gia hạn",
    "foreigner": "người nước ngoài yếu tố nước ngoài",
    "foreign": "yếu tố nước ngoài",
    "mobile": "lưu động",
    "will": "di chúc",
    "vehicle registration": "đăng ký xe",
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
