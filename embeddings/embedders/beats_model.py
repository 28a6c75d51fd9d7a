"""BEATs (Chen et al., "BEATs: Audio Pre-Training with Acoustic Tokenizers", ICML 2023), the encoder alone, for
inference, written from the paper and the checkpoint format its authors publish (microsoft/unilm, beats/: a `.pt`
holding {"cfg": dict, "model": state dict}).

Facts taken from there: the front end (Kaldi fbank of the waveform scaled to int16 range, 128 bins, 25 ms windows,
10 ms hop, normalised as (x - 15.41663) / (2 * 6.55582)); 16x16 patches of the (time, mel) image; a convolutional
position embedding (weight-normalised over the kernel axis, "same" padding, GELU); post-norm ("deep norm",
residual scaled by (2 L)^(1/4)) blocks whose attention adds a gated, bucketed relative position bias computed in
the first block and shared by all; queries pre-divided by 32 with the logits shifted by their row maximum before
being scaled back (a numerical-stability trick of the authors that leaves softmax unchanged in exact arithmetic).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
from torch import nn

FBANK_MEAN, FBANK_STD = 15.41663, 6.55582
RATE = 16000
ALPHA = 32  # the authors' query down-scaling before the max shift


@dataclass
class BEATsConfig:
    """The `cfg` fields of a BEATs checkpoint that shape the encoder; others (dropouts, predictor) are ignored."""

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    deep_norm: bool = True
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True

    @classmethod
    def from_cfg(cls, cfg: dict) -> BEATsConfig:
        if cfg.get("activation_fn", "gelu") != "gelu" or cfg.get("layer_norm_first", False):
            raise ValueError("only the post-norm, gelu encoder of the released checkpoints is built (cfg has "
                             f"activation_fn={cfg.get('activation_fn')!r}, layer_norm_first={cfg.get('layer_norm_first')!r})")
        return cls(**{f.name: cfg[f.name] for f in fields(cls) if f.name in cfg})


def fbank(audio: torch.Tensor) -> torch.Tensor:
    """(batch, samples) at 16 kHz in [-1, 1] -> normalised (batch, frames, 128) log-mel."""
    banks = [kaldi.fbank(x.unsqueeze(0) * 2 ** 15, num_mel_bins=128, sample_frequency=RATE, frame_length=25,
                         frame_shift=10) for x in audio]
    return (torch.stack(banks) - FBANK_MEAN) / (2 * FBANK_STD)


def relative_buckets(length: int, num_buckets: int, max_distance: int) -> torch.Tensor:
    """(length, length) bucket of key position minus query position: exact below a quarter of the buckets, then
    logarithmic up to `max_distance`, the sign in the upper half (T5's scheme, bidirectional)."""
    pos = torch.arange(length)
    rel = pos[None, :] - pos[:, None]
    half = num_buckets // 2
    exact = half // 2
    dist = rel.abs()
    far = exact + (torch.log(dist.float() / exact) / math.log(max_distance / exact) * (half - exact)).long()
    far = far.clamp(max=half - 1)
    return (rel > 0).long() * half + torch.where(dist < exact, dist, far)


class Attention(nn.Module):
    def __init__(self, cfg: BEATsConfig, shares_bias: bool):
        super().__init__()
        dim, self.heads = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))
        self.cfg = cfg
        if cfg.relative_position_embedding and not shares_bias:
            self.relative_attention_bias = nn.Embedding(cfg.num_buckets, self.heads)
        if cfg.gru_rel_pos:
            self.grep_linear = nn.Linear(dim // self.heads, 8)
            self.grep_a = nn.Parameter(torch.ones(1, self.heads, 1, 1))

    def position_bias(self, length: int) -> torch.Tensor:
        buckets = relative_buckets(length, self.cfg.num_buckets, self.cfg.max_distance)
        return self.relative_attention_bias(buckets.to(self.relative_attention_bias.weight.device)).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        b, t, dim = x.shape
        split = lambda y: y.view(b, t, self.heads, -1).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        q = q * (q.shape[-1] ** -0.5 / ALPHA)
        logits = q @ k.transpose(-1, -2)
        logits = (logits - logits.amax(-1, keepdim=True)) * ALPHA
        if bias is not None:
            if self.cfg.gru_rel_pos:
                unscaled = q * ALPHA * q.shape[-1] ** 0.5
                gate_a, gate_b = torch.sigmoid(self.grep_linear(unscaled).view(b, self.heads, t, 2, 4).sum(-1)).chunk(2, -1)
                bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias
            logits = logits + bias
        out = torch.softmax(logits, -1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, t, dim))


class Block(nn.Module):
    def __init__(self, cfg: BEATsConfig, shares_bias: bool):
        super().__init__()
        dim = cfg.encoder_embed_dim
        self.self_attn = Attention(cfg, shares_bias)
        self.self_attn_layer_norm, self.final_layer_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, cfg.encoder_ffn_embed_dim), nn.Linear(cfg.encoder_ffn_embed_dim, dim)
        self.alpha = (2 * cfg.encoder_layers) ** 0.25 if cfg.deep_norm else 1.0

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = self.self_attn_layer_norm(x * self.alpha + self.self_attn(x, bias))
        return self.final_layer_norm(x * self.alpha + self.fc2(F.gelu(self.fc1(x))))


class PositionConv(nn.Module):
    """The convolutional position embedding, its weight kept as the checkpoint's (weight_g, weight_v) pair."""

    def __init__(self, dim: int, kernel: int, groups: int):
        super().__init__()
        self.weight_v = nn.Parameter(torch.zeros(dim, dim // groups, kernel))
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.kernel, self.groups = kernel, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, dim, time)
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=(0, 1), keepdim=True)
        y = F.conv1d(x, weight, self.bias, padding=self.kernel // 2, groups=self.groups)
        return F.gelu(y[..., :-1] if self.kernel % 2 == 0 else y)


# the authors' key prefixes and ours: their blocks, position convolution and its norm sit under `encoder.`
AUTHORS_TO_OURS = (("encoder.pos_conv.0.", "pos_conv."), ("encoder.layer_norm.", "encoder_layer_norm."),
                   ("encoder.layers.", "layers."))


def renamed(key: str, prefixes: tuple[tuple[str, str], ...]) -> str:
    """`key` with the first matching (old, new) prefix replaced; a key no prefix matches is kept."""
    for old, new in prefixes:
        if key.startswith(old):
            return new + key.removeprefix(old)
    return key


class BEATs(nn.Module):
    """The BEATs encoder: `forward(audio)` -> hidden states, each (batch, patches, dim): the blocks' input first,
    then each block's output (the last is the model's output)."""

    def __init__(self, cfg: BEATsConfig):
        super().__init__()
        self.cfg = cfg
        p, dim = cfg.input_patch_size, cfg.encoder_embed_dim
        self.patch_embedding = nn.Conv2d(1, cfg.embed_dim, p, stride=p, bias=cfg.conv_bias)
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.post_extract_proj = nn.Linear(cfg.embed_dim, dim) if cfg.embed_dim != dim else None
        self.pos_conv = PositionConv(dim, cfg.conv_pos, cfg.conv_pos_groups)
        self.encoder_layer_norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(Block(cfg, shares_bias=i > 0) for i in range(cfg.encoder_layers))

    @classmethod
    def from_checkpoint(cls, checkpoint: dict) -> BEATs:
        """Build from a loaded checkpoint; a missing or misshapen encoder weight raises, extras (the fine-tuned
        predictor, copies of the shared position bias) are ignored."""
        model = cls(BEATsConfig.from_cfg(checkpoint["cfg"]))
        state = {renamed(key, AUTHORS_TO_OURS): value for key, value in checkpoint["model"].items()}
        wanted = model.state_dict()
        missing = sorted(set(wanted) - set(state))
        if missing:
            raise KeyError(f"missing encoder weights: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        model.load_state_dict({k: state[k] for k in wanted})
        return model

    def forward(self, audio: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embedding(fbank(audio).unsqueeze(1))
        x = self.layer_norm(x.flatten(2).transpose(1, 2))
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        x = self.encoder_layer_norm(x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2))
        bias = self.layers[0].self_attn.position_bias(x.shape[1]) if self.cfg.relative_position_embedding else None
        states = [x]
        for block in self.layers:
            x = block(x, bias)
            states.append(x)
        return states
