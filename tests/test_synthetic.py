"""The clutter painters' ground truth (catloc.synthetic): masks, boxes, scannable codes, the font hint."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from catloc import synthetic
from catloc.synthetic import (FontMissingError, Plate, QrCard, font, paint_banner, paint_qr, paint_sticker, paint_text,
                              paint_watermark, paint_watermark_tiles, qr_image, qr_modules)


def backdrop(h: int = 240, w: int = 320) -> np.ndarray:
    """A grey photo with a gentle gradient, so that no painted colour equals it by chance."""
    ramp = np.linspace(150, 190, w, dtype=np.float32)[None, :, None]
    return np.broadcast_to(ramp, (h, w, 3)).astype(np.uint8).copy()


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.any(before != after, axis=-1)


def inside(mask: np.ndarray, box, last_included: bool = False) -> bool:
    """Every True pixel of ``mask`` lies in ``box`` (x1, y1 one past the end unless ``last_included``)."""
    ys, xs = np.nonzero(mask)
    end = 1 if last_included else 0
    return bool(xs.min() >= box[0] and ys.min() >= box[1] and xs.max() < box[2] + end and ys.max() < box[3] + end)


@pytest.mark.parametrize("opacity", [None, 1.0, 0.5])
def test_the_mask_of_a_text_is_exactly_the_pixels_it_changed_and_lies_in_its_box(opacity):
    image = backdrop()
    keep = image.copy()
    painted = paint_text(image, (20, 30), "厂家直销 ¥39", font("cjk", 40), (220, 20, 20), stroke_px=2,
                         stroke_fill=(255, 255, 255), opacity=opacity)
    assert np.array_equal(image, keep)                       # the input photo is left as it was
    assert painted.image.dtype == np.uint8 and painted.image.shape == image.shape
    assert painted.mask.dtype == bool and painted.mask.shape == image.shape[:2]
    assert np.array_equal(painted.mask, changed(image, painted.image))
    assert painted.mask.sum() > 500 and inside(painted.mask, painted.box)


def test_opacity_blends_the_plate_and_text_over_the_photo():
    image = backdrop()
    painted = paint_text(image, (200, 100), "SALE", font("sans_bold", 24), (255, 255, 255),
                         plate=Plate(10, 309, (0, 0, 0)), opacity=0.5)
    x0, y0, x1, y1 = painted.box
    plate_only = painted.image[int(y0):int(y1), 20:150].astype(int)  # plate, no text: half of the photo
    assert np.abs(plate_only * 2 - image[int(y0):int(y1), 20:150]).max() <= 1


def test_a_plate_is_part_of_the_mask_and_reaches_beyond_the_text_box():
    image = backdrop()
    painted = paint_text(image, (60, 100), "HOT SALE", font("sans_bold", 30), (255, 255, 255),
                         plate=Plate(10, 309, (200, 0, 0)), opacity=0.8)
    x0, y0, x1, y1 = painted.box
    pad = int(0.3 * (y1 - y0))
    ys, xs = np.nonzero(painted.mask)
    assert (xs.min(), xs.max()) == (10, 309)
    assert (ys.min(), ys.max()) == (y0 - pad, y1 + pad)


def test_a_qr_code_on_its_card_decodes_and_its_box_is_the_card():
    image = backdrop(400, 400)
    data = "https://weixin.qq.com/r/sample-shop-1"
    modules = qr_modules(data)
    assert not modules[:4].any() and not modules[:, :4].any()   # quiet zone: 4 light modules
    code = qr_image(modules, 4)
    assert code.size == (4 * len(modules),) * 2
    card = QrCard(pad_px=6, radius_px=8, outline_px=2, caption="扫码加微信", caption_font=font("cjk", 22),
                  caption_h_px=34)
    painted = paint_qr(image, (100, 60), code, card)
    side = code.width
    assert painted.box == (94, 54, 100 + side + 6, 60 + side + 6 + 34)
    assert inside(painted.mask, painted.box, last_included=True)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(cv2.cvtColor(painted.image, cv2.COLOR_RGB2GRAY))
    assert text == data
    xs, ys = points.reshape(-1, 2).T                             # the code's corners, quiet zone (16 px) excluded
    assert abs(xs.min() - 116) <= 2 and abs(xs.max() - (100 + side - 16)) <= 2
    assert abs(ys.min() - 76) <= 2 and abs(ys.max() - (60 + side - 16)) <= 2


def test_a_bare_qr_code_box_is_the_code_quiet_zone_included():
    image = backdrop(300, 300)
    code = qr_image(qr_modules("https://u.wechat.com/shop1234", quiet_modules=2), 3)
    painted = paint_qr(image, (40, 50), code)
    assert painted.box == (40, 50, 40 + code.width, 50 + code.height)
    assert np.array_equal(painted.image[50:50 + code.height, 40:40 + code.width], np.asarray(code))
    assert inside(painted.mask, painted.box)


def test_banner_and_sticker_paint_inside_their_boxes():
    image = backdrop(300, 400)
    banner = paint_banner(image, [40, 200, 360, 260], (255, 120, 0),
                          [("¥39.9", font("sans_bold", 30), (255, 255, 255)), ("包邮", font("cjk", 28), (0, 0, 0))],
                          radius_px=20, gap_px=10)
    assert banner.box == (40, 200, 360, 260) and inside(banner.mask, banner.box, last_included=True)
    assert banner.mask[230, 60:340].all()                         # the plate is solid across
    sticker = paint_sticker(image, (100, 100), 50, [("爆款", font("cjk", 30), (255, 240, 80), 30)], angle=14)
    x0, y0, x1, y1 = sticker.box
    assert x1 - x0 == y1 - y0 == int(2.3 * 50) + 4
    assert inside(sticker.mask, sticker.box) and sticker.mask[100, 100]


def test_watermark_tiles_each_have_their_own_truth_and_lie_inside_the_photo():
    image = backdrop(320, 320)
    out, tiles = paint_watermark_tiles(image, "盗图必究", font("cjk", 28), (255, 255, 255), 0.3, angle=30,
                                       spacing=(1.6, 3.0))
    assert len(tiles) >= 3
    union = np.zeros(image.shape[:2], bool)
    for tile in tiles:
        assert tile.mask.any() and tile.quad.shape == (4, 2) and tile.quad.dtype == np.float32
        assert tile.quad.min() >= 0 and tile.quad[:, 0].max() < 320 and tile.quad[:, 1].max() < 320
        union |= tile.mask
    assert not (union & ~changed(image, out)).any()               # a tile's pixels are among the changed ones


def test_a_one_layer_watermark_covers_the_photo():
    image = backdrop()
    painted = paint_watermark(image, "店铺水印", font("cjk", 24), (110, 110, 110), 0.3, angle=30, step_px=(150, 80),
                              gap_px=30)
    assert painted.box == (0, 0, 320, 240)
    assert np.array_equal(painted.mask, changed(image, painted.image))
    rows, cols = np.nonzero(painted.mask)
    assert rows.min() < 40 and rows.max() > 200 and cols.min() < 40 and cols.max() > 280


def test_without_a_cjk_font_the_error_says_how_to_install_one(monkeypatch):
    monkeypatch.setattr(synthetic, "CJK_FONT_CANDIDATES", ("/nonexistent/wqy-zenhei.ttc",))
    monkeypatch.setattr(synthetic, "_fontconfig_files", lambda cmd: [])
    synthetic.cjk_font_path.cache_clear()
    try:
        with pytest.raises(FontMissingError, match="fonts-wqy-zenhei") as err:
            synthetic.cjk_font_path()
        assert "make setup" in str(err.value) and isinstance(err.value, RuntimeError)
    finally:
        synthetic.cjk_font_path.cache_clear()


def test_fontconfig_answers_count_only_when_they_cover_chinese(monkeypatch, tmp_path):
    latin, cjk = tmp_path / "DejaVuSans.ttf", tmp_path / "zh.ttc"
    latin.touch()
    cjk.touch()
    answers = {"fc-match": [str(latin)], "fc-list": [str(cjk)]}   # fc-match falls back to a Latin font
    monkeypatch.setattr(synthetic, "CJK_FONT_CANDIDATES", ())
    monkeypatch.setattr(synthetic, "_fontconfig_files", lambda cmd: answers[cmd[0]])
    synthetic.cjk_font_path.cache_clear()
    try:
        assert synthetic.cjk_font_path() == str(cjk)
    finally:
        synthetic.cjk_font_path.cache_clear()
