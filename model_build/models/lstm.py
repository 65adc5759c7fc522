"""``lstm``: the reference design the service started from, embedding -> LSTM -> linear.

Hashed unigrams (no vocabulary file to ship) feed an embedding, one LSTM layer reads the
sequence left to right, and the outputs at the real (unpadded) positions are pooled, mean and
max, into the linear classifier. Pooling over positions rather than taking the last state keeps
right padding harmless, so the exported graph takes the same padded ``input_ids`` as ``bow``.
Trained with Adam (sparse Adam for the embedding, whose rows a batch barely touches). The LSTM
exports as the ONNX ``LSTM`` op, which int8 dynamic quantization turns into
``DynamicQuantizeLSTM``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model_build.models import TrainingDefaults, check_at_least
from model_build.preprocess import PADDING_ID, PreprocessConfig

DESCRIPTION = "embedding -> LSTM -> linear over hashed unigrams, trained with Adam"
# No refit by default: on CPU a second LSTM training costs as much as the first.
TRAINING = TrainingDefaults(epochs=5, learning_rate=0.005, batch_size=128, refit=False)


@dataclass
class Config:
    num_buckets: int = 1 << 17
    max_tokens: int = 256
    embed_dim: int = 64
    hidden_dim: int = 64
    dropout: float = 0.2
    num_classes: int = 2

    def __post_init__(self) -> None:
        check_at_least(self, 1, "embed_dim", "hidden_dim")
        check_at_least(self, 2, "num_classes")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be at least 0 and below 1, got {self.dropout}")

    def preprocess_config(self, labels: tuple[str, ...]) -> PreprocessConfig:
        return PreprocessConfig(
            num_buckets=self.num_buckets, ngram_orders=(1,), max_tokens=self.max_tokens, labels=labels
        )


class Model(nn.Module):
    def __init__(self, config: Config, rows: int) -> None:
        """``rows``: the ids of the preprocessing (`PreprocessConfig.table_rows`)."""
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(rows, config.embed_dim, padding_idx=PADDING_ID, sparse=True)
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
        # Sparse updates for the embedding: a batch touches a few thousand of its 131,072 rows.
        dense = [p for name, p in self.named_parameters() if not name.startswith("embedding.")]
        return [
            torch.optim.SparseAdam(list(self.embedding.parameters()), lr=learning_rate),
            torch.optim.Adam(dense, lr=learning_rate, weight_decay=defaults.weight_decay),
        ]
