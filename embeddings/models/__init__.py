"""Backbones, torchvision style: `get_model(name, **kwargs)`, `list_models()`."""
from embeddings.models.registry import get_model, list_models, register_model
from embeddings.models import resnet  # noqa: F401  (registers the constructors)

__all__ = ["get_model", "list_models", "register_model"]
