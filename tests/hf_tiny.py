"""Tiny randomly initialised models of every audio encoder family `hf` supports, saved as `save_pretrained`
folders: what a hub download would give, without the download."""
from pathlib import Path


def save_tiny(family: str, folder: Path) -> Path:
    import torch
    import transformers as t
    torch.manual_seed(0)  # the same tiny weights every time
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    conv = dict(conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                num_conv_pos_embedding_groups=2)
    speech = t.Wav2Vec2FeatureExtractor()
    builders = {
        "ast": lambda: (t.ASTModel(t.ASTConfig(**small, num_mel_bins=32, max_length=64)),
                        t.ASTFeatureExtractor(num_mel_bins=32, max_length=64)),
        "wav2vec2": lambda: (t.Wav2Vec2Model(t.Wav2Vec2Config(**small, **conv)), speech),
        "hubert": lambda: (t.HubertModel(t.HubertConfig(**small, **conv)), speech),
        "wavlm": lambda: (t.WavLMModel(t.WavLMConfig(**small, **conv)), speech),
        "whisper": lambda: (t.WhisperModel(t.WhisperConfig(
            d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80, max_target_positions=32, vocab_size=64,
            pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)), t.WhisperFeatureExtractor(feature_size=80)),
        "clap": lambda: (t.ClapModel(t.ClapConfig(
            text_config=t.ClapTextConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=64, projection_dim=16),
            audio_config=t.ClapAudioConfig(hidden_size=32, patch_embeds_hidden_size=16, depths=[1, 1],
                                           num_attention_heads=[2, 2], window_size=4, num_mel_bins=64, spec_size=256,
                                           projection_dim=16, enable_fusion=False),
            projection_dim=16)), t.ClapFeatureExtractor(feature_size=64, truncation="rand_trunc")),
    }
    model, extractor = builders[family]()
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


FAMILIES = ("ast", "wav2vec2", "hubert", "wavlm", "whisper", "clap")
