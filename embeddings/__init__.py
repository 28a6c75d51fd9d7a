"""Audio -> log-mel -> ID classifier -> cached embeddings and logits."""
