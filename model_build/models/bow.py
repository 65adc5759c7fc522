"""``bow``: a bag of hashed word n-grams (fastText-like), the default architecture.

Each n-gram (a row of the vocabulary kept at training, or a hash bucket) has an embedding; a
text is the weighted mean of its n-grams' embeddings, and a linear layer maps that to class
logits. N-grams outside the vocabulary share one row, and negated words are n-grams of their
own (`model_build.preprocess`, step 5). The per-bucket weights are naive-Bayes
log-count ratios computed from the training split (as in NBSVM, Wang & Manning 2012): n-grams
that separate the classes count more from the first step, which trains faster and generalizes
better than plain averaging. They are a fixed buffer, exported with the model.

The exported graph folds those weights and the linear layer into the table (`Model.for_export`):
the logits are linear in the mean of the embeddings, so each row becomes the row's own logits,
``classes`` numbers instead of ``embed_dim``. Serving does one gather and a mean, and the
gathered rows are the exact share of every n-gram in the logits (the explanations). Cheap
everywhere: training is a few sparse embedding updates per review.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model_build.models import TrainingDefaults, check_at_least
from model_build.preprocess import PADDING_ID, PreprocessConfig

DESCRIPTION = "bag of hashed word n-grams with naive-Bayes weights (fastText-like), fast on CPU"
TRAINING = TrainingDefaults(epochs=4, learning_rate=0.003, batch_size=32)


@dataclass
class Config:
    num_buckets: int = 1 << 20  # hash buckets, when vocabulary_size is 0
    ngram_orders: tuple[int, ...] = (1, 2, 3)
    max_tokens: int = 4096
    unique_ngrams: bool = True
    negation_scope: int = 8
    vocabulary_size: int = 1 << 20  # the most frequent n-grams kept (0: hash buckets instead)
    min_document_frequency: int = 2  # n-grams of fewer training texts are left out of it
    embed_dim: int = 12
    nb_smoothing: float = 1.0
    num_classes: int = 2

    def __post_init__(self) -> None:
        check_at_least(self, 1, "embed_dim", "min_document_frequency")
        check_at_least(self, 0, "vocabulary_size", "negation_scope")
        check_at_least(self, 2, "num_classes")
        if not self.nb_smoothing > 0:
            raise ValueError(f"nb_smoothing must be greater than 0, got {self.nb_smoothing}")

    def preprocess_config(self, labels: tuple[str, ...]) -> PreprocessConfig:
        return PreprocessConfig(
            num_buckets=self.num_buckets,
            ngram_orders=tuple(self.ngram_orders),
            max_tokens=self.max_tokens,
            unique_ngrams=self.unique_ngrams,
            negation_scope=self.negation_scope,
            labels=labels,
            ngram_output_name="ngram_logits",
        )


class Model(nn.Module):
    def __init__(self, config: Config, rows: int) -> None:
        """``rows``: the ids of the preprocessing (`PreprocessConfig.table_rows`)."""
        super().__init__()
        self.config = config
        self.rows = rows
        self.embedding = nn.Embedding(rows, config.embed_dim, padding_idx=PADDING_ID, sparse=True)
        nn.init.uniform_(self.embedding.weight, -0.5 / config.embed_dim, 0.5 / config.embed_dim)
        with torch.no_grad():
            self.embedding.weight[PADDING_ID].zero_()
        self.register_buffer("ngram_weights", torch.ones(rows))
        self.classifier = nn.Linear(config.embed_dim, config.num_classes)

    def fit_ngram_weights(self, sequences: list[np.ndarray], counts: np.ndarray) -> None:
        """Naive-Bayes log-count ratios of each row: each sequence adds its row ``counts[i, class]``
        (a whole review its one-hot label; a lexicon entry its soft target times what it counts
        as) to every distinct id it holds. Two classes: the signed ratio between them. More: the
        largest magnitude of a class's ratio against all the others, so that a row as common in
        every class (filler words) weighs little and a row one class owns weighs much."""
        classes = self.config.num_classes
        totals = np.zeros((classes, self.rows), dtype=np.float64)
        if sequences:
            distinct = [np.unique(s) for s in sequences]
            present = np.concatenate(distinct)
            owner = np.repeat(np.arange(len(distinct)), [len(d) for d in distinct])
            for label in range(classes):
                totals[label] = np.bincount(present, weights=counts[owner, label], minlength=self.rows)
        if classes == 2:
            negative, positive = totals + self.config.nb_smoothing
            ratios = np.log((positive / positive.sum()) / (negative / negative.sum()))
        else:
            ratios = np.zeros(self.rows)
            for label in range(classes):
                own = totals[label] + self.config.nb_smoothing
                rest = totals.sum(axis=0) - totals[label] + self.config.nb_smoothing
                ratios = np.maximum(ratios, np.abs(np.log((own / own.sum()) / (rest / rest.sum()))))
        ratios[PADDING_ID] = 0.0
        self.ngram_weights.copy_(torch.from_numpy(ratios.astype(np.float32)))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        present = (input_ids != PADDING_ID).to(self.embedding.weight.dtype)
        weights = self.ngram_weights[input_ids] * present
        summed = (self.embedding(input_ids) * weights.unsqueeze(-1)).sum(dim=1)
        pooled = summed / present.sum(dim=1, keepdim=True).clamp(min=1.0)
        return self.classifier(pooled)

    def for_export(self) -> nn.Module:
        """The same function with the n-gram weights folded into the embedding (one gather)."""
        return _FoldedBow(self)

    def configure_optimizers(self, defaults: TrainingDefaults, learning_rate: float) -> list[torch.optim.Optimizer]:
        # Sparse updates touch only the buckets a batch uses: 1M-row tables stay cheap.
        return [
            torch.optim.SparseAdam(list(self.embedding.parameters()), lr=learning_rate),
            torch.optim.AdamW(self.classifier.parameters(), lr=learning_rate, weight_decay=defaults.weight_decay),
        ]


class _FoldedBow(nn.Module):
    """``W (sum_i w_i E_i) / n + b`` equals ``(sum_i T_i) / n + b`` with ``T = w * E W^T``: one
    table of per-n-gram logits. Outputs the logits and the gathered rows (`ngram_logits`)."""

    def __init__(self, model: Model) -> None:
        super().__init__()
        with torch.no_grad():
            weighted = model.embedding.weight * model.ngram_weights.unsqueeze(-1)
            folded = weighted @ model.classifier.weight.T
            folded[PADDING_ID] = 0.0
        self.table = nn.Embedding.from_pretrained(folded, freeze=True, padding_idx=PADDING_ID)
        self.bias = nn.Parameter(model.classifier.bias.detach().clone(), requires_grad=False)

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        present = (input_ids != PADDING_ID).to(self.table.weight.dtype)
        ngram_logits = self.table(input_ids)
        logits = ngram_logits.sum(dim=1) / present.sum(dim=1, keepdim=True).clamp(min=1.0) + self.bias
        return logits, ngram_logits
