import pytest
import yaml

from catloc.config import REPO_ROOT, ConfigError, available_markets, load_market, load_pipeline_config


def test_shipped_markets_load():
    assert {"sa", "us"} <= set(available_markets())
    for code in available_markets():
        market = load_market(code)
        assert market.scenes and market.framing["aspect"]


def test_bad_market_and_config_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="unknown market 'zz'"):
        load_market("zz")
    with pytest.raises(ConfigError, match="invalid market code"):
        load_market("../etc")
    (tmp_path / "p.yaml").write_text("engines: {ocr: {name: rapidocr}}\n")
    with pytest.raises(ConfigError, match="engines.inpaint is not configured"):
        load_pipeline_config(tmp_path / "p.yaml")
    with pytest.raises(ConfigError, match="config file not found"):
        load_pipeline_config(tmp_path / "missing.yaml")


def test_prefect_yaml_entrypoints_load_as_flows_taking_their_parameters(monkeypatch):
    from prefect import Flow
    from prefect.flows import load_flow_from_entrypoint
    monkeypatch.chdir(REPO_ROOT)  # the worker runs from the checkout (prefect.yaml's pull step)
    spec = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())
    assert {d["name"] for d in spec["deployments"]} >= {"nightly-sa", "nightly-us", "rerun"}
    for deployment in spec["deployments"]:
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        assert isinstance(flow, Flow), deployment["entrypoint"]
        assert set(deployment["parameters"]) <= set(flow.parameters.properties), deployment["name"]


def test_a_typo_in_the_clean_section_is_an_error_not_ignored():
    from catloc.tasks.clean.options import CleanOptions
    options = CleanOptions.from_config(load_pipeline_config().clean, "keep_product_text")
    assert options.policy == "keep_product_text" and options.dilate_px == 4 and options.always_remove
    assert CleanOptions.from_config({"dilate_px": "6"}, "remove_all") == \
        CleanOptions(policy="remove_all", dilate_px=6)  # typed like the field
    with pytest.raises(ConfigError, match=r"verfy \(known: always_remove, dilate_px, .*verify_side\)"):
        CleanOptions.from_config({"verfy": False}, "keep_product_text")


def test_publish_learning_and_review_sections_are_checked(tmp_path):
    import shutil
    market = load_market("sa")
    assert (market.publish.format, market.publish.max_picks, market.learning.min_share) == ("jpg", 3, 0.05)
    assert load_pipeline_config().review.thumb_format == "webp"
    shutil.copytree(REPO_ROOT / "configs", tmp_path / "configs")
    cfg = load_pipeline_config(tmp_path / "configs" / "pipeline.yaml")
    path = tmp_path / "configs" / "markets" / "sa.yaml"
    original = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section, bad, message in [("publish", {"format": "gif"}, "publish.format must be one of jpg, webp, png"),
                                  ("publish", {"max_picks": 0}, "publish.max_picks must be between 1 and 16"),
                                  ("publish", {"quality": "high"}, "publish.quality must be an integer"),
                                  ("publish", {"maxpicks": 3}, "publish: unknown key\\(s\\) maxpicks"),
                                  ("learning", {"min_share": 0.9}, "learning.min_share must be between 0.0 and 0.5"),
                                  ("learning", [1, 2], "learning must be a mapping")]:
        path.write_text(yaml.safe_dump({**original, section: bad}), encoding="utf-8")
        with pytest.raises(ConfigError, match=f"sa.yaml: {message}"):
            load_market("sa", cfg)
    pipeline = tmp_path / "configs" / "pipeline.yaml"
    data = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    pipeline.write_text(yaml.safe_dump({**data, "review": {"thumb_side": 5000}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="pipeline.yaml: review.thumb_side must be between 64 and 1024"):
        load_pipeline_config(pipeline)


def test_the_input_key_ignores_how_winners_are_published(cfg, market):
    import dataclasses

    from catloc.config import PublishProfile
    from catloc.flows.prepare import input_key
    from catloc.records import CatalogItem
    item = CatalogItem("A", ["a.jpg"], 2)
    assert input_key(item, cfg, market, 7) == input_key(
        item, cfg, dataclasses.replace(market, publish=PublishProfile(format="webp")), 7)


def test_the_clean_policy_comes_from_the_market_only():
    from catloc.tasks.clean.options import CleanOptions
    with pytest.raises(ConfigError, match=r"clean.policy is no longer read: .*clean_policy in configs/markets"):
        CleanOptions.from_config({"policy": "remove_all"}, "keep_product_text")
    with pytest.raises(ConfigError, match="unknown clean policy 'nope'"):
        CleanOptions.from_config({}, "nope")
    assert {load_market(code).clean_policy for code in available_markets()} <= {"keep_product_text", "remove_all"}
