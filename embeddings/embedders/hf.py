"""`hf`: a Hugging Face `transformers` audio encoder (AST, wav2vec 2.0, HuBERT, WavLM, Whisper's encoder, CLAP's
audio tower), frozen, loaded with `from_pretrained` from a hub name or a local folder."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio
from tqdm import tqdm

from core.errors import DataError
from dcase import channels
from embeddings.embedders.base import Embedder
from embeddings.embedders.registry import register
from embeddings.features import SAMPLE_RATE, read_mono

POOLINGS = ("mean", "max", "stats")


def parse_layers(layer, n_states: int, who: str = "hf") -> list[int]:
    """`-1` (the last), `4`, `"4:8"` (layers 4 to 7, averaged) or `"all"` -> indices into the hidden states,
    where index 0 is the encoder's input embedding."""
    text = str(layer)
    if text == "all":
        return list(range(1, n_states))
    if ":" in text:
        start, stop = (int(x) for x in text.split(":"))
        picked = list(range(n_states))[start:stop]
    else:
        picked = [list(range(n_states))[int(text)]] if -n_states <= int(text) < n_states else []
    if not picked:
        raise DataError(f"{who}: layer={layer!r} picks no hidden state; this model has {n_states} (0 = input embedding, "
                        f"{n_states - 1} = last); use e.g. -1, 4, 4:8 or all")
    return picked


def pool(tokens: torch.Tensor, how: str) -> torch.Tensor:
    """(batch, tokens, dim) -> (batch, dim), or (batch, 2 dim) for `stats` (mean and standard deviation)."""
    if how == "mean":
        return tokens.mean(1)
    if how == "max":
        return tokens.amax(1)
    return torch.cat([tokens.mean(1), tokens.std(1, unbiased=False)], 1)


def equal_length_batches(paths: list[str], batch_size: int) -> list[np.ndarray]:
    """Row indices in batches of at most `batch_size` clips of one length, so no padding enters a pooled mean."""
    lengths = np.array([sf.info(p).frames for p in paths])
    order = np.argsort(lengths, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [part for b in batches for part in np.split(b, np.flatnonzero(np.diff(lengths[b])) + 1)]


def as_tokens(state: torch.Tensor) -> torch.Tensor:
    """A hidden state as (batch, tokens, dim); CLAP's audio tower gives image-like (batch, dim, h, w) maps."""
    return state.flatten(2).transpose(1, 2) if state.ndim == 4 else state


@register
class HFEmbedder(Embedder):
    """A frozen transformers audio encoder: hidden states of `layer`, pooled over time (`pooling`)."""

    name = "hf"
    requires = ("transformers",)

    def __init__(self, model: str = "", layer="-1", pooling: str = "mean", batch_size: int = 8, device: str = "cpu"):
        super().__init__(device)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        self.model, self.layer, self.pooling, self.batch_size = model, str(layer), pooling, batch_size
        self._loaded, self._fingerprint = None, None

    def load(self):
        """(feature extractor, encoder), once."""
        if self._loaded is None:
            from transformers import AutoFeatureExtractor, AutoModel
            if not self.model:
                raise DataError("hf: name the model, e.g. --embedder hf:model=MIT/ast-finetuned-audioset-10-10-0.4593 "
                                "or hf:model=/path/to/saved/model")
            try:
                extractor = AutoFeatureExtractor.from_pretrained(self.model)
                full = AutoModel.from_pretrained(self.model)
            except (OSError, ValueError) as exc:
                raise DataError(f"hf: cannot load {self.model!r} ({str(exc).splitlines()[0]}); pass a hub name "
                                "(needs internet) or a folder written by save_pretrained") from None
            if getattr(full.config, "is_encoder_decoder", False):
                encoder = full.get_encoder()     # Whisper: the audio encoder alone
            else:
                encoder = getattr(full, "audio_model", full)  # CLAP: the audio tower
            self._loaded = (extractor, encoder.eval().to(self.device))
        return self._loaded

    def fingerprint(self) -> str:
        """A hash of every weight: the same name can hold other weights after an update. Kept once computed (a
        run asks twice: `check`, then the cache key), as the loaded weights do not change under it."""
        if self._fingerprint is None:
            _, encoder = self.load()
            h = hashlib.sha256()
            for name, tensor in sorted(encoder.state_dict().items()):
                h.update(name.encode())
                h.update(tensor.detach().float().cpu().numpy().tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def embed(self, table: pd.DataFrame):
        extractor, encoder = self.load()
        rate = int(extractor.sampling_rate)
        paths = list(table.path)
        batches = equal_length_batches(paths, self.batch_size)
        out = np.zeros((len(paths), 0), np.float32)
        channel = channels.of(table)
        use_bf16 = self.device == "cuda"
        with torch.inference_mode():
            for rows in tqdm(batches, desc=f"hf {self.model}", unit="batch", leave=False):
                audio = torch.stack([torch.from_numpy(read_mono(paths[i], channel, self.label())) for i in rows])
                if rate != SAMPLE_RATE:
                    audio = torchaudio.functional.resample(audio, SAMPLE_RATE, rate)
                inputs = extractor(list(audio.numpy()), sampling_rate=rate, return_tensors="pt")
                inputs = {k: v.to(self.device) for k, v in inputs.items() if k in ("input_values", "input_features")}
                with torch.autocast("cuda", torch.bfloat16, enabled=use_bf16):
                    states = encoder(**inputs, output_hidden_states=True).hidden_states
                picked = [as_tokens(states[i]) for i in parse_layers(self.layer, len(states))]
                if len({tuple(s.shape[1:]) for s in picked}) > 1:
                    raise DataError(f"hf: layers {self.layer} of {self.model} differ in shape "
                                    f"({sorted({tuple(s.shape[1:]) for s in picked})}); average layers of one shape, or pick one")
                emb = pool(torch.stack(picked).float().mean(0), self.pooling).cpu().numpy()
                if out.shape[1] == 0:
                    out = np.zeros((len(paths), emb.shape[1]), np.float32)
                out[rows] = emb
        return out, None
