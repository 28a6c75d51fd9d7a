"""Embedders by name: built-ins register with `@register`; third-party ones come from the entry-point group
`asd_bench.embedders`."""
from core.plugins import Registry

EMBEDDERS = Registry("embedder", "asd_bench.embedders",
                     ("embeddings.embedders.arcface", "embeddings.embedders.imported", "embeddings.embedders.hear",
                      "embeddings.embedders.hf", "embeddings.embedders.autoencoder", "embeddings.embedders.dasheng",
                      "embeddings.embedders.beats"),
                     "bench embedders")
DEFAULT_EMBEDDER = "arcface"  # `--embedder`'s default; its submission folders carry no embedder name
register = EMBEDDERS.register
available = EMBEDDERS.available
get_embedder = EMBEDDERS.get
