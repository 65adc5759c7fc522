"""``lstm``: the reference design the service started from, embedding -> LSTM -> linear.

Hashed unigrams (no vocabulary file to ship) feed an embedding, one LSTM layer reads the
sequence left to right, and the outputs at the real (unpadded) positions are pooled, mean and
max, into the linear classifier. Pooling over positions rather than taking the last state keeps
right padding harmless, so the exported graph takes the same padded ``input_ids`` as ``bow``.
Trained with Adam. The LSTM exports as the ONNX ``LSTM`` op, which int8 dynamic quantization
turns into ``DynamicQuantizeLSTM``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model_build.models import TrainingDefaults
from model_build.preprocess import PADDING_ID, PreprocessConfig

DESCRIPTION = "embedding -> LSTM -> linear over hashed unigrams, trained with Adam"
TRAINING = TrainingDefaults(epochs=4, learning_rate=0.002, batch_size=64)


@dataclass
class Config:
    num_buckets: int = 1 << 17
    max_tokens: int = 256
    embed_dim: int = 128
    hidden_dim: int = 128
    dropout: float = 0.3
    num_classes: int = 2

    def preprocess_config(self, labels: tuple[str, ...]) -> PreprocessConfig:
        return PreprocessConfig(
            num_buckets=self.num_buckets, ngram_orders=(1,), max_tokens=self.max_tokens, labels=labels
        )


class Model(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.num_buckets, config.embed_dim, padding_idx=PADDING_ID)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(2 * config.hidden_dim, config.num_classes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        present = (input_ids != PADDING_ID).unsqueeze(-1)
        outputs, _ = self.lstm(self.dropout(self.embedding(input_ids)))
        mean = (outputs * present).sum(dim=1) / present.sum(dim=1).clamp(min=1)
        largest = outputs.masked_fill(~present, -1e4).amax(dim=1) * present.any(dim=1)
        return self.classifier(self.dropout(torch.cat([mean, largest], dim=-1)))

    def configure_optimizers(self, defaults: TrainingDefaults, learning_rate: float) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.parameters(), lr=learning_rate, weight_decay=defaults.weight_decay)]
