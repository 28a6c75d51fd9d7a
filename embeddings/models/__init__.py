"""Backbones, torchvision style: `get_model(name, **kwargs)`, `list_models()`."""
from embeddings.models import resnet  # noqa: F401  (registers the constructors)
from embeddings.models.registry import get_model, list_models, register_model

__all__ = ["get_model", "list_models", "register_model"]
