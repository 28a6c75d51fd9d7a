"""Tiny BEATs checkpoints with random weights in the authors' format ({"cfg": ..., "model": ...}): what a downloaded
BEATs_iter3.pt holds, only smaller. `save_reference_beats` builds it with ESPnet's `beats_encoder` (the reference
code); `save_tiny_beats` with this project's own model, so tests that only need a file skip ESPnet's import
(tests/test_beats.py checks that the two write the same format)."""
from pathlib import Path

TINY = dict(encoder_layers=3, encoder_embed_dim=96, encoder_ffn_embed_dim=192, encoder_attention_heads=4,
            embed_dim=64, conv_pos=16, conv_pos_groups=4, relative_position_embedding=True, num_buckets=320,
            max_distance=800, gru_rel_pos=True, deep_norm=True, layer_norm_first=False, dropout=0.0,
            attention_dropout=0.0, activation_dropout=0.0, encoder_layerdrop=0.0)


def _random(build, seed: int):
    """The model `build()` makes after seeding torch with `seed`, in eval mode, every weight (biases, norms, gates
    included) moved off its initial value so that no term of the forward pass is trivially zero or one."""
    import torch
    torch.manual_seed(seed)
    model = build().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def reference_beats(cfg: dict = TINY, seed: int = 0):
    """ESPnet's BEATs encoder with random weights."""
    from espnet2.asr.encoder.beats_encoder import BeatsEncoder
    return _random(lambda: BeatsEncoder(input_size=1, beats_config=cfg), seed)


def save_reference_beats(path: Path, cfg: dict = TINY, seed: int = 0) -> Path:
    import torch
    torch.save({"cfg": cfg, "model": reference_beats(cfg, seed).state_dict()}, path)
    return path


def save_tiny_beats(path: Path, cfg: dict = TINY, seed: int = 0) -> Path:
    import torch

    from embeddings.embedders.beats_model import AUTHORS_TO_OURS, BEATs, BEATsConfig, renamed
    model = _random(lambda: BEATs(BEATsConfig.from_cfg(cfg)), seed)
    ours_to_authors = tuple((new, old) for old, new in AUTHORS_TO_OURS)
    torch.save({"cfg": cfg, "model": {renamed(k, ours_to_authors): v for k, v in model.state_dict().items()}}, path)
    return path
