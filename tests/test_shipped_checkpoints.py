"""Smoke tests of the checkpoints that ship in models/checkpoints/: every other test runs a random
or constant network, so only these would notice a broken, truncated or swapped checkpoint."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from models import CHECKPOINT_DIR, REGISTRY, build_model, load_checkpoint, read_checkpoint
from models.data.blur import chromium_blur
from models.data.lines import to_tensor
from models.data.synth import CJK_FACE_INDEX, CJK_FONTS, FONT_ROOT, LATIN_FONTS
from models.evaluation.metrics import psnr
from models.evaluation.ocr import cer
from models.reading.pipeline import Reader

SENTENCE = "The quick brown fox jumps over the lazy dog."
FONT_PX = 22  # the text size of server.bench's read figures; 18 to 28 px all read to the letter
NOT_DEBLURRING = {"reader", "recognizer", "svtr_reader", "svtr_korean", "line_detector"}
DEBLURRING = sorted(path.stem for path in CHECKPOINT_DIR.glob("*.pt") if path.stem not in NOT_DEBLURRING)
DEBLUR_SIGMA = 2.0
# Over the same network untrained, whose zero-initialised last layer passes its base estimate
# through: the input for the seed models, a Wiener deconvolution for nafunet (+2.3 dB over the
# blurred line here, so "better than blurred" alone would pass random nafunet weights). Measured
# on this line: attention_r2unet +2.6 dB, robust_unet +2.8, nafunet +4.8.
MIN_GAIN_OVER_UNTRAINED_DB = 1.0


def rendered_line(text, sigma):
    """(sharp, blurred) float (1, 3, H, W): black text on white in DejaVu Sans, blurred as Chromium's GPU path does."""
    font = ImageFont.truetype(str(FONT_ROOT / LATIN_FONTS["sans"][0]), FONT_PX)
    left, _, right, _ = font.getbbox(text)
    image = Image.new("RGB", (right - left + 2 * FONT_PX, 3 * FONT_PX), "white")
    ImageDraw.Draw(image).text((FONT_PX - left, FONT_PX), text, font=font, fill="black")
    sharp = to_tensor(image)[None]
    return sharp, chromium_blur(sharp, sigma) if sigma else sharp


def as_uint8(tensor):
    return tensor[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()


@pytest.fixture(scope="module")
def shipped_reader():
    return Reader(CHECKPOINT_DIR / "reader.pt")


@pytest.fixture(scope="module")
def shipped_pair():
    """What /v1/read runs: the reader, and the SVTR for the lines it does not read as Korean."""
    return Reader(CHECKPOINT_DIR / "reader.pt", svtr=CHECKPOINT_DIR / "svtr_reader.pt")


@pytest.fixture(scope="module")
def shipped_trio():
    """The pair and the Korean SVTR beside the reader on the lines it reads as Korean: all /v1/read runs."""
    return Reader(CHECKPOINT_DIR / "reader.pt", svtr=CHECKPOINT_DIR / "svtr_reader.pt",
                  korean_svtr=CHECKPOINT_DIR / "svtr_korean.pt")


@pytest.mark.parametrize("sigma", [0.0, 1.5])
@pytest.mark.parametrize("told", [True, False], ids=["sigma-given", "blind"])
@pytest.mark.parametrize("readers", ["shipped_reader", "shipped_pair"])
def test_the_shipped_readers_read_a_sentence_to_the_letter(readers, sigma, told, request):
    _, blurred = rendered_line(SENTENCE, sigma)
    reading = request.getfixturevalue(readers).read(as_uint8(blurred), sigma if told else None)
    assert reading.text == SENTENCE
    assert reading.verdict == "readable"


SMALL_LINE = "Free shipping on orders over $35"


def small_coloured_line(px, sigma):
    """Green Liberation Sans product text of ``px`` px, cropped 2 px around its ink, blurred: a region read of it."""
    font = ImageFont.truetype(str(FONT_ROOT / LATIN_FONTS["sans"][3]), px)
    _, _, right, bottom = font.getbbox(SMALL_LINE)
    image = Image.new("RGB", (right + 4, bottom + 4), "white")
    ImageDraw.Draw(image).text((2, 2), SMALL_LINE, font=font, fill=(34, 139, 34))
    return as_uint8(chromium_blur(to_tensor(image)[None], sigma))


@pytest.mark.parametrize("px, sigma", [(10, 1.0), (11, 1.0), (12, 0.5)])
@pytest.mark.parametrize("told", [True, False], ids=["sigma-given", "blind"])
def test_the_shipped_pair_reads_a_small_line_cropped_tightly(shipped_pair, px, sigma, told):
    # the finder took the page above and below each of these lines for two surfaces, and most or all
    # of the line for the edge between them: it found no line, or only "Free"
    reading = shipped_pair.read(small_coloured_line(px, sigma), sigma if told else None)
    assert reading.text == SMALL_LINE


def paragraph_thumbnail():
    """Four lines of 16 px text shrunk to 70 x 14: lines under 2 px, found as one box taller than the size rule's."""
    font = ImageFont.truetype(str(FONT_ROOT / LATIN_FONTS["sans"][0]), 16)
    image = Image.new("RGB", (380, 160), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(["The quick brown fox", "jumps over a lazy dog", "and reads it again", "Last line"]):
        draw.text((10, 32 + 24 * row), text, font=font, fill=(20, 20, 30))
    return np.asarray(image.resize((70, 14), Image.BILINEAR))


@pytest.mark.parametrize("sigma", [None, 1.0])
def test_the_shipped_pair_copies_nothing_from_a_thumbnail_of_a_paragraph(shipped_pair, sigma):
    # what the networks make of it is junk, every character far below sure: unread, not copied
    reading = shipped_pair.read(paragraph_thumbnail(), sigma)
    assert (reading.text, reading.verdict) == ("", "unreadable")


def test_the_shipped_pair_reads_korean_with_the_reader_and_the_rest_with_the_svtr(shipped_pair):
    font = ImageFont.truetype(str(FONT_ROOT / CJK_FONTS[0]), FONT_PX, index=CJK_FACE_INDEX["ko"])
    image = Image.new("RGB", (20 * FONT_PX, 3 * FONT_PX), "white")
    ImageDraw.Draw(image).text((FONT_PX, FONT_PX), "오늘 날씨가 좋습니다", font=font, fill="black")
    reading = shipped_pair.read(as_uint8(to_tensor(image)[None]), 0.0)
    # the SVTR has no Hangul, so this holds only if the reader read the line (which errs on sharp
    # Korean: "날씨가" comes back "남시가")
    assert cer(reading.text, "오늘 날씨가 좋습니다", "ko") <= 0.3  # 2 of 9 wrong; read by the SVTR, all 9


@pytest.mark.parametrize("px, sigma", [(22, 0.0), (13, 1.3)])
def test_the_shipped_korean_svtr_reads_korean_the_reader_misreads(shipped_trio, px, sigma):
    sentence = "회의는 4시로 미뤄졌습니다"  # the reader alone reads 미워졌습니다 at both, and drops 시 at 13 px
    font = ImageFont.truetype(str(FONT_ROOT / CJK_FONTS[0]), px, index=CJK_FACE_INDEX["ko"])
    image = Image.new("RGB", (20 * px, 3 * px), "white")
    ImageDraw.Draw(image).text((px, px), sentence, font=font, fill="black")
    blurred = to_tensor(image)[None]
    reading = shipped_trio.read(as_uint8(chromium_blur(blurred, sigma) if sigma else blurred), sigma)
    assert reading.text == sentence


def test_every_registered_deblurring_model_ships_a_checkpoint():
    assert DEBLURRING == sorted(REGISTRY)


@pytest.mark.parametrize("name", DEBLURRING)
@torch.no_grad()
def test_each_shipped_deblurring_checkpoint_sharpens_a_blurred_line(name):
    path = CHECKPOINT_DIR / f"{name}.pt"
    shipped = load_checkpoint(path)
    config = dict(read_checkpoint(path)["config"])
    untrained = build_model(config.pop("name"), **config).eval()
    sharp, blurred = rendered_line(SENTENCE, DEBLUR_SIGMA)
    sigma = torch.tensor([DEBLUR_SIGMA])
    blurred_db, untrained_db, shipped_db = (psnr(image, sharp).item() for image in
                                            (blurred, untrained(blurred, sigma), shipped(blurred, sigma)))
    assert untrained_db >= blurred_db - 0.01  # the baseline is the input or better, never worse
    assert shipped_db >= untrained_db + MIN_GAIN_OVER_UNTRAINED_DB, \
        f"{name}: blurred {blurred_db:.2f} dB, untrained {untrained_db:.2f}, shipped {shipped_db:.2f}"
