import pytest

from compliance.optout import is_opt_out

MUST_MATCH = [
    "TD",
    "td",
    "Td",
    "ｔｄ",
    "ＴＤ",
    " TD ",
    "TD。",
    "td!",
    "【TD】",
    "R",
    "r",
    "Ｒ",
    "T",
    " t ",
    "N",
    "n。",
    "STOP",
    "stop!",
    "Stop sending me this",
    "ＳＴＯＰ",
    "please stop.",
    "UNSUBSCRIBE",
    "unsubscribe me",
    "退订",
    " 退订。",
    "退订！",
    "我要退订",
    "退订了谢谢",
    "怎么退订",
    "为什么不能退订",
    "拒收",
    "拒收，别再发了",
    "退訂",
    "TD退订",
    "回复TD",
    "不退订，算了还是退订吧",
]

MUST_NOT_MATCH = [
    "",
    "   ",
    "Trade",
    "R2",
    "TD1",
    "stopped",
    "stopwatch",
    "好的",
    "收到，谢谢",
    "不退订?",
    "不退订",
    "别拒收",
    "不要退订",
    "无需退订",
    "T 恤多少钱",
    "N95 口罩有货吗",
    "RT",
    "Thanks",
    "nope",
    "订单已收到",
    "123",
]


@pytest.mark.parametrize("text", MUST_MATCH)
def test_opt_out_replies_match(text):
    assert is_opt_out(text) is True


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_other_replies_do_not_match(text):
    assert is_opt_out(text) is False


def test_none_is_not_an_opt_out():
    assert is_opt_out(None) is False
