"""Invented but plausible Chinese names of people, companies, streets and addresses.

Every function takes the caller's ``random.Random`` so that a seed gives the same demo.
Weighted choices use precomputed cumulative weights: ``rng.choices(..., cum_weights=...)``
is a bisection, which matters when it runs a million times.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

# The most common surnames with rough frequencies (per thousand people).
_SURNAMES = (
    ("王", 72), ("李", 72), ("张", 68), ("刘", 54), ("陈", 46), ("杨", 31), ("黄", 23),
    ("赵", 22), ("吴", 21), ("周", 20), ("徐", 17), ("孙", 15), ("马", 15), ("朱", 14),
    ("胡", 13), ("郭", 12), ("何", 11), ("高", 11), ("林", 10), ("罗", 10), ("郑", 9),
    ("梁", 9), ("谢", 8), ("宋", 8), ("唐", 7), ("许", 7), ("韩", 7), ("冯", 7), ("邓", 7),
    ("曹", 6), ("彭", 6), ("曾", 6), ("肖", 6), ("田", 6), ("董", 5), ("袁", 5), ("潘", 5),
    ("于", 5), ("蒋", 5), ("蔡", 5), ("余", 5), ("杜", 5), ("叶", 5), ("程", 5), ("苏", 4),
    ("魏", 4), ("吕", 4), ("丁", 4), ("任", 4), ("沈", 4), ("姚", 4), ("卢", 4), ("姜", 3),
    ("崔", 3), ("钟", 3), ("谭", 3), ("陆", 3), ("汪", 5), ("范", 3), ("金", 3), ("石", 3),
    ("廖", 3), ("贾", 3), ("夏", 3), ("方", 3), ("储", 2), ("江", 3), ("葛", 2), ("查", 1),
    ("鲍", 1), ("桂", 1), ("檀", 1), ("章", 2), ("童", 2), ("凤", 1), ("倪", 2), ("焦", 1),
)  # fmt: skip
SURNAMES = tuple(name for name, _w in _SURNAMES)
SURNAME_WEIGHTS = tuple(itertools.accumulate(w for _n, w in _SURNAMES))

MALE_CHARS = (
    "伟强军磊勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳峰建国志文"
    "海亮兵东晨昊博成德松林锋坤振洪祥泽瑞然轩"
)
FEMALE_CHARS = (
    "芳娜敏静丽艳娟霞秀玲桂英燕萍红梅琳雪慧婷颖倩晶莉欣怡佳悦琴云兰凤洁蓉丹璐月娇薇楠瑶媛琪露"
)


def person_name(rng: random.Random, male: bool) -> str:
    """A surname and one or two given-name characters (two for most people)."""
    surname = rng.choices(SURNAMES, cum_weights=SURNAME_WEIGHTS)[0]
    pool = MALE_CHARS if male else FEMALE_CHARS
    if rng.random() < 0.25:
        return surname + rng.choice(pool)
    return surname + rng.choice(pool) + rng.choice(pool)


MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "170", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "193", "198", "199",
)  # fmt: skip


def mobile(rng: random.Random) -> str:
    """An 11-digit mobile number; eight random digits make repeats rare, not impossible."""
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"


# Company names: a trade name, a line of business and a legal form.
TRADE_NAMES = (
    "皖江", "徽商", "江淮", "新安", "巢湖", "华安", "恒通", "金桥", "宏达", "瑞丰",
    "天成", "鼎盛", "长城", "中联", "合力", "星辰", "兴业", "永安", "鑫源", "东方",
    "汇通", "锦程", "泰和", "明珠", "顺昌", "晨光", "博远", "嘉禾", "宝隆", "润华",
    "九华", "黄山", "淮河", "大别山", "天柱", "敬亭", "琅琊", "包公", "庐州", "宛陵",
)  # fmt: skip
TRADES = (
    "机械制造", "纺织", "电子科技", "建材", "食品", "化工", "医药", "建筑工程", "商贸",
    "家电", "汽车零部件", "物流", "新能源", "光伏科技", "服装", "印刷包装", "物业管理",
    "餐饮管理", "酒店管理", "环卫服务", "保安服务", "农产品加工", "钢结构", "塑业",
)  # fmt: skip
LEGAL_FORMS = ("有限公司", "有限公司", "股份有限公司", "集团有限公司", "有限责任公司")


def company_name(rng: random.Random, place: str) -> str:
    return place + rng.choice(TRADE_NAMES) + rng.choice(TRADES) + rng.choice(LEGAL_FORMS)


# Government departments that have their own office union (机关工会).
BUREAUS = (
    "教育局", "卫生健康委员会", "人力资源和社会保障局", "住房和城乡建设局", "交通运输局",
    "市场监督管理局", "民政局", "财政局", "农业农村局", "城市管理局", "自然资源和规划局",
    "文化和旅游局", "生态环境分局", "税务局", "公安分局", "医疗保障局", "应急管理局",
)  # fmt: skip

COURIER_BRANDS = ("速达", "捷运", "迅邮", "飞鸿", "快马", "通达", "安捷", "邮驿", "星递", "顺风")
COURIER_BUSINESSES = ("快递服务有限公司", "速递有限公司", "即时配送服务有限公司", "供应链有限公司")
RIDE_COMPANIES = (
    "安徽畅行出行科技有限公司",
    "合肥易行网约车服务有限公司",
    "安徽快驰汽车服务有限公司",
)
SMALL_EMPLOYERS = (
    "{s}农贸市场", "{s}家政服务部", "{s}便利店", "{s}餐馆", "{s}物业服务中心", "{s}装修队",
    "个体经营", "灵活就业", "{s}维修部", "{s}洗车行",
)  # fmt: skip

STREET_WORDS = (
    "长淮", "明光", "胜利", "和平", "新城", "城东", "城西", "三里街", "七里站", "红光",
    "大兴", "方庙", "双岗", "杏林", "亳州路", "逍遥津", "琥珀", "南七", "稻香村", "五里墩",
    "望湖", "芜湖路", "滨湖", "常青", "义城", "烟墩", "骆岗", "临湖", "桂花", "凤凰",
    "东湖", "西湖", "北门", "南关", "龙山", "青山", "白云", "花园", "文昌", "人民",
)  # fmt: skip
ROADS = (
    "长江东路", "淮河路", "人民路", "胜利路", "和平路", "建设路", "文化路", "解放路",
    "幸福路", "光明路", "新华路", "团结路", "友谊路", "花园路", "学府路", "振兴路",
    "工业大道", "滨河路", "北京路", "黄山路", "中山路", "健康路", "环城路", "体育路",
)  # fmt: skip


def street_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct street (街道) names for one county."""
    return [word + "街道" for word in rng.sample(STREET_WORDS, count)]


def small_employer(rng: random.Random, street: str) -> str:
    return rng.choice(SMALL_EMPLOYERS).format(s=street.removesuffix("街道"))


def address(rng: random.Random, place: str) -> str:
    """A home address under ``place`` (city and county names)."""
    return (
        f"{place}{rng.choice(ROADS)}{rng.randint(1, 399)}号"
        f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 32)}0{rng.randint(1, 4)}室"
    )


def pick(rng: random.Random, items: Sequence[str]) -> str:
    return items[rng.randrange(len(items))]
