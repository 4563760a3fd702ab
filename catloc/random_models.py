"""Random-weight diffusion models in the real architectures and file layouts, built locally.

The tests load the ``diffusers`` generator through the same code path as users do, from
folders these functions write with ``save_pretrained``; the GPU benchmark runs the full-size
architectures with the same compute as the released models. Nothing is downloaded: the
configurations are written out below (the full ones copied from the published
``config.json`` files), the CLIP tokenizer is a tiny byte-level BPE made here.

Sizes: ``"tiny"`` (a few hundred thousand parameters, seconds on CPU) and ``"full"``
(Stable Diffusion 1.5 inpainting: UNet 860 M, SDXL inpainting: UNet 2.6 B parameters).
Families: ``"sd15"`` and ``"sdxl"``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FAMILIES = ("sd15", "sdxl")
SIZES = ("tiny", "full")

_TINY_TEXT = dict(vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                  num_attention_heads=4, max_position_embeddings=77, projection_dim=32,
                  bos_token_id=0, eos_token_id=2, pad_token_id=1)
# openai/clip-vit-large-patch14 (SD 1.5's and SDXL's first text encoder)
_CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
               num_attention_heads=12, max_position_embeddings=77, projection_dim=768, hidden_act="quick_gelu",
               bos_token_id=0, eos_token_id=2, pad_token_id=1)
# laion/CLIP-ViT-bigG-14 (SDXL's text_encoder_2)
_CLIP_BIG_G = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                   num_attention_heads=20, max_position_embeddings=77, projection_dim=1280, hidden_act="gelu",
                   bos_token_id=0, eos_token_id=2, pad_token_id=1)

UNET_CONFIGS: dict[tuple[str, str], dict[str, Any]] = {
    ("sd15", "tiny"): dict(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=(2, 4), norm_num_groups=8),
    # stable-diffusion-v1-5/stable-diffusion-inpainting, unet/config.json
    ("sd15", "full"): dict(
        act_fn="silu", attention_head_dim=8, block_out_channels=(320, 640, 1280, 1280), center_input_sample=False,
        cross_attention_dim=768, down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                   "CrossAttnDownBlock2D", "DownBlock2D"),
        downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, layers_per_block=2, mid_block_scale_factor=1,
        norm_eps=1e-5, norm_num_groups=32, out_channels=4, sample_size=64,
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")),
    ("sdxl", "tiny"): dict(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80,  # 6 time ids x 8 + text_encoder_2's pooled 32
        cross_attention_dim=64, norm_num_groups=8),
    # diffusers/stable-diffusion-xl-1.0-inpainting-0.1, unet/config.json
    ("sdxl", "full"): dict(
        act_fn="silu", addition_embed_type="text_time", addition_time_embed_dim=256, attention_head_dim=(5, 10, 20),
        block_out_channels=(320, 640, 1280), center_input_sample=False, cross_attention_dim=2048,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"), downsample_padding=1,
        flip_sin_to_cos=True, freq_shift=0, layers_per_block=2, mid_block_scale_factor=1, norm_eps=1e-5,
        norm_num_groups=32, out_channels=4, projection_class_embeddings_input_dim=2816, sample_size=128,
        transformer_layers_per_block=(1, 2, 10), up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        use_linear_projection=True),
}

VAE_CONFIGS: dict[str, dict[str, Any]] = {
    # four blocks, so the latents are 8x smaller than the image, as in the released VAEs
    "tiny": dict(block_out_channels=(8, 16, 32, 32), in_channels=3, out_channels=3, latent_channels=4,
                 norm_num_groups=8, layers_per_block=1, sample_size=64,
                 down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4),
    # stable-diffusion-v1-5/stable-diffusion-inpainting, vae/config.json (SDXL's VAE has the same architecture)
    "full": dict(act_fn="silu", block_out_channels=(128, 256, 512, 512), in_channels=3, out_channels=3,
                 latent_channels=4, layers_per_block=2, norm_num_groups=32, sample_size=512,
                 down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4),
}


def clip_tokenizer(folder: str | Path):
    """A CLIP BPE tokenizer saved in ``folder`` (``vocab.json`` + ``merges.txt`` written here): the
    256 byte-level symbols, each also as a word end (``</w>``), the two special tokens, a few merges.
    Its ids are all below 1000, so it fits every text encoder built here."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    folder = Path(folder)
    symbols = sorted(ByteLevel.alphabet())
    merges = ["c l", "cl e", "cle a", "t e", "x t</w>", "te xt</w>"]
    vocab: dict[str, int] = {}
    for token in symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges]:
        vocab.setdefault(token, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77, local_files_only=True)


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def build_unet(family: str, size: str, in_channels: int = 9):
    """A random-weight ``UNet2DConditionModel`` of the family's architecture (9 input channels:
    latents, mask and masked-image latents, as in the inpainting models; 4 for a base model)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(in_channels=in_channels, **UNET_CONFIGS[(family, size)])


def build_inpaint_pipeline(family: str = "sd15", size: str = "tiny", tokenizer_dir: str | Path | None = None,
                           seed: int = 0):
    """A random-weight inpainting pipeline (``StableDiffusionInpaintPipeline`` or
    ``StableDiffusionXLInpaintPipeline``) with a 9-channel UNet, without safety checker.

    ``tokenizer_dir`` is where the tokenizer files are written (required: the CLIP tokenizer
    is made from files)."""
    import torch
    from diffusers import AutoencoderKL, StableDiffusionInpaintPipeline, StableDiffusionXLInpaintPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    if family not in FAMILIES or size not in SIZES:
        raise ValueError(f"family must be one of {FAMILIES} and size one of {SIZES}, got {family!r}, {size!r}")
    if tokenizer_dir is None:
        raise ValueError("build_inpaint_pipeline needs tokenizer_dir (a folder for the tokenizer files)")
    torch.manual_seed(seed)
    unet = build_unet(family, size)
    vae = AutoencoderKL(**VAE_CONFIGS[size], **({"force_upcast": True} if family == "sdxl" else {}))
    tokenizer = clip_tokenizer(Path(tokenizer_dir) / "tokenizer")
    text = _TINY_TEXT if size == "tiny" else _CLIP_L
    text_encoder = CLIPTextModel(CLIPTextConfig(**text))
    if family == "sd15":
        return StableDiffusionInpaintPipeline(
            unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=_scheduler(),
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    text_2 = _TINY_TEXT if size == "tiny" else _CLIP_BIG_G
    return StableDiffusionXLInpaintPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**text_2)),
        tokenizer_2=clip_tokenizer(Path(tokenizer_dir) / "tokenizer_2"), scheduler=_scheduler(),
        requires_aesthetics_score=False, force_zeros_for_empty_prompt=True)


def build_controlnet(family: str = "sd15", size: str = "tiny", seed: int = 0):
    """A random-weight ControlNet for the family's inpainting UNet.

    Its ``in_channels`` is 4: the inpainting ControlNet pipelines feed it the noisy latents
    alone (the mask and masked-image channels go to the UNet only), as the released ControlNets
    (e.g. ``control_v11p_sd15_openpose``, ``controlnet-canny-sdxl-1.0``) are shaped. A tiny one
    is made with ``ControlNetModel.from_unet`` of a 4-channel twin of the UNet (its weights
    copied, as ControlNets start in training); a full one straight from the UNet's configuration
    (the same architecture, without building a second full UNet).
    """
    import inspect

    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    if size == "tiny":
        return ControlNetModel.from_unet(build_unet(family, size, in_channels=4))
    accepted = set(inspect.signature(ControlNetModel.__init__).parameters)
    config = {k: v for k, v in UNET_CONFIGS[(family, size)].items() if k in accepted}
    return ControlNetModel(in_channels=4, **config)


def save_ip_adapter(folder: str | Path, unet, family: str = "sd15", seed: int = 0) -> Path:
    """Random IP-Adapter weights for ``unet`` in the layout of the released ``h94/IP-Adapter``
    repository: ``models/ip-adapter_sd15.safetensors`` + ``models/image_encoder/`` (SD 1.5) or
    ``sdxl_models/ip-adapter_sdxl.safetensors`` + ``sdxl_models/image_encoder/`` (SDXL).

    The weight file holds ``image_proj.proj.weight|bias`` and ``image_proj.norm.weight|bias``
    (4 image tokens) and ``ip_adapter.<k>.to_k_ip.weight`` / ``to_v_ip.weight`` for each
    cross-attention layer, ``k`` = 1, 3, 5, ... in the UNet's attention-processor order (the
    numbering diffusers' loader reads). The image encoder is a tiny CLIP vision model."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    sub = "models" if family == "sd15" else "sdxl_models"
    root = Path(folder)
    (root / sub).mkdir(parents=True, exist_ok=True)
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, projection_dim=32, num_hidden_layers=2, num_attention_heads=4,
        image_size=32, patch_size=4))
    encoder.save_pretrained(str(root / sub / "image_encoder"))
    cross = unet.config.cross_attention_dim
    embed = encoder.config.projection_dim
    weights = {"image_proj.proj.weight": torch.randn(4 * cross, embed) * 0.02,
               "image_proj.proj.bias": torch.zeros(4 * cross),
               "image_proj.norm.weight": torch.ones(cross), "image_proj.norm.bias": torch.zeros(cross)}
    key = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = unet.config.block_out_channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(unet.config.block_out_channels))[int(name[len("up_blocks.")])]
        else:
            hidden = unet.config.block_out_channels[int(name[len("down_blocks.")])]
        for part in ("to_k_ip", "to_v_ip"):
            weights[f"ip_adapter.{key}.{part}.weight"] = torch.randn(hidden, cross) * 0.02
        key += 2
    path = root / sub / ("ip-adapter_sd15.safetensors" if family == "sd15" else "ip-adapter_sdxl.safetensors")
    save_file(weights, str(path))
    return path
