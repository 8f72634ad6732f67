"""Word lists the rules use. Platform-wide; tenants add their own sensitive words on top."""

from __future__ import annotations

import re

# Content that no tenant may send, whatever the kind (gambling, fraud, drugs, weapons, …).
# fmt: off
PLATFORM_SENSITIVE_WORDS: tuple[str, ...] = (
    "赌博", "博彩", "六合彩", "百家乐", "网赌", "赌场", "时时彩",
    "代开发票", "发票代开", "办证", "代办证件", "刻章", "假证",
    "枪支", "弹药", "冰毒", "海洛因", "大麻", "摇头丸", "迷药", "迷幻药",
    "套现", "刷单", "兼职刷单", "高利贷", "裸聊", "色情", "援交", "一夜情",
    "传销", "洗钱", "私服", "外挂", "翻墙", "代考", "替考", "窃听器", "针孔摄像",
    "黑客", "盗号", "贩卖个人信息", "身份证贩卖", "银行卡出售",
    "casino", "viagra", "porn",
)

MARKETING_WORDS: tuple[str, ...] = (
    "优惠券", "优惠", "促销", "折扣", "打折", "特价", "秒杀", "抢购", "限时", "红包", "领券", "满减",
    "大促", "免费领", "抽奖", "清仓", "包邮", "团购", "爆款", "低至", "钜惠", "狂欢", "上新",
    "sale", "discount", "promo", "coupon",
)
DISCOUNT_PATTERN = re.compile(r"\d+(?:\.\d)?\s*折|\d+\s*%\s*off", re.IGNORECASE)

# Marketing content from these industries is refused outright.
BANNED_INDUSTRY_WORDS: tuple[str, ...] = (
    "贷款", "网贷", "小额贷", "借款", "借贷", "信用贷", "配资", "荐股", "股票推荐", "内幕消息",
    "虚拟货币", "虚拟币", "比特币", "数字货币", "炒币", "彩票", "代孕", "医疗美容", "整形",
    "loan", "crypto",
)
# fmt: on

# Any opt-out wording (forbidden in codes and notifications).
UNSUBSCRIBE_ANYWHERE = re.compile(
    r"拒收请回复?\s*[A-Za-z]{1,2}|回复?\s*[A-Za-z]{1,2}\s*退订|退订回复?\s*[A-Za-z]{1,2}|退订|拒收"
    r"|reply\s+stop|unsubscribe|opt[\s-]?out",
    re.IGNORECASE,
)
# The instruction marketing messages must END with.
UNSUBSCRIBE_AT_END = re.compile(
    r"(?:拒收请回复?\s*[A-Za-z]{1,2}|回复?\s*[A-Za-z]{1,2}\s*退订|退订回复?\s*[A-Za-z]{1,2}"
    r"|reply\s+(?:stop|t|r)\s+to\s+(?:unsubscribe|opt\s*out))[\s。.!！)）]*$",
    re.IGNORECASE,
)
UNSUBSCRIBE_FIX = "拒收请回复R"

SALUTATION_PATTERN = re.compile(r"尊敬的|亲爱的|会员|顾客|客户|用户|先生|女士|您好|\bdear\b|\bhi\b", re.IGNORECASE)
SALUTATION_FIX = "尊敬的会员，"

VERIFICATION_KEYWORDS = re.compile(r"验证码|校验码|动态码|注册码|verification\s+code", re.IGNORECASE)
PURPOSE_PATTERN = re.compile(
    r"有效|分钟|用于|登录|注册|找回|重置|修改|绑定|支付|身份|确认|办理|valid|expire|minute|log\s*in|sign\s*(?:in|up)"
    r"|register|reset|confirm",
    re.IGNORECASE,
)
PURPOSE_FIX = "，5分钟内有效，请勿泄露给他人。"

# Common misspellings of the words these messages live on (wrong → right).
TYPOS: dict[str, str] = {
    "验正码": "验证码",
    "验症码": "验证码",
    "校检码": "校验码",
    "效验码": "校验码",
    "动太码": "动态码",
    "退定": "退订",
    "拒受": "拒收",
    "短倍": "短信",
    "登陆": "登录",
    "密吗": "密码",
    "发贷": "发货",
    "快第": "快递",
    "会圆": "会员",
    "尊静": "尊敬",
    "帐户": "账户",
    "帐号": "账号",
}
