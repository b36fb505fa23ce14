"""Korean as it is written, from pools we wrote: an eojeol (a spaced word) is a word with its
particles or endings attached ("계획을", "발표한다"). wordfreq's Korean list holds morphemes
("는", "을", "습니다") as words of their own, so training text builds eojeol from its longer entries
and these pools (``models.data.lines.korean_word``). Pure data and functions, no dependencies.
"""

KOREAN_PAIRED_PARTICLES = (("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"), ("이나", "나"))
KOREAN_PARTICLES = ("의", "에", "에서", "도", "만", "까지", "부터", "에게", "보다", "처럼", "하고", "에는", "에도", "마다")
KOREAN_HADA = ("하다", "한다", "했다", "하는", "하고", "하며", "합니다", "했습니다", "하기", "할", "한", "해서", "하면",
               "하지", "된다", "되는", "됩니다", "했던")
KOREAN_PREDICATES = ("있다", "없다", "있는", "없는", "있습니다", "없습니다", "같은", "같이", "좋은", "많은", "새로운",
                     "보고", "보면", "주었다", "받았다", "나왔다", "알려졌다", "밝혔다", "말했다", "이다", "입니다",
                     "아니다", "위해", "대한", "통해", "따라", "때문에", "것이다", "있을", "않는다", "않았다")
KOREAN_MORPHEMES = frozenset(sum(KOREAN_PAIRED_PARTICLES, ()) + KOREAN_PARTICLES + KOREAN_HADA + KOREAN_PREDICATES + (
    "습니다", "지만", "는데", "라고", "세요", "다고", "면서", "어서", "다는", "으면", "해서", "니까", "으며", "네요",
    "아요", "한테", "는지", "도록", "라도", "다가", "다면", "아서", "인데", "거나", "는다", "어야", "해요", "라는"))


def has_final_consonant(syllable, rieul_too=True):
    """Whether a Hangul syllable closes on a consonant (batchim); ``rieul_too`` False treats a
    closing rieul as open, as the particle 으로/로 does."""
    if not "\uac00" <= syllable <= "\ud7a3":
        return False
    final = (ord(syllable) - 0xAC00) % 28
    return final != 0 and (rieul_too or final != 8)


def attach_particle(stem, closed, open_):
    """``stem`` with the form of a paired particle its last syllable takes: 책을, 사과를, 길로, 집으로."""
    return stem + (closed if has_final_consonant(stem[-1], rieul_too=closed != "으로") else open_)
