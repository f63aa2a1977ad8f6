"""Node features beyond ID embeddings: language-model embeddings of item text."""

from gnnnas.features.text import (
    DEFAULT_TEXT_MODEL, TextEmbeddings, TextModelError, encode_texts, item_text_embeddings, resolve_text_model,
)

__all__ = ["DEFAULT_TEXT_MODEL", "TextEmbeddings", "TextModelError", "encode_texts", "item_text_embeddings",
           "resolve_text_model"]
