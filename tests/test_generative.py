"""The pure pieces of generative localization, without models: OpenPose skeletons, poses from
parsing masks and templates, request masks and control images, prompts, the feathered composite
and seam measure, the model frame, and the market/pipeline schema of the generative keys."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from catloc.config import MODESTY_RULES, ConfigError, load_market, load_pipeline_config
from catloc.engines.base import GENERATIVE_KINDS, Recipe
from catloc.engines.generate_diffusers import ModelFrame
from catloc.generative import (MODESTY_TERMS, compose_prompt, edge_control, mannequin_to_model, model_swap,
                               person_regions, scene_swap)
from catloc.imaging import dilate, feathered_composite, seam_band, seam_colour_shift
from catloc.pose import BODY_KEYPOINTS, LIMBS, draw_openpose, fit_template, keypoints_from_parsing
from tests.synth_person import person_photo

K = BODY_KEYPOINTS.index


def _recipe(kind: str = "scene_swap", persona: dict | None = None, seed: int = 1) -> Recipe:
    return Recipe("c01", {"id": "s"}, 0.8, "center", (1, 1), 0.03, seed, persona=persona, kind=kind,
                  prompt="p", negative_prompt="n")


# ------------------------------------------------------------------------------------ poses

def test_skeleton_is_byte_equal_to_controlnet_aux_drawing():
    from controlnet_aux.open_pose.body import Keypoint
    from controlnet_aux.open_pose.util import draw_bodypose

    rng = np.random.default_rng(3)
    for missing in ([], [3, 4, 9], [0, 14, 15, 16, 17]):
        # positions on a 1/4 px grid of a 512 px canvas: exact in binary, so both routes agree
        points = np.round(rng.uniform(20, 490, size=(18, 2)) * 4) / 4
        keypoints = [None if i in missing else Keypoint(x / 512, y / 512) for i, (x, y) in enumerate(points)]
        ours_points = points.copy()
        ours_points[missing] = np.nan
        theirs = draw_bodypose(np.zeros((512, 512, 3), np.uint8), keypoints)
        ours = draw_openpose(ours_points, (512, 512), stick_width=4)
        assert np.array_equal(ours, theirs)
        assert ours.any()
    assert draw_openpose(np.full((18, 2), np.nan), (64, 32)).shape == (32, 64, 3)
    assert not draw_openpose(np.full((18, 2), np.nan), (64, 32)).any()


def test_keypoints_from_parsing_follow_the_drawn_body():
    image, parsing = person_photo(320, 192)
    pose = keypoints_from_parsing(parsing)
    assert not np.isnan(pose).any()
    face_ys, face_xs = np.nonzero(parsing.mask("face"))
    assert face_xs.min() <= pose[K("nose"), 0] <= face_xs.max() and face_ys.min() <= pose[K("nose"), 1] <= face_ys.max()
    # the person faces the camera: their right side is on the image's left
    for a, b in (("r_shoulder", "l_shoulder"), ("r_hip", "l_hip"), ("r_wrist", "l_wrist"), ("r_ankle", "l_ankle")):
        assert pose[K(a), 0] < 96 < pose[K(b), 0]
    # top to bottom: head, shoulders, hips, knees, ankles
    column = [pose[K(n), 1] for n in ("nose", "r_shoulder", "r_hip", "r_knee", "r_ankle")]
    assert column == sorted(column)
    # wrists at the ends of the drawn arms, ankles at the bottom of the shoes
    arm_ys = np.nonzero(parsing.mask("right_arm"))[0]
    assert pose[K("r_wrist"), 1] == arm_ys.max()
    shoe_ys = np.nonzero(parsing.mask("left_shoe"))[0]
    assert pose[K("l_ankle"), 1] == shoe_ys.max()
    # no person: every keypoint unknown
    empty = type(parsing)(labels=np.zeros_like(parsing.labels))
    assert np.isnan(keypoints_from_parsing(empty)).all()


def test_pose_template_is_fitted_to_the_garment_top_and_hem():
    garment = np.zeros((200, 120), bool)
    garment[40:160, 20:100] = True  # top edge from x=20 to x=99 at y=40, hem at y=159
    template = {"r_shoulder": [-0.5, 0.0], "l_shoulder": [0.5, 0.0], "r_hip": [-0.25, 1.0], "nose": [0, -0.25]}
    pose = fit_template(template, garment)
    assert pose[K("r_shoulder")].tolist() == [20.0, 40.0] and pose[K("l_shoulder")].tolist() == [99.0, 40.0]
    assert pose[K("r_hip")].tolist() == [39.75, 159.0]
    assert pose[K("nose")].tolist() == [59.5, 10.25]
    assert np.isnan(pose[K("l_ankle")]).all()
    with pytest.raises(ValueError, match="empty garment mask"):
        fit_template(template, np.zeros((10, 10), bool))
    # every shipped template names only OpenPose keypoints and draws a skeleton on a garment
    for name, shipped in load_pipeline_config().pose_templates.items():
        assert draw_openpose(fit_template(shipped, garment), (120, 200)).any(), name
    assert len(LIMBS) == 17


# ------------------------------------------------------------------------------- requests

def test_scene_swap_keeps_the_product_and_outlines_it():
    image, parsing = person_photo(160, 96)
    product = parsing.mask("person")
    request = scene_swap(image, product, _recipe())
    assert np.array_equal(request.keep, product) and np.array_equal(request.regenerate, ~product)
    edges = request.control["canny"]
    assert edges.shape == image.shape and edges.dtype == np.uint8 and set(np.unique(edges)) == {0, 255}
    on = edges[..., 0] > 0
    assert not (on & ~dilate(product, 2)).any()                      # nothing far from the product
    outline = product & dilate(~product, 1)
    assert on[outline].all()                                          # its whole outline is there
    assert np.array_equal(edge_control(image, product), edges)


def test_model_swap_redraws_person_not_garment_and_a_hijab_grows_the_head():
    image, parsing = person_photo(160, 96)
    garment = parsing.mask("garment")
    plain = model_swap(parsing, garment, _recipe("model_swap", {"id": "m"}))
    veiled = model_swap(parsing, garment, _recipe("model_swap", {"id": "f", "hijab": True}))
    for request in (plain, veiled):
        assert not (request.regenerate & request.keep).any()
        assert request.regenerate[parsing.mask("face", "hair", "arms") & ~garment].all()
        assert not request.regenerate[parsing.mask("left_shoe")].all()  # shoes are not skin: kept as they are
        assert set(request.control) == {"openpose"} and request.control["openpose"].any()
    assert veiled.regenerate.sum() > plain.regenerate.sum()
    grown = veiled.regenerate & ~plain.regenerate
    head_rows = np.nonzero(parsing.mask("face", "hair"))[0]
    assert np.nonzero(grown)[0].min() < head_rows.min()              # room above the hair for the hijab
    assert np.array_equal(person_regions(parsing, None), person_regions(parsing, {"id": "m"}))


def test_mannequin_to_model_uses_pose_template_and_edges():
    image, parsing = person_photo(160, 96)
    garment = parsing.mask("upper_clothes")
    template = load_pipeline_config().pose_templates["top"]
    request = mannequin_to_model(image, garment, template, _recipe("mannequin_to_model"))
    assert np.array_equal(request.regenerate, ~garment)
    assert set(request.control) == {"openpose", "canny"}
    assert request.control["openpose"].any() and request.control["canny"].any()


def test_prompts_carry_persona_modesty_and_scene():
    scene = {"id": "majlis", "prompt": "in a majlis", "negative_prompt": "clutter"}
    persona = {"id": "f", "prompt": "Saudi woman", "negative_prompt": "sunglasses", "hijab": True}
    modesty = {"cover_arms": True, "cover_legs": False, "hijab": "required", "prompt": "modest",
               "negative_prompt": "revealing"}
    prompt, negative = compose_prompt("model_swap", scene, persona, modesty, negative="text, watermark")
    assert prompt.startswith("Saudi woman") and prompt.endswith("in a majlis")
    assert MODESTY_TERMS["cover_arms"][0] in prompt and MODESTY_TERMS["cover_legs"][0] not in prompt
    assert "hijab" in prompt and "modest" in prompt
    for part in ("sunglasses", MODESTY_TERMS["cover_arms"][1], "revealing", "clutter", "text, watermark"):
        assert part in negative
    scene_prompt, scene_negative = compose_prompt("scene_swap", scene, persona, modesty, negative="text")
    assert scene_prompt == "in a majlis" and scene_negative == "clutter, text"
    assert set(MODESTY_TERMS) == set(MODESTY_RULES)
    assert set(GENERATIVE_KINDS) == {"scene_swap", "model_swap", "mannequin_to_model"}
    assert _recipe("model_swap", {"id": "sa_f1"}).label == "model_swap|s|sa_f1"


# ---------------------------------------------------------------------- compositing, seam

def test_feathered_composite_keeps_product_exact_and_puts_the_seam_outside_it():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    generated = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    keep = np.zeros((60, 80), bool)
    keep[20:40, 30:50] = True
    regenerate = ~dilate(keep, 3) & (np.arange(80)[None, :] < 70)    # the right 10 columns are not redrawn
    out = feathered_composite(base, generated, keep, regenerate, feather_px=4)
    assert np.array_equal(out[keep], base[keep])
    far = ~dilate(keep, 8) & (np.arange(80)[None, :] < 60)
    assert np.array_equal(out[far], generated[far])                  # regenerated, away from every seam
    untouched = np.arange(80)[None, :].repeat(60, 0) >= 75
    assert np.array_equal(out[untouched], base[untouched])           # beyond the ramp: the base's
    band = seam_band(keep, 4)
    mixed = band & ~np.all(out == base, axis=-1) & ~np.all(out == generated, axis=-1)
    assert mixed.sum() > 0.5 * band.sum()                            # blended in the band outside the product
    hard = feathered_composite(base, generated, keep, regenerate, feather_px=0)
    assert np.array_equal(hard, np.where((regenerate & ~keep)[..., None], generated, base))


def test_seam_colour_shift_is_delta_e_in_the_band():
    image = np.full((40, 40, 3), 128, np.uint8)
    keep = np.zeros((40, 40), bool)
    keep[10:30, 10:30] = True
    assert seam_colour_shift(image, image.copy(), keep, 3) == 0.0
    shifted = image.copy()
    shifted[~keep] = (128, 128, 160)                                  # a blue cast outside the product only
    shift = seam_colour_shift(shifted, image, keep, 3)
    assert 15 < shift < 30
    inside_only = image.copy()
    inside_only[keep] = 0
    assert seam_colour_shift(inside_only, image, keep, 3) == 0.0      # the product itself does not count
    assert seam_colour_shift(image, image, np.zeros((40, 40), bool), 3) == 0.0


def test_model_frame_round_trip():
    frame = ModelFrame.fit((1024, 768), (768, 1024), follow_source=True)
    assert frame.model == (768, 1024) and frame.scale == 1.0 and frame.model_offset == (0, 0)
    assert frame.canvas == (768, 1024, 0, 0)
    square = ModelFrame.fit((600, 600), (768, 1024), follow_source=False)  # letterboxed into 3:4
    assert square.model == (768, 1024) and square.resized == (768, 768) and square.model_offset == (0, 128)
    width, height, x, y = square.canvas
    assert (width, height) == (600, 800) and (x, y) == (0, 100)
    assert square.to_canvas(np.zeros((1024, 768, 3), np.uint8)).shape == (800, 600, 3)
    follow = ModelFrame.fit((601, 450), (768, 1024), follow_source=True)
    assert follow.model[0] % 8 == 0 and follow.model[1] % 8 == 0
    assert abs(follow.model[0] / follow.model[1] - 0.75) < 0.01
    assert follow.canvas == (450, 601, 0, 0)                          # the photo's own size, padding cropped
    model_image = np.zeros((follow.model[1], follow.model[0], 3), np.uint8)
    x, y = follow.model_offset
    model_image[y:y + follow.resized[1], x:x + follow.resized[0]] = 200
    assert (follow.to_canvas(model_image) == 200).all()
    mask = np.zeros((600, 600), bool)
    mask[100:200, 100:200] = True
    moved = square.to_model(mask)
    assert moved.shape == (1024, 768) and moved[128:, :].any() and not moved[:128].any()
    edges = np.zeros((600, 600, 3), np.uint8)
    edges[300, :] = 255
    assert set(np.unique(square.to_model(edges, binary=True))) == {0, 255}


# ------------------------------------------------------------------------------ config

def _market(tmp_path: Path, **changes) -> Path:
    cfg = load_pipeline_config()
    data = yaml.safe_load((Path(cfg.path).parent / "markets" / "sa.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    (tmp_path / "markets").mkdir(exist_ok=True)
    (tmp_path / "markets" / "xx.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(Path(cfg.path).read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path / "pipeline.yaml"


def test_shipped_markets_have_a_consistent_generative_profile():
    for code in ("sa", "us"):
        market = load_market(code)
        assert market.personas and market.scene_prompts and market.negative_prompt
        assert 6 <= sum(market.candidate_mix.values()) <= 8
    sa = load_market("sa")
    assert sa.modesty["hijab"] == "required" and sa.modesty["cover_arms"]
    assert all(p.get("hijab") for p in sa.personas if p.get("gender") == "female")


@pytest.mark.parametrize("changes, message", [
    ({"candidate_mix": {"model_swap": 4, "hat_swap": 1}}, "unknown recipe kind 'hat_swap'"),
    ({"candidate_mix": {"model_swap": -1}}, "candidate_mix.model_swap must be a whole number"),
    ({"candidate_mix": {"model_swap": 17}}, "add up to 1..16"),
    ({"personas": [{"id": "f", "gender": "female", "prompt": "w"}]}, "persona 'f' .* has no 'hijab: true'"),
    ({"personas": [{"id": "f", "promt": "typo"}]}, r"unknown key\(s\) \['promt'\]"),
    ({"personas": [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]}, "id 'a' is used twice"),
    ({"personas": []}, "asks for model_swap/mannequin_to_model but 'personas' is empty"),
    ({"scene_prompts": []}, "'scene_prompts' is empty"),
    ({"modesty": {"cover_arms": "yes"}}, "modesty.cover_arms must be true or false"),
    ({"modesty": {"hijab": "sometimes"}}, "modesty.hijab must be one of required, optional, none"),
    ({"modesty": {"cover_hair": True}}, r"modesty: unknown key\(s\) \['cover_hair'\]"),
    ({"negative_prompt": ["a"]}, "negative_prompt must be a string"),
])
def test_bad_generative_market_keys_are_clear_errors(tmp_path, changes, message):
    cfg = load_pipeline_config(_market(tmp_path, **changes))
    with pytest.raises(ConfigError, match=message) as info:
        load_market("xx", cfg)
    assert "xx.yaml" in str(info.value)


def test_engine_folders_and_pose_templates_in_the_pipeline_config(tmp_path):
    data = yaml.safe_load(Path(load_pipeline_config().path).read_text(encoding="utf-8"))
    data["engines"]["generate"] = {"name": "diffusers", "options": {
        "model_dir": "models/sd-inpaint", "controlnet_dirs": {"openpose": "models/cn-pose", "canny": "/abs/cn"}}}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    options = load_pipeline_config(path).engine("generate").options
    assert options["model_dir"] == str(tmp_path / "models" / "sd-inpaint")
    assert options["controlnet_dirs"] == {"openpose": str(tmp_path / "models" / "cn-pose"), "canny": "/abs/cn"}
    data["pose_templates"] = {"top": {"nose": [0, -0.4], "belly": [0, 0.5]}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="pose template 'top': unknown keypoint 'belly'"):
        load_pipeline_config(path)
    data["pose_templates"] = {"top": {"nose": [0]}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"nose must be \[u, v\] numbers"):
        load_pipeline_config(path)
