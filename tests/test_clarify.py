"""The clarify decision reads the question's words and the ranker's honest probabilities: a refit
that is surer of itself does not stop asking back what the question cannot tell apart."""

from __future__ import annotations

import numpy as np

from assistant.query import analyse
from assistant.ranker import Candidate, softmax
from assistant.service import Assistant
from eval.routing import fit_temperature

FIRST = "Cấp thẻ căn cước lần đầu"
RENEW = "Cấp đổi, cấp lại thẻ căn cước"


def cand(key: str, title: str, score: float, head: float, asked: float = 0.6) -> Candidate:
    return Candidate(key, title, score, {"head": head, "coverage": 0.4, "asked_covered": asked})


def test_a_topic_both_names_share_is_asked_back_however_sure_the_ranker_is() -> None:
    for sure in (0.55, 0.8, 0.95):
        first, renew = cand("A", FIRST, sure, 0.54), cand("B", RENEW, 1 - sure, 0.68)
        assert Assistant._ambiguous(analyse("thẻ căn cước"), [first, renew]) == [renew]
        assert Assistant._ambiguous(analyse("cho hỏi về thẻ căn cước"), [first, renew], named_only=True) == [renew]


def test_a_word_that_tells_the_names_apart_is_answered() -> None:
    first, renew = cand("A", FIRST, 0.55, 0.8), cand("B", RENEW, 0.45, 0.9)
    assert Assistant._ambiguous(analyse("cấp đổi thẻ căn cước"), [renew, first]) == []
    assert Assistant._ambiguous(analyse("làm thẻ căn cước lần đầu"), [first, renew]) == []


def test_a_name_said_in_full_is_not_a_topic() -> None:
    """Some name is said in full: the ranker's preference decides, as for any siblings."""
    mobile = cand("A", "Đăng ký kết hôn lưu động", 0.7, 0.7, asked=1.0)
    plain = cand("B", "Đăng ký kết hôn", 0.3, 1.0, asked=1.0)
    assert Assistant._ambiguous(analyse("đăng ký kết hôn"), [mobile, plain]) == []
    mobile.score, plain.score = 0.52, 0.48
    assert Assistant._ambiguous(analyse("đăng ký kết hôn"), [mobile, plain]) == [plain]


def test_the_same_procedure_at_another_level_is_never_an_option() -> None:
    commune = cand("A", "Cấp lại thẻ bảo hiểm y tế (thực hiện tại cấp xã)", 0.5, 0.7)
    province = cand("B", "Cấp lại thẻ bảo hiểm y tế (thực hiện tại cấp tỉnh)", 0.49, 0.7)
    assert Assistant._ambiguous(analyse("thẻ bảo hiểm y tế"), [commune, province]) == []


def test_siblings_the_question_fits_equally_are_asked_back_only_when_the_ranker_is_unsure() -> None:
    q = analyse("công nhận hộ nghèo")
    yearly = "Công nhận hộ nghèo, hộ cận nghèo định kỳ hằng năm"
    regular = "Công nhận hộ nghèo, hộ cận nghèo thường xuyên hằng năm"
    close = [cand("A", yearly, 0.52, 1.0), cand("B", regular, 0.46, 1.0)]
    assert Assistant._ambiguous(q, close) == [close[1]]
    far = [cand("A", yearly, 0.8, 1.0), cand("B", regular, 0.2, 1.0)]
    assert Assistant._ambiguous(q, far) == []


def test_the_fitted_temperature_makes_the_probabilities_honest() -> None:
    """Raw scores that make the right candidate right 70% of the time: the temperature found brings
    the softmax of the best one near 0.7, from far above it at temperature 1."""
    rng = np.random.default_rng(3)
    reads = []
    for _ in range(400):
        raw = np.array([4.0, 0.0, -1.0])
        labels = np.zeros(3)
        labels[0 if rng.random() < 0.7 else 1] = 1.0
        reads.append((raw, labels))
    t = fit_temperature(reads)
    assert softmax(reads[0][0])[0] > 0.95
    assert abs(softmax(reads[0][0], t)[0] - 0.7) < 0.05
