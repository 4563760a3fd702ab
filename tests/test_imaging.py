"""catloc.imaging: small exact-array tests, one group per helper."""
import warnings

import cv2
import numpy as np
import pytest

from catloc.imaging import (bbox_window, border_sides, border_strip, colour_distance, composite_masked,
                            connected_to_border, dilate, erode, fill_holes, largest_components, nanmedian_first_axis, place,
                            polygon_mask, resize_longest, resize_mask, share_inside, telea_again,
                            telea_fill)


def _mask(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows])


def test_bbox_window_pads_and_clips():
    mask = _mask(["....",
                  ".#..",
                  "..#.",
                  "...."])
    assert bbox_window(mask, 0) == (slice(1, 3), slice(1, 3))
    assert bbox_window(mask, 1) == (slice(0, 4), slice(0, 4))
    assert bbox_window(mask, 5) == (slice(0, 4), slice(0, 4))
    assert bbox_window(np.zeros((3, 3), bool), 2) is None


def test_border_sides_and_strip():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    top, bottom, left, right = border_sides(image, 1)
    assert top.tolist() == [0, 1, 2, 3] and bottom.tolist() == [12, 13, 14, 15]
    assert left.tolist() == [0, 4, 8, 12] and right.tolist() == [3, 7, 11, 15]
    rgb = np.zeros((5, 6, 3), np.uint8)
    assert [s.shape for s in border_sides(rgb, 2)] == [(12, 3), (12, 3), (10, 3), (10, 3)]
    assert border_strip(rgb, 2).shape == (44, 3) and border_strip(rgb, 2).dtype == np.uint8


def test_connected_to_border_is_4_connected():
    mask = _mask(["#....",
                  ".#...",
                  "..##.",
                  "..#..",
                  "....#"])
    assert connected_to_border(mask).tolist() == _mask(["#....",
                                                         ".....",
                                                         ".....",
                                                         ".....",
                                                         "....#"]).tolist()


def test_largest_components_single_and_by_ratio():
    mask = _mask(["##..#",
                  "##...",
                  ".....",
                  "###..",
                  "....."])
    assert largest_components(mask).tolist() == _mask(["##...", "##...", ".....", ".....", "....."]).tolist()
    assert largest_components(mask, keep_ratio=0.7).tolist() == _mask(["##...", "##...", ".....", "###..",
                                                                       "....."]).tolist()
    assert largest_components(mask, keep_ratio=0.0, min_area=2).tolist() == \
        largest_components(mask, keep_ratio=0.7).tolist()
    assert not largest_components(mask, min_area=5).any()
    tie = _mask(["#.#"])
    assert largest_components(tie).tolist() == [[True, False, False]]  # first in scan order
    empty = np.zeros((2, 2), bool)
    assert not largest_components(empty).any()


def test_fill_holes_all_or_small_only():
    mask = _mask(["#####...",
                  "#.#.#...",
                  "#####...",
                  "#...#...",
                  "#...#...",
                  "#####..."])
    assert fill_holes(mask).tolist() == _mask(["#####...", "#####...", "#####...", "#####...",
                                                "#####...", "#####..."]).tolist()
    assert fill_holes(mask, max_area=1).tolist() == _mask(["#####...", "#####...", "#####...", "#...#...",
                                                            "#...#...", "#####..."]).tolist()
    open_ring = _mask(["###", "#..", "###"])  # reaches the border: not a hole
    assert fill_holes(open_ring).tolist() == open_ring.tolist()
    assert fill_holes(open_ring) is not open_ring


def test_share_inside():
    region = _mask(["##..", "##.."])
    assert share_inside(region, _mask(["#...", "...."])) == 0.25
    assert share_inside(np.zeros((2, 4), bool), region) == 0.0


def test_dilate_and_erode_ellipse_and_square():
    mask = np.zeros((7, 7), bool)
    mask[3, 3] = True
    assert dilate(mask, 1).tolist() == _mask([".......", ".......", "...#...", "..###..", "...#...",
                                              ".......", "......."]).tolist()
    assert dilate(mask, 1, square=True).tolist() == _mask([".......", ".......", "..###..", "..###..",
                                                           "..###..", ".......", "......."]).tolist()
    assert dilate(mask, 0) is mask
    block = dilate(mask, 2, square=True)
    assert erode(block, 1, square=True).tolist() == dilate(mask, 1, square=True).tolist()
    assert erode(block, 2, square=True).tolist() == mask.tolist()
    edge = np.zeros((4, 4), bool)
    edge[:2] = True
    assert erode(edge, 1).tolist() == _mask(["####", "....", "....", "...."]).tolist()  # the border does not erode
    assert not dilate(np.zeros((3, 3), bool), 2).any()


@pytest.mark.parametrize("px", [1, 2, 4, 7, 8, 13, 30])
@pytest.mark.parametrize("square", [False, True])
def test_morphology_on_the_bounding_box_equals_the_whole_array(px, square):
    rng = np.random.default_rng(px)
    mask = np.zeros((80, 50), bool)
    mask[3:20, 30:50] = rng.random((17, 20)) > 0.3
    mask[50:60, 10:25] = rng.random((10, 15)) > 0.9
    mask[0:6, 0:4] = True
    shape = cv2.MORPH_RECT if square else cv2.MORPH_ELLIPSE
    kernel = cv2.getStructuringElement(shape, (2 * px + 1, 2 * px + 1))
    assert np.array_equal(dilate(mask, px, square), cv2.dilate(mask.view(np.uint8), kernel) > 0)
    assert np.array_equal(erode(mask, px, square), cv2.erode(mask.view(np.uint8), kernel) > 0)


def test_polygon_mask_rounds_corners_and_includes_edges():
    mask = polygon_mask((5, 6), np.float32([[0.8, 1.2], [3.4, 1], [3, 3.1], [1, 3]]))
    assert mask.dtype == bool
    assert mask.tolist() == _mask(["......", ".###..", ".###..", ".###..", "......"]).tolist()


def test_resize_longest_images_and_masks():
    image = np.zeros((40, 20, 3), np.uint8)
    image[:, 10:] = 200
    small, scale = resize_longest(image, 10)
    assert scale == 0.25 and small.shape == (10, 5, 3) and small.dtype == np.uint8
    assert small[:, 0].max() == 0 and small[:, 3:].min() == 200 and small[0, 2, 0] == 100  # area average
    same, one = resize_longest(image, 64)
    assert same is image and one == 1.0
    mask = np.zeros((40, 20), bool)
    mask[:, 10:] = True
    small_mask, _ = resize_longest(mask, 10)
    assert small_mask.dtype == bool and small_mask.tolist() == [[False, False, False, True, True]] * 10
    assert resize_mask(small_mask, (4, 10)).tolist() == [[False] * 6 + [True] * 4] * 4


def test_place_moves_and_scales():
    mask = np.zeros((2, 2), np.uint8)
    mask[0, 1] = 1
    placed = place(mask, (1, 2), 1.0, (4, 5))
    assert placed.shape == (5, 4) and np.argwhere(placed).tolist() == [[2, 2]]
    block = np.zeros((4, 4), np.uint8)
    block[:, 2:] = 1
    halved = place(block, (1, 0), 0.5, (3, 2), nearest=True)
    assert halved.tolist() == [[0, 0, 1], [0, 0, 1]]


def test_colour_distance():
    pixels = np.array([[[0, 0, 0], [3, 4, 0]]], np.uint8)
    out = colour_distance(pixels, (0, 0, 12))
    assert out.dtype == np.float32 and out.shape == (1, 2)
    assert out.tolist() == [[12.0, 13.0]]


def test_composite_masked_changes_only_masked_pixels():
    image = np.zeros((2, 2, 3), np.uint8)
    filled = np.full((2, 2, 3), 9, np.uint8)
    mask = _mask(["#.", ".."])
    out = composite_masked(image, filled, mask)
    assert out[0, 0].tolist() == [9, 9, 9] and not out.reshape(-1)[3:].any() and not image.any()
    assert composite_masked(image[..., 0], filled[..., 0], mask).tolist() == [[9, 0], [0, 0]]


def test_transplant_detail_gives_a_smooth_fill_its_surroundings_texture():
    from catloc.engines.inpaint_opencv import OpenCVInpainter
    from catloc.imaging import transplant_detail
    rng = np.random.default_rng(1)
    grain = cv2.GaussianBlur(rng.normal(0, 40, (240, 240)).astype(np.float32), (0, 0), 1.2)
    wood = np.clip(np.stack([120 + grain, 160 + grain, 150 + grain], -1), 0, 255).astype(np.uint8)
    hole = np.zeros((240, 240), bool)
    hole[90:150, 100:170] = True                                  # where a QR card was
    card = wood.copy()
    card[hole] = 255
    smooth = OpenCVInpainter("ns", 3).inpaint(card, hole)
    textured = transplant_detail(card, smooth, hole)

    def detail(image, where):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[where].mean())

    inner = np.zeros_like(hole)
    inner[100:140, 110:160] = True
    assert detail(smooth, inner) < 0.3 * detail(wood, inner)      # the smear
    assert detail(textured, inner) > 0.7 * detail(wood, inner)    # the grain back
    assert np.array_equal(textured[~hole], smooth[~hole])
    assert abs(float(textured[inner].mean()) - float(wood[inner].mean())) < 6   # same colour
    plain = np.full_like(wood, 200)
    assert np.array_equal(transplant_detail(plain, plain, hole), plain)  # nothing to give
    assert np.array_equal(OpenCVInpainter("ns", 3, texture=True).inpaint(card, hole)[~hole], card[~hole])


def _brick_wall(size: int = 320) -> np.ndarray:
    """A drawn brick wall: red bricks 60 x 24 px with a grainy surface, offset every other row, in
    grey mortar joints 6 px wide with grain of their own (uint8 RGB)."""
    rng = np.random.default_rng(3)
    grain = cv2.GaussianBlur(rng.normal(0, 30, (size, size)).astype(np.float32), (0, 0), 0.8)
    wall = np.empty((size, size, 3), np.float32)
    wall[:] = (150, 60, 45)
    rows, cols = np.mgrid[:size, :size]
    course = rows // 30
    mortar = (rows % 30 >= 24) | ((cols + 33 * (course % 2)) % 66 >= 60)
    wall[mortar] = (170, 168, 160)
    return np.clip(wall + grain[..., None], 0, 255).astype(np.uint8)


def _laplacian_detail(image: np.ndarray, where: np.ndarray) -> float:
    grey = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1))[where].mean())


def test_exemplar_fill_gives_text_strokes_on_brick_the_walls_texture():
    """Promo text removed from a brick wall: the diffusion fill of its strokes is a smear; the
    exemplar fill copies brick and mortar from beside them, so the strokes carry the wall's grain."""
    from catloc.engines.inpaint_opencv import OpenCVInpainter
    wall = _brick_wall()
    strokes = np.zeros(wall.shape[:2], np.uint8)
    cv2.putText(strokes, "SALE 59", (20, 170), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 1, 9)
    hole = strokes.astype(bool)
    printed = wall.copy()
    printed[hole] = (230, 20, 20)
    diffused = OpenCVInpainter("ns", 3).inpaint(printed, hole)
    copied = OpenCVInpainter("ns", 3, exemplar=True).inpaint(printed, hole)
    inner = cv2.erode(strokes, np.ones((3, 3), np.uint8)).astype(bool)
    wall_detail = _laplacian_detail(wall, inner)
    assert _laplacian_detail(diffused, inner) < 0.5 * wall_detail            # the smear QC fails
    assert _laplacian_detail(copied, inner) > 0.7 * wall_detail              # the grain back
    assert np.array_equal(copied[~hole], printed[~hole])
    assert abs(float(copied[hole].mean()) - float(wall[hole].mean())) < 8    # no red left, no grey blob
    plain = np.full_like(wall, 200)
    plain[hole] = (230, 20, 20)
    assert np.array_equal(OpenCVInpainter("ns", 3, exemplar=True).inpaint(plain, hole),
                          OpenCVInpainter("ns", 3).inpaint(plain, hole))   # plain backdrop: diffusion kept


def test_exemplar_fill_of_a_large_hole_continues_an_edge_when_asked():
    """A card over the edge between a dark garment and a light backdrop: diffusion blurs the edge
    across the hole; with ``exemplar_min_radius`` the copies keep it sharp (off by default)."""
    from catloc.engines.inpaint_opencv import OpenCVInpainter
    from catloc.imaging import exemplar_fill
    rng = np.random.default_rng(4)
    scene = np.full((300, 300, 3), 225, np.float32)
    scene[:, :150] = (70, 80, 60)
    scene = np.clip(scene + rng.normal(0, 1, scene.shape), 0, 255).astype(np.uint8)
    hole = np.zeros((300, 300), bool)
    hole[100:200, 100:200] = True
    card = scene.copy()
    card[hole] = 255
    diffused = OpenCVInpainter("ns", 3).inpaint(card, hole)
    assert np.array_equal(exemplar_fill(card, diffused, hole), diffused)     # smooth surroundings: left alone
    copied = OpenCVInpainter("ns", 3, exemplar=True, exemplar_min_radius=12).inpaint(card, hole)
    assert np.array_equal(copied[~hole], card[~hole])
    error = np.abs(copied.astype(int) - scene.astype(int))[hole].mean()
    assert error < 0.6 * np.abs(diffused.astype(int) - scene.astype(int))[hole].mean()
    assert error < 6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 4), (2, 6, 3), (9, 30, 20), (31, 40, 3), (24, 90, 120)])  # the last: split on threads
def test_nanmedian_first_axis_equals_numpys(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    values = (rng.normal(size=shape) * 100).astype(dtype)
    values[rng.random(shape) < 0.1] = 0.0
    values[rng.random(shape) < 0.4] = np.nan
    values[:, 0] = np.nan  # a column with no sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(values, axis=0)
    got = nanmedian_first_axis(values)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got[0]).all()


@pytest.mark.parametrize("seed", range(4))
def test_telea_again_equals_inpainting_the_new_mask_afresh(seed):
    """Strokes laid on a lattice (a tiled mark), a few of them moved by a pixel: filling only the changed
    groups again gives OpenCV's Telea fill of the new mask, to the bit; an unchanged mask gives the old fill."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(128, 40, (160, 200, 3)) + np.linspace(0, 60, 200)[None, :, None], 0, 255).astype(np.uint8)
    stroke = np.zeros((14, 30), np.uint8)
    cv2.putText(stroke, "ab", (1, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1, 2)
    corners = [(r, c) for r in range(-6, 160, 40) for c in range(-10, 200, 55)]
    moved = [(r + int(rng.integers(-1, 2)), c + int(rng.integers(-1, 2))) if rng.random() < 0.3 else (r, c)
             for r, c in corners]

    def painted(at):
        mask = np.zeros(image.shape[:2], np.uint8)
        for r, c in at:
            ys, xs = slice(max(0, r), min(160, r + 14)), slice(max(0, c), min(200, c + 30))
            mask[ys, xs] |= stroke[ys.start - r:ys.stop - r, xs.start - c:xs.stop - c]
        return mask

    before, now = painted(corners), painted(moved)
    filled = cv2.inpaint(image, before, 3, cv2.INPAINT_TELEA)
    assert np.array_equal(telea_again(image, now, before, filled), cv2.inpaint(image, now, 3, cv2.INPAINT_TELEA))
    assert telea_again(image, before, before, filled) is filled
    assert np.array_equal(telea_fill(image, now), cv2.inpaint(image, now, 3, cv2.INPAINT_TELEA))
    assert np.array_equal(telea_fill(image, np.zeros_like(now)), image)


def test_quick_inpainter_skips_the_exemplar_copies_and_the_product_paint_out_uses_it():
    """The clean stage paints findings out of a 320-px copy only to locate the product: the
    engine's quick fill (no exemplar copies) does it; the engine itself keeps its copies."""
    from catloc.engines.inpaint_opencv import OpenCVInpainter
    from catloc.tasks.clean.product import segment_painted
    assert OpenCVInpainter("ns", 3, texture=True, exemplar=True).quick().texture
    engine = OpenCVInpainter("ns", 3, exemplar=True)
    quick = engine.quick()
    assert quick is not engine and not quick.exemplar and engine.exemplar
    plain = OpenCVInpainter("ns", 3)
    assert plain.quick() is plain
    hole = np.zeros((320, 320), bool)
    cv2.putText(hole.view(np.uint8), "SALE 59", (20, 170), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 1, 9)
    wall = _brick_wall()
    wall[hole] = (230, 20, 20)
    seen = []

    class Looking:
        def segment(self, image):
            seen.append(image.copy())
            return np.ones(image.shape[:2], bool)

    segment_painted(wall, hole, engine, Looking(), side=320)   # 320 px: the copy is the photo itself
    painted = dilate(hole, 1)                                    # segment_painted's margin
    assert np.array_equal(seen[0], quick.inpaint(wall, painted))
    assert not np.array_equal(seen[0], engine.inpaint(wall, painted))
